package topology

import (
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// JoinTable joins each record of s with the value t holds for the record's key when the
// record is processed, and forwards join(key, value, table value) — an inner join, as
// Kafka Streams' KStream.join(KTable): a record whose key is not in t gives nothing.
// Updates of t produce no output; only stream records do.
//
// The join runs in the tasks that hold t's store, so s and t's topics must be
// co-partitioned (same partition count, partitioned by the same key: eddy checks the
// counts at start). If s may no longer be partitioned by its key (after SelectKey, Map,
// FlatMap, Process or Rebalance) it is repartitioned by key first, with ks and vs, as
// GroupByKey does. Within a task the records queued from the stream's and the table's
// partitions are processed in timestamp order (a table update first on a tie), so a
// record at time t meets the table as updated up to t; a task waits for a partition with
// nothing queued whose records are on the broker, and, with eddy.MaxTaskIdle, for one
// that is caught up, as Kafka Streams' max.task.idle.ms. t may be a table from a topic,
// an aggregation's result, or one derived from them (Filter, MapTableValues).
//
// With a versioned table (TableFrom with Versioned) a record at time t meets the table's
// version valid at t, whatever order the records came in: out-of-order stream records
// join the right version. Option Grace then buffers stream records so that table updates
// a little late still count.
//
// Options: Named (the join's name; also the repartition topic's, when one is inserted),
// and Grace (versioned tables only).
func JoinTable[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], ks serde.Serde[K], vs serde.Serde[V],
	join func(key K, value V, tableValue VT) VR, opts ...Option) Stream[K, VR] {
	if join == nil {
		return noJoiner[K, VR](s.t, s.node, opJoinTable, opts)
	}
	return joinTable(s, t, ks, vs, opJoinTable, "KSTREAM-JOIN", opts, func(k K, v V, vt VT, found bool) (VR, bool) {
		if !found {
			var zero VR
			return zero, false
		}
		return join(k, v, vt), true
	})
}

// LeftJoinTable is JoinTable as a left join, as Kafka Streams' KStream.leftJoin(KTable):
// every record of s gives an output; found says whether t holds a value for its key (when
// it does not, tableValue is the zero value).
func LeftJoinTable[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], ks serde.Serde[K], vs serde.Serde[V],
	join func(key K, value V, tableValue VT, found bool) VR, opts ...Option) Stream[K, VR] {
	if join == nil {
		return noJoiner[K, VR](s.t, s.node, opLeftJoinTable, opts)
	}
	return joinTable(s, t, ks, vs, opLeftJoinTable, "KSTREAM-LEFTJOIN", opts, func(k K, v V, vt VT, found bool) (VR, bool) {
		return join(k, v, vt, found), true
	})
}

func joinTable[K, V, VT, VR any](s Stream[K, V], t Table[K, VT], ks serde.Serde[K], vs serde.Serde[V], op operator, prefix string,
	opts []Option, join func(K, V, VT, bool) (VR, bool)) Stream[K, VR] {
	c := s.t.configure(op, opts)
	if s.t != t.s.t {
		s.t.g.Errorf("%s: the stream and the table belong to different topologies", op.label(c))
		return Stream[K, VR]{t: s.t, node: s.node, out: &outlets[K, VR]{}}
	}
	name := s.t.nameFor(c, prefix)
	buffer := graceStore(s.t, op, c, name, t.history)
	if (s.keyChanged || buffer != "") && (ks == nil || vs == nil) {
		s.t.g.Errorf("%s: the stream's key and value serdes are required (for its repartition topic or grace buffer)", op.label(c))
		return Stream[K, VR]{t: s.t, node: s.node, out: &outlets[K, VR]{}}
	}
	if s.keyChanged {
		s = throughInternal(s, ks, vs, byKey, c)
	}
	out := processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		table, err := t.view(tb.Env)
		if err != nil {
			return nil, err
		}
		// A versioned table is read as of the record's time.
		joined := func(r processor.Record[K, V]) error {
			vt, found, err := table.lookup(r.Key, r.Timestamp)
			if err != nil {
				return err
			}
			if v, ok := join(r.Key, r.Value, vt, found); ok {
				return n(processor.WithValue(r, v))
			}
			return nil
		}
		if buffer == "" {
			return joined, nil
		}
		return withGrace(tb, buffer, ks, vs, c.grace, joined)
	})
	// The join reads the table's store: it belongs to the store's sub-topology.
	s.t.g.Connect(out.node, t.root)
	if buffer != "" {
		s.t.g.Connect(out.node, buffer)
	}
	return out
}

// noJoiner reports a nil joiner as an error of the topology and returns a stream that
// compiles to nothing, so building goes on and New reports the error.
func noJoiner[K, V any](t *Topology, node *graph.Node, op operator, opts []Option) Stream[K, V] {
	t.g.Errorf("%s: the joiner is required", op.label(t.configure(op, opts)))
	return Stream[K, V]{t: t, node: node, out: &outlets[K, V]{}}
}
