package topology

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// Change is one update of a table: the key's new value, or its deletion.
type Change[V any] struct {
	Value   V
	Deleted bool
	// Old is the key's value before the change, when HadOld says it had one: a table
	// re-grouped with GroupTable retracts it from its old group. Tables fill it only for
	// such an operator downstream; elsewhere HadOld is false.
	Old    V
	HadOld bool
}

// Table is a changelog stream seen as a table: the latest value per key. Its records are
// updates (Change); an aggregation's table gets one update per input record.
type Table[K, V any] struct {
	s     Stream[K, Change[V]]
	store *KeyValueStore[K, V] // nil when the table is not materialized
	view  view[K, V]
	// root is the name of the store the table, or the table it is derived from, is
	// materialized in: a join reads it, so it runs in the store's sub-topology.
	root string
	// old, shared along a chain of derived tables, says an operator downstream needs each
	// update's old value (GroupTable, to retract it), as Kafka Streams'
	// enableSendingOldValues. Without one, no update reads or carries it.
	old *bool
	// ks and vs are the table's serdes where they are known (TableFrom's, an aggregation's,
	// kept by Filter; MapTableValues keeps ks), else nil: operators that write the table's
	// keys or values to internal topics (JoinForeignKey) use them.
	ks serde.Serde[K]
	vs serde.Serde[V]
	// history is the history retention of the versioned store the table is materialized
	// in, or derived from (0: not versioned; versioned.go).
	history time.Duration
}

// reader reads a table's content in one task: each walks every live key with its value,
// get looks one key up, at looks it up as of a time (a versioned table's; nil otherwise).
type reader[K, V any] struct {
	each func(fn func(K, V) error) error
	get  func(K) (V, bool, error)
	at   func(K, time.Time) (V, bool, error)
}

// view opens a table's reader for a task: the entries of the store the table (or the table
// it is derived from) is materialized in, through the Filter and MapTableValues steps
// that derive it. ToStream reports a bounded run's results with it; joins look keys up.
type view[K, V any] func(env graph.Env) (reader[K, V], error)

// storeView is the view of a table materialized in kvs.
func storeView[K, V any](kvs *KeyValueStore[K, V]) view[K, V] {
	return func(env graph.Env) (reader[K, V], error) {
		kv, err := kvs.Open(env)
		if err != nil {
			return reader[K, V]{}, err
		}
		each := func(fn func(K, V) error) error {
			it, err := kv.Range(nil, nil)
			if err != nil {
				return fmt.Errorf("store %s: %w", kvs.name, err)
			}
			for it.Next() {
				if err := fn(it.Key(), it.Value()); err != nil {
					it.Close()
					return err
				}
			}
			err = it.Err()
			if cerr := it.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("store %s: %w", kvs.name, err)
			}
			return nil
		}
		get := func(k K) (V, bool, error) {
			v, ok, err := kv.Get(k)
			if err != nil {
				err = fmt.Errorf("store %s: %w", kvs.name, err)
			}
			return v, ok, err
		}
		return reader[K, V]{each: each, get: get}, nil
	}
}

// derive returns the view of a table derived from t's view by step, which passes on the
// entries it keeps, transformed.
func derive[K, V, VR any](v view[K, V], step func(k K, val V, fn func(K, VR) error) error) view[K, VR] {
	return func(env graph.Env) (reader[K, VR], error) {
		inner, err := v(env)
		if err != nil {
			return reader[K, VR]{}, err
		}
		each := func(fn func(K, VR) error) error {
			return inner.each(func(k K, val V) error { return step(k, val, fn) })
		}
		through := func(k K, val V, ok bool, err error) (out VR, found bool, _ error) {
			if err != nil || !ok {
				return out, false, err
			}
			err = step(k, val, func(_ K, v VR) error { out, found = v, true; return nil })
			return out, found, err
		}
		get := func(k K) (VR, bool, error) {
			val, ok, err := inner.get(k)
			return through(k, val, ok, err)
		}
		r := reader[K, VR]{each: each, get: get}
		if inner.at != nil {
			r.at = func(k K, t time.Time) (VR, bool, error) {
				val, ok, err := inner.at(k, t)
				return through(k, val, ok, err)
			}
		}
		return r, nil
	}
}

// Store is the key-value store the table is materialized in, for processors in the same
// sub-topology to open (name it in their Process with Stores); nil for a table derived
// with Filter or MapTableValues, which is not materialized, and for a versioned table
// (Versioned), whose store keeps versions, not one value per key.
func (t Table[K, V]) Store() *KeyValueStore[K, V] { return t.store }

// WithSerdes returns the table with the serdes of its keys and values declared, for a
// table whose own are not known — one derived with MapTableValues, whose values have a new
// type — before an operator that writes them to internal topics (JoinForeignKey). ks must
// encode keys as the table's topic is partitioned (the serde it was read or grouped with).
func (t Table[K, V]) WithSerdes(ks serde.Serde[K], vs serde.Serde[V]) Table[K, V] {
	t.ks, t.vs = ks, vs
	return t
}

