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

// tableUpdates makes n random updates of two tables, "left" and "right", over keys
// k0…k19, a sixth of them deletions; it returns the records (keyed, so Kafka's
// partitioner co-partitions the two topics), each table's final content, and every value
// each key ever had on each side.
func tableUpdates(rng *rand.Rand, n int) (recs []*kgo.Record, final [2]map[string]string, ever [2]map[string][]string) {
	final = [2]map[string]string{{}, {}}
	ever = [2]map[string][]string{{}, {}}
	for i := range n {
		side := rng.IntN(2)
		key := fmt.Sprintf("k%d", rng.IntN(20))
		r := &kgo.Record{Topic: []string{"left", "right"}[side], Key: []byte(key), Timestamp: time.UnixMilli(int64(1000 + i))}
		if rng.IntN(6) == 0 {
			delete(final[side], key)
		} else {
			v := fmt.Sprintf("%c%d", "lr"[side], i)
			r.Value = []byte(v)
			final[side][key] = v
			ever[side][key] = append(ever[side][key], v)
		}
		recs = append(recs, r)
	}
	return recs, final, ever
}

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

// Table-table joins, inner, left and outer, on random updates and deletions of both
// sides: the result's last update per key is the join of the two tables' final contents
// (a key out of the join is absent or deleted), and every update is the join of values
// the key had on each side.
func TestTableTableJoinsMatchReference(t *testing.T) {
	for _, kind := range []joinref.Kind{joinref.Inner, joinref.LeftOuter, joinref.FullOuter} {
		t.Run([]string{"inner", "left", "outer"}[kind], func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"left": 2, "right": 2, "out": 1})
			recs, final, ever := tableUpdates(rand.New(rand.NewPCG(5, uint64(kind))), 800)
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			cl.Close()
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

			possible := func(key, row string) bool {
				ls, rs := append(ever[0][key], ""), append(ever[1][key], "")
				for i, lv := range ls {
					for j, rv := range rs {
						if joinRow(lv, i < len(ls)-1, rv, j < len(rs)-1) == row {
							return true
						}
					}
				}
				return false
			}
			last := map[string]string{}
			out := readAll(t, brokers, "out")
			for _, rec := range out {
				k, v := string(rec.Key), string(rec.Value)
				if v == "D" {
					delete(last, k)
					continue
				}
				if !possible(k, v[1:]) {
					t.Errorf("update %s=%s joins values %s never had", k, v, k)
				}
				last[k] = v[1:]
			}
			want := map[string]string{}
			for k := range 20 {
				key := fmt.Sprintf("k%d", k)
				lv, hasL := final[0][key]
				rv, hasR := final[1][key]
				if (hasL && hasR) || (hasL && kind != joinref.Inner) || (hasR && kind == joinref.FullOuter) {
					want[key] = joinRow(lv, hasL, rv, hasR)
				}
			}
			t.Logf("%d updates, %d rows", len(out), len(want))
			if fmt.Sprint(last) != fmt.Sprint(want) {
				t.Errorf("final rows:\n got %v\nwant %v", last, want)
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
