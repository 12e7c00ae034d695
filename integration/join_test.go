package integration

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/joinref"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Orders enriched from a customers table on the real broker, under both guarantees: every
// order once, with its customer's latest value as of the order's time (updates before it,
// none after), or "-" for a customer the table does not have (a left join).
func TestStreamTableEnrichment(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			orders, customers, out := kafkatest.Topic(t, "orders"), kafkatest.Topic(t, "customers"), kafkatest.Topic(t, "enriched")
			for _, topic := range []string{orders, customers} {
				kafkatest.CreateTopic(t, adm, topic, 3, nil)
			}
			kafkatest.CreateTopic(t, adm, out, 3, nil)
			// Customers c0…c19 get a first value at t=1000 and a second at t=5000; orders
			// of c0…c24 come at t=2000 (first values) and t=9000 (second values).
			// Each topic in time order, so that "as of the order's time" is unambiguous
			// (within a partition records are taken in offset order; see the reference
			// test on the embedded broker for out-of-order input).
			var v1, v2, early, late []*kgo.Record
			var want []string
			for i := range 25 {
				c := fmt.Sprintf("c%d", i)
				if i < 20 {
					v1 = append(v1, &kgo.Record{Topic: customers, Key: []byte(c), Value: []byte(c + "-v1"), Timestamp: time.UnixMilli(1000)})
					v2 = append(v2, &kgo.Record{Topic: customers, Key: []byte(c), Value: []byte(c + "-v2"), Timestamp: time.UnixMilli(5000)})
				}
				early = append(early, &kgo.Record{Topic: orders, Key: []byte(c), Value: fmt.Appendf(nil, "early-%d", i), Timestamp: time.UnixMilli(2000)})
				late = append(late, &kgo.Record{Topic: orders, Key: []byte(c), Value: fmt.Appendf(nil, "late-%d", i), Timestamp: time.UnixMilli(9000)})
				first, second := "-", "-"
				if i < 20 {
					first, second = c+"-v1", c+"-v2"
				}
				want = append(want, fmt.Sprintf("%s=early-%d|%s", c, i, first), fmt.Sprintf("%s=late-%d|%s", c, i, second))
			}
			recs := append(append(append(v1, v2...), early...), late...)
			produceAll(t, recs)
			slices.Sort(want)

			top := topology.New()
			table := topology.TableFrom(top, customers, serde.String(), serde.String(), "customers")
			enriched := topology.LeftJoinTable(topology.From(top, orders, serde.String(), serde.String()), table,
				serde.String(), serde.String(), func(_, o, c string, found bool) string {
					if !found {
						c = "-"
					}
					return o + "|" + c
				}, topology.Named("enrich"))
			topology.To(enriched, out, serde.String(), serde.String())
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			// eddy's defaults (a 30 s commit interval at-least-once): wait for every order's
			// output, stop (which commits), then read the output to its end.
			run := start(t, newDefaultApp(t, top, appID, opts...))
			n := 0
			consumeUntil(t, out, 60*time.Second, func(*kgo.Record) { n++ }, func() bool { return n >= len(want) })
			if err := run.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			var got []string
			for _, r := range readCommitted(t, out) {
				got = append(got, string(r.Key)+"="+string(r.Value))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("enriched orders:\n got %v\nwant %v", got, want)
			}
			if s := strings.Join(got, " "); strings.Count(s, "|") != len(want) {
				t.Errorf("%d outputs, want %d", strings.Count(s, "|"), len(want))
			}
		})
	}
}

// Stream-table joins, inner and left, on the real broker against the reference model, with
// eddy's defaults, under both guarantees: random out-of-order input with duplicate
// timestamps, table updates and deletions among the stream's records, keys the table
// never had. The exact multiset of each join's outputs equals joinref.StreamTable's.
func TestStreamTableJoinsMatchReferenceOnTheBroker(t *testing.T) {
	for i, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			orders, customers := kafkatest.Topic(t, "orders"), kafkatest.Topic(t, "customers")
			inner, left := kafkatest.Topic(t, "inner"), kafkatest.Topic(t, "left")
			for _, topic := range []string{orders, customers} {
				kafkatest.CreateTopic(t, adm, topic, 2, nil)
			}
			for _, topic := range []string{inner, left} {
				kafkatest.CreateTopic(t, adm, topic, 1, nil)
			}
			in := joinref.RandomStreamTable(rand.New(rand.NewPCG(31, uint64(i))), 800, orders, customers)
			var recs []*kgo.Record
			for _, p := range in {
				recs = append(append(recs, p.Table...), p.Stream...)
			}
			cl := kafkatest.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			s := serde.String()
			top := topology.New()
			stream := topology.From(top, orders, s, s)
			table := topology.TableFrom(top, customers, s, s, "customers")
			topology.To(topology.JoinTable(stream, table, s, s, func(_, o, c string) string { return o + "|" + c },
				topology.Named("inner")), inner, s, s)
			topology.To(topology.LeftJoinTable(stream, table, s, s, func(_, o, c string, found bool) string {
				if !found {
					c = "-"
				}
				return o + "|" + c
			}, topology.Named("left")), left, s, s)
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			run := start(t, newDefaultApp(t, top, appID, opts...))
			run.stopCaughtUp(t, appID, orders, customers)
			for topic, isLeft := range map[string]bool{inner: false, left: true} {
				checkKeyValues(t, topic, joinref.StreamTable(in, isLeft))
			}
		})
	}
}

// A table re-grouped and counted on the real broker, under both guarantees: users move
// between regions, and each region's last count is the number of users in it at the end.
func TestGroupTableCountsOnTheBroker(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			users, out := kafkatest.Topic(t, "users"), kafkatest.Topic(t, "per-region")
			kafkatest.CreateTopic(t, adm, users, 3, nil)
			kafkatest.CreateTopic(t, adm, out, 2, nil)
			region := map[string]string{}
			var recs []*kgo.Record
			for i := range 300 {
				u := fmt.Sprintf("u%d", (i*7)%31)
				r := &kgo.Record{Topic: users, Key: []byte(u), Timestamp: time.UnixMilli(int64(1000 + i))}
				if i%11 == 0 {
					delete(region, u)
				} else {
					region[u] = fmt.Sprintf("r%d", (i*3)%4)
					r.Value = []byte(region[u])
				}
				recs = append(recs, r)
			}
			produceAll(t, recs)
			want := map[string]int64{"r0": 0, "r1": 0, "r2": 0, "r3": 0}
			for _, r := range region {
				want[r]++
			}
			top := topology.New()
			table := topology.TableFrom(top, users, serde.String(), serde.String(), "users")
			counts := topology.CountTable(topology.GroupTable(table, func(u, r string) (string, string) { return r, u },
				serde.String(), serde.String(), topology.Named("by-region")), "per-region")
			topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			// eddy's defaults: at-least-once, the offsets are caught up after the first
			// 30 s commit.
			run := start(t, newDefaultApp(t, top, appID, opts...))
			run.stopCaughtUp(t, appID, users)
			last := map[string]int64{}
			for _, r := range readCommitted(t, out) {
				n, err := serde.Int64().Decode(r.Value)
				if err != nil {
					t.Fatal(err)
				}
				last[string(r.Key)] = n
			}
			for r, n := range want {
				if last[r] != n {
					t.Errorf("region %s: last count %d, want %d (all: %v)", r, last[r], n, last)
				}
			}
		})
	}
}
