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
			opts := []eddy.Opt{eddy.LowMemoryState()}
			if guarantee == "exactly-once" {
				opts = append(opts, eddy.ExactlyOnce())
			}
			run := start(t, newApp(t, top, appID, opts...))
			run.stopCaughtUp(t, appID, orders, customers)
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
