package topology_test

import (
	"errors"
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
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// enrichedOrders is orders enriched from a customers table (co-partitioned) and from a
// products global table (looked up by the order's product), then counted by product
// after a key change: the global table's store shows with its own sub-topology, and its
// readers list it.
func enrichedOrders() *topology.Topology {
	t := topology.New()
	orders := topology.From(t, "orders", serde.String(), serde.String(), topology.Named("orders"))
	products := topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products", topology.Named("products-source"))
	customers := topology.TableFrom(t, "customers", serde.String(), serde.String(), "customers")
	withCustomer := topology.LeftJoinTable(orders, customers, serde.String(), serde.String(),
		func(_, o, c string, _ bool) string { return o + "|" + c }, topology.Named("with-customer"))
	withProduct := topology.JoinGlobal(withCustomer, products, func(_, v string) string { return strings.SplitN(v, ":", 2)[0] },
		func(_, v, p string) string { return v + "|" + p }, topology.Named("with-product"))
	byProduct := topology.SelectKey(withProduct, func(_, v string) string { return strings.SplitN(v, ":", 2)[0] })
	described := topology.LeftJoinGlobal(byProduct, products, func(k, _ string) string { return k },
		func(_, v, p string, found bool) string { return v })
	topology.To(topology.Count(topology.GroupByKey(described, serde.String(), serde.String()), "per-product").ToStream(),
		"per-product", serde.String(), serde.Int64())
	return t
}

func TestGlobalDescribeGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		render func(*topology.Topology) (string, error)
	}{
		{"global.describe.golden", (*topology.Topology).Describe},
		{"global.mermaid.golden", (*topology.Topology).Mermaid},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := tc.render(enrichedOrders())
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./topology -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", tc.file, path, got)
			}
		})
	}
}

// A global table makes no tasks: the sub-topologies are those of the streams alone, the
// join after a key change inserts no repartition of its own, and the topic is read by no
// sub-topology.
func TestGlobalTableMakesNoTasks(t *testing.T) {
	g := enrichedOrders().Graph()
	subs, err := g.Subtopologies()
	if err != nil {
		t.Fatal(err)
	}
	var topics []string
	for _, s := range subs {
		topics = append(topics, s.SourceTopics()...)
	}
	slices.Sort(topics)
	// The one repartition is GroupByKey's, after SelectKey: the global joins add none.
	want := []string{"KSTREAM-REPARTITION-0000000003-repartition", "customers", "orders"}
	if len(subs) != 2 || !slices.Equal(topics, want) {
		t.Errorf("%d sub-topologies reading %v, want 2 reading %v", len(subs), topics, want)
	}
	if gls := g.Globals(); len(gls) != 1 || gls[0].Topic != "products" || len(gls[0].Users) != 2 {
		t.Errorf("globals %v, want products read by two joins", gls)
	}
	if len(g.Stores()) != 2 { // customers and per-product; the global store has no changelog
		t.Errorf("stores with changelogs: %d, want 2", len(g.Stores()))
	}
}

