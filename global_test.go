package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/joinref"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// productOf is the global key of an order: its value is "<product>:<quantity>".
func productOf(_, order string) string { return strings.SplitN(order, ":", 2)[0] }

// enrich is a topology of orders (keyed by order id) enriched from the products global
// table three ways, all to out: an inner join ("inner …"), a left join ("left …", "-"
// for a product the table lacks) and a processor of one's own that reads the store
// ("proc …").
func enrich() *topology.Topology {
	top := topology.New()
	orders := topology.From(top, "orders", serde.String(), serde.String())
	products := topology.GlobalTableFrom(top, "products", serde.String(), serde.String(), "products")
	inner := topology.JoinGlobal(orders, products, productOf, func(_, o, p string) string { return "inner " + o + "|" + p })
	left := topology.LeftJoinGlobal(orders, products, productOf, func(_, o, p string, found bool) string {
		if !found {
			p = "-"
		}
		return "left " + o + "|" + p
	})
	proc := topology.Process(orders, "lookup", func() processor.Processor[string, string, string, string] {
		return &productLookup{products: products.Store()}
	})
	topology.To(inner.Merge(left, proc), "out", serde.String(), serde.String())
	return top
}

// productLookup forwards "proc <order>|<product name or ->" for each order, reading the
// global store itself.
type productLookup struct {
	products *topology.GlobalStore[string, string]
	kv       store.KeyValue[string, string]
	ctx      processor.Context[string, string]
}

func (p *productLookup) Init(ctx processor.Context[string, string]) (err error) {
	p.ctx = ctx
	p.kv, err = p.products.Open(ctx)
	return err
}

func (p *productLookup) Close() error { return nil }

func (p *productLookup) Process(r processor.Record[string, string]) error {
	name, found, err := p.kv.Get(productOf(r.Key, r.Value))
	if err != nil {
		return err
	}
	if !found {
		name = "-"
	}
	r.Value = "proc " + r.Value + "|" + name
	return p.ctx.Forward(r)
}

// enrichedWant is what enrich gives for orders against a products table.
func enrichedWant(orders [][2]string, products map[string]string) []string {
	var want []string
	for _, o := range orders {
		name, ok := products[productOf(o[0], o[1])]
		if ok {
			want = append(want, fmt.Sprintf("%s=inner %s|%s", o[0], o[1], name))
		} else {
			name = "-"
		}
		want = append(want, fmt.Sprintf("%s=left %s|%s", o[0], o[1], name), fmt.Sprintf("%s=proc %s|%s", o[0], o[1], name))
	}
	return want
}

// Stream-global-table joins, inner and left, against the reference model: a products table
// of three partitions with updates and deletions, written before the start, and orders
// over two partitions (no co-partitioning: the key selector finds the product) at
// out-of-order times with ties; the exact multiset of each join's outputs.
func TestGlobalTableJoinsMatchReference(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 2, "products": 3, "inner": 1, "left": 1})
	in := joinref.RandomGlobal(rand.New(rand.NewPCG(5, 9)), 900, "orders", 2, "products", 3)
	producePartitioned(t, brokers, append(slices.Clone(in.Table), in.Stream...)...)
	app, err := eddy.New(joinref.GlobalTopology("orders", "products", "inner", "left"), eddy.ApplicationID("global-ref"),
		eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()), eddy.CommitInterval(50*time.Millisecond), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "global-ref", runApp(t, app), "orders")
	for topic, left := range map[string]bool{"inner": false, "left": true} {
		want := joinref.StreamGlobal(in, left)
		got := keyValues(readAll(t, brokers, topic))
		if !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("%s: %d outputs, want %d:\n got %v\nwant %v", topic, len(got), len(want), got, want)
		}
	}
}

// someOrders are n orders o<from>… of products p0…p4 in turn, with quantities.
func someOrders(from, n int) [][2]string {
	var orders [][2]string
	for i := from; i < from+n; i++ {
		orders = append(orders, [2]string{fmt.Sprintf("o%d", i), fmt.Sprintf("p%d:%d", i%5, i)})
	}
	return orders
}

// outputReader reads a topic as it grows, read_committed.
type outputReader struct {
	t   *testing.T
	cl  *kgo.Client
	got []string
}

func newOutputReader(t *testing.T, brokers []string, topic string) *outputReader {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &outputReader{t: t, cl: cl}
}

