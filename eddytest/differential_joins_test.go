package eddytest_test

// The joins of the differential test (differential_test.go): their topologies and the
// stepped inputs that make a broker run's result deterministic.

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// diffJoinCase is a join under test: its input topics, its input in steps (diffStep), and
// how its two outputs must agree.
//
// A join's result can depend on the order in which its task takes the records of its
// partitions — a stream record before or after the table update of its key — and on a
// broker that order is up to fetching, within what time synchronization pins down. Each
// case's input is made so that what it compares does not depend on it: the steps are
// processed one after the other (see diffStep), and within a step either the records of
// a key that could meet each other come from one partition, in its order, or (the
// windowed join) no record is late, so that they meet in any order. Each case says how.
type diffJoinCase struct {
	name string
	// inputs are the input topics by role; a role's topic is "<application id>-<role>".
	inputs []diffTopic
	// build reads the input topics (topic(role)) and writes out.
	build func(topic func(role string) string, out string) *topology.Topology
	// steps makes the input of a seed, each record's topic its role.
	steps   func(seed uint64) []diffStep
	compare func(t *testing.T, driver, broker []diffOut)
}

// plan is the case's run for a seed.
func (c diffJoinCase) plan(id string, seed uint64) diffPlan {
	topic := func(role string) string { return id + "-" + role }
	out := id + "-out"
	p := diffPlan{appID: id, build: func() *topology.Topology { return c.build(topic, out) }, out: out}
	for _, in := range c.inputs {
		in.name = topic(in.name)
		p.inputs = append(p.inputs, in)
	}
	for _, s := range c.steps(seed) {
		for i := range s.records {
			s.records[i].topic = topic(s.records[i].topic)
		}
		p.steps = append(p.steps, s)
	}
	return p
}

