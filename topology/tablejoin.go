package topology

import (
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// JoinTables joins two tables by key, as Kafka Streams' KTable.join(KTable): the result
// is the table of join(key, left, right) for every key both tables hold. An update of
// either side emits the key's new joined value, or its deletion when the key no longer
// joins (a side deleted it, or a Filter dropped it); an update that neither makes nor
// ends a join emits nothing. The update is stamped with the time of the record that
// caused it.
//
// The join runs in the tasks that hold both tables' stores, so their topics must be
// co-partitioned (eddy checks the counts at start); either table may be from a topic, an
// aggregation's result, or derived from them (not the same table on both sides). The
// result is not materialized: reading it
// (a join with it, ToStream at the end of a bounded run) looks both tables up.
//
// Options: Named (the join's name: its nodes are "<name>-this-join", "<name>-other-join"
// and "<name>-merge").
func JoinTables[K, VL, VR, VO any](left Table[K, VL], right Table[K, VR], join func(key K, left VL, right VR) VO, opts ...Option) Table[K, VO] {
	if join == nil {
		return Table[K, VO]{s: noJoiner[K, Change[VO]](left.s.t, left.s.node, opJoinTables, opts), old: new(bool)}
	}
	return joinTables(left, right, opJoinTables, "KTABLE-JOINTHIS", "KTABLE-JOINOTHER", joinKind{}, opts,
		func(k K, l VL, _ bool, r VR, _ bool) VO { return join(k, l, r) })
}

// LeftJoinTables is JoinTables as a left join, as Kafka Streams' KTable.leftJoin: the
// result holds every key of left, with found saying whether right holds it too (when it
// does not, right is the zero value).
func LeftJoinTables[K, VL, VR, VO any](left Table[K, VL], right Table[K, VR], join func(key K, left VL, right VR, found bool) VO, opts ...Option) Table[K, VO] {
	if join == nil {
		return Table[K, VO]{s: noJoiner[K, Change[VO]](left.s.t, left.s.node, opLeftJoinTables, opts), old: new(bool)}
	}
	return joinTables(left, right, opLeftJoinTables, "KTABLE-LEFTTHIS", "KTABLE-LEFTOTHER", joinKind{keepLeft: true}, opts,
		func(k K, l VL, _ bool, r VR, hasR bool) VO { return join(k, l, r, hasR) })
}

// OuterJoinTables is JoinTables as an outer join, as Kafka Streams' KTable.outerJoin: the
// result holds every key of either table, with hasLeft and hasRight saying which hold it.
func OuterJoinTables[K, VL, VR, VO any](left Table[K, VL], right Table[K, VR],
	join func(key K, left VL, hasLeft bool, right VR, hasRight bool) VO, opts ...Option) Table[K, VO] {
	if join == nil {
		return Table[K, VO]{s: noJoiner[K, Change[VO]](left.s.t, left.s.node, opOuterJoinTables, opts), old: new(bool)}
	}
	return joinTables(left, right, opOuterJoinTables, "KTABLE-OUTERTHIS", "KTABLE-OUTEROTHER", joinKind{keepLeft: true, keepRight: true}, opts, join)
}

func joinTables[K, VL, VR, VO any](left Table[K, VL], right Table[K, VR], op operator, thisPrefix, otherPrefix string,
	kind joinKind, opts []Option, join func(K, VL, bool, VR, bool) VO) Table[K, VO] {
	t := left.s.t
	c := t.configure(op, opts)
	if right.s.t != t {
		t.g.Errorf("%s: the two tables belong to different topologies", op.label(c))
		return Table[K, VO]{s: Stream[K, Change[VO]]{t: t, node: left.s.node, out: &outlets[K, Change[VO]]{}}, old: new(bool)}
	}
	if right.s.node == left.s.node {
		// Each side's update reads the other side's store, which the update has already
		// changed when it is the same one: the old row would be lost.
		t.g.Errorf("%s: a table joined with itself is not supported; derive the row with MapTableValues", op.label(c))
		return Table[K, VO]{s: Stream[K, Change[VO]]{t: t, node: left.s.node, out: &outlets[K, Change[VO]]{}}, old: new(bool)}
	}
	thisName, otherName, mergeName := joinNodeNames(t, c, thisPrefix, otherPrefix, "KTABLE-MERGE")
	// An update ends a join only if the key was in it: both sides' updates carry their old
	// values.
	*left.old, *right.old = true, true
	needOld := new(bool)
	fromLeft := tableJoinSide(left.s, thisName, right.view, needOld, kind.holds, join)
	fromRight := tableJoinSide(right.s, otherName, left.view, needOld,
		func(hasR, hasL bool) bool { return kind.holds(hasL, hasR) },
		func(k K, r VR, hasR bool, l VL, hasL bool) VO { return join(k, l, hasL, r, hasR) })
	out := fromLeft.MergeNamed(mergeName, fromRight)
	for _, n := range []*graph.Node{fromLeft.node, fromRight.node} {
		t.g.Connect(n, left.root)
		t.g.Connect(n, right.root)
	}
	v := func(env graph.Env) (reader[K, VO], error) {
		lr, err := left.view(env)
		if err != nil {
			return reader[K, VO]{}, err
		}
		rr, err := right.view(env)
		if err != nil {
			return reader[K, VO]{}, err
		}
		get := func(k K) (out VO, found bool, err error) {
			l, hasL, err := lr.get(k)
			if err != nil {
				return out, false, err
			}
			r, hasR, err := rr.get(k)
			if err != nil || !kind.holds(hasL, hasR) {
				return out, false, err
			}
			return join(k, l, hasL, r, hasR), true, nil
		}
		each := func(fn func(K, VO) error) error {
			err := lr.each(func(k K, l VL) error {
				r, hasR, err := rr.get(k)
				if err != nil || !kind.holds(true, hasR) {
					return err
				}
				return fn(k, join(k, l, true, r, hasR))
			})
			if err != nil || !kind.keepRight {
				return err
			}
			return rr.each(func(k K, r VR) error {
				_, hasL, err := lr.get(k)
				if err != nil || hasL {
					return err // a key both hold was given with the left's
				}
				var zero VL
				return fn(k, join(k, zero, false, r, true))
			})
		}
		return reader[K, VO]{each: each, get: get}, nil
	}
	ks := left.ks
	if ks == nil {
		ks = right.ks
	}
	return Table[K, VO]{s: out, view: v, root: left.root, old: needOld, ks: ks}
}

// tableJoinSide adds the processor of one side of a table-table join: each update of its
// side (values VT) looks the key up in the other side (values VX) and emits the change of
// the key's joined row. holds says whether a key is in the join from whether each side
// has it; row makes the joined row (called only for a row that is emitted).
func tableJoinSide[K, VT, VX, VO any](s Stream[K, Change[VT]], name string, other view[K, VX], needOld *bool,
	holds func(hasOwn, hasX bool) bool, row func(k K, own VT, hasOwn bool, x VX, hasX bool) VO) Stream[K, Change[VO]] {
	return processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, Change[VO]]) (next[K, Change[VT]], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		o, err := other(tb.Env)
		if err != nil {
			return nil, err
		}
		sendOld := *needOld
		return func(r processor.Record[K, Change[VT]]) error {
			x, hasX, err := o.get(r.Key)
			if err != nil {
				return err
			}
			has := !r.Value.Deleted
			isNew, wasOld := holds(has, hasX), holds(r.Value.HadOld, hasX)
			if !isNew && !wasOld {
				return nil // neither in the join before nor now
			}
			var c Change[VO]
			if isNew {
				c.Value = row(r.Key, r.Value.Value, has, x, hasX)
			} else {
				c.Deleted = true
			}
			if sendOld && wasOld {
				c.Old, c.HadOld = row(r.Key, r.Value.Old, true, x, hasX), true
			}
			return n(processor.WithValue(r, c))
		}, nil
	})
}
