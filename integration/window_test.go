package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// clickCounts: clicks keyed by user, value = page; re-keyed by page (a repartition), then
// counted in 1 s tumbling windows; results "page@start=count".
func clickCounts(in, out string, opts ...topology.Option) *topology.Topology {
	t := topology.New()
	clicks := topology.From(t, in, serde.String(), serde.String(), append(opts, topology.OutOfOrderness(time.Second))...)
	byPage := topology.GroupBy(clicks, func(_, page string) string { return page }, serde.String(), serde.String(), topology.Named("by-page"))
	counts := topology.WindowedCount(topology.WindowBy(byPage, topology.TumblingWindows(time.Second)), "page-counts")
	labelled := topology.Map(counts, func(k topology.Windowed[string], n int64) (string, string) {
		return fmt.Sprintf("%s@%d", k.Key, k.Start.UnixMilli()), fmt.Sprint(n)
	})
	topology.To(labelled, out, serde.String(), serde.String())
	return t
}

// produceClicks writes clicks with event times to one partition of topic and returns the
// reference window counts of all but the last (a flush far ahead).
func produceClicks(t *testing.T, topic string, partition int32, n int) []string {
	t.Helper()
	cl := kafkatest.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ref := map[string]int{}
	var recs []*kgo.Record
	for i := range n {
		ts := int64(10_000 + i*37 - (i%5)*200) // out of order by under 1 s: within the 1 s bound
		page := fmt.Sprintf("/p%d", i%4)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Key: fmt.Appendf(nil, "u%d", i%7), Value: []byte(page), Timestamp: time.UnixMilli(ts)})
		ref[fmt.Sprintf("%s@%d", page, ts/1000*1000)]++
	}
	recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Key: []byte("flush"), Value: []byte("/flush"), Timestamp: time.UnixMilli(int64(10_000+n*37) + 60_000)})
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k, c := range ref {
		want = append(want, fmt.Sprintf("%s=%d", k, c))
	}
	slices.Sort(want)
	return want
}

// Idle partitions across a repartition: clicks come to one partition of three. Without an
// idle timeout the two empty partitions' tasks hold the watermark of every downstream task
// back and no window closes; with a 2 s idle timeout they stop holding it, and the windows
// close with exact counts, each once.
func TestIdlePartitionsAndWindowsAcrossRepartition(t *testing.T) {
	for _, tc := range []struct {
		name string
		idle time.Duration
	}{{"no idle timeout", 0}, {"2s idle timeout", 2 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in, out := kafkatest.Topic(t, "clicks"), kafkatest.Topic(t, "counts")
			kafkatest.CreateTopic(t, adm, in, 3, nil)
			kafkatest.CreateTopic(t, adm, out, 3, nil)
			want := produceClicks(t, in, 0, 400)
			var opts []topology.Option
			if tc.idle > 0 {
				opts = append(opts, topology.IdleTimeout(tc.idle))
			}
			run := start(t, newApp(t, clickCounts(in, out, opts...), kafkatest.Topic(t, "app"), eddy.LowMemoryState()))
			if tc.idle == 0 {
				time.Sleep(6 * time.Second)
				if err := run.stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
				if n := countAll(t, out); n != 0 {
					t.Fatalf("%d windows emitted while two input partitions held the watermark back", n)
				}
				return
			}
			recs := consumeN(t, out, len(want), 60*time.Second)
			time.Sleep(2 * time.Second) // room for a wrong second emission
			if err := run.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, string(r.Key)+"="+string(r.Value))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("windows:\n got %v\nwant %v", got, want)
			}
			if n := countAll(t, out); n != len(want) {
				t.Errorf("%d window results in %s, want %d (each window once)", n, out, len(want))
			}
		})
	}
}

// Bounded mode on the real broker: a word count over N words returns by itself, and the
// final counts total N — with one worker at-least-once, and with two workers exactly-once.
func TestBoundedWordCount(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []eddy.Opt
	}{{"at-least-once", nil}, {"exactly-once-two-workers", []eddy.Opt{eddy.ExactlyOnce(), eddy.Workers(2)}}} {
		t.Run(c.name, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
			kafkatest.CreateTopic(t, adm, in, 3, nil)
			kafkatest.CreateTopic(t, adm, out, 3, nil)
			lines, want := corpus(1500, 7)
			produceLines(t, in, lines, 0)
			var total int64
			for _, n := range want {
				total += n
			}
			app := newApp(t, wordCountTopology(in, out), kafkatest.Topic(t, "app"), append(c.opts, eddy.Bounded(), eddy.LowMemoryState())...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := app.Run(ctx); err != nil || ctx.Err() != nil {
				t.Fatalf("bounded Run = %v (context %v): it must return by itself", err, ctx.Err())
			}
			got := latestCounts(t, out, want)
			var sum int64
			for _, n := range got {
				sum += n
			}
			if sum != total {
				t.Errorf("final counts total %d, want %d", sum, total)
			}
		})
	}
}