var diffJoinCases = []diffJoinCase{
	{
		// A stream joined with a table of its keys, inner and left: each stream record
		// meets the table as the records processed before it left it. Deterministic by
		// the steps: within a step a key has table updates or stream records, never both,
		// so a stream record meets its key's row as the steps before left it, however its
		// task interleaves the stream's partition and the table's; and a task's stream
		// records are processed in their partition's order.
		name:   "join-stream-table",
		inputs: []diffTopic{{name: "stream", partitions: diffJoinPartitions}, {name: "table", partitions: diffJoinPartitions}},
		build: func(topic func(string) string, out string) *topology.Topology {
			top := topology.New()
			s := serde.String()
			stream := diffSource(top, topic("stream"))
			table := topology.TableFrom(top, topic("table"), s, s, "table")
			inner := topology.JoinTable(stream, table, s, s, func(_, v, tv string) string { return v + " inner " + tv },
				topology.Named("inner"))
			left := topology.LeftJoinTable(stream, table, s, s, func(_, v, tv string, found bool) string {
				if !found {
					tv = "-"
				}
				return v + " left " + tv
			}, topology.Named("left"))
			topology.To(inner.Merge(left), out, s, s)
			return top
		},
		steps: diffStreamTableSteps,
		compare: func(t *testing.T, driver, broker []diffOut) {
			t.Helper()
			compareStateless(t, driver, broker)
			diffShows(t, driver, 20, "inner results", func(r diffOut) bool { return strings.Contains(r.value, " inner ") })
			diffShows(t, driver, 10, "left results without a row", func(r diffOut) bool { return strings.HasSuffix(r.value, " left -") })
			diffShowsRowsPerKey(t, driver, " left ")
		},
	},
	{
		// Two streams joined within windows, left and inner. No record is late (diffClock:
		// each record is within the bound of the newest of both topics, so at or after its
		// task's watermark, whichever partition the task took first), so every pair of a
		// key within the window joins, and a left record that joined nothing is emitted
		// alone when the watermark closes its window — at the latest at the last records,
		// an hour later. The results, their times and partitions are so deterministic; the
		// order across tasks and keys is not: a multiset.
		name:   "join-stream-stream",
		inputs: []diffTopic{{name: "left", partitions: diffJoinPartitions}, {name: "right", partitions: diffJoinPartitions}},
		build: func(topic func(string) string, out string) *topology.Topology {
			top := topology.New()
			s := serde.String()
			lefts, rights := diffSource(top, topic("left")), diffSource(top, topic("right"))
			left := topology.LeftJoinStreams(lefts, rights, topology.JoinWindowsOf(500*time.Millisecond).Grace(300*time.Millisecond),
				s, s, s, func(_, l, r string, found bool) string {
					if !found {
						r = "-"
					}
					return "left " + l + "|" + r
				}, topology.Named("left"))
			inner := topology.JoinStreams(lefts, rights,
				topology.JoinWindowsOf(0).Before(200*time.Millisecond).After(800*time.Millisecond).Grace(100*time.Millisecond),
				s, s, s, func(_, l, r string) string { return "inner " + l + "|" + r }, topology.Named("inner"))
			topology.To(left.Merge(inner), out, s, s)
			return top
		},
		steps: diffStreamStreamSteps,
		compare: func(t *testing.T, driver, broker []diffOut) {
			t.Helper()
			compareMultisets(t, "join results", driver, broker)
			diffShows(t, driver, 20, "left pairs", func(r diffOut) bool { return strings.HasPrefix(r.value, "left ") && !strings.HasSuffix(r.value, "|-") })
			diffShows(t, driver, 20, "left records alone", func(r diffOut) bool { return strings.HasSuffix(r.value, "|-") })
			diffShows(t, driver, 20, "inner pairs", func(r diffOut) bool { return strings.HasPrefix(r.value, "inner ") })
		},
	},
	{
		// Two tables joined, inner and outer; their changes (Changes) as "<join> +<row>"
		// and "<join> D". Deterministic per key by the steps: within a step a key is
		// updated on one side only, so its rows follow from that side's updates in offset
		// order and the other side as the steps before left it; how its task interleaves
		// the two topics orders the keys' updates among each other only.
		name:   "join-table-table",
		inputs: []diffTopic{{name: "left", partitions: diffJoinPartitions}, {name: "right", partitions: diffJoinPartitions}},
		build: func(topic func(string) string, out string) *topology.Topology {
			top := topology.New()
			s := serde.String()
			l := topology.TableFrom(top, topic("left"), s, s, "left")
			r := topology.TableFrom(top, topic("right"), s, s, "right")
			inner := topology.JoinTables(l, r, func(_, lv, rv string) string { return lv + "|" + rv }, topology.Named("inner"))
			outer := topology.OuterJoinTables(l, r, func(_, lv string, hasL bool, rv string, hasR bool) string {
				if !hasL {
					lv = "-"
				}
				if !hasR {
					rv = "-"
				}
				return lv + "|" + rv
			}, topology.Named("outer"))
			rows := func(join string, tb topology.Table[string, string]) topology.Stream[string, string] {
				return topology.MapValues(tb.Changes(), func(c topology.Change[string]) string {
					if c.Deleted {
						return join + " D"
					}
					return join + " +" + c.Value
				})
			}
			topology.To(rows("inner", inner).Merge(rows("outer", outer)), out, s, s)
			return top
		},
		steps: diffTableTableSteps,
		compare: func(t *testing.T, driver, broker []diffOut) {
			t.Helper()
			compareUpdates(t, driver, broker)
			diffShows(t, driver, 20, "inner rows", func(r diffOut) bool { return strings.HasPrefix(r.value, "inner +") })
			diffShows(t, driver, 5, "inner deletions", func(r diffOut) bool { return r.value == "inner D" })
			diffShows(t, driver, 5, "outer rows of the left only", func(r diffOut) bool { return strings.HasSuffix(r.value, "|-") })
			diffShows(t, driver, 5, "outer rows of the right only", func(r diffOut) bool { return strings.HasPrefix(r.value, "outer +-|") })
		},
	},
	{
		// A stream joined with a global table, inner and left, by a key of the record's
		// value (no co-partitioning). The table is written before the App starts, which
		// reads it in full before it processes a record (and the driver is sent it first),
		// so each stream record meets its final rows. (Updates while the App runs would
		// race its global reader against its tasks: nothing a test can pin down.)
		name:   "join-global",
		inputs: []diffTopic{{name: "orders", partitions: diffInPartitions}, {name: "products", partitions: diffFewPartitions, global: true}},
		build: func(topic func(string) string, out string) *topology.Topology {
			top := topology.New()
			s := serde.String()
			orders := diffSource(top, topic("orders"))
			products := topology.GlobalTableFrom(top, topic("products"), s, s, "products")
			product := func(_, v string) string { return "g" + strconv.Itoa(diffNumber(v)%12) }
			inner := topology.JoinGlobal(orders, products, product, func(_, v, pv string) string { return v + " inner " + pv },
				topology.Named("inner"))
			left := topology.LeftJoinGlobal(orders, products, product, func(_, v, pv string, found bool) string {
				if !found {
					pv = "-"
				}
				return v + " left " + pv
			}, topology.Named("left"))
			topology.To(inner.Merge(left), out, s, s)
			return top
		},
		steps: diffGlobalSteps,
		compare: func(t *testing.T, driver, broker []diffOut) {
			t.Helper()
			compareStateless(t, driver, broker)
			diffShows(t, driver, 20, "inner results", func(r diffOut) bool { return strings.Contains(r.value, " inner ") })
			diffShows(t, driver, 10, "left results without a row", func(r diffOut) bool { return strings.HasSuffix(r.value, " left -") })
		},
	},
	{
		// Orders (a table) left-joined with customers (a table) by the customer each
		// order names, through the subscription and response topics; its changes, a
		// deletion as a tombstone. Deterministic per key by the steps, which change one
		// table each, by turns: an orders step changes an order at most once, so the
		// response to its subscription is never stale (a second update before it came
		// back would make it so, or not, by the broker's timing); a customers step leaves
		// the orders, and so the subscriptions, as they are, and a customer's updates
		// reach each order that names it in their order, from the customer's task.
		name:   "join-foreign-key",
		inputs: []diffTopic{{name: "orders", partitions: diffJoinPartitions}, {name: "customers", partitions: diffFewPartitions}},
		build: func(topic func(string) string, out string) *topology.Topology {
			top := topology.New()
			s := serde.String()
			orders := topology.TableFrom(top, topic("orders"), s, s, "orders")
			customers := topology.TableFrom(top, topic("customers"), s, s, "customers")
			customer := func(_, o string) (string, bool) {
				c, _, _ := strings.Cut(o, ":")
				return c, c != "-"
			}
			joined := topology.LeftJoinForeignKey(orders, customers, customer, func(_, o, c string, found bool) string {
				if !found {
					c = "-"
				}
				return o + "|" + c
			}, s, "orders-enriched", topology.Named("enrich"))
			topology.To(joined.Changes(), out, s, diffChanges{})
			return top
		},
		steps: diffForeignKeySteps,
		compare: func(t *testing.T, driver, broker []diffOut) {
			t.Helper()
			compareUpdates(t, driver, broker)
			diffShows(t, driver, 10, "results with a customer", func(r diffOut) bool { return strings.Contains(r.value, "|n") })
			diffShows(t, driver, 5, "results with a customer's later row", func(r diffOut) bool {
				return strings.Contains(r.value, "|n4-") || strings.Contains(r.value, "|n6-")
			})
			diffShows(t, driver, 5, "results without a customer", func(r diffOut) bool { return strings.HasSuffix(r.value, "|-") })
			diffShows(t, driver, 3, "deletions", func(r diffOut) bool { return r.value == "<tombstone>" })
		},
	},
}