// until reads until done holds of what was read, for at most 30 s.
func (o *outputReader) until(what string, done func([]string) bool) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !done(o.got) {
		fs := o.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			o.t.Fatalf("%s: not there after 30 s; read %d records: %v", what, len(o.got), o.got)
		}
		fs.EachRecord(func(r *kgo.Record) { o.got = append(o.got, string(r.Key)+"="+string(r.Value)) })
	}
}

func hasAll(want []string) func([]string) bool {
	return func(got []string) bool {
		for _, w := range want {
			if !slices.Contains(got, w) {
				return false
			}
		}
		return true
	}
}

// Stream-global-table joins, inner and left, with a key selector, and a processor that
// reads the global store: the global topic has fewer partitions than the stream's (no
// co-partitioning), the table is complete before the first order is processed, and
// updates and deletions made while the application runs are seen by the orders after
// them; the output keeps the orders' keys.
func TestGlobalTableJoinsSeeUpdates(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 3, "products": 2, "out": 1})
	produce(t, brokers, "products", [2]string{"p1", "apple"}, [2]string{"p2", "pear"}, [2]string{"p3", "fig"})
	produceRecords(t, brokers, &kgo.Record{Topic: "products", Value: []byte("a null key: no row")},
		&kgo.Record{Topic: "products", Key: []byte("p3")})
	products := map[string]string{"p1": "apple", "p2": "pear"}
	first := someOrders(0, 30)
	produce(t, brokers, "orders", first...)

	app, err := eddy.New(enrich(), eddy.ApplicationID("global-join"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	out := newOutputReader(t, brokers, "out")
	want := enrichedWant(first, products)
	out.until("the first orders", func(got []string) bool { return len(got) >= len(want) })

	// Updates while running: a new value, a deletion, a new product. Probe orders (keys
	// "probe…") show when this instance has applied them: once one lookup sees them,
	// every later one does.
	produce(t, brokers, "products", [2]string{"p1", "green apple"}, [2]string{"p4", "plum"})
	produceRecords(t, brokers, &kgo.Record{Topic: "products", Key: []byte("p2")})
	products = map[string]string{"p1": "green apple", "p4": "plum"}
	for i, p := range []string{"p1", "p2", "p4"} {
		probe := fmt.Sprintf("probe%d", i)
		name, ok := products[p]
		if !ok {
			name = "-"
		}
		for n := 0; ; n++ {
			if n == 200 {
				t.Fatalf("after 200 probes, %s still does not join %s's new value %q", probe, p, name)
			}
			key := fmt.Sprintf("%s-%d", probe, n)
			produce(t, brokers, "orders", [2]string{key, p + ":0"})
			done := fmt.Sprintf("%s=left %s:0|", key, p)
			out.until("probe "+key, func(got []string) bool {
				return slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, done) })
			})
			if slices.Contains(out.got, done+name) {
				break
			}
		}
	}
	second := someOrders(30, 30)
	produce(t, brokers, "orders", second...)
	want = append(want, enrichedWant(second, products)...)
	stopCaughtUp(t, brokers, "global-join", stop, "orders")

	var got []string
	for _, r := range readAll(t, brokers, "out") {
		if !strings.HasPrefix(string(r.Key), "probe") {
			got = append(got, string(r.Key)+"="+string(r.Value))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%d outputs, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
}

// A bounded run restores the global table, then processes its input to the end against
// it.
func TestGlobalTableBoundedRun(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 2, "products": 3, "out": 1})
	produce(t, brokers, "products", [2]string{"p0", "nut"}, [2]string{"p2", "pear"}, [2]string{"p4", "plum"})
	orders := someOrders(0, 40)
	produce(t, brokers, "orders", orders...)
	app, err := eddy.New(enrich(), eddy.ApplicationID("global-bounded"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.Bounded(), eddy.ExactlyOnce(), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := app.Run(ctx); err != nil {
		t.Fatalf("bounded run: %v", err)
	}
	want := enrichedWant(orders, map[string]string{"p0": "nut", "p2": "pear", "p4": "plum"})
	got := keyValues(readAll(t, brokers, "out"))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bounded run:\n got %v\nwant %v", got, want)
	}
}

