package eddy_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// versionedTable is a versioned table by its definition, for the references: every
// update kept; the value as of t is the update with the greatest time ≤ t (the later on
// a tie), nothing before the table's time (its highest update time) less the retention;
// an update older than that is dropped.
type versionedTable struct {
	retention int64
	observed  int64
	updates   map[string][]*kgo.Record
}

func newVersionedTable(retention time.Duration) *versionedTable {
	return &versionedTable{retention: retention.Milliseconds(), observed: math.MinInt64, updates: map[string][]*kgo.Record{}}
}

func (v *versionedTable) put(r *kgo.Record) {
	ts := r.Timestamp.UnixMilli()
	if v.observed != math.MinInt64 && ts < v.observed-v.retention {
		return
	}
	v.observed = max(v.observed, ts)
	v.updates[string(r.Key)] = append(v.updates[string(r.Key)], r)
}

func (v *versionedTable) at(key string, t time.Time) (string, bool) {
	ts := t.UnixMilli()
	if v.observed == math.MinInt64 || ts < v.observed-v.retention {
		return "", false
	}
	var best *kgo.Record
	for _, u := range v.updates[key] {
		if u.Timestamp.UnixMilli() <= ts && (best == nil || !u.Timestamp.Before(best.Timestamp)) {
			best = u
		}
	}
	if best == nil || best.Value == nil {
		return "", false
	}
	return string(best.Value), true
}

// versionedJoinReference is joinReference against a versioned table: the merge of each
// partition's table and stream in time order, and each stream record joined with the
// version valid at its time. With grace > 0 a stream record waits until the watermark
// (the highest stream time so far less 1 ms) reaches its time plus grace, unless it is
// that late when it comes; records still waiting at the end give nothing.
func versionedJoinReference(in []joinInput, left bool, retention, grace time.Duration) []string {
	var out []string
	for _, p := range in {
		table := newVersionedTable(retention)
		join := func(s *kgo.Record) {
			v, ok := table.at(string(s.Key), s.Timestamp)
			switch {
			case ok:
				out = append(out, fmt.Sprintf("%s=%s|%s", s.Key, s.Value, v))
			case left:
				out = append(out, fmt.Sprintf("%s=%s|-", s.Key, s.Value))
			}
		}
		var waiting []*kgo.Record // in time order, arrival order on a tie
		wm, hasWM := int64(0), false
		i := 0
		for _, s := range p.Stream {
			for i < len(p.Table) && !p.Table[i].Timestamp.After(s.Timestamp) {
				table.put(p.Table[i])
				i++
			}
			ts := s.Timestamp.UnixMilli()
			switch {
			case grace == 0:
				join(s)
			case hasWM && ts+grace.Milliseconds() <= wm:
				join(s)
			default:
				at, _ := slices.BinarySearchFunc(waiting, ts, func(r *kgo.Record, t int64) int {
					if r.Timestamp.UnixMilli() <= t {
						return -1
					}
					return 1
				})
				waiting = slices.Insert(waiting, at, s)
			}
			if !hasWM || ts-1 > wm {
				wm, hasWM = ts-1, true
			}
			for len(waiting) > 0 && waiting[0].Timestamp.UnixMilli()+grace.Milliseconds() <= wm {
				join(waiting[0])
				waiting = waiting[1:]
			}
		}
	}
	slices.Sort(out)
	return out
}

