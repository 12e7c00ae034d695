package topology_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// Records exactly gap apart belong to one session, as in Flink and Kafka Streams: a@1000,
// 2000 and 3000 (gap 1 s) are one session, a@4001 is 1001 ms after the last and starts
// another; b@12000 bridges b@11000 and b@13000, each exactly gap away, into one.
func TestSessionsJoinRecordsExactlyGapApart(t *testing.T) {
	top := topology.New()
	grouped := topology.GroupByKey(topology.From(top, "in", serde.String(), serde.String()), serde.String(), serde.String())
	counts := topology.SessionCount(topology.SessionBy(grouped, topology.Sessions(time.Second)), "sessions")
	topology.To(topology.Map(counts, func(k topology.Windowed[string], n int64) (string, string) {
		return fmt.Sprintf("%s@%d-%d", k.Key, k.Start.UnixMilli(), k.End.UnixMilli()), fmt.Sprint(n)
	}), "out", serde.String(), serde.String())

	m := state.NewManager(store.NewMemory())
	defer m.Close()
	kv, err := m.Open(0, 0, "sessions")
	if err != nil {
		t.Fatal(err)
	}
	env := &fakeEnv{keep: true, stores: map[string]store.Bytes{"sessions": kv}}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		key string
		ms  int64
	}{{"a", 1000}, {"a", 2000}, {"a", 3000}, {"a", 4001}, {"b", 11000}, {"b", 13000}, {"b", 12000}} {
		if err := task.Handlers["in"](&kgo.Record{Key: []byte(r.key), Value: []byte("v"), Timestamp: time.UnixMilli(r.ms)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range env.listeners {
		if err := l(time.UnixMilli(60_000)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, r := range env.sent {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	slices.Sort(got)
	if want := []string{"a@1000-3001=3", "a@4001-4002=1", "b@11000-13001=3"}; !slices.Equal(got, want) {
		t.Errorf("sessions = %v, want %v", got, want)
	}
}
