package topology_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// The cost of one record through a windowed stream-stream join on a task's real store
// slices, the watermark following each record: 1,000 keys, records alternately left and
// right, event times 1 ms apart, so each left record meets the right record of its key
// 1 ms later within a 100 ms window (the load harness's shape). The slices are kept in
// memory (the default) or in Badger (OnDisk); a commit comes every 10k records (10 s of
// event time: nearly every record closes before it) or every 100 (100 ms: about the
// records of a window are open at each commit, as in the harness's at-least-once run).
func BenchmarkStreamJoinOperator(b *testing.B) {
	for _, c := range []struct {
		kind   string
		memory bool
		commit int
	}{{"inner", true, 10_000}, {"left", true, 10_000}, {"inner", true, 100}, {"inner", false, 10_000}, {"left", false, 10_000}, {"inner", false, 100}} {
		slices := "badger"
		if c.memory {
			slices = "memory"
		}
		kind := c.kind
		b.Run(fmt.Sprintf("%s/%s/commit-%d", kind, slices, c.commit), func(b *testing.B) {
			top := topology.New()
			s := serde.String()
			l, r := topology.From(top, "l", s, s), topology.From(top, "r", s, s)
			w := topology.JoinWindowsOf(100 * time.Millisecond)
			var joined topology.Stream[string, string]
			if kind == "inner" {
				joined = topology.JoinStreams(l, r, w, s, s, s, func(_, a, b string) string { return a }, topology.Named("j"))
			} else {
				joined = topology.LeftJoinStreams(l, r, w, s, s, s, func(_, a, b string, _ bool) string { return a }, topology.Named("j"))
			}
			topology.To(joined, "out", s, s)
			db, err := store.OpenBadger(b.TempDir(), store.BadgerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			m := state.NewManager(db)
			defer m.Close()
			var kvs []*state.KV
			stores := map[string]store.Bytes{}
			for i, name := range []string{"j-this-join-store", "j-other-join-store"} {
				open := m.Open
				if c.memory {
					open = m.OpenInMemory
				}
				kv, err := open(0, int32(i), name)
				if err != nil {
					b.Fatal(err)
				}
				kvs = append(kvs, kv)
				stores[name] = kv
			}
			env := &fakeEnv{stores: stores}
			task, err := top.Graph().BuildTask(0, env)
			if err != nil {
				b.Fatal(err)
			}
			hl, hr := task.Handlers["l"], task.Handlers["r"]
			keys := make([][]byte, 1000)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key-%d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ts := time.UnixMilli(int64(1_000_000 + i))
				h := hl
				if i%2 == 1 {
					h = hr
				}
				if err := h(&kgo.Record{Key: keys[(i/2)%len(keys)], Value: []byte("v"), Timestamp: ts}); err != nil {
					b.Fatal(err)
				}
				for _, l := range env.listeners {
					if err := l(ts.Add(-time.Millisecond)); err != nil {
						b.Fatal(err)
					}
				}
				if i%c.commit == c.commit-1 {
					if err := m.Commit(kvs, []state.Checkpoint{{Offset: int64(i), Written: time.Now()}, {Offset: int64(i), Written: time.Now()}}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