// TableFrom reads a topic as a table, materialized in a key-value store named store: each
// record's value replaces the key's value, and a record with a null value deletes it (an
// empty one is a value: "" for String). Records are decoded as From decodes them, so a
// record that does not decode meets the application's OnDeserializationError policy.
//
// Options: Named, and Versioned, to keep each key's history for joins by time.
func TableFrom[K, V any](t *Topology, topic string, ks serde.Serde[K], vs serde.Serde[V], store string, opts ...Option) Table[K, V] {
	c := t.configure(opTableFrom, opts)
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
			var r processor.Record[K, V]
			if err := d.decodeInto(rec, &r); err != nil {
				return err
			}
			return next(processor.WithValue(r, Change[V]{Value: r.Value, Deleted: rec.Value == nil}))
		}, nil
	}
	t.g.Add(src)
	if c.history > 0 {
		return versionedTable(t, changes, store, ks, vs, c.history)
	}
	kvs := NewKeyValueStore(t, store, ks, vs)
	needOld := new(bool)
	mat := processorNode(changes, store+"-materialize",
		func(tb *graph.TaskBuild, out *outlets[K, Change[V]]) (next[K, Change[V]], error) {
			n, err := out.compile(tb)
			if err != nil {
				return nil, err
			}
			kv, err := kvs.Open(tb.Env)
			if err != nil {
				return nil, err
			}
			sendOld := *needOld // read when the task is built: the topology is complete
			return func(r processor.Record[K, Change[V]]) error {
				if sendOld {
					old, had, err := kv.Get(r.Key)
					if err != nil {
						return fmt.Errorf("table %s: %w", store, err)
					}
					r.Value.Old, r.Value.HadOld = old, had
				}
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
	return Table[K, V]{s: mat, store: kvs, view: storeView(kvs), root: store, old: needOld, ks: ks, vs: vs}
}

// ToStream returns the table's updates as a stream of new values. Deletions are left out:
// a Go value cannot be null; use Changes to see them.
//
// In a bounded run (eddy.Bounded) a table's result is reported at the end of the job, as
// a batch job reports it: when its task reaches the end of its input, ToStream emits every
// key the table holds then, once, with its final value, stamped with the wall-clock time
// of the end (a table keeps no time per key). Option EmitUpdates gives every update
// instead, as in a run that does not end. The end's output flows through the operators
// below ToStream as ordinary records, and reaches the tasks downstream before they learn
// that this one has ended; a failure there stops Run (there is no input record to skip or
// dead-letter).
//
// The end reads the table's store: the materialized one, through the Filter and
// MapTableValues steps of a derived table. It does not keep a set of the keys that
// changed during the run: the store, restored from its changelog, is right after an
// aborted transaction (the task is rebuilt and reaches its end again) and after a crash
// and a rerun, where a set kept in memory would have lost the keys changed before; and a
// set kept durably would be a second store with a changelog, to be cleared atomically
// with the output it caused. The price: each run reports every key of the table, those
// earlier runs wrote included, not only those it changed; its output depends only on the
// input read so far, not on how that input was split into runs.
func (t Table[K, V]) ToStream(opts ...Option) Stream[K, V] {
	c := t.s.t.configure(opTableToStream, opts)
	updates := c.emitUpdates
	return processorNode(t.s, t.s.t.nameFor(c, "KTABLE-TOSTREAM"), func(tb *graph.TaskBuild, out *outlets[K, V]) (next[K, Change[V]], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		if tb.Env.Bounded() && !updates {
			r, err := t.view(tb.Env)
			if err != nil {
				return nil, err
			}
			each := r.each
			// Registered after the children compiled: it runs before their own ends.
			tb.OnEndOfInput(func() error {
				now := time.Now()
				return each(func(k K, v V) error {
					return n(processor.Record[K, V]{Key: k, Value: v, Timestamp: now})
				})
			})
			return func(processor.Record[K, Change[V]]) error { return nil }, nil
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
	s := passThrough(t.s, t.s.t.nodeName(opTableFilter, "KTABLE-FILTER", opts), func(n next[K, Change[V]]) next[K, Change[V]] {
		return func(r processor.Record[K, Change[V]]) error {
			if !r.Value.Deleted && !keep(r.Key, r.Value.Value) {
				r.Value = Change[V]{Deleted: true, Old: r.Value.Old, HadOld: r.Value.HadOld}
			}
			if r.Value.HadOld && !keep(r.Key, r.Value.Old) {
				var zero V
				r.Value.Old, r.Value.HadOld = zero, false
			}
			return n(r)
		}
	})
	v := derive(t.view, func(k K, val V, fn func(K, V) error) error {
		if !keep(k, val) {
			return nil
		}
		return fn(k, val)
	})
	return Table[K, V]{s: s, view: v, root: t.root, old: t.old, ks: t.ks, vs: t.vs, history: t.history}
}

// MapTableValues returns the table with every value turned into f(value).
func MapTableValues[K, V, VR any](t Table[K, V], f func(V) VR, opts ...Option) Table[K, VR] {
	s := processorNode(t.s, t.s.t.nodeName(opMapTableValues, "KTABLE-MAPVALUES", opts), func(tb *graph.TaskBuild, out *outlets[K, Change[VR]]) (next[K, Change[V]], error) {
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
			if r.Value.HadOld {
				c.Old, c.HadOld = f(r.Value.Old), true
			}
			return n(processor.WithValue(r, c))
		}, nil
	})
	v := derive(t.view, func(k K, val V, fn func(K, VR) error) error { return fn(k, f(val)) })
	return Table[K, VR]{s: s, view: v, root: t.root, old: t.old, ks: t.ks, history: t.history}
}
