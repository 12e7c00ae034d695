package eddy_test

import (
	"errors"
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
	stop := runApp(t, app)
	recs := consume(t, brokers, "counts", updates, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
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
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState())
	if err != nil {
		t.Fatal(err)
	}
	enc := func(n int64) []byte { b, _ := serde.Int64().AppendEncode(nil, n); return b }
	produceRaw(t, brokers, "prices",
		rawRecord{"apple", enc(50)}, rawRecord{"pear", enc(150)}, rawRecord{"apple", enc(70)},
		rawRecord{"pear", enc(90)}, rawRecord{"apple", nil}, rawRecord{"fig", enc(10)})
	stop := runApp(t, app)
	recs := consume(t, brokers, "cheap", 4, 20*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
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
	produce(t, brokers, "events", [2]string{"bob", "1"}, [2]string{"amy", "2"}, [2]string{"bob", "3"}, [2]string{"cid", "4"})
	stop := runApp(t, app)
	recs := consume(t, brokers, "seen", 3, 20*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Key)+":"+string(r.Value))
	}
	want := "bob:first bob amy:first amy,bob cid:first amy,bob,cid"
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
