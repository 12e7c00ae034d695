// Package fkref is the reference model of foreign-key table joins, for tests to compare
// eddy's output with: random updates of a left table (orders, each naming a customer or
// none) and a right table (customers), the result the join's definition gives for the
// final tables, and the checks an update stream of the result must pass. Written for
// clarity, not speed.
package fkref

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Update is one update of a table row: a new value, or a deletion. Seq numbers the
// updates of one input from 1, in the order they are written; a row's value as of the end
// is its update with the highest Seq.
type Update struct {
	Key     string
	Value   string
	Deleted bool
	Seq     int
}

// Input is a random run's updates of both tables, in the order they are written.
type Input struct {
	Left, Right []Update
}

// Options shape the random input.
type Options struct {
	Updates   int // left and right updates together
	Orders    int // distinct left keys
	Customers int // distinct right keys, and foreign keys
	// DeleteLeft and DeleteRight delete rows too, on that side (a table from a topic; an
	// aggregation cannot).
	DeleteLeft, DeleteRight bool
}

// Random makes updates of orders o0… (value "<customer>,<seq>", customer "" for none)
// and customers c0… (value "<customer>#<seq>"): a third on the right, some orders without a
// customer, some naming customers that never exist, and deletions on the sides asked.
func Random(rng *rand.Rand, o Options) Input {
	var in Input
	for seq := 1; seq <= o.Updates; seq++ {
		del := rng.IntN(8) == 0
		if rng.IntN(3) == 0 {
			c := fmt.Sprintf("c%d", rng.IntN(o.Customers))
			in.Right = append(in.Right, Update{Key: c, Value: fmt.Sprintf("%s#%d", c, seq), Deleted: del && o.DeleteRight, Seq: seq})
			continue
		}
		fk := fmt.Sprintf("c%d", rng.IntN(o.Customers+2)) // two never exist
		if rng.IntN(10) == 0 {
			fk = ""
		}
		in.Left = append(in.Left, Update{Key: fmt.Sprintf("o%d", rng.IntN(o.Orders)), Value: fmt.Sprintf("%s,%d", fk, seq), Deleted: del && o.DeleteLeft, Seq: seq})
	}
	return in
}

// ForeignKey is the test joins' foreign-key extractor: an order's customer, none when
// empty.
func ForeignKey(_ string, order string) (string, bool) {
	c, _, _ := strings.Cut(order, ",")
	return c, c != ""
}

// Join is the test joins' joiner: "order|customer", "order|-" for a left join's order
// without one.
func Join(_ string, order, customer string, found bool) string {
	if !found {
		customer = "-"
	}
	return order + "|" + customer
}

// Final is a table's rows at the end: each key's update with the highest Seq, unless it
// is a deletion.
func Final(updates []Update) map[string]string {
	last := map[string]Update{}
	for _, u := range updates {
		if l, ok := last[u.Key]; !ok || u.Seq > l.Seq {
			last[u.Key] = u
		}
	}
	rows := map[string]string{}
	for k, u := range last {
		if !u.Deleted {
			rows[k] = u.Value
		}
	}
	return rows
}

// Want is the join of the final tables, by definition: each order with its customer's
// row; without one, an inner join leaves the order out and a left join keeps it with "-".
func Want(in Input, left bool) map[string]string {
	customers := Final(in.Right)
	out := map[string]string{}
	for k, order := range Final(in.Left) {
		fk, ok := ForeignKey(k, order)
		c, found := customers[fk]
		if ok && found || left {
			out[k] = Join(k, order, c, ok && found)
		}
	}
	return out
}

// Output is one record of the result's update stream: a deletion when Deleted.
type Output struct {
	Key, Value string
	Deleted    bool
}

// Check checks a result's update stream, each key's records in the order they were
// written: its end state (each key's last record) must be Want, and no record may be
// stale — each names an order update that happened, joined with a customer row of that
// order's foreign key (never one of a key the order had before or has later) that
// happened, or with none ("-") only in a left join; and a key's records never go back to
// an older order update than one they showed already. It returns every violation found.
func Check(in Input, left bool, outs []Output) []string {
	orders := map[string]Update{} // by seq
	for _, u := range in.Left {
		orders[strconv.Itoa(u.Seq)] = u
	}
	customers := map[string]bool{}
	for _, u := range in.Right {
		if !u.Deleted {
			customers[u.Value] = true
		}
	}
	var bad []string
	newest := map[string]int{}
	end := map[string]string{}
	for i, o := range outs {
		if o.Deleted {
			delete(end, o.Key)
			continue
		}
		end[o.Key] = o.Value
		order, customer, _ := strings.Cut(o.Value, "|")
		fk, seqText, _ := strings.Cut(order, ",")
		seq, _ := strconv.Atoi(seqText)
		u, ok := orders[seqText]
		switch {
		case !ok || u.Key != o.Key || u.Deleted || u.Value != order:
			bad = append(bad, fmt.Sprintf("output %d, %s=%s: no such update of order %s", i, o.Key, o.Value, o.Key))
			continue
		case seq < newest[o.Key]:
			bad = append(bad, fmt.Sprintf("output %d, %s=%s: stale, after a result of update %d", i, o.Key, o.Value, newest[o.Key]))
		}
		newest[o.Key] = max(newest[o.Key], seq)
		if customer == "-" {
			if !left {
				bad = append(bad, fmt.Sprintf("output %d, %s=%s: an inner join without a customer", i, o.Key, o.Value))
			}
			continue
		}
		if id, _, _ := strings.Cut(customer, "#"); id != fk || fk == "" || !customers[customer] {
			bad = append(bad, fmt.Sprintf("output %d, %s=%s: joined with customer row %s, which order update %d does not name",
				i, o.Key, o.Value, customer, seq))
		}
	}
	want := Want(in, left)
	for _, k := range slices.Sorted(keys(want, end)) {
		if end[k] != want[k] {
			bad = append(bad, fmt.Sprintf("end state of %s: %q, want %q", k, end[k], want[k]))
		}
	}
	return bad
}

