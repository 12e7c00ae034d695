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
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
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
// reference window counts of all but the last (a flush far ahead), and the time of the
// flush.
func produceClicks(t *testing.T, topic string, partition int32, n int) ([]string, int64) {
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
	flush := int64(10_000+n*37) + 60_000
	recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Key: []byte("flush"), Value: []byte("/flush"), Timestamp: time.UnixMilli(flush)})
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k, c := range ref {
		want = append(want, fmt.Sprintf("%s=%d", k, c))
	}
	slices.Sort(want)
	return want, flush
}

// Idle partitions across a repartition: clicks come to one partition of three. Without an
// idle timeout the two empty partitions' tasks hold the watermark of every downstream task
// back and no window closes; with a 2 s idle timeout they stop holding it, and the windows
// close with exact counts, each once.
//
// Nothing can change any more once every reader has processed the last watermark header of
// every upstream task (0_0 with the watermark of the flush, and with the idle timeout all
// three idle): the test waits for that state, then reads the output to its end.
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
			want, flush := produceClicks(t, in, 0, 400)
			var opts []topology.Option
			if tc.idle > 0 {
				opts = append(opts, topology.IdleTimeout(tc.idle))
			}
			appID := kafkatest.Topic(t, "app")
			run := start(t, newApp(t, clickCounts(in, out, opts...), appID, eddy.LowMemoryState()))
			// The watermark after the flush: its time less the 1 s bound, less 1 ms.
			final := ends.Mark{Watermark: flush - 1001, Idle: tc.idle > 0}
			ends.WaitMarks(t, kafkatest.Bootstrap(t), appID+"-by-page-repartition", 60*time.Second, func(m map[int32]map[string]ends.Mark) bool {
				for p := range int32(3) {
					_, ok1 := m[p]["0_1"]
					_, ok2 := m[p]["0_2"]
					if m[p]["0_0"] != final || !ok1 || !ok2 || m[p]["0_1"].Idle != final.Idle || m[p]["0_2"].Idle != final.Idle {
						return false
					}
				}
				return true
			})
			run.stopCaughtUp(t, appID, in)
			var got []string
			for _, r := range readCommitted(t, out) {
				got = append(got, string(r.Key)+"="+string(r.Value))
			}
			slices.Sort(got)
			if tc.idle == 0 {
				if len(got) != 0 {
					t.Fatalf("%d windows emitted while two input partitions held the watermark back: %v", len(got), got)
				}
				return
			}
			if !slices.Equal(got, want) {
				t.Errorf("windows (each once):\n got %v\nwant %v", got, want)
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
			// Run has returned: the output is final. Each word's highest count is its count,
			// and none is higher.
			got := map[string]int64{}
			for _, r := range readCommitted(t, out) {
				n, err := serde.Int64().Decode(r.Value)
				if err != nil {
					t.Fatalf("decode %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
				}
				got[string(r.Key)] = max(got[string(r.Key)], n)
			}
			var sum int64
			for w, n := range got {
				if n != want[w] {
					t.Errorf("count of %s = %d, want %d", w, n, want[w])
				}
				sum += n
			}
			if sum != total {
				t.Errorf("final counts total %d, want %d", sum, total)
			}
		})
	}
}
