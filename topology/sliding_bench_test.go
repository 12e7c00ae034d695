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

// The cost of one record through a windowed count on a task's real store slice (write
// buffer over Badger), the watermark following each record: 10k keys, event times 1 ms
// apart, so each key has a record every 10 s. Sliding windows cost far more than fixed
// ones here (several Badger range scans per record; see ARCHITECTURE.md).
func BenchmarkWindowedCountOperator(b *testing.B) {
	for _, w := range []struct {
		name    string
		windows topology.Windows
	}{{"tumbling", topology.TumblingWindows(time.Second)}, {"sliding", topology.SlidingWindows(time.Second)}} {
		b.Run(w.name, func(b *testing.B) {
			top := topology.New()
			grouped := topology.GroupByKey(topology.From(top, "in", serde.String(), serde.String()), serde.String(), serde.String())
			counts := topology.WindowedCount(topology.WindowBy(grouped, w.windows), "win")
			topology.To(counts, "out", topology.WindowedSerde(serde.String()), serde.Int64())
			db, err := store.OpenBadger(b.TempDir(), store.BadgerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			m := state.NewManager(db)
			defer m.Close()
			kv, err := m.Open(0, 0, "win")
			if err != nil {
				b.Fatal(err)
			}
			env := &fakeEnv{stores: map[string]store.Bytes{"win": kv}}
			task, err := top.Graph().BuildTask(0, env)
			if err != nil {
				b.Fatal(err)
			}
			h := task.Handlers["in"]
			keys := make([][]byte, 10_000)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key-%d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ts := time.UnixMilli(int64(1_000_000 + i))
				if err := h(&kgo.Record{Key: keys[i%len(keys)], Value: []byte("v"), Timestamp: ts}); err != nil {
					b.Fatal(err)
				}
				for _, l := range env.listeners {
					if err := l(ts.Add(-time.Millisecond)); err != nil {
						b.Fatal(err)
					}
				}
				if i%10_000 == 9_999 { // a commit every 10k records
					if err := m.Commit([]*state.KV{kv}, []state.Checkpoint{{Offset: int64(i), Written: time.Now()}}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
