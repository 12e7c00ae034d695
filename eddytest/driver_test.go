package eddytest_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wordCount counts words by re-keying through a repartition topic.
func wordCount() *topology.Topology { return wordCountOn("lines", "word-counts") }

func wordCountOn(in, out string) *topology.Topology {
	top := topology.New()
	lines := topology.From(top, in, serde.String(), serde.String())
	words := topology.FlatMapValues(lines, strings.Fields)
	counts := topology.Count(topology.GroupBy(words, func(_, w string) string { return w }, serde.String(), serde.String()), "counts")
	topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
	return top
}

func TestCountThroughARepartitionTopic(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly-once=%v", eos), func(t *testing.T) {
			var opts []eddytest.Option
			if eos {
				opts = append(opts, eddytest.With(eddy.ExactlyOnce()))
			}
			opts = append(opts, eddytest.Partitions("lines", 3))
			d := eddytest.New(t, wordCount(), opts...)
			in := eddytest.Input(d, "lines", serde.String(), serde.String())
			out := eddytest.Output(d, "word-counts", serde.String(), serde.Int64())
			must(t, in.Send("a", "the cat"))
			must(t, in.Send("b", "the dog", eddytest.ToPartition(2)))
			if eos {
				if got := out.ReadAll(); len(got) != 0 {
					t.Fatalf("exactly-once output visible before a commit: %v", got)
				}
				must(t, d.Commit())
			}
			got := out.Latest()
			want := []eddytest.KeyValue[string, int64]{{"cat", 1}, {"the", 2}, {"dog", 1}}
			slices.SortFunc(got, func(a, b eddytest.KeyValue[string, int64]) int { return strings.Compare(a.Key, b.Key) })
			slices.SortFunc(want, func(a, b eddytest.KeyValue[string, int64]) int { return strings.Compare(a.Key, b.Key) })
			if !slices.Equal(got, want) {
				t.Fatalf("counts %v, want %v", got, want)
			}
			n, found, err := eddytest.Store(d, "counts", serde.String(), serde.Int64()).Get("the")
			must(t, err)
			if !found || n != 2 {
				t.Fatalf("store counts[the] = %d, %v; want 2", n, found)
			}
		})
	}
}

// windowed counts per key in 10 s tumbling windows, 2 s out of order allowed; "key@start=n".
func windowed(lateTopic string) *topology.Topology {
	top := topology.New()
	s := topology.From(top, "events", serde.String(), serde.String(), topology.OutOfOrderness(2*time.Second))
	var opts []topology.Option
	if lateTopic != "" {
		opts = append(opts, topology.LateRecordsTo(lateTopic))
	}
	counts := topology.WindowedCount(topology.WindowBy(topology.GroupByKey(s, serde.String(), serde.String()),
		topology.TumblingWindows(10*time.Second)), "win", opts...)
	topology.To(topology.Map(counts, func(k topology.Windowed[string], n int64) (string, string) {
		return fmt.Sprintf("%s@%d", k.Key, k.Start.Unix()), fmt.Sprint(n)
	}), "counts", serde.String(), serde.String())
	return top
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) eddytest.SendOption { return eddytest.At(t0.Add(time.Duration(sec) * time.Second)) }

// A window closes when the watermark — the minimum over the task's partitions — passes
// its end; a record behind the watermark is late and goes to the late topic.
func TestWindowsCloseOnTheWatermarkOfEveryPartition(t *testing.T) {
	d := eddytest.New(t, windowed("late"), eddytest.Partitions("events", 2), eddytest.Partitions("late", 1))
	in := eddytest.Input(d, "events", serde.String(), serde.String())
	out := eddytest.Output(d, "counts", serde.String(), serde.String())
	// t0 is a multiple of 10 s: windows [t0, t0+10s), [t0+10s, t0+20s)…
	must(t, in.Send("k", "x", at(1), eddytest.ToPartition(0)))
	must(t, in.Send("k", "x", at(5), eddytest.ToPartition(0)))
	must(t, in.Send("k", "x", at(11), eddytest.ToPartition(0)))
	if got := out.ReadKeyValues(); len(got) != 0 {
		t.Fatalf("a window closed before the watermark (11 s − 2 s − 1 ms) passed its end: %v", got)
	}
	must(t, in.Send("k", "x", at(30), eddytest.ToPartition(0)))
	want := []eddytest.KeyValue[string, string]{eddytest.Pair(fmt.Sprintf("k@%d", t0.Unix()), "2"), eddytest.Pair(fmt.Sprintf("k@%d", t0.Unix()+10), "1")}
	if got := out.ReadKeyValues(); !slices.Equal(got, want) {
		t.Fatalf("closed windows %v, want %v", got, want)
	}
	// Partition 1 is another task, with its own watermark.
	must(t, in.Send("j", "x", at(2), eddytest.ToPartition(1)))
	if got := out.ReadKeyValues(); len(got) != 0 {
		t.Fatalf("partition 1's window closed on partition 0's watermark: %v", got)
	}
	// Watermark of partition 0: 30 s − 2 s − 1 ms. A record at 3 s is late.
	must(t, in.Send("k", "x", at(3), eddytest.ToPartition(0)))
	if n := d.LateRecords("win"); n != 1 {
		t.Fatalf("late records %d, want 1", n)
	}
	late := eddytest.Output(d, "late", serde.String(), serde.String()).ReadKeyValues()
	if len(late) != 1 || late[0].Key != "k" {
		t.Fatalf("late topic %v", late)
	}
	wm, err := d.Watermark("events", 0)
	must(t, err)
	if want := t0.Add(28*time.Second - time.Millisecond); !wm.Equal(want) {
		t.Fatalf("watermark %s, want %s", wm, want)
	}
	// SetWatermark closes the [t0+30s, t0+40s) window of k without a record.
	must(t, d.SetWatermark("events", 0, t0.Add(45*time.Second)))
	if got := out.ReadKeyValues(); !slices.Equal(got, []eddytest.KeyValue[string, string]{eddytest.Pair(fmt.Sprintf("k@%d", t0.Add(30*time.Second).Unix()), "1")}) {
		t.Fatalf("after SetWatermark: %v", got)
	}
}

