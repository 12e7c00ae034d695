package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// enrichWith left-joins orders with the customers table, as "order|customer" ("-" for
// none).
func enrichWith(orders topology.Stream[string, string], customers topology.Table[string, string], opts ...topology.Option) topology.Stream[string, string] {
	return topology.LeftJoinTable(orders, customers, serde.String(), serde.String(), func(_, o, c string, found bool) string {
		if !found {
			c = "-"
		}
		return o + "|" + c
	}, opts...)
}

// A versioned customers table joined by orders out of time order, with eddy's defaults,
// under both guarantees, twice: orders keyed by customer, and orders keyed by order id
// that are re-keyed by customer first (a repartition). Each order meets the customer's
// version valid at its time — including a version that arrived out of order — not the
// latest. The orders keyed by customer are on the broker with the table when the
// application starts, the first of each partition later than every update: time
// synchronization applies the whole table first. The others come once the table is
// caught up.
func TestVersionedEnrichment(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			orders, byID, customers := kafkatest.Topic(t, "orders"), kafkatest.Topic(t, "orders-by-id"), kafkatest.Topic(t, "customers")
			out, outByID := kafkatest.Topic(t, "enriched"), kafkatest.Topic(t, "enriched-by-id")
			for _, topic := range []string{orders, byID, customers, out, outByID} {
				kafkatest.CreateTopic(t, adm, topic, 3, nil)
			}
			// Customers c0…c19: v1 at 1000, v3 at 5000, and v2 at 3000, written after v3.
			// Orders of c0…c24 at 9000, 2000 and 4000, in that order of writing.
			var table, stream, later []*kgo.Record
			var want, wantByID []string
			for i := range 25 {
				c := fmt.Sprintf("c%d", i)
				if i < 20 {
					for _, v := range []struct {
						name string
						ts   int64
					}{{"v1", 1000}, {"v3", 5000}, {"v2", 3000}} {
						table = append(table, &kgo.Record{Topic: customers, Key: []byte(c), Value: []byte(c + "-" + v.name), Timestamp: time.UnixMilli(v.ts)})
					}
				}
				for _, o := range []struct {
					name, version string
					ts            int64
				}{{"late", "v3", 9000}, {"early", "v1", 2000}, {"mid", "v2", 4000}} {
					name := fmt.Sprintf("%s-%d", o.name, i)
					stream = append(stream, &kgo.Record{Topic: orders, Key: []byte(c), Value: []byte(name), Timestamp: time.UnixMilli(o.ts)})
					later = append(later, &kgo.Record{Topic: byID, Key: []byte(name), Value: []byte(c), Timestamp: time.UnixMilli(o.ts)})
					v := "-"
					if i < 20 {
						v = c + "-" + o.version
					}
					want = append(want, fmt.Sprintf("%s=%s|%s", c, name, v))
					wantByID = append(wantByID, fmt.Sprintf("%s=%s|%s", c, c, v))
				}
			}
			produceAll(t, table)
			produceAll(t, stream)
			slices.Sort(want)
			slices.Sort(wantByID)

			top := topology.New()
			table2 := topology.TableFrom(top, customers, serde.String(), serde.String(), "customers", topology.Versioned(time.Hour))
			topology.To(enrichWith(topology.From(top, orders, serde.String(), serde.String()), table2, topology.Named("enrich")),
				out, serde.String(), serde.String())
			rekeyed := topology.SelectKey(topology.From(top, byID, serde.String(), serde.String()), func(_, c string) string { return c })
			topology.To(enrichWith(rekeyed, table2, topology.Named("enrich-by-id")), outByID, serde.String(), serde.String())
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			run := start(t, newDefaultApp(t, top, appID, opts...))
			ends.WaitCaughtUp(t, kafkatest.Bootstrap(t), appID, 90*time.Second, customers, orders)
			produceAll(t, later)
			n := 0
			consumeUntil(t, outByID, 90*time.Second, func(*kgo.Record) { n++ }, func() bool { return n >= len(wantByID) })
			run.stopCaughtUp(t, appID, orders, byID, customers)
			for _, c := range []struct {
				topic string
				want  []string
			}{{out, want}, {outByID, wantByID}} {
				var got []string
				for _, r := range readCommitted(t, c.topic) {
					got = append(got, string(r.Key)+"="+string(r.Value))
				}
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Errorf("%s:\n got %v\nwant %v", c.topic, got, c.want)
				}
			}
		})
	}
}

