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

// The three stream-stream joins on the real broker, with eddy's defaults, under both
// guarantees: one topic's records split into a left and a right stream (so the
// partition's order, and with it the watermark, is the same however the broker serves
// it), random out-of-order input with ties and late records; each join's results and its
// late records equal the reference model's exactly. The inner and left joins keep their
// records in memory (the default), the outer join in Badger (OnDisk): one task has both.
// Three more outer joins: a self-join of the whole stream, one whose window lies wholly
// before the left record (a negative after), and one of the same records written to two
// topics, a side each, which the task merges by time (joinref.StreamStreamTask), late
// records included.
func TestStreamStreamJoinsOnTheBroker(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in := kafkatest.Topic(t, "sides")
			kafkatest.CreateTopic(t, adm, in, 2, nil)
			kinds := []joinref.Kind{joinref.Inner, joinref.LeftOuter, joinref.FullOuter}
			outs := map[joinref.Kind]string{}
			for _, k := range kinds {
				outs[k] = kafkatest.Topic(t, fmt.Sprintf("joined-%d", k))
				kafkatest.CreateTopic(t, adm, outs[k], 1, nil)
			}
			selfOut, beforeOut := kafkatest.Topic(t, "self-joined"), kafkatest.Topic(t, "before-joined")
			kafkatest.CreateTopic(t, adm, selfOut, 1, nil)
			kafkatest.CreateTopic(t, adm, beforeOut, 1, nil)
			late := kafkatest.Topic(t, "late")
			kafkatest.CreateTopic(t, adm, late, 1, nil)
			sides := joinref.RandomSides(rand.New(rand.NewPCG(21, 1)), 600)
			var recs []*kgo.Record
			for p, part := range sides {
				for _, r := range part {
					side := "R:"
					if r.Left {
						side = "L:"
					}
					recs = append(recs, &kgo.Record{Topic: in, Partition: int32(p), Key: []byte(r.Key), Value: []byte(side + r.Value),
						Timestamp: time.UnixMilli(r.Time)})
				}
			}
			cl := kafkatest.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}

			w := joinref.Window{Before: 30, After: 50, Grace: 20}
			jw := topology.JoinWindowsOf(0).Before(30 * time.Millisecond).After(50 * time.Millisecond).Grace(20 * time.Millisecond)
			s := serde.String()
			top := topology.New()
			src := topology.From(top, in, s, s)
			split := src.Split("side",
				topology.Branch[string, string]{Name: "left", Predicate: func(_, v string) bool { return strings.HasPrefix(v, "L:") }},
				topology.Branch[string, string]{Name: "right"})
			strip := func(v string) string { return v[2:] }
			left, right := topology.MapValues(split[0], strip), topology.MapValues(split[1], strip)
			topology.To(joinref.JoinStreams(joinref.Inner, left, right, jw, topology.Named("inner"), topology.LateRecordsTo(late)), outs[joinref.Inner], s, s)
			topology.To(joinref.JoinStreams(joinref.LeftOuter, left, right, jw, topology.Named("left")), outs[joinref.LeftOuter], s, s)
			topology.To(joinref.JoinStreams(joinref.FullOuter, left, right, jw, topology.Named("outer"), topology.OnDisk()), outs[joinref.FullOuter], s, s)
			whole := topology.MapValues(src, strip)
			topology.To(joinref.JoinStreams(joinref.FullOuter, whole, whole, jw, topology.Named("self")), selfOut, s, s)
			wb := joinref.Window{Before: 80, After: -20, Grace: 10}
			jwb := topology.JoinWindowsOf(0).Before(80 * time.Millisecond).After(-20 * time.Millisecond).Grace(10 * time.Millisecond)
			topology.To(joinref.JoinStreams(joinref.FullOuter, left, right, jwb, topology.Named("before")), beforeOut, s, s)
			// The same records in two topics, a side each: the task merges them by time.
			lefts, rights, twoOut, twoLate := kafkatest.Topic(t, "lefts"), kafkatest.Topic(t, "rights"), kafkatest.Topic(t, "two-joined"), kafkatest.Topic(t, "two-late")
			for topic, n := range map[string]int32{lefts: 2, rights: 2, twoOut: 1, twoLate: 1} {
				kafkatest.CreateTopic(t, adm, topic, n, nil)
			}
			var twoRecs []*kgo.Record
			var wantTwo, wantTwoLate []string
			for p, part := range sides {
				var ls, rs []joinref.Record
				for _, r := range part {
					topic := rights
					if r.Left {
						topic, ls = lefts, append(ls, r)
					} else {
						rs = append(rs, r)
					}
					twoRecs = append(twoRecs, &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(r.Key), Value: []byte(r.Value),
						Timestamp: time.UnixMilli(r.Time)})
				}
				out, lateRecs := joinref.StreamStreamTask([][]joinref.Record{ls, rs}, w, joinref.FullOuter, 0, false)
				wantTwo = append(wantTwo, out...)
				for _, r := range lateRecs {
					wantTwoLate = append(wantTwoLate, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Time))
				}
			}
			slices.Sort(wantTwo)
			slices.Sort(wantTwoLate)
			if err := cl.ProduceSync(t.Context(), twoRecs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			topology.To(joinref.JoinStreams(joinref.FullOuter, topology.From(top, lefts, s, s), topology.From(top, rights, s, s), jw,
				topology.Named("two"), topology.LateRecordsTo(twoLate)), twoOut, s, s)

			want := map[joinref.Kind][]string{}
			var wantLate []string
			for _, k := range kinds {
				for _, part := range sides {
					out, lateRecs := joinref.StreamStream(part, w, k, 0, false, false)
					want[k] = append(want[k], out...)
					if k == joinref.Inner {
						for _, r := range lateRecs {
							wantLate = append(wantLate, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Time))
						}
					}
				}
				slices.Sort(want[k])
			}
			slices.Sort(wantLate)
			var wantSelf, wantBefore []string
			for _, part := range sides {
				all := slices.Clone(part)
				for i := range all {
					all[i].Left = true
				}
				out, _ := joinref.StreamStream(all, w, joinref.FullOuter, 0, true, false)
				wantSelf = append(wantSelf, out...)
				out, _ = joinref.StreamStream(part, wb, joinref.FullOuter, 0, false, false)
				wantBefore = append(wantBefore, out...)
			}
			slices.Sort(wantSelf)
			slices.Sort(wantBefore)
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			run := start(t, newDefaultApp(t, top, appID, opts...))
			run.stopCaughtUp(t, appID, in, lefts, rights)
			for _, k := range kinds {
				got := joinref.Timed(readCommitted(t, outs[k]))
				if !slices.Equal(got, want[k]) {
					t.Errorf("%s: %d results, want %d:\n got %v\nwant %v", outs[k], len(got), len(want[k]), got, want[k])
				}
			}
			for topic, want := range map[string][]string{selfOut: wantSelf, beforeOut: wantBefore, twoOut: wantTwo, twoLate: wantTwoLate} {
				if got := joinref.Timed(readCommitted(t, topic)); !slices.Equal(got, want) || len(got) == 0 {
					t.Errorf("%s: %d results, want %d:\n got %v\nwant %v", topic, len(got), len(want), got, want)
				}
			}
			if got := joinref.Timed(readCommitted(t, late)); !slices.Equal(got, wantLate) || len(got) == 0 {
				t.Errorf("late records:\n got %v\nwant %v", got, wantLate)
			}
		})
	}
}

