package topology

import (
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// GroupedTable is a table re-keyed by GroupTable, ready to aggregate with an adder and a
// subtractor: CountTable, ReduceTable, AggregateTable.
type GroupedTable[K, V any] struct {
	s  Stream[K, V] // the re-keyed updates, each marked as an addition or a retraction
	ks serde.Serde[K]
	vs serde.Serde[V]
}

// retractHeader marks a re-grouped table's record that retracts a key's old value from its
// group (Kafka Streams' subtractor side); records without it add.
const retractHeader = "eddy-retract"

// GroupTable re-groups a table (Kafka Streams' KTable.groupBy): f gives each row a new key
// and value, and the rows go through a repartition topic to the tasks of their new keys.
// Every update of a row retracts its old (key, value) from its old group, then adds the
// new one; a deletion only retracts. The aggregations of the result (CountTable,
// ReduceTable, AggregateTable) so stay right when a row changes group — a count of users
// per region when a user moves. Options: Named and Partitions, for the repartition topic.
func GroupTable[K, V, KR, VR any](t Table[K, V], f func(K, V) (KR, VR), ks serde.Serde[KR], vs serde.Serde[VR], opts ...Option) GroupedTable[KR, VR] {
	c := t.s.t.configure(opGroupTable, opts)
	*t.old = true // the table's updates carry their old values from now on
	name := t.s.t.nameFor(c, "KTABLE-SELECT")
	rekeyed := processorNode(t.s, name, func(tb *graph.TaskBuild, out *outlets[KR, VR]) (next[K, Change[V]], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, Change[V]]) error {
			if r.Value.HadOld {
				k, v := f(r.Key, r.Value.Old)
				retract := processor.WithKeyValue(r, k, v)
				retract.Headers = append(append([]processor.Header(nil), r.Headers...), processor.Header{Key: retractHeader, Value: []byte{1}})
				if err := n(retract); err != nil {
					return err
				}
			}
			if r.Value.Deleted {
				return nil
			}
			k, v := f(r.Key, r.Value.Value)
			return n(processor.WithKeyValue(r, k, v))
		}, nil
	})
	rekeyed.keyChanged = true
	return GroupedTable[KR, VR]{s: throughInternal(rekeyed, ks, vs, byKey, c), ks: ks, vs: vs}
}

// retracts reports whether a re-grouped table's record retracts, and drops the marker so
// it travels no further.
func retracts[K, V any](r *processor.Record[K, V]) bool {
	for i, h := range r.Headers {
		if h.Key == retractHeader {
			r.Headers = append(r.Headers[:i:i], r.Headers[i+1:]...)
			return true
		}
	}
	return false
}

// CountTable counts the rows per group into the store named store: a row that leaves a
// group (its key or value changed, or it was deleted) is counted out. Options: Named.
func CountTable[K, V any](g GroupedTable[K, V], store string, opts ...Option) Table[K, int64] {
	return aggregateTable(g, opCountTable, "KTABLE-AGGREGATE", serde.Int64(), store, opts,
		func() int64 { return 0 },
		func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, _ V, n int64) int64 { return n - 1 })
}

// ReduceTable combines the rows per group with adder, and takes a row that leaves the
// group out with subtractor (the first row of a group is kept as is). Options: Named.
func ReduceTable[K, V any](g GroupedTable[K, V], adder, subtractor func(agg, v V) V, store string, opts ...Option) Table[K, V] {
	return aggregateTableWith(g, opReduceTable, "KTABLE-REDUCE", g.vs, store, opts,
		func(_ K, v V, agg V, found bool) V {
			if !found {
				return v
			}
			return adder(agg, v)
		},
		func(_ K, v V, agg V) V { return subtractor(agg, v) })
}

// AggregateTable folds the rows per group into an aggregate of type VA: init gives a
// group's first aggregate, adder folds a row in, subtractor takes a row that left the
// group out. Options: Named.
func AggregateTable[K, V, VA any](g GroupedTable[K, V], init func() VA, adder, subtractor func(k K, v V, agg VA) VA,
	as serde.Serde[VA], store string, opts ...Option) Table[K, VA] {
	return aggregateTable(g, opAggregateTable, "KTABLE-AGGREGATE", as, store, opts, init, adder, subtractor)
}

func aggregateTable[K, V, VA any](g GroupedTable[K, V], op operator, prefix string, as serde.Serde[VA], store string, opts []Option,
	init func() VA, adder, subtractor func(K, V, VA) VA) Table[K, VA] {
	return aggregateTableWith(g, op, prefix, as, store, opts,
		func(k K, v V, agg VA, found bool) VA {
			if !found {
				agg = init()
			}
			return adder(k, v, agg)
		},
		func(k K, v V, agg VA) VA { return subtractor(k, v, agg) })
}

// aggregateTableWith runs add or subtract on each re-grouped record, as its marker says. A
// retraction for a group with no aggregate (its addition was in an earlier incarnation of
// the store, say) is dropped: there is nothing to take it from.
func aggregateTableWith[K, V, VA any](g GroupedTable[K, V], op operator, prefix string, as serde.Serde[VA], store string, opts []Option,
	add func(K, V, VA, bool) VA, subtract func(K, V, VA) VA) Table[K, VA] {
	c := g.s.t.configure(op, opts)
	return aggregateNode(g.s, g.s.t.nameFor(c, prefix), g.ks, as, store, func(r *processor.Record[K, V], agg VA, found bool) (VA, bool) {
		switch {
		case !retracts(r):
			return add(r.Key, r.Value, agg, found), true
		case found:
			return subtract(r.Key, r.Value, agg), true
		}
		return agg, false
	})
}
