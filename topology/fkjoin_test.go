package topology_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// fkDriver runs every sub-topology of a topology as one task each (one partition), with
// the records sent to internal topics held in a queue per topic until the test delivers
// them: so it decides how the two sides' records interleave.
type fkDriver struct {
	t        *testing.T
	handlers map[string]graph.Handler
	env      *fakeEnv
	queued   map[string][]*kgo.Record // internal topic → records not yet delivered
	out      []string                 // what reached the output topic
}

func newFKDriver(t *testing.T, top *topology.Topology, stores ...string) *fkDriver {
	t.Helper()
	g := top.Graph()
	subs, err := g.Subtopologies()
	if err != nil {
		t.Fatal(err)
	}
	m := state.NewManager(store.NewMemory())
	d := &fkDriver{t: t, handlers: map[string]graph.Handler{}, env: &fakeEnv{keep: true, stores: map[string]store.Bytes{}},
		queued: map[string][]*kgo.Record{}}
	for _, name := range stores {
		kv, err := m.Open(0, 0, name)
		if err != nil {
			t.Fatal(err)
		}
		d.env.stores[name] = kv
	}
	for i := range subs {
		task, err := g.BuildTask(i, d.env)
		if err != nil {
			t.Fatal(err)
		}
		for topic, h := range task.Handlers {
			d.handlers[topic] = h
		}
	}
	return d
}

// feed processes one record of an external topic (a nil value deletes) and queues what the
// tasks send.
func (d *fkDriver) feed(topic, key string, value *string) {
	d.t.Helper()
	rec := &kgo.Record{Topic: topic, Key: []byte(key), Timestamp: time.UnixMilli(1)}
	if value != nil {
		rec.Value = []byte(*value)
	}
	d.handle(rec)
}

func (d *fkDriver) handle(rec *kgo.Record) {
	d.t.Helper()
	h, ok := d.handlers[rec.Topic]
	if !ok {
		d.t.Fatalf("no task reads %s", rec.Topic)
	}
	if err := h(rec); err != nil {
		d.t.Fatalf("%s %q: %v", rec.Topic, rec.Key, err)
	}
	sent := d.env.sent
	d.env.sent = nil
	for _, r := range sent {
		if strings.HasPrefix(r.Topic, "app-") {
			d.queued[r.Topic] = append(d.queued[r.Topic], r)
			continue
		}
		v := "<deleted>"
		if r.Value != nil {
			v = string(r.Value)
		}
		d.out = append(d.out, string(r.Key)+"="+v)
	}
}

// deliver processes the records queued for the internal topics whose name ends in suffix,
// in the order given by order (indexes into the queue; nil: all, in order).
func (d *fkDriver) deliver(suffix string, order ...int) {
	d.t.Helper()
	for topic, q := range d.queued {
		if !strings.HasSuffix(topic, suffix) {
			continue
		}
		d.queued[topic] = nil
		if order == nil {
			for i := range q {
				order = append(order, i)
			}
		}
		for _, i := range order {
			d.handle(q[i])
		}
	}
}

// settle delivers every queued internal record until none are left.
func (d *fkDriver) settle() {
	for {
		busy := false
		for topic, q := range d.queued {
			if len(q) > 0 {
				busy = true
				d.deliver(topic)
			}
		}
		if !busy {
			return
		}
	}
}

func (d *fkDriver) takeOut() string {
	s := strings.Join(d.out, " ")
	d.out = nil
	return s
}

func ptr(s string) *string { return &s }

