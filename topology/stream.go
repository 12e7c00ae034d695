package topology

import (
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// Stream is an unbounded stream of records with keys of type K and values of type V: the
// output of a source or an operator. It is a handle: copying it is cheap, and every
// operator applied to it adds a child that receives each of its records.
type Stream[K, V any] struct {
	t    *Topology
	node *graph.Node
	out  *outlets[K, V]
	// keyChanged is set once the records may no longer be partitioned by their key: an
	// operation may have changed it (SelectKey, Map, FlatMap, Process), or Rebalance
	// spread each key over every partition. GroupByKey then repartitions first, so each
	// key's records meet in one task; a Repartition (or any source) clears it.
	keyChanged bool
}

// next is a compiled child: the function one record is handed to.
type next[K, V any] = func(processor.Record[K, V]) error

// outlets are a node's children, as functions that compile each child for a task.
type outlets[K, V any] struct {
	nodes    []*graph.Node
	compiles []func(tb *graph.TaskBuild) (next[K, V], error)
}

func (o *outlets[K, V]) add(n *graph.Node, compile func(tb *graph.TaskBuild) (next[K, V], error)) {
	o.nodes = append(o.nodes, n)
	o.compiles = append(o.compiles, compile)
}

// compile returns one function that hands a record to every child in turn. With one child
// it is that child itself, so a chain of operators is a chain of direct calls.
func (o *outlets[K, V]) compile(tb *graph.TaskBuild) (next[K, V], error) {
	fs, err := o.compileEach(tb)
	if err != nil {
		return nil, err
	}
	switch len(fs) {
	case 0:
		return func(processor.Record[K, V]) error { return nil }, nil
	case 1:
		return fs[0], nil
	}
	return func(r processor.Record[K, V]) error {
		for _, f := range fs {
			if err := f(r); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func (o *outlets[K, V]) compileEach(tb *graph.TaskBuild) ([]next[K, V], error) {
	fs := make([]next[K, V], len(o.compiles))
	for i, c := range o.compiles {
		f, err := c(tb)
		if err != nil {
			return nil, err
		}
		fs[i] = f
	}
	return fs, nil
}

// attach adds node n as a child of every parent and returns the stream n produces. self
// compiles n for a task, given n's own outlets; it runs once per task however many parents
// n has.
func attach[K, V, KO, VO any](parents []Stream[K, V], n *graph.Node,
	self func(tb *graph.TaskBuild, out *outlets[KO, VO]) (next[K, V], error)) Stream[KO, VO] {
	t := parents[0].t
	nodes := make([]*graph.Node, len(parents))
	for i, p := range parents {
		nodes[i] = p.node
	}
	t.g.Add(n, nodes...)
	child := Stream[KO, VO]{t: t, node: n, out: &outlets[KO, VO]{}}
	compile := func(tb *graph.TaskBuild) (next[K, V], error) {
		return graph.Memo(tb, n, func() (next[K, V], error) {
			f, err := self(tb, child.out)
			if err != nil {
				return nil, err
			}
			return marked(graph.OpFor(n), tb.Env.OpSlot(), f), nil
		})
	}
	for _, p := range parents {
		p.out.add(n, compile)
	}
	return child
}

// marked runs f with op in the task's operator slot, so that a panic in the operator's code
// (user functions, serdes) is told as a failure of this operator (graph.Call).
func marked[K, V any](op *graph.Op, slot **graph.Op, f next[K, V]) next[K, V] {
	return func(r processor.Record[K, V]) error {
		*slot = op
		return f(r)
	}
}

// processorNode adds a processor node with the given name (see Topology.nodeName).
func processorNode[K, V, KO, VO any](s Stream[K, V], name string,
	self func(tb *graph.TaskBuild, out *outlets[KO, VO]) (next[K, V], error)) Stream[KO, VO] {
	n := &graph.Node{Name: name, Kind: graph.Processor}
	out := attach([]Stream[K, V]{s}, n, self)
	out.keyChanged = s.keyChanged
	return out
}

// passThrough adds a processor with the same types whose record function is made by wrap
// from the compiled children.
func passThrough[K, V any](s Stream[K, V], name string, wrap func(n next[K, V]) next[K, V]) Stream[K, V] {
	return processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, V]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return wrap(n), nil
	})
}

// MarkAsPartitioned declares that s's records are still partitioned by their key, as
// Kafka Streams' markAsPartitioned (KIP-759): a GroupByKey, join or table operation after
// it does not repartition. Use it after a Process, Map or SelectKey whose new key puts
// every record in the task its key's records are in already — a key computed one-to-one
// from the Kafka key, say. If that does not hold, one key's records are split over
// several tasks, and so are its state and its results. It adds no operator.
func (s Stream[K, V]) MarkAsPartitioned() Stream[K, V] {
	s.keyChanged = false
	return s
}

// Filter keeps the records for which keep returns true.
func (s Stream[K, V]) Filter(keep func(K, V) bool, opts ...Option) Stream[K, V] {
	return passThrough(s, s.t.nodeName(opFilter, "KSTREAM-FILTER", opts), func(n next[K, V]) next[K, V] {
		return func(r processor.Record[K, V]) error {
			if keep(r.Key, r.Value) {
				return n(r)
			}
			return nil
		}
	})
}

// FilterNot drops the records for which drop returns true.
func (s Stream[K, V]) FilterNot(drop func(K, V) bool, opts ...Option) Stream[K, V] {
	return passThrough(s, s.t.nodeName(opFilterNot, "KSTREAM-FILTER", opts), func(n next[K, V]) next[K, V] {
		return func(r processor.Record[K, V]) error {
			if !drop(r.Key, r.Value) {
				return n(r)
			}
			return nil
		}
	})
}

// Peek calls f on each record and passes the record on unchanged.
func (s Stream[K, V]) Peek(f func(K, V), opts ...Option) Stream[K, V] {
	return passThrough(s, s.t.nodeName(opPeek, "KSTREAM-PEEK", opts), func(n next[K, V]) next[K, V] {
		return func(r processor.Record[K, V]) error {
			f(r.Key, r.Value)
			return n(r)
		}
	})
}

// ForEach calls f on each record; it ends the stream.
func (s Stream[K, V]) ForEach(f func(K, V), opts ...Option) {
	processorNode(s, s.t.nodeName(opForEach, "KSTREAM-FOREACH", opts), func(tb *graph.TaskBuild, _ *outlets[K, V]) (next[K, V], error) {
		return func(r processor.Record[K, V]) error {
			f(r.Key, r.Value)
			return nil
		}, nil
	})
}

// SelectKey sets each record's key to f(key, value). The records are then not partitioned
// by their key, so GroupByKey after it repartitions by the new key first.
func SelectKey[K, V, KR any](s Stream[K, V], f func(K, V) KR, opts ...Option) Stream[KR, V] {
	out := processorNode(s, s.t.nodeName(opSelectKey, "KSTREAM-KEY-SELECT", opts), func(tb *graph.TaskBuild, out *outlets[KR, V]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			return n(processor.WithKeyValue(r, f(r.Key, r.Value), r.Value))
		}, nil
	})
	out.keyChanged = true
	return out
}

