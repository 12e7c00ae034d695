package topology

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// GlobalTable is a table that every instance of the application holds in full — Kafka
// Streams' GlobalKTable, the broadcast of parallel processing: each instance reads every
// partition of the table's topic into a store of its own, so any task can look up any key
// without the stream being partitioned like the table. Make one with GlobalTableFrom;
// join a stream with it (JoinGlobal, LeftJoinGlobal) or read its store from a processor
// (Store).
type GlobalTable[K, V any] struct {
	t     *Topology
	store *GlobalStore[K, V]
}

// GlobalStore is a global table's store: the instance's copy of the whole topic, which
// every task reads and none writes (the topic is its only source).
type GlobalStore[K, V any] struct {
	name, topic string
	ks          serde.Serde[K]
	vs          serde.Serde[V]
	gl          *graph.Global
}

// GlobalTableFrom reads a topic as a global table, materialized in the store named store
// on every instance of the application.
//
// Every instance reads every partition of topic with a client of its own, outside the
// consumer group: the table makes no tasks and is no part of task assignment. When Run
// starts, it first brings the store up to the ends the topic has then (its last stable
// offsets under eddy.ExactlyOnce, which reads read_committed; its high watermarks
// otherwise), and only then joins the group, so no task of the instance processes a
// record before the table is complete; afterwards the store follows the topic while the
// application runs (a bounded run, eddy.Bounded, keeps the table as of its start). The
// topic is the store's changelog: no other topic is written for it. The reader's position
// is checkpointed in the instance's state directory, so a restart reads only what is new;
// a checkpoint that cannot be trusted (the topic was recreated, the position is outside
// the log, or older than the topic's delete.retention.ms) makes it read the topic again
// from the start, as does an empty state directory.
//
// Each record's value replaces its key's value; a null value deletes the key; a record
// with a null key is ignored (a table has no row for it), as in Kafka Streams. A record
// that does not decode meets the application's OnDeserializationError policy, with its
// topic, partition and offset (each instance meets it, since each reads every record:
// with DeadLetter each instance writes it to the dead-letter topic).
//
// The topic must not be read by any other source of the topology. Its partitions need not
// match any other topic's.
//
// Options: Named (the name of the table's source in Describe).
func GlobalTableFrom[K, V any](t *Topology, topic string, ks serde.Serde[K], vs serde.Serde[V], store string, opts ...Option) GlobalTable[K, V] {
	c := t.configure(opGlobalTableFrom, opts)
	if ks == nil || vs == nil {
		t.g.Errorf("global table %s: key and value serdes are required", topic)
	}
	src := &graph.Node{Name: t.nameFor(c, "KTABLE-SOURCE"), Kind: graph.Source, Topics: []string{topic}}
	mat := &graph.Node{Name: store + "-materialize", Kind: graph.Processor, Stores: []string{store}}
	// The store's keys and values are the topic's, so topic-bound serdes are bound to it.
	gs := &GlobalStore[K, V]{name: store, topic: topic, ks: serde.ForTopic(ks, topic, true), vs: serde.ForTopic(vs, topic, false)}
	gs.gl = &graph.Global{Store: store, Topic: topic, Source: src, Materialize: mat, Decode: gs.decoder(src.Name)}
	t.g.AddGlobal(gs.gl)
	return GlobalTable[K, V]{t: t, store: gs}
}

// Store is the table's store, for processors of your own to read (GlobalStore.Open).
func (g GlobalTable[K, V]) Store() *GlobalStore[K, V] { return g.store }

// decoder is the global table's graph.Global.Decode: it checks a record as a source's
// decoder would (key and value through their serdes; a panic of either is bad input too)
// and makes the store key, the decoded key encoded again, as lookups encode theirs.
func (s *GlobalStore[K, V]) decoder(node string) func(dst []byte, rec *kgo.Record) ([]byte, bool, error) {
	bad := func(err error) error {
		return serdeFailure(graph.Deserialization, node, err)
	}
	return func(dst []byte, rec *kgo.Record) (key []byte, ok bool, err error) {
		defer func() {
			if v := recover(); v != nil {
				perr, isErr := v.(error)
				if !isErr {
					perr = fmt.Errorf("%v", v)
				}
				key, ok = nil, false
				err = &graph.RecordError{Kind: graph.Deserialization, Node: node, Err: perr, Panicked: true, Stack: debug.Stack()}
			}
		}()
		if rec.Key == nil {
			return dst, false, nil
		}
		k, err := s.ks.Decode(rec.Key)
		if err != nil {
			return nil, false, bad(fmt.Errorf("decode key: %w", err))
		}
		if rec.Value != nil {
			if _, err := s.vs.Decode(rec.Value); err != nil {
				return nil, false, bad(fmt.Errorf("decode value: %w", err))
			}
		}
		if key, err = s.ks.AppendEncode(dst, k); err != nil {
			return nil, false, bad(fmt.Errorf("encode the decoded key for the store: %w", err))
		}
		return key, true, nil
	}
}

// Name is the store's name.
func (s *GlobalStore[K, V]) Name() string { return s.name }

// globalContext is the context a global store opens from: a processor's (procContext).
type globalContext interface {
	globalStore(name string) (graph.GlobalReader, error)
}