// A record of a global topic that does not decode meets OnDeserializationError: Fail
// stops Run with the record's coordinates and the table's name (at the restore: before
// any order is processed; or while following), Skip leaves it out and counts it,
// DeadLetter writes it to the dead-letter topic with the error and its coordinates.
func TestGlobalTableBadRecords(t *testing.T) {
	prices := func() *topology.Topology {
		top := topology.New()
		g := topology.GlobalTableFrom(top, "prices", serde.String(), serde.Int64(), "prices", topology.Named("prices-source"))
		topology.To(topology.LeftJoinGlobal(topology.From(top, "orders", serde.String(), serde.String()), g,
			func(_, p string) string { return p }, func(_, p string, price int64, found bool) string {
				if !found {
					return p + "=-"
				}
				return fmt.Sprintf("%s=%d", p, price)
			}), "out", serde.String(), serde.String())
		return top
	}
	price := func(n int64) []byte { b, _ := serde.Int64().AppendEncode(nil, n); return b }
	for _, c := range []struct {
		name      string
		policy    eddy.ErrorPolicy
		fail, dlq bool
		following bool // the bad record comes once the application runs
	}{
		{name: "fail at restore", policy: eddy.Fail(), fail: true},
		{name: "fail while following", policy: eddy.Fail(), fail: true, following: true},
		{name: "skip", policy: eddy.Skip()},
		{name: "dead letter", policy: eddy.DeadLetter("dlq"), dlq: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"orders": 2, "prices": 1, "out": 1, "dlq": 1})
			produceRecords(t, brokers, &kgo.Record{Topic: "prices", Key: []byte("a"), Value: price(10)})
			bad := &kgo.Record{Topic: "prices", Key: []byte("b"), Value: []byte("not a number")}
			if !c.following {
				produceRecords(t, brokers, bad)
			}
			produceRecords(t, brokers, &kgo.Record{Topic: "prices", Key: []byte("c"), Value: price(30)})
			produce(t, brokers, "orders", [2]string{"o1", "a"}, [2]string{"o2", "b"}, [2]string{"o3", "c"})
			app, err := eddy.New(prices(), eddy.ApplicationID("global-bad"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
				eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)),
				eddy.OnDeserializationError(c.policy))
			if err != nil {
				t.Fatal(err)
			}
			wantOut := []string{"o1=a=10", "o2=b=-", "o3=c=30"}
			if c.fail {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- app.Run(ctx) }()
				wantOffset := int64(1)
				if c.following {
					newOutputReader(t, brokers, "out").until("the orders", hasAll(wantOut))
					produceRecords(t, brokers, bad)
					wantOffset = 2
				}
				err := <-done
				var re *eddy.RecordError
				if !errors.As(err, &re) || re.Global != "prices" || re.Topic != "prices" || re.Partition != 0 ||
					re.Offset != wantOffset || re.Kind != eddy.DeserializationError || re.Operator != "prices-source" ||
					!strings.Contains(err.Error(), fmt.Sprintf("global table prices: record prices/0@%d", wantOffset)) {
					t.Fatalf("Run = %v; want a RecordError of global table prices at prices/0@%d", err, wantOffset)
				}
				if got := keyValues(readAll(t, brokers, "out")); !c.following && len(got) != 0 {
					t.Errorf("the restore failed, yet orders were processed: %v", got)
				}
				return
			}
			stopCaughtUp(t, brokers, "global-bad", runApp(t, app), "orders")
			if got := keyValues(readAll(t, brokers, "out")); !slices.Equal(got, wantOut) {
				t.Errorf("out = %v, want %v", got, wantOut)
			}
			counter := "eddy_records_skipped_total"
			if c.dlq {
				counter = "eddy_records_dead_lettered_total"
				dl := readAll(t, brokers, "dlq")
				if len(dl) != 1 || string(dl[0].Key) != "b" || string(dl[0].Value) != "not a number" ||
					header(dl[0], "eddy.source.topic") != "prices" || header(dl[0], "eddy.source.offset") != "1" ||
					header(dl[0], "eddy.error.kind") != "deserialization" || header(dl[0], "eddy.error.operator") != "prices-source" {
					t.Errorf("dead letters: %v", dl)
				}
			}
			var n int64
			for _, m := range app.Metrics() {
				if m.Name == counter && m.Labels["topic"] == "prices" && m.Labels["reason"] == "deserialization" {
					n += int64(m.Value)
				}
			}
			if n != 1 {
				t.Errorf("%s{topic=prices} = %d, want 1", counter, n)
			}
		})
	}
}