// orderCustomers is orders (id → "customer,item") joined by customer id with customers
// (id → name): "item for name".
func orderCustomers(left bool) *topology.Topology {
	top := topology.New()
	orders := topology.TableFrom(top, "orders", serde.String(), serde.String(), "orders")
	customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers")
	fk := func(_ string, v string) (string, bool) {
		c, _, ok := strings.Cut(v, ",")
		return c, ok && c != ""
	}
	var joined topology.Table[string, string]
	if left {
		joined = topology.LeftJoinForeignKey(orders, customers, fk, func(_ string, o, c string, found bool) string {
			_, item, _ := strings.Cut(o, ",")
			if !found {
				return item + " for ?"
			}
			return item + " for " + c
		}, serde.String(), "enriched", topology.Named("enrich"))
	} else {
		joined = topology.JoinForeignKey(orders, customers, fk, func(_ string, o, c string) string {
			_, item, _ := strings.Cut(o, ",")
			return item + " for " + c
		}, serde.String(), "enriched", topology.Named("enrich"))
	}
	topology.To(joined.Changes(), "out",
		serde.String(), changeSerde{})
	return top
}

// changeSerde writes a change's value, or null for a deletion.
type changeSerde struct{}

func (changeSerde) AppendEncode(dst []byte, c topology.Change[string]) ([]byte, error) {
	return append(dst, c.Value...), nil
}
func (changeSerde) Decode(b []byte) (topology.Change[string], error) {
	return topology.Change[string]{Value: string(b)}, nil
}
func (changeSerde) IsNull(c topology.Change[string]) bool { return c.Deleted }

var fkStores = []string{"orders", "customers", "enriched", "enrich-subscription-store"}