// A task of two topics holds its watermark at the slower one until that one goes idle —
// by its idle timeout as the virtual clock advances, or by SetIdle.
func TestIdlePartitionsReleaseTheWatermark(t *testing.T) {
	build := func() *topology.Topology {
		top := topology.New()
		ab := topology.FromTopics(top, []string{"a", "b"}, serde.String(), serde.String(), topology.IdleTimeout(time.Minute))
		counts := topology.WindowedCount(topology.WindowBy(topology.GroupByKey(ab, serde.String(), serde.String()),
			topology.TumblingWindows(10*time.Second)), "win")
		topology.To(topology.Map(counts, func(k topology.Windowed[string], n int64) (string, int64) { return k.Key, n }),
			"counts", serde.String(), serde.Int64())
		return top
	}
	for _, how := range []string{"timeout", "SetIdle"} {
		t.Run(how, func(t *testing.T) {
			d := eddytest.New(t, build())
			a := eddytest.Input(d, "a", serde.String(), serde.String())
			b := eddytest.Input(d, "b", serde.String(), serde.String())
			out := eddytest.Output(d, "counts", serde.String(), serde.Int64())
			must(t, b.Send("k", "x", at(0)))
			must(t, a.Send("k", "x", at(1)))
			must(t, a.Send("k", "x", at(25)))
			if got := out.ReadKeyValues(); len(got) != 0 {
				t.Fatalf("closed while b holds the watermark: %v", got)
			}
			if how == "timeout" {
				must(t, d.AdvanceTime(59*time.Second))
				if got := out.ReadKeyValues(); len(got) != 0 {
					t.Fatalf("closed before b's idle timeout: %v", got)
				}
				must(t, d.AdvanceTime(time.Second))
			} else {
				must(t, d.SetIdle("b", 0))
			}
			if got := out.ReadKeyValues(); !slices.Equal(got, []eddytest.KeyValue[string, int64]{{"k", 2}}) {
				t.Fatalf("after b went idle: %v", got)
			}
		})
	}
}

// Wall-clock punctuators run as the virtual clock passes their times, once per beat.
func TestWallClockPunctuatorsRunOnTheVirtualClock(t *testing.T) {
	top := topology.New()
	s := topology.From(top, "in", serde.String(), serde.String())
	ticks := topology.Process(s, "ticker", func() processor.Processor[string, string, string, string] {
		return &ticker{}
	})
	topology.To(ticks, "ticks", serde.String(), serde.String())
	d := eddytest.New(t, top)
	out := eddytest.Output(d, "ticks", serde.String(), serde.String())
	must(t, eddytest.Input(d, "in", serde.String(), serde.String()).Send("k", "v"))
	must(t, d.AdvanceTime(35*time.Second))
	got := out.ReadValues()
	want := []string{"v", d.Now().Add(-25 * time.Second).Format(time.RFC3339), d.Now().Add(-15 * time.Second).Format(time.RFC3339),
		d.Now().Add(-5 * time.Second).Format(time.RFC3339)}
	if !slices.Equal(got, want) {
		t.Fatalf("ticks %v, want %v", got, want)
	}
}

type ticker struct {
	ctx processor.Context[string, string]
}

func (p *ticker) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	ctx.Schedule(10*time.Second, func(now time.Time) error {
		return ctx.Forward(processor.Record[string, string]{Key: "tick", Value: now.Format(time.RFC3339), Timestamp: now})
	})
	return nil
}

func (p *ticker) Process(r processor.Record[string, string]) error { return p.ctx.Forward(r) }

func (p *ticker) Close() error { return nil }