// Time synchronization on the real broker: a running join gets an order, and a second
// later the customer's update with an earlier time. With MaxTaskIdle the order waits for
// the table and meets the update, under both guarantees (under exactly-once the held
// order keeps the transaction open past the commit interval).
func TestTimeSyncTableProducedLate(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			orders, customers, out := kafkatest.Topic(t, "orders"), kafkatest.Topic(t, "customers"), kafkatest.Topic(t, "enriched")
			for _, topic := range []string{orders, customers, out} {
				kafkatest.CreateTopic(t, adm, topic, 2, nil)
			}
			top := topology.New()
			table := topology.TableFrom(top, customers, serde.String(), serde.String(), "customers")
			topology.To(enrichWith(topology.From(top, orders, serde.String(), serde.String()), table), out, serde.String(), serde.String())
			appID := kafkatest.Topic(t, "app")
			opts := []eddy.Opt{eddy.MaxTaskIdle(3 * time.Second)}
			if guarantee == "exactly-once" {
				opts = append(opts, eddy.ExactlyOnce())
			}
			run := start(t, newApp(t, top, appID, opts...))
			waitMembersWithPartitions(t, appID, 1, 60*time.Second)
			var keys []string
			for i := range 4 {
				keys = append(keys, fmt.Sprintf("c%d", i)) // both partitions, most likely
			}
			var ords, cs []*kgo.Record
			var want []string
			for _, k := range keys {
				ords = append(ords, &kgo.Record{Topic: orders, Key: []byte(k), Value: []byte("o-" + k), Timestamp: time.UnixMilli(2000)})
				cs = append(cs, &kgo.Record{Topic: customers, Key: []byte(k), Value: []byte("v-" + k), Timestamp: time.UnixMilli(1000)})
				want = append(want, fmt.Sprintf("%s=o-%s|v-%s", k, k, k))
			}
			produceAll(t, ords)
			time.Sleep(time.Second) // the orders are fetched, and held
			produceAll(t, cs)
			n := 0
			consumeUntil(t, out, 60*time.Second, func(*kgo.Record) { n++ }, func() bool { return n >= len(want) })
			run.stopCaughtUp(t, appID, orders, customers)
			var got []string
			for _, r := range readCommitted(t, out) {
				got = append(got, string(r.Key)+"="+string(r.Value))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("outputs %v, want %v", got, want)
			}
			if s := strings.Join(got, " "); strings.Contains(s, "|-") {
				t.Errorf("an order went out before the update it waited for: %s", s)
			}
		})
	}
}

// A stream-table join with Grace on the real broker, with eddy's defaults (MaxTaskIdle 0,
// a 30 s commit at-least-once), under both guarantees: an order at 10 s is processed while
// its customer's table holds only a version from 1 s; then an update stamped 9 s arrives.
// The join without grace has already emitted the order with the old version; the join
// with 5 s of grace held it, and once a later order moves the watermark past 15 s it joins
// the version valid at 10 s — the late update.
func TestVersionedGraceWithDefaults(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			orders, customers := kafkatest.Topic(t, "orders"), kafkatest.Topic(t, "customers")
			plain, graced := kafkatest.Topic(t, "plain"), kafkatest.Topic(t, "graced")
			for _, topic := range []string{orders, customers, plain, graced} {
				kafkatest.CreateTopic(t, adm, topic, 2, nil)
			}
			rec := func(topic, k, v string, ms int64) *kgo.Record {
				return &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(v), Timestamp: time.UnixMilli(ms)}
			}
			produceAll(t, []*kgo.Record{rec(customers, "c1", "old", 1000)})
			top := topology.New()
			table := topology.TableFrom(top, customers, serde.String(), serde.String(), "customers", topology.Versioned(time.Hour))
			in := topology.From(top, orders, serde.String(), serde.String())
			topology.To(enrichWith(in, table, topology.Named("plain")), plain, serde.String(), serde.String())
			topology.To(enrichWith(in, table, topology.Named("graced"), topology.Grace(5*time.Second)), graced, serde.String(), serde.String())
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			run := start(t, newDefaultApp(t, top, appID, opts...))
			produceAll(t, []*kgo.Record{rec(orders, "c1", "o1", 10_000)})
			seen := map[string]bool{}
			keep := func(r *kgo.Record) { seen[string(r.Value)] = true }
			consumeUntil(t, plain, 90*time.Second, keep, func() bool { return seen["o1|old"] })
			produceAll(t, []*kgo.Record{rec(customers, "c1", "new", 9000)})
			// The update must be in the table before the watermark moves: the join reads
			// the table's version at 10 s when o1 leaves the buffer.
			ends.WaitCaughtUp(t, kafkatest.Bootstrap(t), appID, 90*time.Second, customers)
			produceAll(t, []*kgo.Record{rec(orders, "c1", "o2", 20_000)})
			consumeUntil(t, graced, 90*time.Second, keep, func() bool { return seen["o1|new"] || seen["o1|old"] })
			run.stopCaughtUp(t, appID, orders, customers)
			got := map[string][]string{}
			for _, topic := range []string{plain, graced} {
				for _, r := range readCommitted(t, topic) {
					got[topic] = append(got[topic], string(r.Value))
				}
			}
			if fmt.Sprint(got[plain]) != "[o1|old o2|new]" || fmt.Sprint(got[graced]) != "[o1|new]" {
				t.Errorf("without grace %v (want [o1|old o2|new]); with grace %v (want [o1|new]: o2 waits for 25 s)", got[plain], got[graced])
			}
		})
	}
}
