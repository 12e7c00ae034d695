package topology_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// fakeEnv is the runtime side of a task, recording what the sinks send.
type fakeEnv struct {
	op    *graph.Op
	sent  []*kgo.Record
	md    processor.Metadata
	hasMD bool
	keep  bool // keep sent records (off in benchmarks)
	n     int

	stores    map[string]store.Bytes
	globals   map[string]graph.GlobalReader
	observed  []time.Time
	listeners []func(time.Time) error
	bounded   bool
}

func (e *fakeEnv) ApplicationID() string                { return "app" }
func (e *fakeEnv) TaskID() processor.TaskID             { return processor.TaskID{Subtopology: 0, Partition: 2} }
func (e *fakeEnv) Metadata() (processor.Metadata, bool) { return e.md, e.hasMD }
func (e *fakeEnv) Watermark() time.Time                 { return time.UnixMilli(42) }
func (e *fakeEnv) Schedule(time.Duration, processor.Punctuator) func() {
	return func() {}
}
func (e *fakeEnv) Store(name string) (store.Bytes, error) {
	if s, ok := e.stores[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("no store %q", name)
}
func (e *fakeEnv) GlobalStore(name string) (graph.GlobalReader, error) {
	if g, ok := e.globals[name]; ok {
		return g, nil
	}
	return nil, fmt.Errorf("no global store %q", name)
}
func (e *fakeEnv) ScheduleEventTime(time.Duration, processor.Punctuator) func() { return func() {} }
func (e *fakeEnv) ObserveEventTime(t time.Time)                                 { e.observed = append(e.observed, t) }
func (e *fakeEnv) OnWatermark(fn func(time.Time) error)                         { e.listeners = append(e.listeners, fn) }
func (e *fakeEnv) LateRecord(string)                                            {}
func (e *fakeEnv) OpSlot() **graph.Op                                           { return &e.op }
func (e *fakeEnv) Bounded() bool                                                { return e.bounded }
func (e *fakeEnv) Send(r *kgo.Record) error {
	e.n++
	if e.keep {
		e.sent = append(e.sent, r)
	}
	return nil
}

// router forwards even values to the child "even" and the rest to "odd", by name.
type router struct {
	ctx    processor.Context[string, int64]
	closed *bool
}

func (p *router) Init(ctx processor.Context[string, int64]) error { p.ctx = ctx; return nil }
func (p *router) Close() error                                    { *p.closed = true; return nil }
func (p *router) Process(r processor.Record[string, string]) error {
	n, err := strconv.ParseInt(r.Value, 10, 64)
	if err != nil {
		return err
	}
	if md, ok := p.ctx.Metadata(); !ok || md.Offset != 7 {
		return errors.New("metadata missing in Process")
	}
	child := "odd"
	if n%2 == 0 {
		child = "even"
	}
	return p.ctx.ForwardTo(child, processor.Record[string, int64]{Key: r.Key + "@" + p.ctx.TaskID().String(), Value: n, Timestamp: r.Timestamp})
}

func TestProcessForwardToAndClose(t *testing.T) {
	top := topology.New()
	closed := false
	routed := topology.Process(topology.From(top, "in", serde.String(), serde.String()), "router",
		func() processor.Processor[string, string, string, int64] { return &router{closed: &closed} })
	topology.To(routed.Peek(func(string, int64) {}, topology.Named("even")), "evens", serde.String(), serde.Int64())
	topology.To(routed.Peek(func(string, int64) {}, topology.Named("odd")), "odds", serde.String(), serde.Int64())

	env := &fakeEnv{keep: true, md: processor.Metadata{Topic: "in", Offset: 7}, hasMD: true}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		t.Fatal(err)
	}
	h := task.Handlers["in"]
	for _, v := range []string{"1", "2", "3"} {
		if err := h(&kgo.Record{Key: []byte("k"), Value: []byte(v), Timestamp: time.UnixMilli(5)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, r := range env.sent {
		v, _ := serde.Int64().Decode(r.Value)
		got = append(got, r.Topic+":"+string(r.Key)+"="+strconv.FormatInt(v, 10))
	}
	want := "odds:k@0_2=1 evens:k@0_2=2 odds:k@0_2=3"
	if strings.Join(got, " ") != want {
		t.Errorf("sent %v, want %s", got, want)
	}
	if err := h(&kgo.Record{Value: []byte("x"), Timestamp: time.UnixMilli(6)}); err == nil || !strings.Contains(err.Error(), "processing error in router") {
		t.Errorf("a failing processor gave %v, want an error naming the operator", err)
	}
	if err := task.Close(); err != nil || !closed {
		t.Errorf("Close = %v, processor closed = %v", err, closed)
	}
}

// Decode errors name the source and the part of the record that failed.
func TestSourceDecodeError(t *testing.T) {
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.Int64()), "out", serde.String(), serde.Int64())
	task, err := top.Graph().BuildTask(0, &fakeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	err = task.Handlers["in"](&kgo.Record{Key: []byte("k"), Value: []byte("abc")})
	if err == nil || !strings.Contains(err.Error(), "decode value") || !strings.Contains(err.Error(), "int64 needs 8 bytes, got 3") {
		t.Fatalf("error = %v", err)
	}
}

// The cost of one record through source decode, three operators (filter, mapValues, map)
// and a sink encode, in one task.
func BenchmarkThreeOperatorChain(b *testing.B) {
	top := topology.New()
	s := topology.From(top, "in", serde.String(), serde.Int64())
	kept := s.Filter(func(_ string, v int64) bool { return v >= 0 })
	doubled := topology.MapValues(kept, func(v int64) int64 { return v * 2 })
	rekeyed := topology.Map(doubled, func(k string, v int64) (string, int64) { return k, v + 1 })
	topology.To(rekeyed, "out", serde.String(), serde.Int64())

	env := &fakeEnv{}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		b.Fatal(err)
	}
	h := task.Handlers["in"]
	val, _ := serde.Int64().AppendEncode(nil, 21)
	rec := &kgo.Record{Topic: "in", Key: []byte("user-42"), Value: val, Timestamp: time.UnixMilli(1)}
	b.ReportAllocs()
	for b.Loop() {
		if err := h(rec); err != nil {
			b.Fatal(err)
		}
	}
	if env.n != b.N {
		b.Fatalf("sent %d records for %d inputs", env.n, b.N)
	}
}

// A source with an extractor takes the event time from the value and reports it to the
// runtime; an extractor error names the source.
func TestSourceTimestampExtractor(t *testing.T) {
	top := topology.New()
	in := topology.From(top, "in", serde.String(), serde.Int64(), topology.Timestamps(func(_ string, v int64, _ time.Time) (time.Time, error) {
		if v < 0 {
			return time.Time{}, errors.New("negative time")
		}
		return time.UnixMilli(v), nil
	}), topology.OutOfOrderness(time.Second), topology.IdleTimeout(2*time.Second))
	topology.To(in, "out", serde.String(), serde.Int64())
	env := &fakeEnv{keep: true}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := serde.Int64().AppendEncode(nil, 1234)
	if err := task.Handlers["in"](&kgo.Record{Key: []byte("k"), Value: v, Timestamp: time.UnixMilli(99)}); err != nil {
		t.Fatal(err)
	}
	if len(env.observed) != 1 || !env.observed[0].Equal(time.UnixMilli(1234)) || !env.sent[0].Timestamp.Equal(time.UnixMilli(1234)) {
		t.Errorf("observed %v, output time %v; want 1234 ms for both", env.observed, env.sent[0].Timestamp)
	}
	neg, _ := serde.Int64().AppendEncode(nil, -1)
	if err := task.Handlers["in"](&kgo.Record{Key: []byte("k"), Value: neg}); err == nil || !strings.Contains(err.Error(), "extract event time: negative time") {
		t.Errorf("extractor error = %v", err)
	}
	src := top.Graph().Subtopologies
	subs, _ := src()
	if n := subs[0].Sources[0]; n.OutOfOrderness != time.Second || n.IdleTimeout != 2*time.Second {
		t.Errorf("source timing = %v, %v", n.OutOfOrderness, n.IdleTimeout)
	}
	// An extractor of the wrong types is a build error, not a panic.
	bad := topology.New()
	topology.From(bad, "in", serde.String(), serde.String(), topology.Timestamps(func(string, int64, time.Time) (time.Time, error) { return time.Time{}, nil }))
	if _, err := bad.Describe(); err == nil || !strings.Contains(err.Error(), "Timestamps extractor") {
		t.Errorf("mismatched extractor: %v", err)
	}
}

// Record failures carry their kind and the operator: bad bytes and bad times are
// deserialization errors of the source, a panic in a user function is a processing error
// of its operator (the process survives), an unencodable output a production error of the
// sink. Other operators' panics are caught where they happen, not by an upstream one.
func TestRecordErrorsAreClassified(t *testing.T) {
	top := topology.New()
	in := topology.From(top, "in", serde.String(), serde.JSON[map[string]int]())
	picked := topology.MapValues(in, func(v map[string]int) int64 {
		if v["boom"] != 0 {
			panic(fmt.Sprintf("boom %d", v["boom"]))
		}
		return int64(100 / v["d"])
	}, topology.Named("pick"))
	topology.To(picked.Filter(func(string, int64) bool { return true }, topology.Named("keep")), "out", serde.String(), failingSerde{})
	task, err := top.Graph().BuildTask(0, &fakeEnv{})
	if err != nil {
		t.Fatal(err)
	}
	env := &fakeEnv{}
	task, err = top.Graph().BuildTask(0, env)
	if err != nil {
		t.Fatal(err)
	}
	h := func(rec *kgo.Record) error { return graph.Call(task.Handlers["in"], rec, &env.op) }
	cases := []struct {
		rec      *kgo.Record
		kind     graph.ErrorKind
		node     string
		panicked bool
		msg      string
	}{
		{&kgo.Record{Value: []byte(`{"d":`), Timestamp: time.UnixMilli(1)}, graph.Deserialization, "KSTREAM-SOURCE-0000000000", false, "decode value"},
		{&kgo.Record{Value: []byte(`{"d":1}`), Timestamp: time.UnixMilli(-1)}, graph.Deserialization, "KSTREAM-SOURCE-0000000000", false, "invalid event time -1"},
		{&kgo.Record{Value: []byte(`{"boom":7}`), Timestamp: time.UnixMilli(1)}, graph.Processing, "pick", true, "boom 7"},
		{&kgo.Record{Value: []byte(`{"d":0}`), Timestamp: time.UnixMilli(1)}, graph.Processing, "pick", true, "divide by zero"},
		{&kgo.Record{Value: []byte(`{"d":1}`), Timestamp: time.UnixMilli(1)}, graph.Production, "KSTREAM-SINK-0000000001", false, "cannot encode 100"},
	}
	for _, c := range cases {
		err := h(c.rec)
		var re *graph.RecordError
		if !errors.As(err, &re) || re.Kind != c.kind || re.Node != c.node || re.Panicked != c.panicked || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v (%#v), want a %s error of %s containing %q", c.rec.Value, err, re, c.kind, c.node, c.msg)
		}
	}
}

type failingSerde struct{}

func (failingSerde) AppendEncode(dst []byte, v int64) ([]byte, error) {
	return dst, fmt.Errorf("cannot encode %d", v)
}
func (failingSerde) Decode([]byte) (int64, error) { return 0, nil }

// A sink writes a value that encodes to zero bytes as an empty key or value, not as null
// (a tombstone on a compacted topic): "" through String, an empty slice through Bytes,
// and a late record's empty key and value alike. Only Bytes' nil, its null, is null.
func TestEmptyEncodingIsWrittenAsEmpty(t *testing.T) {
	top := topology.New()
	topology.To(topology.From(top, "strings", serde.String(), serde.String()), "strings-out", serde.String(), serde.String())
	topology.To(topology.From(top, "bytes", serde.Bytes(), serde.Bytes()), "bytes-out", serde.Bytes(), serde.Bytes())
	grouped := topology.GroupByKey(topology.From(top, "events", serde.String(), serde.String()), serde.String(), serde.String())
	topology.WindowedCount(topology.WindowBy(grouped, topology.TumblingWindows(time.Second)), "win", topology.LateRecordsTo("late"))
	kv, err := state.NewManager(store.NewMemory()).Open(0, 0, "win")
	if err != nil {
		t.Fatal(err)
	}
	env := &fakeEnv{keep: true, stores: map[string]store.Bytes{"win": kv}}
	subs, err := top.Graph().Subtopologies()
	if err != nil {
		t.Fatal(err)
	}
	handlers := map[string]graph.Handler{}
	for i := range subs {
		task, err := top.Graph().BuildTask(i, env)
		if err != nil {
			t.Fatal(err)
		}
		maps.Copy(handlers, task.Handlers)
	}
	at := time.UnixMilli(5000)
	for _, rec := range []*kgo.Record{
		{Topic: "strings", Key: []byte{}, Value: []byte{}},
		{Topic: "strings", Key: []byte("k")}, // null decodes to "", which is then empty
		{Topic: "bytes", Key: []byte{}, Value: []byte{}},
		{Topic: "bytes"}, // null stays null
	} {
		rec.Timestamp = at
		if err := handlers[rec.Topic](rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range env.listeners {
		if err := l(at); err != nil { // every window before 5 s is final
			t.Fatal(err)
		}
	}
	if err := handlers["events"](&kgo.Record{Key: []byte{}, Value: []byte{}, Timestamp: time.UnixMilli(10)}); err != nil {
		t.Fatal(err)
	}
	show := func(b []byte) string {
		if b == nil {
			return "null"
		}
		return strconv.Quote(string(b))
	}
	var got []string
	for _, r := range env.sent {
		got = append(got, r.Topic+":"+show(r.Key)+"="+show(r.Value))
	}
	want := []string{`strings-out:""=""`, `strings-out:"k"=""`, `bytes-out:""=""`, `bytes-out:null=null`, `late:""=""`}
	if !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
}

// In a bounded run a table's ToStream emits nothing per update; at the end of input it
// emits each live key of the table once with its final value, through the Filter and
// MapTableValues steps of a derived table (a deleted key, and one the filter drops, are
// not there). With EmitUpdates it emits every update, as in a run that does not end.
func TestBoundedToStreamEmitsFinalValuesAtTheEnd(t *testing.T) {
	for _, updates := range []bool{false, true} {
		top := topology.New()
		prices := topology.TableFrom(top, "prices", serde.String(), serde.Int64(), "prices-store")
		cheap := topology.MapTableValues(prices.Filter(func(_ string, p int64) bool { return p < 100 }),
			func(p int64) string { return "$" + strconv.FormatInt(p, 10) })
		var opts []topology.Option
		if updates {
			opts = append(opts, topology.EmitUpdates())
		}
		topology.To(cheap.ToStream(opts...), "cheap", serde.String(), serde.String())
		kv, err := state.NewManager(store.NewMemory()).Open(0, 0, "prices-store")
		if err != nil {
			t.Fatal(err)
		}
		env := &fakeEnv{keep: true, bounded: true, stores: map[string]store.Bytes{"prices-store": kv}}
		task, err := top.Graph().BuildTask(0, env)
		if err != nil {
			t.Fatal(err)
		}
		enc := func(n int64) []byte { b, _ := serde.Int64().AppendEncode(nil, n); return b }
		for _, r := range []struct {
			key   string
			value []byte
		}{{"pear", enc(150)}, {"apple", enc(50)}, {"fig", enc(10)}, {"apple", enc(70)}, {"pear", enc(90)}, {"fig", nil}, {"kiwi", enc(500)}} {
			if err := task.Handlers["prices"](&kgo.Record{Key: []byte(r.key), Value: r.value, Timestamp: time.UnixMilli(1)}); err != nil {
				t.Fatal(err)
			}
		}
		sent := func() string {
			var got []string
			for _, r := range env.sent {
				got = append(got, string(r.Key)+"="+string(r.Value))
			}
			return strings.Join(got, " ")
		}
		wantUpdates := "apple=$50 fig=$10 apple=$70 pear=$90"
		if got := sent(); updates && got != wantUpdates || !updates && got != "" {
			t.Errorf("updates %v: before the end, sent %q", updates, got)
		}
		if err := task.EndOfInput(); err != nil {
			t.Fatal(err)
		}
		want := "apple=$70 pear=$90" // the store's key order
		if updates {
			want = wantUpdates
		}
		if got := sent(); got != want {
			t.Errorf("updates %v: sent %q, want %q", updates, got, want)
		}
	}
}