// The error policies: Fail stops with the record's RecordError; Skip and DeadLetter go on.
func TestBadInputPolicies(t *testing.T) {
	build := func() *topology.Topology {
		top := topology.New()
		s := topology.From(top, "in", serde.String(), serde.Int64())
		topology.To(topology.MapValues(s, func(v int64) int64 { return v * 2 }), "out", serde.String(), serde.Int64())
		return top
	}
	bad := []byte("not an int64")
	t.Run("fail", func(t *testing.T) {
		d := eddytest.New(t, build())
		in := eddytest.Input(d, "in", serde.String(), serde.Int64())
		must(t, in.Send("a", 1))
		err := in.SendRaw([]byte("b"), bad)
		var re *eddy.RecordError
		if !errors.As(err, &re) || re.Topic != "in" || re.Offset != 1 || re.Kind != eddy.DeserializationError {
			t.Fatalf("error %v (%#v), want a RecordError for in/0@1, deserialization", err, re)
		}
		if err := in.Send("c", 3); !errors.As(err, &re) {
			t.Fatalf("a stopped driver took more input: %v", err)
		}
	})
	t.Run("skip", func(t *testing.T) {
		d := eddytest.New(t, build(), eddytest.With(eddy.OnDeserializationError(eddy.Skip())))
		in := eddytest.Input(d, "in", serde.String(), serde.Int64())
		must(t, in.Send("a", 1))
		must(t, in.SendRaw([]byte("b"), bad))
		must(t, in.Send("c", 3))
		if got := eddytest.Output(d, "out", serde.String(), serde.Int64()).ReadValues(); !slices.Equal(got, []int64{2, 6}) {
			t.Fatalf("output %v", got)
		}
		sk := d.Skipped()
		if len(sk) != 1 || string(sk[0].Key) != "b" || sk[0].Err.Offset != 1 || sk[0].Err.Kind != eddy.DeserializationError {
			t.Fatalf("skipped %+v", sk)
		}
	})
	t.Run("dead-letter", func(t *testing.T) {
		d := eddytest.New(t, build(), eddytest.With(eddy.OnDeserializationError(eddy.DeadLetter("dlq"))))
		in := eddytest.Input(d, "in", serde.String(), serde.Int64())
		must(t, in.SendRaw([]byte("b"), bad))
		dls, err := d.DeadLetters("dlq")
		must(t, err)
		if len(dls) != 1 || string(dls[0].Value) != string(bad) || dls[0].Topic != "in" || dls[0].Offset != 0 || dls[0].Kind != "deserialization" {
			t.Fatalf("dead letters %+v", dls)
		}
	})
}

// A restart from a snapshot restores the stores from their changelogs and resumes at the
// committed offsets: counts go on from where they were.
func TestRestartFromASnapshot(t *testing.T) {
	d := eddytest.New(t, wordCount(), eddytest.Partitions("lines", 2))
	in := eddytest.Input(d, "lines", serde.String(), serde.String())
	must(t, in.Send("a", "x y x"))
	must(t, d.Close())
	d2 := eddytest.New(t, wordCount(), eddytest.FromSnapshot(d.Snapshot()))
	must(t, eddytest.Input(d2, "lines", serde.String(), serde.String()).Send("b", "x"))
	got := eddytest.Output(d2, "word-counts", serde.String(), serde.Int64()).Latest()
	var x int64
	for _, kv := range got {
		if kv.Key == "x" {
			x = kv.Value
		}
	}
	if x != 3 {
		t.Fatalf("x counted %d after the restart, want 3 (%v)", x, got)
	}
}

// A sink's placement options: by task (task p writes partition p mod n, whatever the
// key) and round-robin (one key's records over every partition in turn).
func TestSinkSpreads(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  topology.Option
		want func(from int32, i int) int32
	}{
		{"by task", topology.PartitionByTask(), func(from int32, _ int) int32 { return from % 2 }},
		{"round-robin", topology.SpreadRoundRobin(), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			top := topology.New()
			topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String(), c.opt)
			d := eddytest.New(t, top, eddytest.Partitions("in", 3), eddytest.Partitions("out", 2))
			in := eddytest.Input(d, "in", serde.String(), serde.String())
			for i := range 6 {
				if err := in.Send("same-key", fmt.Sprint(i), eddytest.ToPartition(int32(i%3))); err != nil {
					t.Fatal(err)
				}
			}
			seen := map[int32]int{}
			for _, r := range eddytest.Output(d, "out", serde.String(), serde.String()).ReadAll() {
				var i int
				fmt.Sscan(r.Value, &i)
				seen[r.Partition]++
				if c.want != nil && r.Partition != c.want(int32(i%3), i) {
					t.Errorf("record %d from partition %d went to %d", i, i%3, r.Partition)
				}
			}
			if c.want == nil && (seen[0] != 3 || seen[1] != 3) {
				t.Errorf("round-robin: one key's records per partition %v, want 3 and 3", seen)
			}
		})
	}
	top := topology.New()
	s := topology.From(top, "in", serde.String(), serde.String())
	topology.To(s, "out", serde.String(), serde.String(), topology.PartitionByTask())
	topology.To(s, "out", serde.String(), serde.String())
	if _, err := eddytest.Start(t, top); err == nil || !strings.Contains(err.Error(), "place records differently") {
		t.Errorf("two sinks of one topic placing records differently: %v", err)
	}
}
