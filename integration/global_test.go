package integration

import (
	"context"
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
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// globalCase is an orders stream enriched from a products global table on the real
// broker: orders "o…" → "<product id>"; each output is "<instance>|<order>|<name>", or
// "…|MISSING" when the instance's copy of the table lacks the product.
type globalCase struct {
	orders, products, out string
	appID                 string
}

func newGlobalCase(t *testing.T, productPartitions int32, policy string) *globalCase {
	adm := kafkatest.Admin(t)
	c := &globalCase{orders: kafkatest.Topic(t, "orders"), products: kafkatest.Topic(t, "products"),
		out: kafkatest.Topic(t, "enriched"), appID: kafkatest.Topic(t, "app")}
	kafkatest.CreateTopic(t, adm, c.orders, 4, nil)
	// A global table's topic is compacted, as a table's is (or compact,delete: the
	// broker refuses DeleteRecords on a topic compacted only); its partition count is no
	// concern of the orders'.
	kafkatest.CreateTopic(t, adm, c.products, productPartitions, map[string]*string{"cleanup.policy": kadm.StringPtr(policy)})
	kafkatest.CreateTopic(t, adm, c.out, 2, nil)
	return c
}

func (c *globalCase) topology(instance string) *topology.Topology {
	top := topology.New()
	products := topology.GlobalTableFrom(top, c.products, serde.String(), serde.String(), "products")
	enriched := topology.LeftJoinGlobal(topology.From(top, c.orders, serde.String(), serde.String()), products,
		func(_, product string) string { return product },
		func(order, _, name string, found bool) string {
			if !found {
				name = "MISSING"
			}
			return instance + "|" + order + "|" + name
		}, topology.Named("enrich"))
	topology.To(enriched, c.out, serde.String(), serde.String())
	return top
}

// products writes the products p<from>… with names "<version>-<i>" padded to 200 bytes,
// so that the table takes the restore some work.
func (c *globalCase) productsAt(t *testing.T, version string, from, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		name := fmt.Sprintf("%s-%d-", version, i)
		recs = append(recs, &kgo.Record{Topic: c.products, Key: fmt.Appendf(nil, "p%d", i),
			Value: []byte(name + strings.Repeat("x", 200-len(name)))})
	}
	produceAll(t, recs)
}

// ordersFor writes one order per product id, spread over the orders' partitions by key.
func (c *globalCase) ordersFor(t *testing.T, prefix string, products []string) {
	t.Helper()
	var recs []*kgo.Record
	for i, p := range products {
		recs = append(recs, &kgo.Record{Topic: c.orders, Key: fmt.Appendf(nil, "%s%d", prefix, i), Value: []byte(p)})
	}
	produceAll(t, recs)
}

// enrichment is one output: who wrote it, for which order, with what.
type enrichment struct{ instance, order, name string }

// outputs reads the output topic as it grows (read_committed: under exactly-once only
// what committed).
type outputs struct {
	t   *testing.T
	cl  *kgo.Client
	got []enrichment
}

func (c *globalCase) outputs(t *testing.T) *outputs {
	return &outputs{t: t, cl: kafkatest.Client(t, kgo.ConsumeTopics(c.out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))}
}

// until reads until done holds, for at most timeout.
func (o *outputs) until(what string, timeout time.Duration, done func([]enrichment) bool) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !done(o.got) {
		fs := o.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			o.t.Fatalf("%s: not there after %s (%d outputs read)", what, timeout, len(o.got))
		}
		fs.EachRecord(func(r *kgo.Record) {
			parts := strings.SplitN(string(r.Value), "|", 3)
			if len(parts) != 3 || parts[1] != string(r.Key) {
				o.t.Fatalf("output %s=%s is not <instance>|<order>|<name>", r.Key, r.Value)
			}
			o.got = append(o.got, enrichment{parts[0], parts[1], parts[2]})
		})
	}
}

// count is how many outputs have an order id starting with prefix.
func count(got []enrichment, prefix string) int {
	n := 0
	for _, e := range got {
		if strings.HasPrefix(e.order, prefix) {
			n++
		}
	}
	return n
}

