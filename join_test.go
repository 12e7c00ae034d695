package eddy_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/joinref"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// joinInput is one partition's input of a stream-table join (joinref.TableInput).
type joinInput = joinref.TableInput

// joinReference is the stream-table join from its definition (joinref.StreamTable).
func joinReference(in []joinInput, left bool) []string { return joinref.StreamTable(in, left) }

// randomJoinInput is out-of-order input for orders joined with customers
// (joinref.RandomStreamTable).
func randomJoinInput(rng *rand.Rand, n int) []joinInput {
	return joinref.RandomStreamTable(rng, n, "orders", "customers")
}

// Stream-table joins, inner and left, against the reference on random out-of-order input:
// the exact multiset of outputs, on a table from a topic and on one derived from it.
func TestStreamTableJoinMatchesReference(t *testing.T) {
	for _, c := range []struct {
		name    string
		left    bool
		derived bool
	}{{"inner", false, false}, {"left", true, false}, {"left, derived table", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"orders": 2, "customers": 2, "out": 1})
			in := randomJoinInput(rand.New(rand.NewPCG(7, uint64(len(c.name)))), 600)
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				t.Fatal(err)
			}
			var all []*kgo.Record
			for _, p := range in {
				all = append(append(all, p.Table...), p.Stream...)
			}
			if err := cl.ProduceSync(t.Context(), all...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			cl.Close()

			top := topology.New()
			orders := topology.From(top, "orders", serde.String(), serde.String())
			customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers")
			if c.derived {
				// The same values, through a derived view: keep everything, map to itself.
				customers = topology.MapTableValues(customers.Filter(func(string, string) bool { return true }),
					func(v string) string { return v })
			}
			var joined topology.Stream[string, string]
			if c.left {
				joined = topology.LeftJoinTable(orders, customers, serde.String(), serde.String(),
					func(_ string, o, cu string, found bool) string {
						if !found {
							return o + "|-"
						}
						return o + "|" + cu
					})
			} else {
				joined = topology.JoinTable(orders, customers, serde.String(), serde.String(),
					func(_ string, o, cu string) string { return o + "|" + cu })
			}
			topology.To(joined, "out", serde.String(), serde.String())
			app, err := eddy.New(top, eddy.ApplicationID("join"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
				eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			stopCaughtUp(t, brokers, "join", runApp(t, app), "orders", "customers")
			want := joinReference(in, c.left)
			got := keyValues(readAll(t, brokers, "out"))
			t.Logf("%d outputs", len(got))
			if !slices.Equal(got, want) {
				t.Errorf("%d outputs, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
}

// A join after a key change repartitions the stream by its new key first, and the stream
// and the table share one sub-topology; the description shows it.
func TestJoinAfterKeyChangeRepartitions(t *testing.T) {
	top := topology.New()
	orders := topology.From(top, "orders", serde.String(), serde.String())
	byCustomer := topology.SelectKey(orders, func(_, v string) string { return v })
	customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers")
	topology.To(topology.JoinTable(byCustomer, customers, serde.String(), serde.String(),
		func(_, o, c string) string { return o + c }, topology.Named("enrich")), "out", serde.String(), serde.String())
	d, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"enrich-repartition", "Processor: enrich (stores: [customers])"} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q:\n%s", want, d)
		}
	}
	if _, err := eddy.New(top, eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1")); err != nil {
		t.Fatalf("New: %v", err)
	}
}

// A stream and a table joined must be co-partitioned: Run says which topics differ.
func TestJoinNeedsCoPartitioning(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 3, "customers": 2, "out": 1})
	top := topology.New()
	customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers")
	topology.To(topology.JoinTable(topology.From(top, "orders", serde.String(), serde.String()), customers,
		serde.String(), serde.String(), func(_, o, c string) string { return o + c }), "out", serde.String(), serde.String())
	err := runOnce(t, top, brokers)
	if !errors.Is(err, eddy.ErrCoPartitioning) || !strings.Contains(err.Error(), "orders (3 partitions)") ||
		!strings.Contains(err.Error(), "customers (2 partitions)") {
		t.Fatalf("Run = %v, want ErrCoPartitioning naming both topics and counts", err)
	}
}
