package eddy_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

func wordCount(in, out string) *topology.Topology {
	t := topology.New()
	lines := topology.From(t, in, serde.String(), serde.String())
	words := topology.FlatMapValues(lines, func(v string) []string { return strings.Fields(strings.ToLower(v)) })
	grouped := topology.GroupBy(words, func(_, w string) string { return w }, serde.String(), serde.String(), topology.Named("words"))
	counts := topology.Count(grouped, "word-counts")
	topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
	return t
}

// Word count on the embedded broker: the final count of each word is exact, and each
// input word produced one update.
func TestWordCountEmbedded(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"lines": 2, "counts": 2})
	corpus := []string{"the quick brown fox", "jumps over the lazy dog", "The dog barks", "the end"}
	var input [][2]string
	want := map[string]int64{}
	updates := 0
	for i, line := range corpus {
		input = append(input, [2]string{strconv.Itoa(i), line})
		for _, w := range strings.Fields(strings.ToLower(line)) {
			want[w]++
			updates++
		}
	}
	produce(t, brokers, "lines", input...)
	app, err := eddy.New(wordCount("lines", "counts"), eddy.ApplicationID("wc"), eddy.Brokers(brokers...),
		eddy.StateDir(t.TempDir()), eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "wc", runApp(t, app), "lines")
	recs := readAll(t, brokers, "counts")
	if len(recs) != updates {
		t.Errorf("%d count updates, want one for each of the %d input words", len(recs), updates)
	}
	got := map[string]int64{}
	for _, r := range recs {
		n, err := serde.Int64().Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if n > got[string(r.Key)] {
			got[string(r.Key)] = n
		}
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("count(%q) = %d, want %d", w, got[w], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d words counted, want %d", len(got), len(want))
	}
}