// Map turns each record into one with a new key and value.
func Map[K, V, KR, VR any](s Stream[K, V], f func(K, V) (KR, VR), opts ...Option) Stream[KR, VR] {
	out := processorNode(s, s.t.nodeName(opMap, "KSTREAM-MAP", opts), func(tb *graph.TaskBuild, out *outlets[KR, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			k, v := f(r.Key, r.Value)
			return n(processor.WithKeyValue(r, k, v))
		}, nil
	})
	out.keyChanged = true
	return out
}

// MapValues turns each record's value into a new one; the key stays.
func MapValues[K, V, VR any](s Stream[K, V], f func(V) VR, opts ...Option) Stream[K, VR] {
	return processorNode(s, s.t.nodeName(opMapValues, "KSTREAM-MAPVALUES", opts), func(tb *graph.TaskBuild, out *outlets[K, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			return n(processor.WithValue(r, f(r.Value)))
		}, nil
	})
}

// KeyValue is one output pair of FlatMap.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// FlatMap turns each record into zero or more records with new keys and values; each keeps
// the input's timestamp and headers.
func FlatMap[K, V, KR, VR any](s Stream[K, V], f func(K, V) []KeyValue[KR, VR], opts ...Option) Stream[KR, VR] {
	out := processorNode(s, s.t.nodeName(opFlatMap, "KSTREAM-FLATMAP", opts), func(tb *graph.TaskBuild, out *outlets[KR, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			for _, kv := range f(r.Key, r.Value) {
				if err := n(processor.WithKeyValue(r, kv.Key, kv.Value)); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
	out.keyChanged = true
	return out
}

// FlatMapValues turns each record's value into zero or more values, each with the input's
// key, timestamp and headers.
func FlatMapValues[K, V, VR any](s Stream[K, V], f func(V) []VR, opts ...Option) Stream[K, VR] {
	return processorNode(s, s.t.nodeName(opFlatMapValues, "KSTREAM-FLATMAPVALUES", opts), func(tb *graph.TaskBuild, out *outlets[K, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			for _, v := range f(r.Value) {
				if err := n(processor.WithValue(r, v)); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
}

// Merge returns one stream with the records of s and of others, in the order they are
// processed. Streams read from different topics merge within one task only when those
// topics are co-partitioned (equal partition counts); eddy checks that at start.
func (s Stream[K, V]) Merge(others ...Stream[K, V]) Stream[K, V] {
	return s.MergeNamed("", others...)
}

// MergeNamed is Merge with a chosen operator name.
func (s Stream[K, V]) MergeNamed(name string, others ...Stream[K, V]) Stream[K, V] {
	if name == "" {
		name = s.t.g.NextName("KSTREAM-MERGE")
	}
	parents := append([]Stream[K, V]{s}, others...)
	for _, o := range others {
		if o.t != s.t {
			s.t.g.Errorf("merge %s: the streams belong to different topologies", name)
			return s
		}
	}
	n := &graph.Node{Name: name, Kind: graph.Processor}
	merged := attach(parents, n, func(tb *graph.TaskBuild, out *outlets[K, V]) (next[K, V], error) {
		return out.compile(tb)
	})
	for _, p := range parents {
		merged.keyChanged = merged.keyChanged || p.keyChanged
	}
	return merged
}

// Branch is one branch of Split: records for which Predicate returns true go to it. A
// branch with a nil Predicate takes every record no earlier branch took (a default branch).
type Branch[K, V any] struct {
	Name      string
	Predicate func(K, V) bool
}

// Split sends each record to the first branch whose predicate it matches, and returns one
// stream per branch, in the order given. A record that matches no branch is dropped.
// Branch names become operator names "<split name>-<branch name>".
func (s Stream[K, V]) Split(name string, branches ...Branch[K, V]) []Stream[K, V] {
	if name == "" {
		name = s.t.g.NextName("KSTREAM-BRANCH")
	}
	preds := make([]func(K, V) bool, len(branches))
	for i, b := range branches {
		if b.Name == "" {
			s.t.g.Errorf("split %s: branch %d has no name", name, i)
		}
		preds[i] = b.Predicate
	}
	split := processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, V]) (next[K, V], error) {
		fs, err := out.compileEach(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			for i, p := range preds {
				if p == nil || p(r.Key, r.Value) {
					return fs[i](r)
				}
			}
			return nil
		}, nil
	})
	out := make([]Stream[K, V], len(branches))
	for i, b := range branches {
		// Each branch is a pass-through node, so it has a name and its own children.
		out[i] = passThrough(split, name+"-"+b.Name, func(n next[K, V]) next[K, V] { return n })
	}
	return out
}