// runJoin runs top over in on the embedded broker until it has caught up, and returns the
// outputs as "key=value", sorted.
func runJoin(t *testing.T, top *topology.Topology, in []joinInput, opts ...eddy.Opt) []string {
	t.Helper()
	brokers := startEmbedded(t, map[string]int32{"orders": 2, "customers": 2, "out": 1})
	var all []*kgo.Record
	for _, p := range in {
		all = append(append(all, p.Table...), p.Stream...)
	}
	producePartitioned(t, brokers, all...)
	app, err := eddy.New(top, append([]eddy.Opt{eddy.ApplicationID("vjoin"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50 * time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "vjoin", runApp(t, app), "orders", "customers")
	return keyValues(readAll(t, brokers, "out"))
}

// producePartitioned writes the records to the partitions they name, in one batch.
func producePartitioned(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// versionedJoin is orders joined (inner or left) with a versioned customers table, to
// "out" as "order|customer"; joinOpts go to the join.
func versionedJoin(left bool, retention time.Duration, derived bool, joinOpts ...topology.Option) *topology.Topology {
	top := topology.New()
	orders := topology.From(top, "orders", serde.String(), serde.String())
	customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers", topology.Versioned(retention))
	if derived {
		customers = topology.MapTableValues(customers.Filter(func(string, string) bool { return true }), func(v string) string { return v })
	}
	var joined topology.Stream[string, string]
	if left {
		joined = topology.LeftJoinTable(orders, customers, serde.String(), serde.String(), func(_ string, o, c string, found bool) string {
			if !found {
				c = "-"
			}
			return o + "|" + c
		}, joinOpts...)
	} else {
		joined = topology.JoinTable(orders, customers, serde.String(), serde.String(), func(_ string, o, c string) string { return o + "|" + c },
			joinOpts...)
	}
	topology.To(joined, "out", serde.String(), serde.String())
	return top
}

// Stream-table joins with a versioned table against the reference on random out-of-order
// input with duplicate times and deletions: each stream record meets the version valid at
// its time, within the history retention (a long one, and one short enough that lookups
// and updates fall out of it), inner and left, on the table and on one derived from it,
// and with a grace period.
func TestVersionedJoinMatchesReference(t *testing.T) {
	for _, c := range []struct {
		name      string
		left      bool
		derived   bool
		retention time.Duration
		grace     time.Duration
	}{
		{"inner", false, false, time.Hour, 0},
		{"left", true, false, time.Hour, 0},
		{"left, short retention", true, false, 5 * time.Millisecond, 0},
		{"left, derived table", true, true, time.Hour, 0},
		{"left, grace", true, false, time.Hour, 50 * time.Millisecond},
		{"inner, grace, short retention", false, false, 50 * time.Millisecond, 50 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := randomJoinInput(rand.New(rand.NewPCG(11, uint64(len(c.name)))), 600)
			var opts []topology.Option
			if c.grace > 0 {
				opts = append(opts, topology.Grace(c.grace))
			}
			got := runJoin(t, versionedJoin(c.left, c.retention, c.derived, opts...), in)
			want := versionedJoinReference(in, c.left, c.retention, c.grace)
			t.Logf("%d outputs", len(got))
			if !slices.Equal(got, want) {
				t.Errorf("%d outputs, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
			}
			if c.grace == 0 && !c.derived && slices.Equal(joinReference(in, c.left), want) {
				t.Error("the input does not tell lookups by time from lookups of the latest value")
			}
			if c.retention < time.Second && slices.Equal(versionedJoinReference(in, c.left, time.Hour, c.grace), want) {
				t.Error("the input does not reach past the short history retention")
			}
		})
	}
}

// Out-of-order orders join the version valid at their time; one older than the table's
// first version finds nothing; the table's out-of-order update is kept for lookups but
// not passed downstream (KIP-914); an update older than the history keeps is dropped and
// counted; a lookup older than it finds nothing.
func TestVersionedJoinOutOfOrder(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 1, "customers": 1, "out": 1, "changes": 1})
	producePartitioned(t, brokers,
		rec("customers", "c", "v1", 1000), rec("customers", "c", "v3", 3000), rec("customers", "c", "v2", 2000),
		rec("customers", "c", "v5", 5000), rec("customers", "c", "v-old", 3400), // before the horizon, 5000 − 1500: dropped
	)
	producePartitioned(t, brokers,
		rec("orders", "c", "o6", 6000), rec("orders", "c", "o2500", 2500), rec("orders", "c", "o1500", 1500),
		rec("orders", "c", "o4000", 4000), rec("orders", "c", "o3600", 3600), rec("orders", "c", "o500", 500))
	top := topology.New()
	customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers", topology.Versioned(1500*time.Millisecond))
	topology.To(customers.ToStream(), "changes", serde.String(), serde.String())
	topology.To(topology.LeftJoinTable(topology.From(top, "orders", serde.String(), serde.String()), customers, serde.String(), serde.String(),
		func(_, o, c string, found bool) string {
			if !found {
				c = "-"
			}
			return o + "|" + c
		}), "out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("ooo"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "ooo", runApp(t, app), "orders", "customers")
	// Every table update is older than the first order (6000), so all five are applied
	// first: the table's time is 5000 and lookups reach back to 3500.
	want := []string{"c=o1500|-", "c=o2500|-", "c=o3600|v3", "c=o4000|v3", "c=o500|-", "c=o6|v5"}
	if got := keyValues(readAll(t, brokers, "out")); !slices.Equal(got, want) {
		t.Errorf("joined %v, want %v", got, want)
	}
	if got, want := keyValues(readAll(t, brokers, "changes")), []string{"c=v1", "c=v3", "c=v5"}; !slices.Equal(got, want) {
		t.Errorf("the table passed on %v, want %v (not the out-of-order v2, nor the dropped v-old)", got, want)
	}
	if n := app.LateRecords("customers"); n != 1 {
		t.Errorf("LateRecords(customers) = %d, want 1 (v-old)", n)
	}
}

// With all history kept, the same orders find every version: an out-of-order order
// meets the version of its time, not the latest.
func TestVersionedJoinFindsOlderVersions(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 1, "customers": 1, "out": 1})
	producePartitioned(t, brokers, rec("customers", "c", "v1", 1000), rec("customers", "c", "v3", 3000), rec("customers", "c", "v2", 2000),
		rec("customers", "c", "", 4000))
	del := &kgo.Record{Topic: "customers", Key: []byte("d"), Timestamp: time.UnixMilli(1200)} // a deletion of a key never set
	producePartitioned(t, brokers, del, rec("customers", "d", "d0", 1100))
	producePartitioned(t, brokers, rec("orders", "c", "o6", 6000), rec("orders", "c", "o2500", 2500), rec("orders", "c", "o1500", 1500),
		rec("orders", "c", "o3999", 3999), rec("orders", "d", "od1150", 1150), rec("orders", "d", "od1300", 1300))
	got := func() []string {
		app, err := eddy.New(versionedJoin(true, time.Hour, false), eddy.ApplicationID("older"), eddy.Brokers(brokers...),
			eddy.StateDir(t.TempDir()), eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		stopCaughtUp(t, brokers, "older", runApp(t, app), "orders", "customers")
		return keyValues(readAll(t, brokers, "out"))
	}()
	// "" at 4000 is a value (String's empty string), not a deletion; d is deleted at 1200,
	// and the older d0 (1100) holds only until then.
	want := []string{"c=o1500|v1", "c=o2500|v2", "c=o3999|v3", "c=o6|", "d=od1150|d0", "d=od1300|-"}
	if !slices.Equal(got, want) {
		t.Errorf("joined %v, want %v", got, want)
	}
}

// Grace: a running join holds an order until the watermark passes its time plus the
// grace, so the customer's update, sent after the order with an earlier time, still
// counts; without Grace the order goes out at once without it. Under exactly-once the
// buffer survives a crash on fresh state (restored from its changelog). In the test
// driver: a restart is a new driver from the old one's snapshot.
func TestVersionedJoinGrace(t *testing.T) {
	for _, c := range []struct {
		name  string
		grace time.Duration
		eos   bool
		want  []string
	}{
		{"grace", 2 * time.Second, false, []string{"c1=o1|v1"}},
		{"grace, exactly-once, restarted", 2 * time.Second, true, []string{"c1=o1|v1", "c3=o3|-"}},
		{"no grace", 0, false, []string{"c1=o1|-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var joinOpts []topology.Option
			if c.grace > 0 {
				joinOpts = append(joinOpts, topology.Grace(c.grace))
			}
			top := versionedJoin(true, time.Hour, false, joinOpts...)
			opts := []eddy.Opt{eddy.MaxTaskIdle(time.Second)}
			if c.eos {
				opts = append(opts, eddy.ExactlyOnce())
			}
			d := eddytest.New(t, top, eddytest.With(opts...))
			send := func(d *eddytest.Driver, topic, key, value string, ms int64) {
				t.Helper()
				must(t, eddytest.Input(d, topic, serde.String(), serde.String()).Send(key, value, eddytest.At(time.UnixMilli(ms))))
			}
			// read lists everything written to "out" so far (a restarted driver's topics
			// hold its predecessor's output too).
			read := func(d *eddytest.Driver) []string {
				var got []string
				for _, kv := range eddytest.Output(d, "out", serde.String(), serde.String()).ReadKeyValues() {
					got = append(got, kv.Key+"="+kv.Value)
				}
				slices.Sort(got)
				return got
			}
			send(d, "orders", "c1", "o1", 5000)
			if c.grace == 0 {
				must(t, d.AdvanceTime(time.Second)) // its wait for the table (MaxTaskIdle)
				if got := read(d); !slices.Equal(got, []string{"c1=o1|-"}) {
					t.Fatalf("without grace the order went out as %v", got)
				}
			}
			if c.eos {
				// The order waits in the buffer; a commit and a crash later, a new
				// instance with no local state restores it from the changelog.
				must(t, d.Commit())
				if got := read(d); len(got) != 0 {
					t.Fatalf("output %v before the grace period passed", got)
				}
				d = eddytest.New(t, top, eddytest.With(opts...), eddytest.FromSnapshot(d.Snapshot()))
				// Another order at the same time: buffered after the restored one, not over it.
				send(d, "orders", "c3", "o3", 5000)
			}
			// The update, then an order at 8000, which moves the watermark to 7999, past
			// 5000 + 2 s: the first order goes out; the second waits for its own grace.
			send(d, "customers", "c1", "v1", 4000)
			send(d, "orders", "c2", "o2", 8000)
			must(t, d.AdvanceTime(time.Second)) // the orders' wait for the table (MaxTaskIdle)
			must(t, d.Commit())
			want := c.want
			if c.grace == 0 {
				want = append(slices.Clone(want), "c2=o2|-")
			}
			if got := read(d); !slices.Equal(got, want) {
				t.Errorf("outputs %v, want %v", got, want)
			}
		})
	}
}

// Grace needs a versioned table and no more grace than its history; Versioned and Grace
// apply where they mean something.
func TestVersionedOptionsAreChecked(t *testing.T) {
	join := func(table func(*topology.Topology) topology.Table[string, string], opts ...topology.Option) error {
		top := topology.New()
		topology.To(topology.JoinTable(topology.From(top, "orders", serde.String(), serde.String()), table(top), serde.String(), serde.String(),
			func(_, o, c string) string { return o + c }, opts...), "out", serde.String(), serde.String())
		_, err := eddy.New(top, eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"))
		return err
	}
	plain := func(top *topology.Topology) topology.Table[string, string] {
		return topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers")
	}
	versioned := func(top *topology.Topology) topology.Table[string, string] {
		return topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers", topology.Versioned(time.Minute))
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"grace on a plain table", join(plain, topology.Grace(time.Second)), "Grace needs a versioned table"},
		{"grace beyond the history", join(versioned, topology.Grace(2*time.Minute)), "longer than the table's history retention"},
		{"negative grace", join(versioned, topology.Grace(-time.Second)), "must not be negative"},
		{"no history", join(func(top *topology.Topology) topology.Table[string, string] {
			return topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers", topology.Versioned(0))
		}), "at least 1 ms"},
		{"versioned on an aggregation", func() error {
			top := topology.New()
			g := topology.GroupByKey(topology.From(top, "in", serde.String(), serde.String()), serde.String(), serde.String())
			topology.To(topology.Count(g, "n", topology.Versioned(time.Minute)).ToStream(), "out", serde.String(), serde.Int64())
			_, err := eddy.New(top, eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"))
			return err
		}(), "option Versioned does not apply to Count"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, c.err, c.want)
		}
	}
	if err := join(versioned, topology.Grace(time.Minute)); err != nil {
		t.Errorf("grace equal to the history: %v", err)
	}
	if err := join(versioned); err != nil {
		t.Errorf("a versioned join without grace: %v", err)
	}
	// The grace buffer is the join's second store, with its own changelog.
	d, err := versionedJoin(true, time.Hour, false, topology.Grace(time.Second), topology.Named("enrich")).Describe()
	if err != nil || !strings.Contains(d, "Processor: enrich (stores: [customers, enrich-buffer])") {
		t.Errorf("Describe = %v:\n%s", err, d)
	}
}

// A versioned table restored from its changelog on a new instance keeps its time: an
// update older than the history it keeps is dropped (counted as late) there too, and an
// order meets the version the first instance stored.
func TestVersionedTableAfterRestore(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 1, "customers": 1, "out": 1})
	top := versionedJoin(true, time.Second, false)
	run := func() *eddy.App {
		app, err := eddy.New(top, eddy.ApplicationID("restore"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
			eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		stopCaughtUp(t, brokers, "restore", runApp(t, app), "orders", "customers")
		return app
	}
	producePartitioned(t, brokers, rec("customers", "c", "v1", 1000), rec("customers", "c", "v5", 5000))
	run()
	// On fresh local state: the table's time, 5000, comes back with the store, so v2 at
	// 2000 is older than the history (from 4000) keeps, and the order at 4500 meets v1.
	producePartitioned(t, brokers, rec("customers", "c", "v2", 2000), rec("orders", "c", "o", 4500))
	app := run()
	if got, want := keyValues(readAll(t, brokers, "out")), []string{"c=o|v1"}; !slices.Equal(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
	if n := app.LateRecords("customers"); n != 1 {
		t.Errorf("LateRecords(customers) = %d after the restore, want 1", n)
	}
}