// A table read from a topic keeps the latest value per key; a null value deletes the key;
// Filter turns failing updates into deletions; ToStream leaves deletions out.
func TestTableFromTopic(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"prices": 1, "cheap": 1})
	top := topology.New()
	prices := topology.TableFrom(top, "prices", serde.String(), serde.Int64(), "prices-store")
	cheap := prices.Filter(func(_ string, p int64) bool { return p < 100 })
	labelled := topology.MapTableValues(cheap, func(p int64) string { return "$" + strconv.FormatInt(p, 10) })
	topology.To(labelled.ToStream(), "cheap", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("tables"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	enc := func(n int64) []byte { b, _ := serde.Int64().AppendEncode(nil, n); return b }
	produceRaw(t, brokers, "prices",
		rawRecord{"apple", enc(50)}, rawRecord{"pear", enc(150)}, rawRecord{"apple", enc(70)},
		rawRecord{"pear", enc(90)}, rawRecord{"apple", nil}, rawRecord{"fig", enc(10)})
	stopCaughtUp(t, brokers, "tables", runApp(t, app), "prices")
	var got []string
	for _, r := range readAll(t, brokers, "cheap") {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	if want := "apple=$50 apple=$70 pear=$90 fig=$10"; strings.Join(got, " ") != want {
		t.Errorf("cheap = %q, want %q", strings.Join(got, " "), want)
	}
}

type rawRecord struct {
	key   string
	value []byte
}

func produceRaw(t *testing.T, brokers []string, topic string, recs ...rawRecord) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, r := range recs {
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Key: []byte(r.key), Value: r.value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// A processor reaches a declared store by name, typed, reads its own writes before the
// commit, and iterates in key order; a store it did not name is refused.
func TestProcessorStoreAccess(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"events": 1, "seen": 1})
	top := topology.New()
	seen := topology.NewKeyValueStore(top, "seen-users", serde.String(), serde.Int64())
	topology.NewKeyValueStore(top, "unnamed", serde.String(), serde.String())
	out := topology.Process(topology.From(top, "events", serde.String(), serde.String()), "dedupe",
		func() processor.Processor[string, string, string, string] { return &deduper{store: seen} },
		topology.Stores("seen-users"))
	topology.To(out, "seen", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("procstore"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(time.Hour), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	// The commit interval is an hour, so no committed offset says the input was processed:
	// the last record is an end marker, whose output comes after every other's.
	produce(t, brokers, "events", [2]string{"bob", "1"}, [2]string{"amy", "2"}, [2]string{"bob", "3"}, [2]string{"cid", "4"},
		[2]string{"zed", "end"})
	stop := runApp(t, app)
	consumeUntil(t, brokers, "seen", 20*time.Second, func(r *kgo.Record) bool { return string(r.Key) == "zed" })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range readAll(t, brokers, "seen") {
		got = append(got, string(r.Key)+":"+string(r.Value))
	}
	want := "bob:first bob amy:first amy,bob cid:first amy,bob,cid zed:first amy,bob,cid,zed"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", strings.Join(got, " "), want)
	}
}

// deduper forwards the first record of each user, with the users seen so far in order.
type deduper struct {
	ctx   processor.Context[string, string]
	store *topology.KeyValueStore[string, int64]
	kv    store.KeyValue[string, int64]
}

func (d *deduper) Init(ctx processor.Context[string, string]) error {
	d.ctx = ctx
	if _, err := ctx.Store("unnamed"); err == nil {
		return errors.New("opened a store the processor did not name")
	}
	kv, err := d.store.Open(ctx)
	d.kv = kv
	return err
}

func (d *deduper) Close() error { return nil }

func (d *deduper) Process(r processor.Record[string, string]) error {
	if _, found, err := d.kv.Get(r.Key); err != nil || found {
		return err
	}
	if err := d.kv.Put(r.Key, 1); err != nil {
		return err
	}
	it, err := d.kv.Range(nil, nil)
	if err != nil {
		return err
	}
	defer it.Close()
	var users []string
	for it.Next() {
		users = append(users, it.Key())
	}
	if err := it.Err(); err != nil {
		return err
	}
	r.Value = "first " + strings.Join(users, ",")
	return d.ctx.Forward(r)
}

// Reduce keeps a key's first value and folds the rest; Aggregate starts from init; a
// processor downstream in the same sub-topology reads the aggregate's store, typed.
func TestReduceAggregateAndStoreLookup(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"nums": 2, "max": 2, "stats": 2, "peek": 2})
	top := topology.New()
	nums := topology.MapValues(topology.From(top, "nums", serde.String(), serde.String()),
		func(v string) int64 { n, _ := strconv.ParseInt(v, 10, 64); return n })
	grouped := topology.GroupByKey(nums, serde.String(), serde.Int64())
	maxes := topology.Reduce(grouped, func(a, b int64) int64 { return max(a, b) }, "max-store")
	topology.To(maxes.ToStream(), "max", serde.String(), serde.Int64())
	stats := topology.Aggregate(grouped, func() string { return "n" },
		func(_ string, v int64, agg string) string { return agg + "+" + strconv.FormatInt(v, 10) },
		serde.String(), "stats-store")
	topology.To(stats.ToStream(), "stats", serde.String(), serde.String())
	peeked := topology.Process(maxes.ToStream(), "peek-stats", func() processor.Processor[string, int64, string, string] {
		return &statsPeeker{store: stats.Store()}
	}, topology.Stores("stats-store"))
	topology.To(peeked, "peek", serde.String(), serde.String())

	app, err := eddy.New(top, eddy.ApplicationID("reduce"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState())
	if err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, "nums", [2]string{"a", "3"}, [2]string{"a", "7"}, [2]string{"a", "5"}, [2]string{"b", "-2"})
	stopCaughtUp(t, brokers, "reduce", runApp(t, app), "nums")
	maxOut, statsOut, peekOut := readAll(t, brokers, "max"), readAll(t, brokers, "stats"), readAll(t, brokers, "peek")
	lastOf := func(recs []*kgo.Record, dec func([]byte) string) map[string][]string {
		m := map[string][]string{}
		for _, r := range recs {
			m[string(r.Key)] = append(m[string(r.Key)], dec(r.Value))
		}
		return m
	}
	i64 := func(b []byte) string { n, _ := serde.Int64().Decode(b); return strconv.FormatInt(n, 10) }
	str := func(b []byte) string { return string(b) }
	if got := lastOf(maxOut, i64); strings.Join(got["a"], ",") != "3,7,7" || strings.Join(got["b"], ",") != "-2" {
		t.Errorf("max updates = %v", got)
	}
	if got := lastOf(statsOut, str); strings.Join(got["a"], ",") != "n+3,n+3+7,n+3+7+5" || strings.Join(got["b"], ",") != "n+-2" {
		t.Errorf("stats updates = %v", got)
	}
	// Depth first: the peeker hangs off the reduce, which runs before the aggregate of
	// the same record, so it sees the aggregate of the records before.
	if got := lastOf(peekOut, str); strings.Join(got["a"], ",") != "3:,7:n+3,7:n+3+7" || strings.Join(got["b"], ",") != "-2:" {
		t.Errorf("peek = %v", got)
	}
}

