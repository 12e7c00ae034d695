package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The write buffers have a byte budget: with a commit interval of an hour (ten minutes
// under exactly-once, within the broker's transaction timeout) and 1 KB values,
// a worker whose buffers reach MaxBufferedBytes commits at once — its offsets advance
// while it runs, within a budget's worth of records of the input's end — instead of
// holding every change in memory until the interval.
func TestWriteBufferBudgetForcesCommits(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in, out := kafkatest.Topic(t, "in"), kafkatest.Topic(t, "out")
			kafkatest.CreateTopic(t, adm, in, 1, nil)
			kafkatest.CreateTopic(t, adm, out, 1, nil)
			const n, size, budget = 3000, 1000, 256 << 10
			var recs []*kgo.Record
			for i := range n {
				recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%05d", i), Value: []byte(strings.Repeat("x", size))})
			}
			produceAll(t, recs)
			top := topology.New()
			latest := topology.Reduce(topology.GroupByKey(topology.From(top, in, serde.String(), serde.String()), serde.String(), serde.String()),
				func(_, v string) string { return v }, "latest")
			topology.To(latest.ToStream(), out, serde.String(), serde.String())
			appID := kafkatest.Topic(t, "app")
			opts := []eddy.Opt{eddy.CommitInterval(time.Hour), eddy.MaxBufferedBytes(budget), eddy.LowMemoryState()}
			if guarantee == "exactly-once" {
				// Within the broker's transaction.max.timeout.ms (15 min).
				opts = []eddy.Opt{eddy.ExactlyOnce(), eddy.CommitInterval(10 * time.Minute), eddy.TransactionTimeout(14 * time.Minute),
					eddy.MaxBufferedBytes(budget), eddy.LowMemoryState()}
			}
			run := start(t, newApp(t, top, appID, opts...))
			// A budget holds about budget/size records; allow two budgets for the bytes
			// of keys and bookkeeping.
			want := int64(n - 2*budget/size)
			deadline := time.Now().Add(60 * time.Second)
			for committedOffset(t, appID, in) < want {
				if time.Now().After(deadline) {
					t.Fatalf("committed offset %d after 60 s with a 1 h commit interval, want ≥ %d: the buffers grew past MaxBufferedBytes without a commit",
						committedOffset(t, appID, in), want)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err := run.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}
