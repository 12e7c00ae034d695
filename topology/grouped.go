package topology

import (
	"fmt"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// Grouped is a stream grouped by key, ready to aggregate: every record of a key is
// processed by one task.
type Grouped[K, V any] struct {
	s  Stream[K, V]
	ks serde.Serde[K]
	vs serde.Serde[V]
}

// GroupByKey groups s by its key. If the records may not be partitioned by their key any
// more — an operation before it may have changed the key (SelectKey, Map, FlatMap,
// Process), or a Rebalance spread each key over every partition — they are repartitioned
// by key first, through an internal topic.
//
// Options: Named and Partitions, for that topic as for Repartition. With no repartition
// (the stream is still partitioned by its key) they have nothing to apply to, and are an
// error rather than ignored.
func GroupByKey[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Grouped[K, V] {
	return groupByKey(s, ks, vs, opGroupByKey, opts)
}

// GroupBy groups s by a new key, f(key, value), repartitioning by it. Options: Named and
// Partitions, for the repartition topic, as for Repartition.
func GroupBy[K, V, KR any](s Stream[K, V], f func(K, V) KR, ks serde.Serde[KR], vs serde.Serde[V], opts ...Option) Grouped[KR, V] {
	return groupByKey(SelectKey(s, f), ks, vs, opGroupBy, opts)
}

func groupByKey[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], op operator, opts []Option) Grouped[K, V] {
	c := s.t.configure(op, opts)
	switch {
	case s.keyChanged:
		s = throughInternal(s, ks, vs, byKey, c)
	case c.given != 0:
		name, _ := op.spec()
		s.t.g.Errorf("%s: %s applies to the repartition topic %s inserts, and there is none: the stream is still "+
			"partitioned by its key (leave the options out, or Repartition to force a topic)", op.label(c), c.given, name)
	}
	return Grouped[K, V]{s: s, ks: ks, vs: vs}
}

// Count counts the records per key into the store named store, and returns the counts as
// a table: one update per input record. Options: Named.
func Count[K, V any](g Grouped[K, V], store string, opts ...Option) Table[K, int64] {
	return aggregate(g, opCount, "KSTREAM-AGGREGATE", serde.Int64(), store, opts, func(_ K, _ V, n int64, _ bool) int64 { return n + 1 })
}

// Reduce combines the values per key with f (the first value of a key is kept as is) into
// the store named store. Options: Named.
func Reduce[K, V any](g Grouped[K, V], f func(agg, v V) V, store string, opts ...Option) Table[K, V] {
	return aggregate(g, opReduce, "KSTREAM-REDUCE", g.vs, store, opts, func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return f(agg, v)
	})
}

// Aggregate folds the values per key into an aggregate of type VA: init gives a key's
// first aggregate, add folds in each value. The aggregates live in the store named store,
// encoded with as. Options: Named.
func Aggregate[K, V, VA any](g Grouped[K, V], init func() VA, add func(k K, v V, agg VA) VA, as serde.Serde[VA], store string, opts ...Option) Table[K, VA] {
	return aggregate(g, opAggregate, "KSTREAM-AGGREGATE", as, store, opts, func(k K, v V, agg VA, found bool) VA {
		if !found {
			agg = init()
		}
		return add(k, v, agg)
	})
}

func aggregate[K, V, VA any](g Grouped[K, V], op operator, prefix string, as serde.Serde[VA], store string, opts []Option,
	fold func(k K, v V, agg VA, found bool) VA) Table[K, VA] {
	c := g.s.t.configure(op, opts)
	return aggregateNode(g.s, g.s.t.nameFor(c, prefix), g.ks, as, store, func(r *processor.Record[K, V], agg VA, found bool) (VA, bool) {
		return fold(r.Key, r.Value, agg, found), true
	})
}

// aggregateNode adds the processor behind every aggregation: it reads the record's key's
// aggregate from store, applies the record (apply returns the new aggregate, or false to
// drop the record), writes it back and forwards the change with the old aggregate.
func aggregateNode[K, V, VA any](s Stream[K, V], name string, ks serde.Serde[K], as serde.Serde[VA], store string,
	apply func(r *processor.Record[K, V], agg VA, found bool) (VA, bool)) Table[K, VA] {
	t := s.t
	kvs := NewKeyValueStore(t, store, ks, as)
	needOld := new(bool)
	out := processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, Change[VA]]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		kv, err := kvs.Open(tb.Env)
		if err != nil {
			return nil, err
		}
		sendOld := *needOld
		return func(r processor.Record[K, V]) error {
			old, found, err := kv.Get(r.Key)
			if err != nil {
				return fmt.Errorf("store %s: %w", store, err)
			}
			agg, ok := apply(&r, old, found)
			if !ok {
				return nil
			}
			if err := kv.Put(r.Key, agg); err != nil {
				return fmt.Errorf("store %s: %w", store, err)
			}
			c := Change[VA]{Value: agg}
			if sendOld {
				c.Old, c.HadOld = old, found
			}
			return n(processor.WithValue(r, c))
		}, nil
	})
	t.g.Connect(out.node, store)
	return Table[K, VA]{s: out, store: kvs, view: storeView(kvs), root: store, old: needOld, ks: ks, vs: as}
}
