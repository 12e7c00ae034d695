package eddy_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

type valued struct {
	key, value string
	ts         int64
}

// slidingReference computes sliding windows by their definition: for every record at t
// the window [t − d, t], and the window [t + 1, t + 1 + d] when it holds a record; each
// window's contents are the sorted values of the key's records in it.
func slidingReference(recs []valued, d int64) map[string]string {
	out := map[string]string{}
	for _, r := range recs {
		for _, start := range []int64{r.ts - d, r.ts + 1} {
			var in []string
			for _, o := range recs {
				if o.key == r.key && o.ts >= start && o.ts <= start+d {
					in = append(in, o.value)
				}
			}
			if len(in) > 0 {
				slices.Sort(in)
				out[fmt.Sprintf("%s@%d-%d", r.key, start, start+d+1)] = strings.Join(in, ",")
			}
		}
	}
	return out
}

// Sliding windows against the reference on random out-of-order input (within the bound,
// with several records at the same millisecond): every window's contents are exact, in
// final mode each window is emitted once, and in update mode the last update of each
// window is its final contents.
func TestSlidingWindows(t *testing.T) {
	const d = 1000
	rng := rand.New(rand.NewPCG(7, 11))
	var input []valued
	base := int64(10_000)
	for i := range 300 {
		base += rng.Int64N(120)
		ts := base - rng.Int64N(1900) // at most 1.9 s behind the newest: never late with a 2 s bound
		if i%17 == 0 && len(input) > 0 {
			ts = input[len(input)-1].ts // same millisecond as the previous record
		}
		input = append(input, valued{key: fmt.Sprintf("k%d", rng.IntN(3)), value: fmt.Sprintf("v%03d", i), ts: ts})
	}
	ref := slidingReference(input, d)
	for _, mode := range []string{"final", "updates"} {
		t.Run(mode, func(t *testing.T) {
			top := topology.New()
			s := topology.From(top, "events", serde.String(), serde.String(), topology.OutOfOrderness(2*time.Second))
			var opts []topology.Option
			if mode == "updates" {
				opts = append(opts, topology.EmitUpdates())
			}
			collected := topology.WindowedAggregate(topology.WindowBy(topology.GroupByKey(s, serde.String(), serde.String()), topology.SlidingWindows(d*time.Millisecond)),
				func() []string { return nil },
				func(_ string, v string, agg []string) []string { return append(agg, v) },
				serde.JSON[[]string](), "sliding", opts...)
			topology.To(topology.Map(collected, func(k topology.Windowed[string], vs []string) (string, string) {
				vs = slices.Clone(vs)
				slices.Sort(vs)
				return fmt.Sprintf("%s@%d-%d", k.Key, k.Start.UnixMilli(), k.End.UnixMilli()), strings.Join(vs, ",")
			}), "windows", serde.String(), serde.String())
			d := eddytest.New(t, top)
			in := eddytest.Input(d, "events", serde.String(), serde.String())
			for _, r := range input {
				if err := in.Send(r.key, r.value, eddytest.At(time.UnixMilli(r.ts))); err != nil {
					t.Fatal(err)
				}
			}
			// The flush: moves the watermark past every window above.
			if err := in.Send("z", "flush", eddytest.At(time.UnixMilli(base+60_000))); err != nil {
				t.Fatal(err)
			}
			var got []eddytest.KeyValue[string, string]
			for _, r := range eddytest.Output(d, "windows", serde.String(), serde.String()).ReadKeyValues() {
				// The flush record's own windows: open in final mode (so any is an error
				// below), updated in update mode.
				if mode == "updates" && strings.HasPrefix(r.Key, "z@") {
					continue
				}
				got = append(got, r)
			}
			last := map[string]string{}
			for _, r := range got {
				last[r.Key] = r.Value
			}
			if mode == "final" && len(got) != len(ref) {
				t.Errorf("%d windows emitted, want each of the %d once", len(got), len(ref))
			}
			for _, k := range slices.Sorted(maps.Keys(ref)) {
				if last[k] != ref[k] {
					t.Errorf("window %s = %q, want %q", k, last[k], ref[k])
				}
			}
			for k := range last {
				if _, ok := ref[k]; !ok {
					t.Errorf("window %s = %q is not in the reference", k, last[k])
				}
			}
			if mode == "updates" && len(got) <= len(ref) {
				t.Errorf("update mode emitted %d records for %d windows: expected more updates than windows", len(got), len(ref))
			}
		})
	}
}

// A record whose every possible window is final is late: it goes to the late topic and
// is in no window.
func TestSlidingWindowLateRecord(t *testing.T) {
	// d = 1 s, bound 0: after a@5000 the watermark is 4999; a@3000 could be only in
	// windows ending by 4000: late. a@4500 is not (its left window ends at 4500).
	got, late := runLateCase(t, []timed{{"a", 5000}, {"a", 3000}, {"a", 4500}, {"z", 60000}},
		func(g topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64] {
			return topology.WindowedCount(topology.WindowBy(g, topology.SlidingWindows(time.Second)), "sliding", topology.LateRecordsTo("late"))
		})
	// a@5000: left [4000, 5000] (has 4500 too); 4500: its left window [3500, 4500] is
	// final already (not made), its right one [4501, 5501] holds 5000. z's stays open.
	want := []string{"a@4000-5001=2", "a@4501-5502=1"}
	if !slices.Equal(got, want) || len(late) != 1 || late[0].Timestamp.UnixMilli() != 3000 {
		t.Errorf("windows = %v, want %v; late = %v", got, want, late)
	}
}

// consumeUntil reads topic from the start up to the first record for which last is true
// and returns the records before it.
func consumeUntil(t *testing.T, brokers []string, topic string, timeout time.Duration, last func(*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: no last record among the %d read before the timeout", topic, len(out))
		}
		for _, r := range fs.Records() {
			if last(r) {
				return out
			}
			out = append(out, r)
		}
	}
}