// Stream-global-table joins, inner and left, on the real broker against the reference
// model, with eddy's defaults, under both guarantees: a compacted products topic of three
// partitions with updates and deletions, written before the start, and orders over two
// partitions at out-of-order times with ties; the exact multiset of each join's outputs.
func TestGlobalTableJoinsMatchReferenceOnTheBroker(t *testing.T) {
	for i, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			orders, products := kafkatest.Topic(t, "orders"), kafkatest.Topic(t, "products")
			inner, left := kafkatest.Topic(t, "inner"), kafkatest.Topic(t, "left")
			kafkatest.CreateTopic(t, adm, orders, 2, nil)
			kafkatest.CreateTopic(t, adm, products, 3, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
			kafkatest.CreateTopic(t, adm, inner, 1, nil)
			kafkatest.CreateTopic(t, adm, left, 1, nil)
			in := joinref.RandomGlobal(rand.New(rand.NewPCG(41, uint64(i))), 900, orders, 2, products, 3)
			cl := kafkatest.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err := cl.ProduceSync(t.Context(), append(slices.Clone(in.Table), in.Stream...)...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			run := start(t, newDefaultApp(t, joinref.GlobalTopology(orders, products, inner, left), appID, opts...))
			run.stopCaughtUp(t, appID, orders)
			for topic, isLeft := range map[string]bool{inner: false, left: true} {
				checkKeyValues(t, topic, joinref.StreamGlobal(in, isLeft))
			}
		})
	}
}

// Two instances of one application on the real broker, under both guarantees with eddy's
// defaults. The products table is filled before either starts. Instance a starts and
// enriches orders; instance b starts while a runs, restores the whole table before it
// processes anything — every order b enriches finds its product, with the pre-filled
// name — and takes tasks from a. Then products change: once both instances have seen
// markers written after the changes, every order of either shows the new names.
func TestGlobalTableTwoInstances(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			const nProducts = 6000
			c := newGlobalCase(t, 3, "compact")
			c.productsAt(t, "v1", 0, nProducts)
			opts := guaranteeOpts(guarantee)
			products := func(from, n, step int) []string {
				var ps []string
				for i := from; len(ps) < n; i += step {
					ps = append(ps, fmt.Sprintf("p%d", i%nProducts))
				}
				return ps
			}
			out := c.outputs(t)
			a := start(t, newDefaultApp(t, c.topology("a"), c.appID, opts...))
			c.ordersFor(t, "first-", products(7, 300, 19))
			out.until("a's first orders", 90*time.Second, func(got []enrichment) bool { return count(got, "first-") >= 300 })

			var mu sync.Mutex
			var bRestored int64
			b := start(t, newDefaultApp(t, c.topology("b"), c.appID, append(opts, eddy.OnRestore(func(ri eddy.RestoreInfo) {
				if ri.Global {
					mu.Lock()
					bRestored += ri.Restored
					mu.Unlock()
				}
			}))...))
			waitMembersWithPartitions(t, c.appID, 2, 90*time.Second)
			mu.Lock()
			if bRestored != nProducts {
				t.Errorf("b restored %d products before it joined the group, want %d", bRestored, nProducts)
			}
			mu.Unlock()
			c.ordersFor(t, "second-", products(3, 600, 11))
			out.until("the second orders", 90*time.Second, func(got []enrichment) bool { return count(got, "second-") >= 600 })
			byInstance := map[string]int{}
			for _, e := range out.got {
				byInstance[e.instance]++
				if e.name == "MISSING" || !strings.HasPrefix(e.name, "v1-") {
					t.Errorf("%s enriched order %s with %q, want a pre-filled name", e.instance, e.order, e.name)
				}
			}
			if byInstance["b"] == 0 {
				t.Fatalf("b enriched no order (outputs per instance: %v)", byInstance)
			}

			// New names for p0…p999, then a marker product in each partition after them:
			// an instance that finds all markers has applied every change.
			c.productsAt(t, "v2", 0, 1000)
			var markers []*kgo.Record
			for p := range int32(3) {
				markers = append(markers, &kgo.Record{Topic: c.products, Partition: p, Key: fmt.Appendf(nil, "marker-%d", p), Value: []byte("marker")})
			}
			manual := kafkatest.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err := manual.ProduceSync(t.Context(), markers...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]map[string]bool{"a": {}, "b": {}}
			for round := 0; len(seen["a"]) < 3 || len(seen["b"]) < 3; round++ {
				// One probe per marker to each orders partition, whoever holds it.
				var probes []*kgo.Record
				for part := range int32(4) {
					for m := range 3 {
						probes = append(probes, &kgo.Record{Topic: c.orders, Partition: part,
							Key: fmt.Appendf(nil, "probe-%d-%d-%d", round, part, m), Value: fmt.Appendf(nil, "marker-%d", m)})
					}
				}
				if err := manual.ProduceSync(t.Context(), probes...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				prefix := fmt.Sprintf("probe-%d-", round)
				out.until("probe round", 90*time.Second, func(got []enrichment) bool { return count(got, prefix) >= len(probes) })
				for _, e := range out.got {
					if strings.HasPrefix(e.order, prefix) && e.name == "marker" {
						seen[e.instance][e.order[strings.LastIndexByte(e.order, '-'):]] = true
					}
				}
				if round > 200 {
					t.Fatalf("after %d rounds, markers seen: %v", round, seen)
				}
			}
			c.ordersFor(t, "third-", products(0, 400, 1)) // p0…p399: all changed
			out.until("the third orders", 90*time.Second, func(got []enrichment) bool { return count(got, "third-") >= 400 })
			third := map[string]int{}
			for _, e := range out.got {
				if !strings.HasPrefix(e.order, "third-") {
					continue
				}
				third[e.instance]++
				if !strings.HasPrefix(e.name, "v2-") {
					t.Errorf("%s enriched order %s with %q after the change, want a v2 name", e.instance, e.order, e.name)
				}
			}
			if third["a"] == 0 || third["b"] == 0 {
				t.Errorf("third orders per instance %v: want both to enrich some", third)
			}
			for _, r := range []*running{a, b} {
				if err := r.stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
			// Every order once under exactly-once; at least once otherwise.
			all := readCommitted(t, c.out)
			orders := map[string]int{}
			for _, r := range all {
				orders[string(r.Key)]++
			}
			for _, prefix := range []string{"first-", "second-", "third-"} {
				n := 0
				for k, times := range orders {
					if strings.HasPrefix(k, prefix) {
						n++
						if guarantee == "exactly-once" && times != 1 {
							t.Errorf("order %s written %d times under exactly-once", k, times)
						}
					}
				}
				if want := map[string]int{"first-": 300, "second-": 600, "third-": 400}[prefix]; n != want {
					t.Errorf("%d distinct %s orders in the output, want %d", n, prefix, want)
				}
			}
		})
	}
}