// Misuse is an error of the topology that says what is wrong.
func TestGlobalTableMisuse(t *testing.T) {
	other := topology.New()
	foreign := topology.GlobalTableFrom(other, "products", serde.String(), serde.String(), "products")
	join := func(s topology.Stream[string, string], g topology.GlobalTable[string, string]) {
		topology.To(topology.JoinGlobal(s, g, func(k, _ string) string { return k }, func(_, v, p string) string { return v + p }),
			"out", serde.String(), serde.String())
	}
	for _, c := range []struct {
		name  string
		build func(*topology.Topology)
		want  string
	}{
		{"global topic also a stream", func(t *topology.Topology) {
			g := topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products")
			join(topology.From(t, "products", serde.String(), serde.String()), g)
		}, `topic "products" is read by global table products and by source KSTREAM-SOURCE`},
		{"stream topic also global", func(t *topology.Topology) {
			s := topology.From(t, "products", serde.String(), serde.String())
			join(s, topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products"))
		}, `topic "products" is read by global table products and by source KSTREAM-SOURCE`},
		{"global table of another topology", func(t *topology.Topology) {
			join(topology.From(t, "orders", serde.String(), serde.String()), foreign)
		}, "JoinGlobal: the stream and global table products belong to different topologies"},
		{"zero global table", func(t *topology.Topology) {
			join(topology.From(t, "orders", serde.String(), serde.String()), topology.GlobalTable[string, string]{})
		}, "JoinGlobal: the global table was not made with GlobalTableFrom"},
		{"nil key selector", func(t *topology.Topology) {
			g := topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products")
			topology.LeftJoinGlobal(topology.From(t, "orders", serde.String(), serde.String()), g, nil,
				func(_, v, p string, _ bool) string { return v })
		}, "LeftJoinGlobal: the key selector is required"},
		{"store name of a task store", func(t *topology.Topology) {
			topology.NewKeyValueStore(t, "products", serde.String(), serde.String())
			join(topology.From(t, "orders", serde.String(), serde.String()),
				topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products"))
		}, `the store name "products" is used twice`},
		{"task store named like a global store", func(t *topology.Topology) {
			join(topology.From(t, "orders", serde.String(), serde.String()),
				topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products"))
			topology.NewKeyValueStore(t, "products", serde.String(), serde.String())
		}, `the store name "products" is used twice`},
		{"global store named in Stores", func(t *topology.Topology) {
			topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products")
			topology.Process(topology.From(t, "orders", serde.String(), serde.String()), "reader",
				func() processor.Processor[string, string, string, string] { return nil }, topology.Stores("products"))
		}, `reader names global store "products" in Stores; a global store is read from any processor without being named`},
		{"nil serde", func(t *topology.Topology) {
			join(topology.From(t, "orders", serde.String(), serde.String()),
				topology.GlobalTableFrom[string, string](t, "products", serde.String(), nil, "products"))
		}, "global table products: key and value serdes are required"},
		{"an option it does not take", func(t *topology.Topology) {
			join(topology.From(t, "orders", serde.String(), serde.String()),
				topology.GlobalTableFrom(t, "products", serde.String(), serde.String(), "products", topology.Partitions(2)))
		}, "GlobalTableFrom: option Partitions does not apply to GlobalTableFrom"},
	} {
		t.Run(c.name, func(t *testing.T) {
			top := topology.New()
			c.build(top)
			_, err := top.Describe()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Describe error = %v, want one containing %q", err, c.want)
			}
		})
	}
	only := topology.New()
	topology.GlobalTableFrom(only, "products", serde.String(), serde.String(), "products")
	if _, err := only.Describe(); err == nil || !strings.Contains(err.Error(), "only global tables") {
		t.Errorf("a topology of a global table alone: %v, want an error saying so", err)
	}
}

// globalFixture is a global store over an in-memory database, filled through the table's
// own Decode as the runtime's reader fills it.
type globalFixture struct {
	mgr   *state.Manager
	slice *state.Global
	gl    *graph.Global
}

func newGlobalFixture(t *testing.T, top *topology.Topology, name string) *globalFixture {
	t.Helper()
	mgr := state.NewManager(store.NewMemory())
	slice, err := mgr.OpenGlobal(name)
	if err != nil {
		t.Fatal(err)
	}
	return &globalFixture{mgr: mgr, slice: slice, gl: top.Graph().Global(name)}
}

// put applies records of the global topic (a nil value deletes) and returns Decode's
// error for the first that fails.
func (f *globalFixture) put(t *testing.T, recs ...*kgo.Record) error {
	t.Helper()
	var b store.Batch
	for _, rec := range recs {
		key, ok, err := f.gl.Decode(nil, rec)
		if err != nil {
			return err
		}
		if ok {
			f.slice.Stage(&b, key, rec.Value)
		}
	}
	if err := f.mgr.ApplyGlobal(f.slice, &b); err != nil {
		t.Fatal(err)
	}
	return nil
}

// Inner and left joins with a key selector look the selected key up in the global store
// when the record is processed: updates and deletions applied in between are seen, the
// output keeps the stream's key.
func TestGlobalJoinLooksUpTheSelectedKey(t *testing.T) {
	top := topology.New()
	orders := topology.From(top, "orders", serde.String(), serde.String())
	products := topology.GlobalTableFrom(top, "products", serde.String(), serde.String(), "products")
	product := func(_, v string) string { return strings.SplitN(v, ":", 2)[0] }
	topology.To(topology.JoinGlobal(orders, products, product, func(k, v, p string) string { return "inner " + v + "|" + p }),
		"out", serde.String(), serde.String())
	topology.To(topology.LeftJoinGlobal(orders, products, product, func(k, v, p string, found bool) string {
		if !found {
			p = "-"
		}
		return "left " + v + "|" + p
	}), "out", serde.String(), serde.String())
	f := newGlobalFixture(t, top, "products")
	env := &fakeEnv{keep: true, globals: map[string]graph.GlobalReader{"products": f.slice}}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		t.Fatal(err)
	}
	order := func(k, v string) {
		t.Helper()
		if err := task.Handlers["orders"](&kgo.Record{Key: []byte(k), Value: []byte(v), Timestamp: time.UnixMilli(1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.put(t, &kgo.Record{Key: []byte("p1"), Value: []byte("apple")}, &kgo.Record{Key: []byte("p2"), Value: []byte("pear")},
		&kgo.Record{Value: []byte("no key: ignored")}); err != nil {
		t.Fatal(err)
	}
	order("alice", "p1:1")
	order("bob", "p3:2")
	if err := f.put(t, &kgo.Record{Key: []byte("p3"), Value: []byte("fig")}, &kgo.Record{Key: []byte("p1")}); err != nil {
		t.Fatal(err)
	}
	order("carol", "p3:3")
	order("dave", "p1:4")
	order("erin", ":5") // the key "" is not there: the record with a null key was ignored
	var got []string
	for _, r := range env.sent {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	want := []string{
		"alice=inner p1:1|apple", "alice=left p1:1|apple",
		"bob=left p3:2|-",
		"carol=inner p3:3|fig", "carol=left p3:3|fig",
		"dave=left p1:4|-",
		"erin=left :5|-",
	}
	if !slices.Equal(got, want) {
		t.Errorf("sent\n %v\nwant\n %v", got, want)
	}
}

// The global table's Decode re-encodes keys with the table's serde (a lookup encodes its
// key the same way), and tells bad input, a serde's panic included, as a deserialization
// error of the table's source.
func TestGlobalDecode(t *testing.T) {
	top := topology.New()
	topology.GlobalTableFrom(top, "counts", serde.Int64(), panicky{}, "counts", topology.Named("counts-src"))
	gl := top.Graph().Global("counts")
	eight, _ := serde.Int64().AppendEncode(nil, 8)
	key, ok, err := gl.Decode([]byte("prefix:"), &kgo.Record{Key: eight, Value: []byte("fine")})
	if err != nil || !ok || string(key) != "prefix:"+string(eight) {
		t.Errorf("Decode = %q, %v, %v; want the key appended", key, ok, err)
	}
	if _, ok, err := gl.Decode(nil, &kgo.Record{Key: eight}); err != nil || !ok {
		t.Errorf("a null value (a deletion): %v, %v", ok, err)
	}
	for _, c := range []struct {
		rec      *kgo.Record
		want     string
		panicked bool
	}{
		{&kgo.Record{Key: []byte("short"), Value: []byte("fine")}, "decode key", false},
		{&kgo.Record{Key: eight, Value: []byte("bad")}, "decode value", false},
		{&kgo.Record{Key: eight, Value: []byte("panic")}, "serde panicked", true},
	} {
		_, _, err := gl.Decode(nil, c.rec)
		var re *graph.RecordError
		if !errors.As(err, &re) || re.Kind != graph.Deserialization || re.Node != "counts-src" ||
			re.Panicked != c.panicked || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%q) = %v; want a deserialization error in counts-src containing %q (panicked %v)", c.rec.Value, err, c.want, c.panicked)
		}
	}
}

// panicky decodes "fine", fails on "bad" and panics on "panic".
type panicky struct{}

func (panicky) AppendEncode(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (panicky) Decode(b []byte) (string, error) {
	switch string(b) {
	case "bad":
		return "", errors.New("bad value")
	case "panic":
		panic("serde panicked")
	}
	return string(b), nil
}

// A processor of one's own reads the global store through its typed view: Get and Range,
// with no Stores option; writes fail with ErrReadOnly, and opening it as a task store
// says how to open it.
func TestProcessorReadsGlobalStore(t *testing.T) {
	top := topology.New()
	products := topology.GlobalTableFrom(top, "products", serde.String(), serde.String(), "products")
	var log []string
	reader := &globalReader{products: products.Store(), log: &log}
	topology.Process(topology.From(top, "orders", serde.String(), serde.String()), "reader",
		func() processor.Processor[string, string, string, string] { return reader })
	f := newGlobalFixture(t, top, "products")
	if err := f.put(t, &kgo.Record{Key: []byte("p1"), Value: []byte("apple")}, &kgo.Record{Key: []byte("p2"), Value: []byte("pear")},
		&kgo.Record{Key: []byte("p3"), Value: []byte("fig")}); err != nil {
		t.Fatal(err)
	}
	env := &fakeEnv{keep: true, globals: map[string]graph.GlobalReader{"products": f.slice}}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Handlers["orders"](&kgo.Record{Key: []byte("o1"), Value: []byte("p2"), Timestamp: time.UnixMilli(1)}); err != nil {
		t.Fatal(err)
	}
	want := []string{"get p2=pear true", "range p1=apple p2=pear p3=fig", "range from p2: p2=pear p3=fig"}
	if !slices.Equal(log, want) {
		t.Errorf("the processor read\n %v\nwant\n %v", log, want)
	}
	if !errors.Is(reader.putErr, topology.ErrReadOnly) || !errors.Is(reader.deleteErr, topology.ErrReadOnly) ||
		!strings.Contains(reader.putErr.Error(), "follows topic products") {
		t.Errorf("Put = %v, Delete = %v; want ErrReadOnly naming the topic", reader.putErr, reader.deleteErr)
	}
	if reader.bytesErr == nil || !strings.Contains(reader.bytesErr.Error(), "GlobalTable.Store().Open") {
		t.Errorf("ctx.Store(global) = %v, want an error saying how to open it", reader.bytesErr)
	}
	if _, err := products.Store().Open(env); err == nil || !strings.Contains(err.Error(), "open it with the context a processor's Init receives") {
		t.Errorf("Open outside a processor: %v", err)
	}
}

type globalReader struct {
	products *topology.GlobalStore[string, string]
	kv       store.KeyValue[string, string]
	log      *[]string

	putErr, deleteErr, bytesErr error
}

func (p *globalReader) Init(ctx processor.Context[string, string]) (err error) {
	if p.kv, err = p.products.Open(ctx); err != nil {
		return err
	}
	_, p.bytesErr = ctx.Store("products")
	return nil
}

func (p *globalReader) Close() error { return nil }

func (p *globalReader) Process(r processor.Record[string, string]) error {
	v, found, err := p.kv.Get(r.Value)
	if err != nil {
		return err
	}
	*p.log = append(*p.log, "get "+r.Value+"="+v+" "+map[bool]string{true: "true", false: "false"}[found])
	for _, from := range []*string{nil, &r.Value} {
		it, err := p.kv.Range(from, nil)
		if err != nil {
			return err
		}
		line := "range"
		if from != nil {
			line += " from " + *from + ":"
		}
		for it.Next() {
			line += " " + it.Key() + "=" + it.Value()
		}
		if err := errors.Join(it.Err(), it.Close()); err != nil {
			return err
		}
		*p.log = append(*p.log, line)
	}
	p.putErr = p.kv.Put("p9", "plum")
	p.deleteErr = p.kv.Delete("p1")
	return nil
}

// The cost of one order through a left join with a global table of 10k products on
// Badger: source decode, the key selector, the lookup (encode, Badger get, decode), the
// joiner and the sink.
func BenchmarkGlobalJoinOperator(b *testing.B) {
	top := topology.New()
	products := topology.GlobalTableFrom(top, "products", serde.String(), serde.String(), "products")
	topology.To(topology.LeftJoinGlobal(topology.From(top, "orders", serde.String(), serde.String()), products,
		func(_, p string) string { return p },
		func(_, o, p string, found bool) string { return p }), "out", serde.String(), serde.String())
	db, err := store.OpenBadger(b.TempDir(), store.BadgerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	m := state.NewManager(db)
	defer m.Close()
	slice, err := m.OpenGlobal("products")
	if err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, 10_000)
	var batch store.Batch
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "p%d", i)
		slice.Stage(&batch, keys[i], fmt.Appendf(nil, "product %d", i))
	}
	if err := m.ApplyGlobal(slice, &batch); err != nil {
		b.Fatal(err)
	}
	env := &fakeEnv{globals: map[string]graph.GlobalReader{"products": slice}}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		b.Fatal(err)
	}
	h := task.Handlers["orders"]
	rec := &kgo.Record{Key: []byte("o1"), Timestamp: time.UnixMilli(1)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec.Value = keys[i%len(keys)]
		if err := h(rec); err != nil {
			b.Fatal(err)
		}
	}
}
