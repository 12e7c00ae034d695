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

// GroupByKey groups s by its key. If an operation before it may have changed the key
// (SelectKey, Map, FlatMap, Process), the records are repartitioned by key first, through
// an internal topic named by the options (Named) or generated.
func GroupByKey[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Grouped[K, V] {
	if s.keyChanged {
		s = Repartition(s, ks, vs, opts...)
	}
	return Grouped[K, V]{s: s, ks: ks, vs: vs}
}

// GroupBy groups s by a new key, f(key, value), repartitioning by it.
func GroupBy[K, V, KR any](s Stream[K, V], f func(K, V) KR, ks serde.Serde[KR], vs serde.Serde[V], opts ...Option) Grouped[KR, V] {
	return GroupByKey(SelectKey(s, f), ks, vs, opts...)
}

// Count counts the records per key into the store named store, and returns the counts as
// a table: one update per input record.
func Count[K, V any](g Grouped[K, V], store string, opts ...Option) Table[K, int64] {
	return Aggregate(g, func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 },
		serde.Int64(), store, opts...)
}

// Reduce combines the values per key with f (the first value of a key is kept as is) into
// the store named store.
func Reduce[K, V any](g Grouped[K, V], f func(agg, v V) V, store string, opts ...Option) Table[K, V] {
	return aggregate(g, "KSTREAM-REDUCE", g.vs, store, opts, func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return f(agg, v)
	})
}

// Aggregate folds the values per key into an aggregate of type VA: init gives a key's
// first aggregate, add folds in each value. The aggregates live in the store named store,
// encoded with as.
func Aggregate[K, V, VA any](g Grouped[K, V], init func() VA, add func(k K, v V, agg VA) VA, as serde.Serde[VA], store string, opts ...Option) Table[K, VA] {
	return aggregate(g, "KSTREAM-AGGREGATE", as, store, opts, func(k K, v V, agg VA, found bool) VA {
		if !found {
			agg = init()
		}
		return add(k, v, agg)
	})
}

func aggregate[K, V, VA any](g Grouped[K, V], prefix string, as serde.Serde[VA], store string, opts []Option,
	fold func(k K, v V, agg VA, found bool) VA) Table[K, VA] {
	t := g.s.t
	kvs := NewKeyValueStore(t, store, g.ks, as)
	s := processorNode(g.s, prefix, opts, func(tb *graph.TaskBuild, out *outlets[K, Change[VA]]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		kv, err := kvs.Open(tb.Env)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			agg, found, err := kv.Get(r.Key)
			if err != nil {
				return fmt.Errorf("store %s: %w", store, err)
			}
			agg = fold(r.Key, r.Value, agg, found)
			if err := kv.Put(r.Key, agg); err != nil {
				return fmt.Errorf("store %s: %w", store, err)
			}
			return n(processor.WithValue(r, Change[VA]{Value: agg}))
		}, nil
	})
	t.g.Connect(s.node, store)
	return Table[K, VA]{s: s, store: kvs, view: storeView(kvs)}
}
