package eddytest_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// failBad fails the value "bad" (a processing error) and passes the rest.
func failBad(v string) (string, error) {
	if v == "bad" {
		return "", errors.New("bad value")
	}
	return v, nil
}

// repartitionedWindows: values "bad" fail (a processing error), the rest are re-keyed
// through a repartition topic and counted in 10 s windows, "key@start-sec=count".
func repartitionedWindows() *topology.Topology {
	top := topology.New()
	s := topology.From(top, "in", serde.String(), serde.String())
	checked := topology.TryMapValues(s, failBad)
	byKey := topology.GroupBy(checked, func(k, _ string) string { return k }, serde.String(), serde.String())
	counts := topology.WindowedCount(topology.WindowBy(byKey, topology.TumblingWindows(10*time.Second)), "win")
	topology.To(topology.Map(counts, func(k topology.Windowed[string], n int64) (string, int64) {
		return k.Key + "@" + k.Start.Sub(t0).String(), n
	}), "out", serde.String(), serde.Int64())
	return top
}

// Under exactly-once a skipped record aborts the transaction and replays the rest
// without it: what the aborted transaction carried — the watermark marker through the
// repartition topic, a watermark SetWatermark set — comes again, and the window closes.
func TestExactlyOnceReplayAfterASkippedRecord(t *testing.T) {
	opts := eddytest.With(eddy.ExactlyOnce(), eddy.OnProcessingError(eddy.Skip()))
	want := []eddytest.KeyValue[string, int64]{{Key: "k@0s", Value: 1}}
	t.Run("marker", func(t *testing.T) {
		d := eddytest.New(t, repartitionedWindows(), opts)
		in := eddytest.Input(d, "in", serde.String(), serde.String())
		must(t, in.Send("k", "v", at(1)))
		must(t, in.Send("k", "v", at(25)))
		must(t, in.Send("x", "bad", at(26)))
		must(t, d.Commit())
		if got := eddytest.Output(d, "out", serde.String(), serde.Int64()).ReadKeyValues(); !slices.Equal(got, want) {
			t.Fatalf("windows %v, want %v", got, want)
		}
		if sk := d.Skipped(); len(sk) != 1 || sk[0].Err.Offset != 2 {
			t.Fatalf("skipped %+v", sk)
		}
	})
	t.Run("SetWatermark", func(t *testing.T) {
		d := eddytest.New(t, repartitionedWindows(), opts)
		in := eddytest.Input(d, "in", serde.String(), serde.String())
		must(t, in.Send("k", "v", at(1)))
		must(t, d.SetWatermark("in", 0, t0.Add(45*time.Second)))
		must(t, in.Send("x", "bad", at(46)))
		must(t, d.Commit())
		if got := eddytest.Output(d, "out", serde.String(), serde.Int64()).ReadKeyValues(); !slices.Equal(got, want) {
			t.Fatalf("windows %v, want %v", got, want)
		}
	})
}

// A replay with a partition paused for a full queue resumes it and finishes: the state
// has every record but the skipped one.
func TestReplayWithAPausedPartition(t *testing.T) {
	top := topology.New()
	s := topology.From(top, "in", serde.String(), serde.String())
	checked := topology.TryMapValues(s, failBad)
	topology.To(topology.Count(topology.GroupByKey(checked, serde.String(), serde.String()), "counts").ToStream(), "out", serde.String(), serde.Int64())
	d := eddytest.New(t, top, eddytest.With(eddy.ExactlyOnce(), eddy.OnProcessingError(eddy.Skip()), eddy.MaxQueuedRecords(1)))
	in := eddytest.Input(d, "in", serde.String(), serde.String())
	for _, v := range []string{"v", "v", "bad"} {
		must(t, in.Send("a", v))
	}
	n, found, err := eddytest.Store(d, "counts", serde.String(), serde.Int64()).Get("a")
	must(t, err)
	if !found || n != 2 {
		t.Fatalf("count of a = %d (found %v), want 2 after the replay", n, found)
	}
}

// Bad calls are errors that say what was wrong, and leave the driver running.
func TestBadCallsAreErrors(t *testing.T) {
	d := eddytest.New(t, wordCount(), eddytest.Partitions("lines", 2))
	in := eddytest.Input(d, "lines", serde.String(), serde.String())
	for _, c := range []struct {
		name string
		err  error
	}{
		{"negative partition", in.Send("a", "x", eddytest.ToPartition(-7))},
		{"partition out of range", in.Send("a", "x", eddytest.ToPartition(2))},
		{"unknown input", eddytest.Input(d, "nope", serde.String(), serde.String()).Send("a", "x")},
		{"watermark of an unknown topic", d.SetWatermark("nope", 0, t0)},
		{"watermark of a repartition topic", d.SetWatermark("eddytest-KSTREAM-REPARTITION-0000000003-repartition", 0, t0)},
		{"time backwards", d.AdvanceTime(-time.Second)},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, c.err)
		}
	}
	must(t, in.Send("a", "still running"))
}

// A restart from a snapshot with another partition count for an input refuses, as a
// broker does, when the internal topics would change their counts.
func TestSnapshotRestartKeepsInternalTopics(t *testing.T) {
	d := eddytest.New(t, wordCount(), eddytest.Partitions("lines", 2))
	must(t, eddytest.Input(d, "lines", serde.String(), serde.String()).Send("a", "x"))
	must(t, d.Close())
	_, err := eddytest.Start(t, wordCount(), eddytest.FromSnapshot(d.Snapshot()), eddytest.Partitions("lines", 4))
	if err == nil {
		t.Fatal("a restart with 4 partitions instead of 2 kept the 2-partition changelog")
	}
	t.Log(err)
}

// Timestamps are Kafka's milliseconds, and what the driver hands out is a copy.
func TestRecordsAreKafkasAndCopies(t *testing.T) {
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	d := eddytest.New(t, top)
	must(t, eddytest.Input(d, "in", serde.String(), serde.String()).Send("k", "v", eddytest.At(t0.Add(1500*time.Microsecond))))
	out := eddytest.Output(d, "out", serde.Bytes(), serde.Bytes())
	got := out.ReadAll()
	if len(got) != 1 || !got[0].Timestamp.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("records %+v, want one at %s", got, t0.Add(time.Millisecond))
	}
	got[0].Value[0] = 'X'
	dl := eddytest.Output(d, "out", serde.String(), serde.String()).ReadValues()
	if !slices.Equal(dl, []string{"v"}) {
		t.Fatalf("changing a record read changed the topic: %v", dl)
	}
}

// A topology that writes its own input never settles: Send says so instead of hanging.
func TestSelfFeedingTopologyIsAnError(t *testing.T) {
	for _, eos := range []bool{false, true} {
		top := topology.New()
		topology.To(topology.From(top, "loop", serde.String(), serde.String()), "loop", serde.String(), serde.String())
		var opts []eddytest.Option
		if eos {
			opts = append(opts, eddytest.With(eddy.ExactlyOnce()))
		}
		d := eddytest.New(t, top, opts...)
		err := eddytest.Input(d, "loop", serde.String(), serde.String()).Send("k", "v")
		if eos && err == nil {
			err = d.Commit()
		}
		if err == nil || !strings.Contains(err.Error(), "without end") {
			t.Fatalf("exactly-once=%v: %v, want the self-feeding error", eos, err)
		}
	}
}
