package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// csvLine is the record of the CSV format test.
type csvLine struct {
	Customer string
	Cents    int64
}

// CSV values end to end: good lines are processed, and lines CSV cannot read meet the
// deserialization policy like any other bad input (dead-lettered, or named by Run's error
// under Fail).
func TestCSVValuesAndBadInput(t *testing.T) {
	lines, err := serde.CSV[csvLine]()
	if err != nil {
		t.Fatal(err)
	}
	build := func() *topology.Topology {
		top := topology.New()
		orders := topology.From(top, "orders", serde.String(), lines)
		topology.To(topology.MapValues(orders, func(l csvLine) string { return fmt.Sprintf("%s:%d", l.Customer, l.Cents) }),
			"out", serde.String(), serde.String())
		return top
	}
	input := [][2]string{{"o1", "c1,100"}, {"o2", `"c,2",250`}, {"o3", "c3,lots"}, {"o4", "c4"}, {"o5", `"c5,1`}, {"o6", "c6,7\n"}}
	// In the test driver: the serde's and the policies' semantics, record by record.
	send := func(d *eddytest.Driver) error {
		in := eddytest.Input(d, "orders", serde.String(), serde.String())
		for _, kv := range input {
			if err := in.Send(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	}
	t.Run("dead letter", func(t *testing.T) {
		d := eddytest.New(t, build(), eddytest.With(eddy.OnDeserializationError(eddy.DeadLetter("dlq"))))
		must(t, send(d))
		var got []string
		for _, kv := range eddytest.Output(d, "out", serde.String(), serde.String()).ReadKeyValues() {
			got = append(got, kv.Key+"="+kv.Value)
		}
		if want := []string{"o1=c1:100", "o2=c,2:250", "o6=c6:7"}; !slices.Equal(got, want) {
			t.Errorf("out: %v, want %v", got, want)
		}
		dls, err := d.DeadLetters("dlq")
		must(t, err)
		var dead []string
		for _, dl := range dls {
			dead = append(dead, fmt.Sprintf("%s@%d %s", dl.Key, dl.Offset, dl.Kind))
		}
		if want := []string{"o3@2 deserialization", "o4@3 deserialization", "o5@4 deserialization"}; !slices.Equal(dead, want) {
			t.Errorf("dead letters: %v, want %v", dead, want)
		}
	})
	t.Run("fail", func(t *testing.T) {
		d := eddytest.New(t, build())
		err := send(d)
		var re *eddy.RecordError
		if !errors.As(err, &re) || re.Topic != "orders" || re.Offset != 2 || re.Kind != eddy.DeserializationError ||
			!strings.Contains(err.Error(), "record orders/0@2") || !strings.Contains(err.Error(), "field 2 (Cents)") {
			t.Fatalf("Send = %v, want the failure of orders/0 at offset 2, naming the field", err)
		}
	})
}

// A registry that cannot be reached is no fault of the records: even under Skip, Run stops
// with serde.ErrRegistryUnavailable, naming the record, and skips nothing; the offsets stay
// where they were, so a restart with the registry back processes every record.
func TestRegistryOutageStopsInsteadOfSkipping(t *testing.T) {
	fake := srfake.New()
	up, err := serde.NewRegistry(serde.RegistryURLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	w, err := serde.AvroConfluent[csvLine](up, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	brokers := startEmbedded(t, map[string]int32{"orders": 1, "out": 1})
	var recs [][2]string
	for i := range 5 {
		v, err := serde.ForTopic(w, "orders", false).AppendEncode(nil, csvLine{Customer: fmt.Sprintf("c%d", i), Cents: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, [2]string{fmt.Sprintf("o%d", i), string(v)})
	}
	produce(t, brokers, "orders", recs...)
	url := fake.URL()
	fake.Close() // the registry goes away

	down, err := serde.NewRegistry(serde.RegistryURLs(url), serde.RegistryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r, err := serde.AvroConfluent[csvLine](down)
	if err != nil {
		t.Fatal(err)
	}
	top := topology.New()
	topology.To(topology.MapValues(topology.From(top, "orders", serde.String(), r), func(l csvLine) string { return l.Customer }),
		"out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("outage"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.OnDeserializationError(eddy.Skip()), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = app.Run(ctx)
	if !errors.Is(err, serde.ErrRegistryUnavailable) || !strings.Contains(err.Error(), "record orders/0@0") {
		t.Fatalf("Run = %v, want ErrRegistryUnavailable naming orders/0@0", err)
	}
	for _, m := range app.Metrics() {
		if m.Name == "eddy_records_skipped_total" && m.Value > 0 {
			t.Fatalf("%d records skipped while the registry was down", m.Value)
		}
	}
	if out := readAll(t, brokers, "out"); len(out) != 0 {
		t.Fatalf("%d outputs", len(out))
	}
}

type fkOrder struct {
	Customer string `avro:"customer"`
	Cents    int64  `avro:"cents"`
}

type fkCustomer struct {
	Name string `avro:"name"`
}

type fkResult struct {
	Name  string `avro:"name"`
	Cents int64  `avro:"cents"`
}

// Registry serdes with eddy's defaults (TopicName subjects) in the places whose bytes go
// to internal or side topics: a foreign-key join's subscription and response topics and
// its stores, and a windowed count's late-records topic. Each is bound to its topic: the
// join gives the right results, and the late record is written under the late topic's
// subject.
func TestRegistrySerdesInForeignKeyJoinsAndLateRecords(t *testing.T) {
	fake := srfake.New()
	t.Cleanup(fake.Close)
	reg, err := serde.NewRegistry(serde.RegistryURLs(fake.URL()))
	if err != nil {
		t.Fatal(err)
	}
	orders, err := serde.AvroConfluent[fkOrder](reg, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	customers, err := serde.AvroConfluent[fkCustomer](reg, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	results, err := serde.AvroConfluent[fkResult](reg, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	brokers := startEmbedded(t, map[string]int32{"orders": 2, "customers": 3, "out": 2, "events": 1, "late": 1, "counts": 1})
	enc := func(s serde.Serde[fkOrder], topic string, v fkOrder) []byte {
		b, err := serde.ForTopic(s, topic, false).AppendEncode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	encC := func(topic string, v fkCustomer) []byte {
		b, err := serde.ForTopic(customers, topic, false).AppendEncode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	at := func(ms int64) time.Time { return time.UnixMilli(ms) }
	produceRecords(t, brokers,
		&kgo.Record{Topic: "customers", Key: []byte("c1"), Value: encC("customers", fkCustomer{"Ada"}), Timestamp: at(1000)},
		&kgo.Record{Topic: "customers", Key: []byte("c2"), Value: encC("customers", fkCustomer{"Bo"}), Timestamp: at(1000)},
		&kgo.Record{Topic: "orders", Key: []byte("o1"), Value: enc(orders, "orders", fkOrder{"c1", 100}), Timestamp: at(2000)},
		&kgo.Record{Topic: "orders", Key: []byte("o2"), Value: enc(orders, "orders", fkOrder{"c2", 200}), Timestamp: at(2000)},
		&kgo.Record{Topic: "orders", Key: []byte("o3"), Value: enc(orders, "orders", fkOrder{"c1", 300}), Timestamp: at(2000)},
		&kgo.Record{Topic: "events", Key: []byte("a"), Value: encC("events", fkCustomer{"x"}), Timestamp: at(5000)},
		&kgo.Record{Topic: "events", Key: []byte("a"), Value: encC("events", fkCustomer{"late"}), Timestamp: at(1000)},
	)

	top := topology.New()
	ot := topology.TableFrom(top, "orders", serde.String(), orders, "orders-store")
	ct := topology.TableFrom(top, "customers", serde.String(), customers, "customers-store")
	joined := topology.JoinForeignKey(ot, ct, func(_ string, o fkOrder) (string, bool) { return o.Customer, true },
		func(_ string, o fkOrder, c fkCustomer) fkResult { return fkResult{c.Name, o.Cents} }, results, "joined")
	topology.To(joined.ToStream(), "out", serde.String(), results)
	ev := topology.From(top, "events", serde.String(), customers, topology.OutOfOrderness(0))
	counts := topology.WindowedCount(topology.WindowBy(topology.GroupByKey(ev, serde.String(), customers), topology.TumblingWindows(time.Second)),
		"counts-store", topology.LateRecordsTo("late"))
	topology.To(counts, "counts", topology.WindowedSerde(serde.String()), serde.Int64())
	app, err := eddy.New(top, eddy.ApplicationID("fkreg"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.ExactlyOnce(), eddy.Logger(testLogger(t))) // exactly-once's defaults (100 ms commits)
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "fkreg", runApp(t, app), "orders", "customers", "events")

	out := serde.ForTopic(results, "out", false)
	last := map[string]fkResult{}
	for _, r := range readAll(t, brokers, "out") {
		v, err := out.Decode(r.Value)
		if err != nil {
			t.Fatalf("out %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		last[string(r.Key)] = v
	}
	want := map[string]fkResult{"o1": {"Ada", 100}, "o2": {"Bo", 200}, "o3": {"Ada", 300}}
	if !maps.Equal(last, want) {
		t.Errorf("join results %v, want %v", last, want)
	}
	late := readAll(t, brokers, "late")
	if len(late) != 1 {
		t.Fatalf("%d late records, want 1", len(late))
	}
	if v, err := serde.ForTopic(customers, "late", false).Decode(late[0].Value); err != nil || v.Name != "late" {
		t.Fatalf("late record %v, %v", v, err)
	}
	for _, subject := range []string{"late-value", "fkreg-joined-changelog-value",
		"fkreg-orders-store-changelog-value", "fkreg-customers-store-changelog-value"} {
		if !fake.SubjectExists(subject) {
			t.Errorf("no subject %s", subject)
		}
	}
}