// An inner foreign-key join: a result once both rows exist, updates from either side, a
// deletion when the right row goes or the foreign key names nothing or is absent, and
// none for a row that never had a result.
func TestForeignKeyJoinInner(t *testing.T) {
	d := newFKDriver(t, orderCustomers(false), fkStores...)
	d.feed("orders", "o1", ptr("c1,book"))
	d.settle()
	if got := d.takeOut(); got != "" {
		t.Errorf("no customer yet: %q", got)
	}
	d.feed("customers", "c1", ptr("Ann"))
	d.settle()
	d.feed("orders", "o1", ptr("c1,pen"))
	d.settle()
	d.feed("customers", "c1", ptr("Anna"))
	d.settle()
	if got, want := d.takeOut(), "o1=book for Ann o1=pen for Ann o1=pen for Anna"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	d.feed("orders", "o1", ptr("c9,pen")) // no such customer
	d.settle()
	d.feed("orders", "o1", ptr("c9,ink")) // still none: nothing to delete
	d.settle()
	d.feed("orders", "o1", ptr("c1,ink"))
	d.settle()
	d.feed("orders", "o1", ptr(",ink")) // no foreign key
	d.settle()
	d.feed("orders", "o1", ptr("c1,cap"))
	d.settle()
	d.feed("customers", "c1", nil)
	d.settle()
	d.feed("orders", "o1", nil)
	d.settle()
	if got, want := d.takeOut(), "o1=<deleted> o1=ink for Anna o1=<deleted> o1=cap for Anna o1=<deleted>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A left foreign-key join keeps every left row, with found false when the foreign key
// names nothing or is absent, and deletes a result only with its row.
func TestForeignKeyJoinLeft(t *testing.T) {
	d := newFKDriver(t, orderCustomers(true), fkStores...)
	d.feed("orders", "o1", ptr("c1,book"))
	d.settle()
	d.feed("customers", "c1", ptr("Ann"))
	d.settle()
	d.feed("orders", "o1", ptr(",book"))
	d.settle()
	d.feed("orders", "o1", ptr("c1,book"))
	d.settle()
	d.feed("customers", "c1", nil)
	d.settle()
	d.feed("orders", "o1", nil)
	d.settle()
	want := "o1=book for ? o1=book for Ann o1=book for ? o1=book for Ann o1=book for ? o1=<deleted>"
	if got := d.takeOut(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A row that changes its foreign key follows the new one only, whatever order the
// responses arrive in: the response to the old key, arriving last, is stale (its hash is
// of a value the row no longer has) and dropped; a right update for the old key reaches
// the row no more (it unsubscribed).
func TestForeignKeyJoinDropsStaleResponses(t *testing.T) {
	for _, left := range []bool{false, true} {
		t.Run(fmt.Sprintf("left=%v", left), func(t *testing.T) {
			d := newFKDriver(t, orderCustomers(left), fkStores...)
			d.feed("customers", "c1", ptr("Ann"))
			d.feed("customers", "c2", ptr("Bob"))
			d.feed("orders", "o1", ptr("c1,book"))
			d.feed("orders", "o1", ptr("c2,book"))
			// Three subscription records: to c1, unsubscribe from c1, to c2.
			d.deliver("-subscription-registration-topic")
			// Two responses: to c1's subscription, then to c2's; the second comes first.
			d.deliver("-subscription-response-topic", 1, 0)
			d.feed("customers", "c1", ptr("Anna"))
			for topic, q := range d.queued {
				if len(q) > 0 {
					t.Errorf("an update of c1, which o1 left, sent %d records to %s", len(q), topic)
				}
			}
			d.settle()
			if got, want := d.takeOut(), "o1=book for Bob"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// A result's old value reaches GroupTable's subtractor: counting results per customer
// name stays right when an order moves to another customer or its customer is renamed.
func TestForeignKeyJoinFeedsGroupTable(t *testing.T) {
	top := topology.New()
	orders := topology.TableFrom(top, "orders", serde.String(), serde.String(), "orders")
	customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers")
	joined := topology.JoinForeignKey(orders, customers, func(_, v string) (string, bool) { return v, true },
		func(_, _, c string) string { return c }, serde.String(), "enriched", topology.Named("enrich"))
	perName := topology.CountTable(topology.GroupTable(joined, func(_, name string) (string, string) { return name, "" },
		serde.String(), serde.String(), topology.Named("by-name")), "per-name")
	topology.To(perName.ToStream(), "out", serde.String(), serde.Int64())
	d := newFKDriver(t, top, append(fkStores, "per-name")...)
	d.feed("customers", "c1", ptr("Ann"))
	d.feed("customers", "c2", ptr("Bob"))
	d.feed("orders", "o1", ptr("c1"))
	d.feed("orders", "o2", ptr("c1"))
	d.settle()
	d.feed("orders", "o2", ptr("c2"))
	d.settle()
	d.feed("customers", "c1", ptr("Cy"))
	d.settle()
	last := map[string]string{}
	for _, kv := range d.out {
		k, v, _ := strings.Cut(kv, "=")
		n, _ := serde.Int64().Decode([]byte(v))
		last[k] = fmt.Sprint(n)
	}
	got := fmt.Sprint(last)
	if want := "map[Ann:0 Bob:1 Cy:1]"; got != want {
		t.Errorf("counts per name %s, want %s (all updates: %q)", got, want, d.out)
	}
}

// Missing serdes, a nil extractor or joiner, and a table of another topology are errors
// that say what to give.
func TestForeignKeyJoinBuildErrors(t *testing.T) {
	fk := func(_, v string) (string, bool) { return v, true }
	join := func(_, a, b string) string { return a + b }
	for _, c := range []struct {
		name  string
		build func(top *topology.Topology)
		want  string
	}{
		{"derived without serdes", func(top *topology.Topology) {
			l := topology.MapTableValues(topology.TableFrom(top, "l", serde.String(), serde.String(), "l"), func(v string) string { return v })
			r := topology.TableFrom(top, "r", serde.String(), serde.String(), "r")
			topology.JoinForeignKey(l, r, fk, join, serde.String(), "out")
		}, "JoinForeignKey: the left table's value serde not given; a table derived with MapTableValues does not know its serdes: declare them with Table.WithSerdes"},
		{"nil functions", func(top *topology.Topology) {
			l := topology.TableFrom(top, "l", serde.String(), serde.String(), "l")
			topology.LeftJoinForeignKey[string, string, string, string, string](l, l, nil, nil, nil, "out", topology.Named("j"))
		}, "LeftJoinForeignKey j: the foreign-key extractor, the joiner and the result value serde not given"},
		{"other topology", func(top *topology.Topology) {
			l := topology.TableFrom(top, "l", serde.String(), serde.String(), "l")
			r := topology.TableFrom(topology.New(), "r", serde.String(), serde.String(), "r")
			topology.JoinForeignKey(l, r, fk, join, serde.String(), "out")
		}, "the two tables belong to different topologies"},
		{"partitions", func(top *topology.Topology) {
			l := topology.TableFrom(top, "l", serde.String(), serde.String(), "l")
			topology.JoinForeignKey(l, l, fk, join, serde.String(), "out", topology.Partitions(3))
		}, "option Partitions does not apply to JoinForeignKey"},
	} {
		t.Run(c.name, func(t *testing.T) {
			top := topology.New()
			c.build(top)
			if err := top.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Err = %v, want %q", err, c.want)
			}
		})
	}
	// WithSerdes makes the derived table usable.
	top := topology.New()
	l := topology.MapTableValues(topology.TableFrom(top, "l", serde.String(), serde.String(), "l"), func(v string) string { return v })
	topology.JoinForeignKey(l.WithSerdes(serde.String(), serde.String()), topology.TableFrom(top, "r", serde.String(), serde.String(), "r"),
		fk, join, serde.String(), "out")
	if err := top.Err(); err != nil {
		t.Errorf("with WithSerdes: %v", err)
	}
}

// The two sides run in different sub-topologies, linked by the subscription and response
// topics, with the subscription store on the right side's; the golden files show all of it
// (go test ./topology -update rewrites them).
func TestForeignKeyJoinDescribe(t *testing.T) {
	for _, g := range []struct {
		file   string
		render func(*topology.Topology) (string, error)
	}{{"fkjoin.describe.golden", (*topology.Topology).Describe}, {"fkjoin.mermaid.golden", (*topology.Topology).Mermaid}} {
		got, err := g.render(orderCustomers(false))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", g.file)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if want, err := os.ReadFile(path); err != nil || got != string(want) {
			t.Errorf("%s differs from %s (%v):\n%s", g.file, path, err, got)
		}
	}
	d, err := orderCustomers(false).Describe()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Sink: enrich-subscription-registration-sink (topic: enrich-subscription-registration-topic)",
		"Source: enrich-subscription-registration-source (topics: [enrich-subscription-registration-topic])",
		"Processor: enrich-subscription-receive (stores: [enrich-subscription-store, customers])",
		"Processor: enrich-foreign-table-join (stores: [enrich-subscription-store])",
		"Sink: enrich-subscription-response-sink (topic: enrich-subscription-response-topic)",
		"Processor: enrich-response-join (stores: [orders, enriched])",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q:\n%s", want, d)
		}
	}
	subs, _ := orderCustomers(false).Graph().Subtopologies()
	if len(subs) != 2 {
		t.Fatalf("%d sub-topologies, want 2:\n%s", len(subs), d)
	}
	var topics [][]string
	for _, s := range subs {
		topics = append(topics, s.SourceTopics())
	}
	want := [][]string{{"orders", "enrich-subscription-response-topic"}, {"customers", "enrich-subscription-registration-topic"}}
	if !slices.EqualFunc(topics, want, slices.Equal) {
		t.Errorf("sub-topology sources %v, want %v", topics, want)
	}
}

// A row deleted and written again with the same value (so the same hash) while the answer
// to its first subscription is still on its way, and its right row deleted meanwhile: the
// old answer matches the row's hash and is taken, but the answer to the new subscription,
// which every subscription gets, comes after it and deletes the result again. (Kafka
// Streams answers a row's first subscription only when the right row exists, and keeps
// the old result here.)
func TestForeignKeyJoinRowBackWithTheSameValue(t *testing.T) {
	d := newFKDriver(t, orderCustomers(false), fkStores...)
	d.feed("customers", "c1", ptr("Ann"))
	d.feed("orders", "o1", ptr("c1,book"))
	d.deliver("-subscription-registration-topic") // answered with Ann: held
	d.feed("orders", "o1", nil)
	d.deliver("-subscription-registration-topic")
	d.feed("customers", "c1", nil)
	d.feed("orders", "o1", ptr("c1,book"))
	d.deliver("-subscription-registration-topic") // answered with none
	d.settle()
	if got, want := d.takeOut(), "o1=book for Ann o1=<deleted>"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