// A restart on the real broker resumes the global reader from its checkpoint: after the
// topic's records are deleted (DeleteRecords up to the end), the restarted instance reads
// nothing again and still enriches every order from the table it kept.
func TestGlobalTableRestartAfterDeleteRecords(t *testing.T) {
	c := newGlobalCase(t, 2, "compact,delete")
	c.productsAt(t, "v1", 0, 500)
	dir := t.TempDir()
	run := func(prefix string, want int) []eddy.RestoreInfo {
		t.Helper()
		var mu sync.Mutex
		var infos []eddy.RestoreInfo
		app := newApp(t, c.topology("a"), c.appID, eddy.StateDir(dir), eddy.OnRestore(func(ri eddy.RestoreInfo) {
			if ri.Global {
				mu.Lock()
				infos = append(infos, ri)
				mu.Unlock()
			}
		}))
		r := start(t, app)
		var ps []string
		for i := range want {
			ps = append(ps, fmt.Sprintf("p%d", (i*37)%500))
		}
		c.ordersFor(t, prefix, ps)
		r.stopCaughtUp(t, c.appID, c.orders)
		mu.Lock()
		defer mu.Unlock()
		return infos
	}
	first := run("first-", 100)
	var n int64
	for _, ri := range first {
		n += ri.Restored
	}
	if len(first) != 2 || n != 500 || !first[0].Wiped {
		t.Fatalf("first run's global restores: %+v, want 500 records over 2 partitions from an empty store", first)
	}

	adm := kafkatest.Admin(t)
	ends, err := adm.ListEndOffsets(t.Context(), c.products)
	if err != nil {
		t.Fatal(err)
	}
	del := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) { del.AddOffset(o.Topic, o.Partition, o.Offset, -1) })
	resp, err := adm.DeleteRecords(t.Context(), del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	second := run("second-", 100)
	if len(second) != len(first) {
		t.Fatalf("restart: global restores %+v, want one per partition, as in the first run", second)
	}
	for _, ri := range second {
		end, _ := ends.Lookup(c.products, ri.Partition)
		if ri.Restored != 0 || ri.Wiped || ri.From != end.Offset {
			t.Errorf("restart: global restore %+v, want none from the checkpoint at %d", ri, end.Offset)
		}
	}
	var got []string
	for _, r := range readCommitted(t, c.out) {
		if strings.HasSuffix(string(r.Value), "MISSING") {
			got = append(got, string(r.Key))
		}
	}
	slices.Sort(got)
	if len(got) > 0 {
		t.Errorf("orders without their product after the restart: %v", got)
	}
	if n := len(readCommitted(t, c.out)); n < 200 {
		t.Errorf("%d outputs, want at least the 200 orders", n)
	}
}
