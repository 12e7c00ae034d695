package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/testpb"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// testRegistry is the Schema Registry of the format tests: the one EDDY_REGISTRY_URL names
// (.ci/run starts Apicurio Registry and sets it), else franz-go's in-process fake.
func testRegistry(t *testing.T) (*serde.Registry, string) {
	t.Helper()
	url := os.Getenv("EDDY_REGISTRY_URL")
	if url == "" {
		fake := srfake.New()
		t.Cleanup(fake.Close)
		url = fake.URL()
	}
	reg, err := serde.NewRegistry(serde.RegistryURLs(url))
	if err != nil {
		t.Fatal(err)
	}
	return reg, url
}

// The orders of the Avro test, in two versions of one schema: v2 widens qty from int to
// long, drops the note and adds a currency with a default.
type avroOrderV1 struct {
	Customer string `avro:"customer"`
	Qty      int32  `avro:"qty"`
	Cents    int64  `avro:"cents"`
	Note     string `avro:"note"`
}

type avroOrderV2 struct {
	Customer string `avro:"customer"`
	Qty      int64  `avro:"qty"`
	Cents    int64  `avro:"cents"`
	Currency string `avro:"currency"`
}

const (
	avroOrderV1Schema = `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[
 {"name":"customer","type":"string"},{"name":"qty","type":"int"},{"name":"cents","type":"long"},
 {"name":"note","type":"string","default":""}]}`
	avroOrderV2Schema = `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[
 {"name":"customer","type":"string"},{"name":"qty","type":"long"},{"name":"cents","type":"long"},
 {"name":"currency","type":"string","default":"EUR"}]}`
)

// avroTotal is the aggregate, kept in a store and written out in Avro too.
type avroTotal struct {
	Orders   int64  `avro:"orders"`
	Qty      int64  `avro:"qty"`
	Cents    int64  `avro:"cents"`
	Currency string `avro:"currency"`
}