// keys yields the keys of a and b, once each.
func keys(a, b map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range a {
			if !yield(k) {
				return
			}
		}
		for k := range b {
			if _, dup := a[k]; !dup && !yield(k) {
				return
			}
		}
	}
}

// Source is where a side's table comes from.
type Source int

const (
	// FromTopic reads the table from a topic keyed by the row key (TableFrom).
	FromTopic Source = iota
	// FromEvents aggregates it from a topic of events keyed by event id, each naming its
	// row: re-keyed by row (a repartition), then reduced to the row's latest update.
	FromEvents
)

// String names the source in test names.
func (s Source) String() string {
	if s == FromEvents {
		return "events"
	}
	return "topic"
}

// Case is one shape of the test join: inner or left, and where each side comes from.
type Case struct {
	LeftJoin            bool
	LeftFrom, RightFrom Source
}

// String names the case in test names.
func (c Case) String() string {
	kind := "inner"
	if c.LeftJoin {
		kind = "left"
	}
	return fmt.Sprintf("%s, orders from %s, customers from %s", kind, c.LeftFrom, c.RightFrom)
}

// Options are the random input's for n updates: deletions on the sides read from topics.
func (c Case) Options(n int) Options {
	return Options{Updates: n, Orders: 25, Customers: 8, DeleteLeft: c.LeftFrom == FromTopic, DeleteRight: c.RightFrom == FromTopic}
}

// Topology builds the join of the orders in topic orders and the customers in topic
// customers, with its result's changes (deletions as null values) written to out.
func (c Case) Topology(orders, customers, out string) *topology.Topology {
	top := topology.New()
	left := table(top, orders, "orders", c.LeftFrom)
	right := table(top, customers, "customers", c.RightFrom)
	var joined topology.Table[string, string]
	if c.LeftJoin {
		joined = topology.LeftJoinForeignKey(left, right, ForeignKey, Join, serde.String(), "orders-enriched", topology.Named("enrich"))
	} else {
		joined = topology.JoinForeignKey(left, right, ForeignKey, func(k, o, c string) string { return Join(k, o, c, true) },
			serde.String(), "orders-enriched", topology.Named("enrich"))
	}
	topology.To(joined.Changes(), out, serde.String(), changes{})
	return top
}

// table reads a side's table from topic, into the store named name (and a repartition
// named after it).
func table(top *topology.Topology, topic, name string, from Source) topology.Table[string, string] {
	if from == FromTopic {
		return topology.TableFrom(top, topic, serde.String(), serde.String(), name)
	}
	byRow := topology.Map(topology.From(top, topic, serde.String(), serde.String()), func(_, v string) (string, string) {
		row, value, _ := strings.Cut(v, ">")
		return row, value
	})
	return topology.Reduce(topology.GroupByKey(byRow, serde.String(), serde.String(), topology.Named(name+"-by-row")),
		func(agg, v string) string {
			if seqOf(v) > seqOf(agg) {
				return v
			}
			return agg
		}, name)
}

// seqOf is the Seq a value carries at its end ("c1,7", "c1#7").
func seqOf(v string) int {
	n, _ := strconv.Atoi(v[strings.LastIndexAny(v, ",#")+1:])
	return n
}

// changes writes a change's value, and a deletion as null.
type changes struct{}

func (changes) AppendEncode(dst []byte, c topology.Change[string]) ([]byte, error) {
	return append(dst, c.Value...), nil
}
func (changes) Decode(b []byte) (topology.Change[string], error) {
	return topology.Change[string]{Value: string(b), Deleted: b == nil}, nil
}
func (changes) IsNull(c topology.Change[string]) bool { return c.Deleted }

// Records are the input's updates as records for topics orders and customers, stamped
// with times that repeat (three updates a millisecond): a table's by row key, a deletion
// with a null value; events keyed by their Seq with the value "<row>><value>".
func (c Case) Records(in Input, orders, customers string) []*kgo.Record {
	var recs []*kgo.Record
	add := func(u Update, topic string, from Source) {
		r := &kgo.Record{Topic: topic, Key: []byte(u.Key), Value: []byte(u.Value), Timestamp: time.UnixMilli(int64(1000 + u.Seq/3))}
		switch {
		case from == FromEvents:
			r.Key, r.Value = []byte(fmt.Sprintf("e%d", u.Seq)), []byte(u.Key+">"+u.Value)
		case u.Deleted:
			r.Value = nil
		}
		recs = append(recs, r)
	}
	l, r := 0, 0
	for l < len(in.Left) || r < len(in.Right) {
		if r == len(in.Right) || l < len(in.Left) && in.Left[l].Seq < in.Right[r].Seq {
			add(in.Left[l], orders, c.LeftFrom)
			l++
		} else {
			add(in.Right[r], customers, c.RightFrom)
			r++
		}
	}
	return recs
}

// Outputs reads the result's changes as written to the output topic (see Topology), each
// key's in the order written when recs are in offset order per partition.
func Outputs(recs []*kgo.Record) []Output {
	outs := make([]Output, len(recs))
	for i, r := range recs {
		outs[i] = Output{Key: string(r.Key), Value: string(r.Value), Deleted: r.Value == nil}
	}
	return outs
}
