package eddy_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/fkref"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
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

// A self-join: employees joined with their manager's row of the same table, whose two
// sides so run in one sub-topology that reads the subscription topic it writes. A report
// follows its manager's renames and a change of manager; one whose manager leaves, or who
// has none, drops out.
func TestForeignKeySelfJoin(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"employees": 2, "out": 1})
	top := topology.New()
	employees := topology.TableFrom(top, "employees", serde.String(), serde.String(), "employees")
	manager := func(_, v string) (string, bool) { // "<manager id>:<name>"
		m, _, _ := strings.Cut(v, ":")
		return m, m != ""
	}
	name := func(v string) string { _, n, _ := strings.Cut(v, ":"); return n }
	reports := topology.JoinForeignKey(employees, employees, manager, func(_, e, m string) string {
		return name(e) + " reports to " + name(m)
	}, serde.String(), "reports", topology.Named("reports-to"))
	topology.To(reports.Changes(), "out", serde.String(), fkChanges{})
	if subs, err := top.Graph().Subtopologies(); err != nil || len(subs) != 1 {
		t.Fatalf("%d sub-topologies (%v), want 1", len(subs), err)
	}
	app, err := eddy.New(top, eddy.ApplicationID("self"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	for _, batch := range [][][2]string{
		{{"e1", ":Ann"}, {"e2", "e1:Bob"}, {"e3", "e1:Cy"}, {"e4", "e2:Di"}, {"e5", "e9:Ed"}},
		{{"e1", ":Anna"}, {"e3", "e2:Cy"}, {"e6", "e4:Flo"}},
		{{"e4", ""}}, // Di leaves: "" stands for a deletion, a null value
	} {
		var recs []*kgo.Record
		for _, kv := range batch {
			r := &kgo.Record{Topic: "employees", Key: []byte(kv[0]), Value: []byte(kv[1])}
			if kv[1] == "" {
				r.Value = nil
			}
			recs = append(recs, r)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		cl.Close()
		ends.WaitCaughtUp(t, brokers, "self", 30*time.Second, "employees")
	}
	stopCaughtUp(t, brokers, "self", stop, "employees")
	last := map[string]string{}
	for _, r := range readAll(t, brokers, "out") {
		if r.Value == nil {
			delete(last, string(r.Key))
		} else {
			last[string(r.Key)] = string(r.Value)
		}
	}
	want := map[string]string{"e2": "Bob reports to Anna", "e3": "Cy reports to Bob"}
	if fmt.Sprint(last) != fmt.Sprint(want) {
		t.Errorf("reports at the end: %v, want %v", last, want)
	}
}

// fkChanges writes a table's change as its value, a deletion as null.
type fkChanges struct{}

func (fkChanges) AppendEncode(dst []byte, c topology.Change[string]) ([]byte, error) {
	return append(dst, c.Value...), nil
}
func (fkChanges) Decode(b []byte) (topology.Change[string], error) {
	return topology.Change[string]{Value: string(b), Deleted: b == nil}, nil
}
func (fkChanges) IsNull(c topology.Change[string]) bool { return c.Deleted }
