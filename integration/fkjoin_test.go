package integration

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/fkref"
	"github.com/eddy-streams/eddy/internal/kafkatest"
)

// Foreign-key joins on the real broker against the reference model, with eddy's defaults:
// orders (2 partitions) joined with customers (3 partitions: no co-partitioning needed)
// while both are updated, orders change customer and rows are deleted. The result's end
// state is the join of the final tables and no update is stale (fkref.Check): an inner
// join of tables from topics at-least-once, and a left join of aggregations after a key
// change exactly-once; a left join of tables from topics exactly-once, and an inner join
// of an aggregation with a table from a topic at-least-once: the four cases of the
// embedded test.
func TestForeignKeyJoinOnTheBroker(t *testing.T) {
	for i, c := range []struct {
		join      fkref.Case
		guarantee string
	}{
		{fkref.Case{LeftFrom: fkref.FromTopic, RightFrom: fkref.FromTopic}, "at-least-once"},
		{fkref.Case{LeftJoin: true, LeftFrom: fkref.FromEvents, RightFrom: fkref.FromEvents}, "exactly-once"},
		{fkref.Case{LeftJoin: true, LeftFrom: fkref.FromTopic, RightFrom: fkref.FromTopic}, "exactly-once"},
		{fkref.Case{LeftFrom: fkref.FromEvents, RightFrom: fkref.FromTopic}, "at-least-once"},
	} {
		t.Run(c.join.String()+", "+c.guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			orders, customers, out := kafkatest.Topic(t, "orders"), kafkatest.Topic(t, "customers"), kafkatest.Topic(t, "enriched")
			kafkatest.CreateTopic(t, adm, orders, 2, nil)
			kafkatest.CreateTopic(t, adm, customers, 3, nil)
			kafkatest.CreateTopic(t, adm, out, 2, nil)
			in := fkref.Random(rand.New(rand.NewPCG(21, uint64(i))), c.join.Options(1500))
			var opts []eddy.Opt
			if c.guarantee == "exactly-once" {
				opts = append(opts, eddy.ExactlyOnce())
			}
			appID := kafkatest.Topic(t, "app")
			run := start(t, newDefaultApp(t, c.join.Topology(orders, customers, out), appID, opts...))
			// In batches while the application runs, so the two sides' updates interleave
			// with its processing; by key (Kafka's partitioner), so each row's stay in order.
			recs := c.join.Records(in, orders, customers)
			for len(recs) > 0 {
				n := min(100, len(recs))
				produceAll(t, recs[:n])
				recs = recs[n:]
				time.Sleep(50 * time.Millisecond)
			}
			// eddy's defaults: at-least-once, the offsets are caught up after the first
			// 30 s commit.
			run.stopCaughtUp(t, appID, orders, customers)
			outs := fkref.Outputs(readCommitted(t, out))
			t.Logf("%d left and %d right updates, %d result updates, %d results at the end",
				len(in.Left), len(in.Right), len(outs), len(fkref.Want(in, c.join.LeftJoin)))
			for _, bad := range fkref.Check(in, c.join.LeftJoin, outs) {
				t.Error(bad)
			}
		})
	}
}
