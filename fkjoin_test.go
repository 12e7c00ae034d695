package eddy_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/fkref"
)

// Foreign-key joins against the reference model on random updates of both tables: orders
// that change customer, lose it or name one that does not exist, customers updated and
// deleted, orders deleted, repeated timestamps; on tables from topics and on aggregations
// after a key change. The end state of the result (each key's last update) is the join of
// the final tables, and no update is stale (see fkref.Check). The tables' topics have 2
// and 3 partitions: a foreign-key join needs no co-partitioning.
func TestForeignKeyJoinMatchesReference(t *testing.T) {
	for i, c := range []fkref.Case{
		{LeftJoin: false, LeftFrom: fkref.FromTopic, RightFrom: fkref.FromTopic},
		{LeftJoin: true, LeftFrom: fkref.FromTopic, RightFrom: fkref.FromTopic},
		{LeftJoin: false, LeftFrom: fkref.FromEvents, RightFrom: fkref.FromTopic},
		{LeftJoin: true, LeftFrom: fkref.FromEvents, RightFrom: fkref.FromEvents},
	} {
		t.Run(c.String(), func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"orders": 2, "customers": 3, "out": 2})
			in := fkref.Random(rand.New(rand.NewPCG(13, uint64(i))), c.Options(600))
			app, err := eddy.New(c.Topology("orders", "customers", "out"), eddy.ApplicationID("fk"), eddy.Brokers(brokers...),
				eddy.StateDir(t.TempDir()), eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			stop := runApp(t, app)
			produceWhileRunning(t, brokers, c.Records(in, "orders", "customers"))
			stopCaughtUp(t, brokers, "fk", stop, "orders", "customers")
			outs := fkref.Outputs(readAll(t, brokers, "out"))
			t.Logf("%d left and %d right updates, %d result updates, %d results at the end",
				len(in.Left), len(in.Right), len(outs), len(fkref.Want(in, c.LeftJoin)))
			for _, bad := range fkref.Check(in, c.LeftJoin, outs) {
				t.Error(bad)
			}
		})
	}
}

// A bounded run cannot end the cycle between a foreign-key join's two sides: New says so.
func TestBoundedRefusesForeignKeyJoin(t *testing.T) {
	top := fkref.Case{}.Topology("orders", "customers", "out")
	_, err := eddy.New(top, eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"), eddy.Bounded())
	if err == nil || !strings.Contains(err.Error(), "enrich-subscription-registration-topic, enrich-subscription-response-topic") {
		t.Fatalf("New = %v, want an error naming the subscription and response topics", err)
	}
	if _, err := eddy.New(top, eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1")); err != nil {
		t.Fatalf("without Bounded: %v", err)
	}
}

// produceWhileRunning writes recs in batches of 40, a few milliseconds apart, with Kafka's
// partitioner (by key, so each key's records stay in order): the application processes
// the two sides' records interleaved, not one topic after the other.
func produceWhileRunning(t *testing.T, brokers []string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(recs) > 0 {
		n := min(40, len(recs))
		if err := cl.ProduceSync(t.Context(), recs[:n]...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
		time.Sleep(15 * time.Millisecond)
	}
}