// The three table-table joins on the real broker, with eddy's defaults, under both
// guarantees, on random updates and deletions of two co-partitioned tables at out-of-order
// times with ties: each join's updates, with their times, equal the reference model's
// (joinref.TableTable) exactly.
func TestTableTableJoinsOnTheBroker(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			lt, rt := kafkatest.Topic(t, "left"), kafkatest.Topic(t, "right")
			kafkatest.CreateTopic(t, adm, lt, 2, nil)
			kafkatest.CreateTopic(t, adm, rt, 2, nil)
			kinds := []string{"inner", "left", "outer"}
			outs := map[string]string{}
			for _, k := range kinds {
				outs[k] = kafkatest.Topic(t, k)
				kafkatest.CreateTopic(t, adm, outs[k], 1, nil)
			}
			recs, parts := joinref.RandomTables(rand.New(rand.NewPCG(2, 2)), 600, lt, rt)
			cl := kafkatest.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			s := serde.String()
			top := topology.New()
			l, r := topology.TableFrom(top, lt, s, s, "left"), topology.TableFrom(top, rt, s, s, "right")
			changes := func(tb topology.Table[string, string], topic string) {
				topology.To(topology.MapValues(tb.Changes(), func(c topology.Change[string]) string {
					if c.Deleted {
						return "D"
					}
					return "+" + c.Value
				}), topic, s, s)
			}
			changes(topology.JoinTables(l, r, func(_, l, r string) string { return joinref.Format(l, true, r, true) }), outs["inner"])
			changes(topology.LeftJoinTables(l, r, func(_, l, r string, found bool) string { return joinref.Format(l, true, r, found) }), outs["left"])
			changes(topology.OuterJoinTables(l, r, func(_, l string, hasL bool, r string, hasR bool) string {
				return joinref.Format(l, hasL, r, hasR)
			}), outs["outer"])
			appID := kafkatest.Topic(t, "app")
			opts := guaranteeOpts(guarantee)
			run := start(t, newDefaultApp(t, top, appID, opts...))
			run.stopCaughtUp(t, appID, lt, rt)
			for i, k := range kinds {
				var want []string
				for _, p := range parts {
					want = append(want, joinref.TableTable(p[0], p[1], joinref.Kind(i))...)
				}
				slices.Sort(want)
				if got := joinref.Timed(readCommitted(t, outs[k])); !slices.Equal(got, want) || len(got) == 0 {
					t.Errorf("%s join: %d updates, want %d:\n got %v\nwant %v", k, len(got), len(want), got, want)
				}
			}
		})
	}
}
