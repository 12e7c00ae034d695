package topology

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// Change is one update of a table: the key's new value, or its deletion.
type Change[V any] struct {
	Value   V
	Deleted bool
}

// Table is a changelog stream seen as a table: the latest value per key. Its records are
// updates (Change); an aggregation's table gets one update per input record.
type Table[K, V any] struct {
	s     Stream[K, Change[V]]
	store *KeyValueStore[K, V] // nil when the table is not materialized
}

// Store is the key-value store the table is materialized in, for processors in the same
// sub-topology to open (name it in their Process with Stores); nil for a table derived
// with Filter or MapTableValues, which is not materialized.
func (t Table[K, V]) Store() *KeyValueStore[K, V] { return t.store }

// TableFrom reads a topic as a table, materialized in a key-value store named store: each
// record's value replaces the key's value, and a record with a null value deletes it (an
// empty one is a value: "" for String). Records are decoded as From decodes them, so a
// record that does not decode meets the application's OnDeserializationError policy.
func TableFrom[K, V any](t *Topology, topic string, ks serde.Serde[K], vs serde.Serde[V], store string, opts ...Option) Table[K, V] {
	c := configure(opts)
	src := &graph.Node{Name: t.nameFor(c, "KTABLE-SOURCE"), Kind: graph.Source, Topics: []string{topic}, TableSource: true}
	changes := Stream[K, Change[V]]{t: t, node: src, out: &outlets[K, Change[V]]{}}
	if ks == nil || vs == nil {
		t.g.Errorf("table %s: key and value serdes are required", topic)
	}
	src.Build = func(tb *graph.TaskBuild) (graph.Handler, error) {
		next, err := changes.out.compile(tb)
		if err != nil {
			return nil, err
		}
		// The stream sources' decoder: one path, so bad input meets the same policy.
		d := newDecoder[K, V](tb, src, ks, vs, nil)
		return func(rec *kgo.Record) error {
			r, err := d.decode(rec)
			if err != nil {
				return err
			}
			return next(processor.WithValue(r, Change[V]{Value: r.Value, Deleted: rec.Value == nil}))
		}, nil
	}
	t.g.Add(src)
	kvs := NewKeyValueStore(t, store, ks, vs)
	mat := processorNode(changes, "KTABLE-MATERIALIZE", []Option{Named(store + "-materialize")},
		func(tb *graph.TaskBuild, out *outlets[K, Change[V]]) (next[K, Change[V]], error) {
			n, err := out.compile(tb)
			if err != nil {
				return nil, err
			}
			kv, err := kvs.Open(tb.Env)
			if err != nil {
				return nil, err
			}
			return func(r processor.Record[K, Change[V]]) error {
				if r.Value.Deleted {
					err = kv.Delete(r.Key)
				} else {
					err = kv.Put(r.Key, r.Value.Value)
				}
				if err != nil {
					return fmt.Errorf("table %s: %w", store, err)
				}
				return n(r)
			}, nil
		})
	t.g.Connect(mat.node, store)
	return Table[K, V]{s: mat, store: kvs}
}

// ToStream returns the table's updates as a stream of new values. Deletions are left out:
// a Go value cannot be null; use Changes to see them.
func (t Table[K, V]) ToStream(opts ...Option) Stream[K, V] {
	return processorNode(t.s, "KTABLE-TOSTREAM", opts, func(tb *graph.TaskBuild, out *outlets[K, V]) (next[K, Change[V]], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, Change[V]]) error {
			if r.Value.Deleted {
				return nil
			}
			return n(processor.WithValue(r, r.Value.Value))
		}, nil
	})
}

// Changes returns the table's updates, deletions included.
func (t Table[K, V]) Changes() Stream[K, Change[V]] { return t.s }

// Filter returns the table of the keys whose value passes keep. A key whose new value
// fails is deleted from the result, as in Kafka Streams.
func (t Table[K, V]) Filter(keep func(K, V) bool, opts ...Option) Table[K, V] {
	s := passThrough(t.s, "KTABLE-FILTER", opts, func(n next[K, Change[V]]) next[K, Change[V]] {
		return func(r processor.Record[K, Change[V]]) error {
			if !r.Value.Deleted && !keep(r.Key, r.Value.Value) {
				r.Value = Change[V]{Deleted: true}
			}
			return n(r)
		}
	})
	return Table[K, V]{s: s}
}

// MapTableValues returns the table with every value turned into f(value).
func MapTableValues[K, V, VR any](t Table[K, V], f func(V) VR, opts ...Option) Table[K, VR] {
	s := processorNode(t.s, "KTABLE-MAPVALUES", opts, func(tb *graph.TaskBuild, out *outlets[K, Change[VR]]) (next[K, Change[V]], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, Change[V]]) error {
			var c Change[VR]
			if r.Value.Deleted {
				c.Deleted = true
			} else {
				c.Value = f(r.Value.Value)
			}
			return n(processor.WithValue(r, c))
		}, nil
	})
	return Table[K, VR]{s: s}
}
