package eddy_test

import (
	"context"
	"errors"
	"fmt"
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

// joinRow is what the tests' joiners make of a row.
func joinRow(l string, hasL bool, r string, hasR bool) string {
	return joinref.Format(l, hasL, r, hasR)
}

// changesTo writes a table's updates to topic: "+row", or "D" for a deletion.
func changesTo(tb topology.Table[string, string], topic string) {
	topology.To(topology.MapValues(tb.Changes(), func(c topology.Change[string]) string {
		if c.Deleted {
			return "D"
		}
		return "+" + c.Value
	}), topic, serde.String(), serde.String())
}

// Table-table joins, inner, left and outer, against the reference model on random
// updates and deletions of both sides at out-of-order times with ties: the exact multiset
// of the result's updates (each row, or deletion, with its time), as joinref.TableTable
// computes it from the definition.
func TestTableTableJoinsMatchReference(t *testing.T) {
	for _, kind := range []joinref.Kind{joinref.Inner, joinref.LeftOuter, joinref.FullOuter} {
		t.Run([]string{"inner", "left", "outer"}[kind], func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"left": 2, "right": 2, "out": 1})
			recs, parts := joinref.RandomTables(rand.New(rand.NewPCG(5, uint64(kind))), 800, "left", "right")
			producePartitioned(t, brokers, recs...)
			top := topology.New()
			s := serde.String()
			l := topology.TableFrom(top, "left", s, s, "left")
			r := topology.TableFrom(top, "right", s, s, "right")
			var joined topology.Table[string, string]
			switch kind {
			case joinref.Inner:
				joined = topology.JoinTables(l, r, func(_, l, r string) string { return joinRow(l, true, r, true) })
			case joinref.LeftOuter:
				joined = topology.LeftJoinTables(l, r, func(_, l, r string, found bool) string { return joinRow(l, true, r, found) })
			default:
				joined = topology.OuterJoinTables(l, r, func(_, l string, hasL bool, r string, hasR bool) string { return joinRow(l, hasL, r, hasR) })
			}
			changesTo(joined, "out")
			app, err := eddy.New(top, eddy.ApplicationID("ttjoin"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
				eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			stopCaughtUp(t, brokers, "ttjoin", runApp(t, app), "left", "right")
			var want []string
			for _, p := range parts {
				want = append(want, joinref.TableTable(p[0], p[1], kind)...)
			}
			slices.Sort(want)
			got := joinref.Timed(readAll(t, brokers, "out"))
			t.Logf("%d updates", len(got))
			if !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("%d updates, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
			}
		})
	}
}

// A table joined with an aggregation's table, the result re-grouped with GroupTable: the
// join's updates carry their old rows, so a user who moves region, or whose clicks
// change, is retracted from the old sum. In a bounded run the join's ToStream reports
// each row once, at the end.
func TestTableJoinWithAggregateThenRegroup(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"users": 2, "clicks": 2, "totals": 1, "rows": 1})
	rng := rand.New(rand.NewPCG(8, 1))
	region, clicks := map[string]string{}, map[string]int64{}
	var recs []*kgo.Record
	for i := range 600 {
		u := fmt.Sprintf("u%d", rng.IntN(15))
		ts := time.UnixMilli(int64(1000 + i))
		switch rng.IntN(5) {
		case 0:
			r := fmt.Sprintf("r%d", rng.IntN(3))
			region[u] = r
			recs = append(recs, &kgo.Record{Topic: "users", Key: []byte(u), Value: []byte(r), Timestamp: ts})
		case 1:
			delete(region, u)
			recs = append(recs, &kgo.Record{Topic: "users", Key: []byte(u), Timestamp: ts})
		default:
			clicks[u]++
			recs = append(recs, &kgo.Record{Topic: "clicks", Key: []byte(u), Value: []byte("c"), Timestamp: ts})
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	s := serde.String()
	top := topology.New()
	users := topology.TableFrom(top, "users", s, s, "users")
	counts := topology.Count(topology.GroupByKey(topology.From(top, "clicks", s, s), s, s), "clicks-per-user")
	type row struct {
		region string
		clicks int64
	}
	joined := topology.JoinTables(users, counts, func(_ string, r string, n int64) row { return row{r, n} }, topology.Named("user-clicks"))
	totals := topology.ReduceTable(topology.GroupTable(joined, func(_ string, r row) (string, int64) { return r.region, r.clicks }, s, serde.Int64()),
		func(a, b int64) int64 { return a + b }, func(a, b int64) int64 { return a - b }, "clicks-per-region")
	topology.To(totals.ToStream(), "totals", s, serde.Int64())
	topology.To(topology.MapValues(joined.ToStream(), func(r row) string { return fmt.Sprintf("%s:%d", r.region, r.clicks) }), "rows", s, s)
	app, err := eddy.New(top, eddy.ApplicationID("user-clicks"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.Bounded(), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Run(ctx); err != nil {
		t.Fatalf("bounded Run: %v", err)
	}
	wantTotals := map[string]int64{}
	var wantRows []string
	for u, r := range region {
		if n, ok := clicks[u]; ok {
			wantTotals[r] += n
			wantRows = append(wantRows, fmt.Sprintf("%s=%s:%d", u, r, n))
		}
	}
	gotTotals := map[string]int64{}
	for _, rec := range readAll(t, brokers, "totals") {
		n, err := serde.Int64().Decode(rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		gotTotals[string(rec.Key)] = n
	}
	for r, n := range gotTotals {
		if n == 0 {
			delete(gotTotals, r) // a region emptied by moves
		}
	}
	if fmt.Sprint(gotTotals) != fmt.Sprint(wantTotals) {
		t.Errorf("clicks per region:\n got %v\nwant %v", gotTotals, wantTotals)
	}
	slices.Sort(wantRows)
	if got := keyValues(readAll(t, brokers, "rows")); !slices.Equal(got, wantRows) {
		t.Errorf("the join's rows at the end:\n got %v\nwant %v", got, wantRows)
	}
}

// Two tables joined must be co-partitioned: Run says which topics differ.
func TestTableTableJoinNeedsCoPartitioning(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"left": 3, "right": 2, "out": 1})
	s := serde.String()
	top := topology.New()
	joined := topology.JoinTables(topology.TableFrom(top, "left", s, s, "left"), topology.TableFrom(top, "right", s, s, "right"),
		func(_, l, r string) string { return l + r })
	topology.To(joined.ToStream(), "out", s, s)
	err := runOnce(t, top, brokers)
	if !errors.Is(err, eddy.ErrCoPartitioning) || !strings.Contains(err.Error(), "left (3 partitions)") ||
		!strings.Contains(err.Error(), "right (2 partitions)") {
		t.Fatalf("Run = %v, want ErrCoPartitioning naming both topics and counts", err)
	}
}