// diffStreamTableSteps makes six steps over the keys k00…k19, each in its hash's
// partition of both topics. In each step a key belongs to the table or to the stream (two
// keys in three to the table in the first step, one in two after): its records in the
// step are table updates "t<step>-<index>", a sixth of them deletions, or stream records
// "p<partition>-s<step>-<index>".
func diffStreamTableSteps(seed uint64) []diffStep {
	rng := rand.New(rand.NewPCG(seed, 0x7ab1e^seed))
	clock := diffClock{rng: rng, newest: diffT0}
	steps := make([]diffStep, 6)
	for s := range steps {
		table := diffShare(rng, 1, 2)
		if s == 0 {
			table = diffShare(rng, 2, 3)
		}
		for i := range 60 + rng.IntN(40) {
			ts := clock.next()
			k := diffKey(rng)
			p := diffPartition(k, diffJoinPartitions)
			r := diffRecord{topic: "stream", key: k, value: fmt.Sprintf("p%d-s%d-%03d", p, s, i), partition: p, ts: ts}
			if table[k] {
				r.topic, r.value, r.tombstone = "table", fmt.Sprintf("t%d-%03d", s, i), rng.IntN(6) == 0
			}
			steps[s].records = append(steps[s].records, r)
		}
	}
	return steps
}

// diffStreamStreamSteps makes one step, written before the App starts: a few hundred
// records over the keys k00…k19, each to the left or the right topic at random, in its
// key's hash partition (the topics are co-partitioned), with event times from one
// diffClock over both, values "L<partition>-<index>" and "R<partition>-<index>"; then a
// record on every partition of both topics an hour later, which closes every window.
func diffStreamStreamSteps(seed uint64) []diffStep {
	rng := rand.New(rand.NewPCG(seed, 0x5715^seed))
	clock := diffClock{rng: rng, newest: diffT0}
	var recs []diffRecord
	for i := range 300 + rng.IntN(100) {
		ts := clock.next()
		k := diffKey(rng)
		p := diffPartition(k, diffJoinPartitions)
		topic, side := "left", "L"
		if rng.IntN(2) == 0 {
			topic, side = "right", "R"
		}
		recs = append(recs, diffRecord{topic: topic, key: k, value: fmt.Sprintf("%s%d-%04d", side, p, i), partition: p, ts: ts})
	}
	for p := range int32(diffJoinPartitions) {
		for _, side := range []string{"left", "right"} {
			recs = append(recs, diffRecord{topic: side, key: "flush", value: fmt.Sprintf("%s%d-flush", strings.ToUpper(side[:1]), p),
				partition: p, ts: clock.newest.Add(time.Hour)})
		}
	}
	return []diffStep{{records: recs, beforeStart: true}}
}