// produceRecords writes the records as they are (a nil key or value stays null), in order.
func produceRecords(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl := mustClient(t, brokers)
	for _, r := range recs {
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// A restart resumes the global reader from its checkpoint: it reads nothing again (its
// restore says so), and the table it had is there even once the topic's records are
// deleted; an empty state directory reads the topic from its start, and a recreated topic
// (a new topic id) makes the reader drop what it had and read the new topic.
func TestGlobalTableRestartResumesFromCheckpoint(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 2, "products": 2, "out": 1})
	var products [][2]string
	names := map[string]string{}
	for i := range 5 {
		products = append(products, [2]string{fmt.Sprintf("p%d", i), fmt.Sprintf("name%d", i)})
		names[fmt.Sprintf("p%d", i)] = fmt.Sprintf("name%d", i)
	}
	produce(t, brokers, "products", products...)
	dir := t.TempDir()
	var orders [][2]string
	var want []string
	run := func(dir string, restores *[]eddy.RestoreInfo) {
		t.Helper()
		var mu sync.Mutex
		app, err := eddy.New(enrich(), eddy.ApplicationID("global-restart"), eddy.Brokers(brokers...), eddy.StateDir(dir),
			eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)),
			eddy.OnRestore(func(ri eddy.RestoreInfo) {
				if ri.Global {
					mu.Lock()
					*restores = append(*restores, ri)
					mu.Unlock()
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		stopCaughtUp(t, brokers, "global-restart", runApp(t, app), "orders")
	}
	check := func(step string, infos []eddy.RestoreInfo, from, restored int64, wiped bool) {
		t.Helper()
		if len(infos) != 2 {
			t.Fatalf("%s: %d global restores, want one per partition: %v", step, len(infos), infos)
		}
		var n int64
		for _, ri := range infos {
			n += ri.Restored
			if ri.Store != "products" || ri.Topic != "products" || ri.Wiped != wiped || from >= 0 && ri.From != from && ri.From != ri.To {
				t.Errorf("%s: restore %+v, want store products, wiped %v", step, ri, wiped)
			}
		}
		if n != restored {
			t.Errorf("%s: %d records restored, want %d (%v)", step, n, restored, infos)
		}
		got := keyValues(readAll(t, brokers, "out"))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: out\n %v\nwant\n %v", step, got, want)
		}
	}
	batch := func(from int, names map[string]string) {
		o := someOrders(from, 10)
		orders = append(orders, o...)
		produce(t, brokers, "orders", o...)
		want = append(want, enrichedWant(o, names)...)
	}

	batch(0, names)
	var first []eddy.RestoreInfo
	run(dir, &first)
	check("first run", first, 0, 5, true)

	// Everything the reader checkpointed is deleted from the topic.
	adm := kadm.NewClient(mustClient(t, brokers))
	ends, err := adm.ListEndOffsets(context.Background(), "products")
	if err != nil {
		t.Fatal(err)
	}
	del := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) { del.AddOffset(o.Topic, o.Partition, o.Offset, -1) })
	if _, err := adm.DeleteRecords(context.Background(), del); err != nil {
		t.Fatal(err)
	}
	batch(10, names)
	var second []eddy.RestoreInfo
	run(dir, &second)
	for _, ri := range second {
		if ri.From == 0 && ri.To > 0 {
			t.Errorf("second run: read partition %d again from 0: %+v", ri.Partition, ri)
		}
	}
	check("restart", second, -1, 0, false)

	// A fresh state directory reads the topic from its (new) start: nothing is left.
	batch(20, map[string]string{})
	var fresh []eddy.RestoreInfo
	run(t.TempDir(), &fresh)
	check("fresh state directory", fresh, -1, 0, true)

	// The topic recreated: its id changes, the old checkpoint cannot be trusted, and the
	// old table is dropped.
	if _, err := adm.DeleteTopics(context.Background(), "products"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, adm, "products")
	if _, err := adm.CreateTopic(context.Background(), 2, 1, nil, "products"); err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, "products", [2]string{"p3", "new3"})
	batch(30, map[string]string{"p3": "new3"})
	var recreated []eddy.RestoreInfo
	run(dir, &recreated)
	check("recreated topic", recreated, 0, 1, true)
}

func mustClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func waitGone(t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ds, err := adm.ListTopics(context.Background(), topic)
		if err == nil && !ds.Has(topic) {
			return
		}
	}
	t.Fatalf("topic %s still there", topic)
}

// A global table's topic missing at start fails Run as a missing input does.
func TestGlobalTableMissingTopic(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 1, "out": 1})
	err := runOnce(t, enrich(), brokers)
	if !errors.Is(err, eddy.ErrMissingTopic) || !strings.Contains(err.Error(), "global table topic(s) missing: products") {
		t.Fatalf("Run = %v, want ErrMissingTopic naming the global table's topic", err)
	}
}