// Avro with the Confluent wire format end to end on the broker, with a registry: orders
// written with v1 and v2 of their schema are read by a v2 reader, aggregated in a store
// whose changelog holds Avro (registered under the changelog's subject), and written out
// in Avro; records with a wrong magic byte, an unknown schema id or a truncated payload
// meet the deserialization policy: dead-lettered, skipped, or named by Run's error; each
// with eddy's defaults for its guarantee.
func TestAvroConfluentOnTheBroker(t *testing.T) {
	reg, url := testRegistry(t)
	v1, err := serde.AvroConfluent[avroOrderV1](reg, serde.AvroSchema(avroOrderV1Schema), serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := serde.AvroConfluent[avroOrderV2](reg, serde.AvroSchema(avroOrderV2Schema), serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	totals, err := serde.AvroConfluent[avroTotal](reg, serde.AvroNamespace("com.example.shop"), serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	for _, policy := range []string{"dead letter", "skip", "fail"} {
		t.Run(policy, func(t *testing.T) {
			orders := kafkatest.Topic(t, "orders")
			out := kafkatest.Topic(t, "totals")
			dlq := kafkatest.Topic(t, "dlq")
			dailyOut := kafkatest.Topic(t, "daily")
			pairsOut := kafkatest.Topic(t, "pairs")
			adm := kafkatest.Admin(t)
			kafkatest.CreateTopic(t, adm, orders, 2, nil)
			kafkatest.CreateTopic(t, adm, out, 2, nil)
			kafkatest.CreateTopic(t, adm, dlq, 1, nil)
			kafkatest.CreateTopic(t, adm, dailyOut, 1, nil)
			kafkatest.CreateTopic(t, adm, pairsOut, 2, nil)

			w1, w2 := serde.ForTopic(v1, orders, false), serde.ForTopic(v2, orders, false)
			var recs []*kgo.Record
			want := map[string]avroTotal{}
			for i := range 40 {
				customer := fmt.Sprintf("c%d", i%4)
				var value []byte
				var err error
				if i < 20 {
					value, err = w1.AppendEncode(nil, avroOrderV1{Customer: customer, Qty: int32(i), Cents: int64(100 * i), Note: "v1"})
				} else {
					value, err = w2.AppendEncode(nil, avroOrderV2{Customer: customer, Qty: int64(i) << 33, Cents: int64(100 * i), Currency: "CHF"})
				}
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Topic: orders, Key: []byte(customer), Value: value})
				tot := want[customer]
				tot.Orders++
				tot.Cents += int64(100 * i)
				if i < 20 {
					tot.Qty += int64(i)
					tot.Currency = "EUR" // v1 has no currency: the reader's default
				} else {
					tot.Qty += int64(i) << 33
					tot.Currency = "CHF"
				}
				want[customer] = tot
			}
			good := recs[0].Value
			bad := []*kgo.Record{
				{Topic: orders, Key: []byte("c0"), Value: []byte(`{"customer":"c0"}`)},                            // no framing
				{Topic: orders, Key: []byte("c1"), Value: append([]byte{0, 0x7f, 0xff, 0xff, 0xf0}, good[5:]...)}, // unknown id
				{Topic: orders, Key: []byte("c2"), Value: good[:len(good)-3]},                                     // truncated
			}
			// The bad records go in the middle, so the policy meets them between good ones.
			recs = slices.Concat(recs[:10], bad, recs[10:])
			produceAll(t, recs)

			top := topology.New()
			in := topology.From(top, orders, serde.String(), v2)
			sum := topology.Aggregate(topology.GroupByKey(in, serde.String(), v2),
				func() avroTotal { return avroTotal{} },
				func(_ string, o avroOrderV2, t avroTotal) avroTotal {
					return avroTotal{Orders: t.Orders + 1, Qty: t.Qty + o.Qty, Cents: t.Cents + o.Cents, Currency: o.Currency}
				}, totals, "totals-store")
			topology.To(sum.ToStream(), out, serde.String(), totals)
			// The same sums per day, in a window store whose aggregates are Avro too.
			daily := topology.WindowedAggregate(topology.WindowBy(topology.GroupByKey(in, serde.String(), v2), topology.TumblingWindows(24*time.Hour)),
				func() avroTotal { return avroTotal{} },
				func(_ string, o avroOrderV2, t avroTotal) avroTotal {
					return avroTotal{Orders: t.Orders + 1, Qty: t.Qty + o.Qty, Cents: t.Cents + o.Cents, Currency: o.Currency}
				}, totals, "daily-store")
			topology.To(daily, dailyOut, topology.WindowedSerde(serde.String()), totals)
			// A self-join within an hour: its two window stores keep Avro values too.
			pairs := topology.JoinStreams(in, in, topology.JoinWindowsOf(time.Hour), serde.String(), v2, v2,
				func(_ string, l, r avroOrderV2) int64 { return l.Cents + r.Cents }, topology.Named("pairs"))
			topology.To(pairs, pairsOut, serde.String(), serde.Int64())
			appID := kafkatest.Topic(t, "avro-app")

			switch policy {
			case "fail":
				app := newDefaultApp(t, top, appID)
				ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
				defer cancel()
				err := app.Run(ctx)
				// Which bad record fails first depends on which partition's task gets there
				// first: any of the three, named with its coordinates and its fault.
				named := err != nil && strings.Contains(err.Error(), "record "+orders+"/")
				fault := err != nil && (strings.Contains(err.Error(), "not in the Confluent wire format") ||
					errors.Is(err, serde.ErrSchemaNotFound) || strings.Contains(err.Error(), "the input ends inside a value"))
				if !named || !fault || errors.Is(err, serde.ErrRegistryUnavailable) {
					t.Fatalf("Run = %v, want a bad record's failure, naming its coordinates and what is wrong with it", err)
				}
				return
			case "dead letter":
				// eddy's defaults (at-least-once, 30 s commits): the wait for the commit is
				// part of what a user gets.
				app := newDefaultApp(t, top, appID, eddy.OnDeserializationError(eddy.DeadLetter(dlq)))
				start(t, app).stopCaughtUp(t, appID, orders)
				var dead []string
				for _, r := range readCommitted(t, dlq) {
					dead = append(dead, string(r.Key))
				}
				slices.Sort(dead)
				if !slices.Equal(dead, []string{"c0", "c1", "c2"}) {
					t.Errorf("dead letters %v, want the three bad records (c0, c1, c2)", dead)
				}
			case "skip":
				app := newDefaultApp(t, top, appID, eddy.OnDeserializationError(eddy.Skip()), eddy.ExactlyOnce())
				start(t, app).stopCaughtUp(t, appID, orders)
			}
			reader := serde.ForTopic(totals, out, false)
			last := map[string]avroTotal{}
			for _, r := range readCommitted(t, out) {
				if r.Value[0] != 0 {
					t.Fatalf("output %x is not in the Confluent framing", r.Value)
				}
				v, err := reader.Decode(r.Value)
				if err != nil {
					t.Fatalf("output %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
				}
				last[string(r.Key)] = v
			}
			if len(last) != len(want) {
				t.Fatalf("totals for %d customers, want %d: %v", len(last), len(want), last)
			}
			for k, w := range want {
				if last[k] != w {
					t.Errorf("total of %s = %+v, want %+v", k, last[k], w)
				}
			}
			// The stores' serdes served their changelogs: each registered its schema under
			// the changelog's subject (the window store's aggregates and the join's values
			// included).
			cl, err := sr.NewClient(sr.URLs(url))
			if err != nil {
				t.Fatal(err)
			}
			subjects, err := cl.Subjects(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, store := range []string{"totals-store", "daily-store", "pairs-this-join-store", "pairs-other-join-store"} {
				if subject := appID + "-" + store + "-changelog-value"; !slices.Contains(subjects, subject) {
					t.Errorf("no subject %s among %v", subject, subjects)
				}
			}
		})
	}
}

// Protobuf with the Confluent wire format on the broker, with a registry: orders written
// by a producer's ProtobufConfluent serde (its schema and its import registered) are
// summed per customer into a table of Protobuf values and written out in Protobuf; a
// record of another message type (a Customer on the orders topic) and one with no framing
// are dead-lettered, under exactly-once.
func TestProtobufConfluentOnTheBroker(t *testing.T) {
	reg, _ := testRegistry(t)
	orders, err := serde.ProtobufConfluent[*testpb.Order](reg, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	customers, err := serde.ProtobufConfluent[*testpb.Customer](reg, serde.AutoRegister())
	if err != nil {
		t.Fatal(err)
	}
	in, out, dlq := kafkatest.Topic(t, "pb-orders"), kafkatest.Topic(t, "pb-totals"), kafkatest.Topic(t, "pb-dlq")
	adm := kafkatest.Admin(t)
	kafkatest.CreateTopic(t, adm, in, 2, nil)
	kafkatest.CreateTopic(t, adm, out, 2, nil)
	kafkatest.CreateTopic(t, adm, dlq, 1, nil)
	w := serde.ForTopic(orders, in, false)
	var recs []*kgo.Record
	want := map[string]int64{}
	for i := range 30 {
		c := fmt.Sprintf("c%d", i%3)
		o := &testpb.Order{Id: fmt.Sprintf("o%d", i), Customer: &testpb.Customer{Id: c},
			Lines: []*testpb.Order_Line{{Product: "p", Qty: int32(i), Cents: int64(10 * i)}, {Product: "q", Qty: 1, Cents: 5}}}
		value, err := w.AppendEncode(nil, o)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: in, Key: []byte(c), Value: value})
		want[c] += int64(10*i) + 5
	}
	wrong, err := serde.ForTopic(customers, in, false).AppendEncode(nil, &testpb.Customer{Id: "c0"})
	if err != nil {
		t.Fatal(err)
	}
	recs = slices.Concat(recs[:15], []*kgo.Record{
		{Topic: in, Key: []byte("c0"), Value: wrong},                         // another message
		{Topic: in, Key: []byte("c1"), Value: []byte("not protobuf at all")}, // no framing
	}, recs[15:])
	produceAll(t, recs)

	top := topology.New()
	src := topology.From(top, in, serde.String(), orders)
	sums := topology.Aggregate(topology.GroupByKey(src, serde.String(), orders),
		func() *testpb.Order { return &testpb.Order{} },
		func(k string, o *testpb.Order, agg *testpb.Order) *testpb.Order {
			total := &testpb.Order{Id: k, Lines: []*testpb.Order_Line{{Product: "total"}}}
			if len(agg.Lines) > 0 {
				total.Lines[0].Cents = agg.Lines[0].Cents
			}
			for _, l := range o.Lines {
				total.Lines[0].Cents += l.Cents
			}
			return total
		}, orders, "pb-totals-store")
	topology.To(sums.ToStream(), out, serde.String(), orders)
	appID := kafkatest.Topic(t, "pb-app")
	app := newDefaultApp(t, top, appID, eddy.ExactlyOnce(), eddy.OnDeserializationError(eddy.DeadLetter(dlq)))
	start(t, app).stopCaughtUp(t, appID, in)

	var dead []string
	for _, r := range readCommitted(t, dlq) {
		dead = append(dead, string(r.Key))
	}
	slices.Sort(dead)
	if !slices.Equal(dead, []string{"c0", "c1"}) {
		t.Errorf("dead letters %v, want the Customer (c0) and the unframed record (c1)", dead)
	}
	reader := serde.ForTopic(orders, out, false)
	last := map[string]int64{}
	for _, r := range readCommitted(t, out) {
		o, err := reader.Decode(r.Value)
		if err != nil {
			t.Fatalf("output %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		last[string(r.Key)] = o.Lines[0].Cents
	}
	if !maps.Equal(last, want) {
		t.Errorf("totals %v, want %v", last, want)
	}
}
