package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// emptyCase is the topology of TestEmptyEncodingIsNotATombstone: a table of strings read
// from a topic, written back out and probed through its store; and events re-keyed by
// their value (a repartition) and reduced, so an empty value becomes an empty key too.
type emptyCase struct {
	appID                               string
	table, events                       string // inputs
	tableOut, probeOut, reduceOut       string // outputs
	changelog, reduceLog, repartitioned string // internal topics
}

func newEmptyCase(t *testing.T) *emptyCase {
	c := &emptyCase{appID: kafkatest.Topic(t, "app"), table: kafkatest.Topic(t, "table"), events: kafkatest.Topic(t, "events"),
		tableOut: kafkatest.Topic(t, "table-out"), probeOut: kafkatest.Topic(t, "probe-out"), reduceOut: kafkatest.Topic(t, "reduce-out")}
	c.changelog, c.reduceLog = c.appID+"-vals-changelog", c.appID+"-joined-changelog"
	c.repartitioned = c.appID + "-by-value-repartition"
	adm := kafkatest.Admin(t)
	for _, topic := range []string{c.table, c.events, c.tableOut, c.probeOut, c.reduceOut} {
		kafkatest.CreateTopic(t, adm, topic, 1, nil)
	}
	return c
}

func (c *emptyCase) topology() *topology.Topology {
	top := topology.New()
	vals := topology.TableFrom(top, c.table, serde.String(), serde.String(), "vals")
	updates := vals.ToStream()
	topology.To(updates, c.tableOut, serde.String(), serde.String())
	probed := topology.Process(updates, "probe", func() processor.Processor[string, string, string, string] {
		return &probe{store: vals.Store(), key: "a"}
	}, topology.Stores("vals"))
	topology.To(probed, c.probeOut, serde.String(), serde.String())

	events := topology.From(top, c.events, serde.String(), serde.String())
	byValue := topology.GroupBy(events, func(_, v string) string { return v }, serde.String(), serde.String(), topology.Named("by-value"))
	joined := topology.Reduce(byValue, func(agg, v string) string { return agg + "|" + v }, "joined")
	topology.To(joined.ToStream(), c.reduceOut, serde.String(), serde.String())
	return top
}

// probe answers every record with what its store holds under key: "found:<value>" or
// "missing".
type probe struct {
	store *topology.KeyValueStore[string, string]
	key   string
	ctx   processor.Context[string, string]
	kv    store.KeyValue[string, string]
}

func (p *probe) Init(ctx processor.Context[string, string]) (err error) {
	p.ctx = ctx
	p.kv, err = p.store.Open(ctx)
	return err
}

func (p *probe) Close() error { return nil }

func (p *probe) Process(r processor.Record[string, string]) error {
	v, found, err := p.kv.Get(p.key)
	if err != nil {
		return err
	}
	r.Value = "missing"
	if found {
		r.Value = "found:" + v
	}
	return p.ctx.Forward(r)
}

// run runs the application with a fresh state directory until it has committed the
// table's input up to tableEnd and written reductions outputs in all.
func (c *emptyCase) run(t *testing.T, tableEnd int64, reductions int) {
	t.Helper()
	r := start(t, newApp(t, c.topology(), c.appID, eddy.LowMemoryState()))
	waitCommittedAt(t, c.appID, c.table, tableEnd, r)
	n := 0
	consumeUntil(t, c.reduceOut, 60*time.Second, func(*kgo.Record) { n++ }, func() bool { return n >= reductions })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}

// show prints a record's key and value, telling null (nil) from empty.
func show(r *kgo.Record) string {
	b := func(p []byte) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%q", p)
	}
	return b(r.Key) + "=" + b(r.Value)
}

func showAll(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = show(r)
	}
	return out
}

// An empty string is zero bytes, not null: written through To, through a repartition
// topic (as key and value) and to the changelogs, it is read back as a present, empty
// value; a table and a reduction whose values are empty keep their keys through a commit
// and a restore into a new state directory. A table's deletion is still a real tombstone.
func TestEmptyEncodingIsNotATombstone(t *testing.T) {
	c := newEmptyCase(t)
	produceAll(t, []*kgo.Record{
		{Topic: c.table, Key: []byte("a"), Value: []byte{}},
		{Topic: c.table, Key: []byte("b"), Value: []byte("x")},
		{Topic: c.table, Key: []byte("c"), Value: []byte("y")},
		{Topic: c.table, Key: []byte("c")}, // a deletion
		{Topic: c.events, Key: []byte("e1"), Value: []byte{}},
	})
	c.run(t, 4, 1)

	check := func(what string, got []*kgo.Record, want ...string) {
		t.Helper()
		if g := showAll(got); fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", what, g, want)
		}
	}
	check("table output", readPartition0(t, c.tableOut, kgo.ReadCommitted()), `"a"=""`, `"b"="x"`, `"c"="y"`)
	check("repartition topic", ends.WithoutMarkers(readPartition0(t, c.repartitioned, kgo.ReadCommitted())), `""=""`)
	check("reduce output", readPartition0(t, c.reduceOut, kgo.ReadCommitted()), `""=""`)
	// One commit: the last value of each key. Map order is not kept, so sort by key.
	last := map[string]string{}
	for _, r := range readPartition0(t, c.changelog, kgo.ReadCommitted()) {
		last[string(r.Key)] = show(r)
	}
	if want := map[string]string{"a": `"a"=""`, "b": `"b"="x"`, "c": `"c"=null`}; fmt.Sprint(last) != fmt.Sprint(want) {
		t.Errorf("table changelog = %v, want %v", last, want)
	}
	check("reduce changelog", readPartition0(t, c.reduceLog, kgo.ReadCommitted()), `""=""`)

	// A new state directory: both stores come back from their changelogs.
	produceAll(t, []*kgo.Record{
		{Topic: c.table, Key: []byte("probe"), Value: []byte("p")},
		{Topic: c.events, Key: []byte("e2"), Value: []byte{}},
	})
	c.run(t, 5, 2)
	probes := readPartition0(t, c.probeOut, kgo.ReadCommitted())
	if len(probes) == 0 || show(probes[len(probes)-1]) != `"probe"="found:"` {
		t.Errorf("after the restore, the probe saw %v; want the last to be \"probe\"=\"found:\" (key a present, empty)", showAll(probes))
	}
	check("reduce output after the restore", readPartition0(t, c.reduceOut, kgo.ReadCommitted()), `""=""`, `""="|"`)
}