// Open returns the instance's copy of the global store, typed, for a processor: call it
// in Init with the processor's context. Any processor of the topology may read it, in any
// sub-topology, without naming it in Stores: every instance has the whole store. Get and
// Range see the table as the instance's reader has applied it so far (a Range, as of when
// it starts); Put and Delete fail, since the store follows its topic alone: write to the
// topic instead.
func (s *GlobalStore[K, V]) Open(ctx StoreContext) (store.KeyValue[K, V], error) {
	gc, ok := ctx.(globalContext)
	if !ok {
		return nil, fmt.Errorf("global store %s: open it with the context a processor's Init receives (topology.Process), not a %T", s.name, ctx)
	}
	r, err := gc.globalStore(s.name)
	if err != nil {
		return nil, err
	}
	return s.typed(r), nil
}

func (s *GlobalStore[K, V]) typed(r graph.GlobalReader) *readOnlyKV[K, V] {
	return &readOnlyKV[K, V]{typedKV: &typedKV[K, V]{b: globalBytes{r}, ks: s.ks, vs: s.vs}, name: s.name, topic: s.topic}
}

// ErrReadOnly is returned by Put and Delete on a global store: it is written only by the
// instance's reader of its topic. Retrying does not help; write to the topic.
var ErrReadOnly = errors.New("topology: read-only store")

// readOnlyKV is a global store for one processor or join: the typed reads of a key-value
// store, and writes refused.
type readOnlyKV[K, V any] struct {
	*typedKV[K, V]
	name, topic string
}

var _ store.KeyValue[string, int64] = (*readOnlyKV[string, int64])(nil)

func (s *readOnlyKV[K, V]) refused() error {
	return fmt.Errorf("%w: %s is a global table's store, which follows topic %s alone; produce to %s to change it",
		ErrReadOnly, s.name, s.topic, s.topic)
}

// Put fails with ErrReadOnly.
func (s *readOnlyKV[K, V]) Put(K, V) error { return s.refused() }

// Delete fails with ErrReadOnly.
func (s *readOnlyKV[K, V]) Delete(K) error { return s.refused() }

// globalBytes lets typedKV read a global store. Its Put and Delete are never called:
// readOnlyKV refuses writes before they reach it.
type globalBytes struct{ graph.GlobalReader }

func (globalBytes) Put(key, value []byte) {}
func (globalBytes) Delete(key []byte)     {}

// JoinGlobal joins each record of s with the value g holds for key(record key, record
// value), and forwards join(key, value, global value) under the record's key — an inner
// join, as Kafka Streams' KStream.join(GlobalKTable, KeyValueMapper, ValueJoiner): a
// record whose global key is not in g gives nothing.
//
// The lookup is made when the record is processed, in g's copy on the record's instance;
// updates of g produce no output. g is on every instance, so s needs no co-partitioning
// with g's topic and is never repartitioned for the join, even after a key change; the
// output keeps s's partitioning.
//
// Options: Named.
func JoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g GlobalTable[KG, VG], key func(K, V) KG,
	join func(key K, value V, globalValue VG) VR, opts ...Option) Stream[K, VR] {
	if join == nil {
		return noJoiner[K, VR](s.t, s.node, opJoinGlobal, opts)
	}
	return joinGlobal(s, g, key, opJoinGlobal, "KSTREAM-JOIN", opts, func(k K, v V, vg VG, found bool) (VR, bool) {
		if !found {
			var zero VR
			return zero, false
		}
		return join(k, v, vg), true
	})
}

// LeftJoinGlobal is JoinGlobal as a left join, as Kafka Streams' KStream.leftJoin
// (GlobalKTable, …): every record of s gives an output; found says whether g holds a
// value for the record's global key (when it does not, globalValue is the zero value).
func LeftJoinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g GlobalTable[KG, VG], key func(K, V) KG,
	join func(key K, value V, globalValue VG, found bool) VR, opts ...Option) Stream[K, VR] {
	if join == nil {
		return noJoiner[K, VR](s.t, s.node, opLeftJoinGlobal, opts)
	}
	return joinGlobal(s, g, key, opLeftJoinGlobal, "KSTREAM-LEFTJOIN", opts, func(k K, v V, vg VG, found bool) (VR, bool) {
		return join(k, v, vg, found), true
	})
}

func joinGlobal[K, V, KG, VG, VR any](s Stream[K, V], g GlobalTable[KG, VG], key func(K, V) KG, op operator, prefix string,
	opts []Option, join func(K, V, VG, bool) (VR, bool)) Stream[K, VR] {
	c := s.t.configure(op, opts)
	switch {
	case g.store == nil:
		s.t.g.Errorf("%s: the global table was not made with GlobalTableFrom", op.label(c))
	case g.t != s.t:
		s.t.g.Errorf("%s: the stream and global table %s belong to different topologies", op.label(c), g.store.name)
	case key == nil:
		s.t.g.Errorf("%s: the key selector is required", op.label(c))
	}
	if s.t.g.Err() != nil {
		return Stream[K, VR]{t: s.t, node: s.node, out: &outlets[K, VR]{}}
	}
	gs := g.store
	out := processorNode(s, s.t.nameFor(c, prefix), func(tb *graph.TaskBuild, out *outlets[K, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		r, err := tb.Env.GlobalStore(gs.name)
		if err != nil {
			return nil, err
		}
		table := gs.typed(r)
		return func(rec processor.Record[K, V]) error {
			vg, found, err := table.Get(key(rec.Key, rec.Value))
			if err != nil {
				return fmt.Errorf("global store %s: %w", gs.name, err)
			}
			if v, ok := join(rec.Key, rec.Value, vg, found); ok {
				return n(processor.WithValue(rec, v))
			}
			return nil
		}, nil
	})
	s.t.g.ReadGlobal(out.node, gs.gl)
	return out
}