// diffTableTableSteps makes six steps over the keys k00…k19, each in its hash's partition
// of both tables' topics. In each step a key belongs to one side, drawn at random: its
// updates in the step are "l<step>-<index>" or "r<step>-<index>", a sixth of them
// deletions (of a row the table may not have).
func diffTableTableSteps(seed uint64) []diffStep {
	rng := rand.New(rand.NewPCG(seed, 0x7ab7ab^seed))
	clock := diffClock{rng: rng, newest: diffT0}
	steps := make([]diffStep, 6)
	for s := range steps {
		left := diffShare(rng, 1, 2)
		for i := range 40 + rng.IntN(30) {
			ts := clock.next()
			k := diffKey(rng)
			r := diffRecord{topic: "right", key: k, value: fmt.Sprintf("r%d-%03d", s, i), partition: diffPartition(k, diffJoinPartitions),
				ts: ts, tombstone: rng.IntN(6) == 0}
			if left[k] {
				r.topic, r.value = "left", fmt.Sprintf("l%d-%03d", s, i)
			}
			steps[s].records = append(steps[s].records, r)
		}
	}
	return steps
}

// diffGlobalSteps makes the products table — 40 updates of g0…g9 in their hash's
// partitions, a sixth of them deletions; g10 and g11 never written — and then diffInput's
// records as orders, each of product g<n mod 12>; both written before the App starts.
func diffGlobalSteps(seed uint64) []diffStep {
	rng := rand.New(rand.NewPCG(seed, 0x910ba1^seed))
	var products []diffRecord
	for i := range 40 {
		g := fmt.Sprintf("g%d", rng.IntN(10))
		products = append(products, diffRecord{topic: "products", key: g, value: fmt.Sprintf("name%02d", i),
			partition: diffPartition(g, diffFewPartitions), ts: diffT0.Add(-time.Minute + time.Duration(i)*time.Millisecond),
			tombstone: rng.IntN(6) == 0})
	}
	orders := diffInput(seed)
	for i := range orders {
		orders[i].topic = "orders"
	}
	return []diffStep{{records: products, beforeStart: true}, {records: orders, beforeStart: true}}
}

// diffForeignKeySteps makes seven steps, by turns of the customers (c0…c7, in their
// hash's partitions of diffFewPartitions) and of the orders (o00…o29, of
// diffJoinPartitions), customers first. A customers step updates customers at random,
// "n<step>-<index>", a fifth of them deletions. An orders step updates a random set of
// orders once each: to a customer, "c<x>:<step>-<index>" (c8 and c9 are never written),
// to no customer ("-:<step>-<index>": the order has no foreign key) or a deletion, one in
// six each.
func diffForeignKeySteps(seed uint64) []diffStep {
	rng := rand.New(rand.NewPCG(seed, 0xf0e1^seed))
	clock := diffClock{rng: rng, newest: diffT0}
	steps := make([]diffStep, 7)
	for s := range steps {
		if s%2 == 0 {
			for i := range 15 + rng.IntN(15) {
				c := fmt.Sprintf("c%d", rng.IntN(8))
				steps[s].records = append(steps[s].records, diffRecord{topic: "customers", key: c, value: fmt.Sprintf("n%d-%02d", s, i),
					partition: diffPartition(c, diffFewPartitions), ts: clock.next(), tombstone: rng.IntN(5) == 0})
			}
			continue
		}
		for i, o := range rng.Perm(30)[:10+rng.IntN(15)] {
			k := fmt.Sprintf("o%02d", o)
			r := diffRecord{topic: "orders", key: k, value: fmt.Sprintf("c%d:%d-%02d", rng.IntN(10), s, i),
				partition: diffPartition(k, diffJoinPartitions), ts: clock.next()}
			switch rng.IntN(6) {
			case 0:
				r.tombstone = true
			case 1:
				r.value = fmt.Sprintf("-:%d-%02d", s, i)
			}
			steps[s].records = append(steps[s].records, r)
		}
	}
	return steps
}

// diffChanges writes a table's change as its value, a deletion as a tombstone.
type diffChanges struct{}

func (diffChanges) AppendEncode(dst []byte, c topology.Change[string]) ([]byte, error) {
	return append(dst, c.Value...), nil
}
func (diffChanges) Decode(b []byte) (topology.Change[string], error) {
	return topology.Change[string]{Value: string(b), Deleted: b == nil}, nil
}
func (diffChanges) IsNull(c topology.Change[string]) bool { return c.Deleted }