type statsPeeker struct {
	ctx   processor.Context[string, string]
	store *topology.KeyValueStore[string, string]
	kv    store.KeyValue[string, string]
}

func (p *statsPeeker) Init(ctx processor.Context[string, string]) (err error) {
	p.ctx = ctx
	p.kv, err = p.store.Open(ctx)
	return err
}
func (p *statsPeeker) Close() error { return nil }
func (p *statsPeeker) Process(r processor.Record[string, int64]) error {
	s, _, err := p.kv.Get(r.Key)
	if err != nil {
		return err
	}
	return p.ctx.Forward(processor.WithValue(r, strconv.FormatInt(r.Value, 10)+":"+s))
}

// The word count under exactly-once on the embedded broker: read_committed readers see
// exact counts.
func TestWordCountExactlyOnceEmbedded(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"lines": 2, "counts": 2})
	produce(t, brokers, "lines", [2]string{"1", "a b a"}, [2]string{"2", "b a c"})
	app, err := eddy.New(wordCount("lines", "counts"), eddy.ApplicationID("wc-eos"), eddy.Brokers(brokers...),
		eddy.StateDir(t.TempDir()), eddy.ExactlyOnce(), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "wc-eos", runApp(t, app), "lines")
	got := map[string][]int64{}
	for _, r := range readAll(t, brokers, "counts") {
		n, _ := serde.Int64().Decode(r.Value)
		got[string(r.Key)] = append(got[string(r.Key)], n)
	}
	if fmt.Sprint(got) != "map[a:[1 2 3] b:[1 2] c:[1]]" {
		t.Errorf("count updates %v, want a: 1 2 3, b: 1 2, c: 1", got)
	}
}

// Rebalance spreads one key's records over every partition, so a count after it must
// repartition by key again: each key is counted by one task, and its updates are 1, 2, …,
// n exactly once each (counted by four tasks, every small number would come four times).
func TestRebalanceThenCountCountsEachKeyOnce(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 2, "counts": 1})
	keys := []string{"hot", "warm", "cold"}
	const perKey = 40
	var input [][2]string
	for i := range perKey * len(keys) {
		input = append(input, [2]string{keys[i%len(keys)], strconv.Itoa(i)})
	}
	produce(t, brokers, "in", input...)
	top := topology.New()
	spread := topology.Rebalance(topology.From(top, "in", serde.String(), serde.String()), serde.String(), serde.String(),
		topology.Named("spread"), topology.Partitions(4))
	counts := topology.Count(topology.GroupByKey(spread, serde.String(), serde.String(), topology.Named("by-key")), "counts")
	topology.To(counts.ToStream(), "counts", serde.String(), serde.Int64())
	app, err := eddy.New(top, eddy.ApplicationID("rr-count"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "rr-count", runApp(t, app), "in")
	updates := map[string][]int64{}
	for _, r := range readAll(t, brokers, "counts") { // to the end: an update twice would show
		n, err := serde.Int64().Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		updates[string(r.Key)] = append(updates[string(r.Key)], n)
	}
	for _, k := range keys {
		got := updates[k]
		slices.Sort(got)
		want := make([]int64, perKey)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if !slices.Equal(got, want) {
			t.Errorf("updates of %q = %v, want 1…%d once each", k, got, perKey)
		}
	}
}
