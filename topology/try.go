package topology

import (
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// The Try operators are the stateless operators whose user function may fail a record by
// returning an error, instead of panicking: the record then fails as a processing error of
// the operator, which eddy.OnProcessingError handles as it does a panic or a Process
// error (Fail, Skip or DeadLetter), and nothing is forwarded for it. An error that comes
// back from further down the chain (a sink's, a later operator's) passes through
// unchanged, with its own kind and operator.
//
// They are separate functions rather than an error result on the plain ones, so a
// function that cannot fail stays a one-liner and the hot path of the plain operators keeps
// no error check of its own. FilterNot has no Try form: use TryFilter.

// failed makes err, returned by the user code of operator node, a processing failure of
// the record: the runtime gives it to the processing-error policy. Process's errors go
// the same way.
func failed(node string, err error) error {
	return &graph.RecordError{Kind: graph.Processing, Node: node, Err: err}
}

// TryFilter keeps the records for which keep returns true; an error fails the record.
// Options: Named.
func (s Stream[K, V]) TryFilter(keep func(K, V) (bool, error), opts ...Option) Stream[K, V] {
	name := s.t.nodeName(opTryFilter, "KSTREAM-FILTER", opts)
	return passThrough(s, name, func(n next[K, V]) next[K, V] {
		return func(r processor.Record[K, V]) error {
			ok, err := keep(r.Key, r.Value)
			if err != nil {
				return failed(name, err)
			}
			if ok {
				return n(r)
			}
			return nil
		}
	})
}

// TryPeek calls f on each record and passes the record on unchanged; an error fails the
// record. Options: Named.
func (s Stream[K, V]) TryPeek(f func(K, V) error, opts ...Option) Stream[K, V] {
	name := s.t.nodeName(opTryPeek, "KSTREAM-PEEK", opts)
	return passThrough(s, name, func(n next[K, V]) next[K, V] {
		return func(r processor.Record[K, V]) error {
			if err := f(r.Key, r.Value); err != nil {
				return failed(name, err)
			}
			return n(r)
		}
	})
}

// TryForEach calls f on each record; it ends the stream. An error fails the record.
// Options: Named.
func (s Stream[K, V]) TryForEach(f func(K, V) error, opts ...Option) {
	name := s.t.nodeName(opTryForEach, "KSTREAM-FOREACH", opts)
	processorNode(s, name, func(tb *graph.TaskBuild, _ *outlets[K, V]) (next[K, V], error) {
		return func(r processor.Record[K, V]) error {
			if err := f(r.Key, r.Value); err != nil {
				return failed(name, err)
			}
			return nil
		}, nil
	})
}

// TrySelectKey is SelectKey whose f may fail the record with an error. Options: Named.
func TrySelectKey[K, V, KR any](s Stream[K, V], f func(K, V) (KR, error), opts ...Option) Stream[KR, V] {
	name := s.t.nodeName(opTrySelectKey, "KSTREAM-KEY-SELECT", opts)
	out := processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[KR, V]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			k, err := f(r.Key, r.Value)
			if err != nil {
				return failed(name, err)
			}
			return n(processor.WithKeyValue(r, k, r.Value))
		}, nil
	})
	out.keyChanged = true
	return out
}

// TryMap is Map whose f may fail the record with an error. Options: Named.
func TryMap[K, V, KR, VR any](s Stream[K, V], f func(K, V) (KR, VR, error), opts ...Option) Stream[KR, VR] {
	name := s.t.nodeName(opTryMap, "KSTREAM-MAP", opts)
	out := processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[KR, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			k, v, err := f(r.Key, r.Value)
			if err != nil {
				return failed(name, err)
			}
			return n(processor.WithKeyValue(r, k, v))
		}, nil
	})
	out.keyChanged = true
	return out
}

// TryMapValues is MapValues whose f may fail the record with an error. Options: Named.
func TryMapValues[K, V, VR any](s Stream[K, V], f func(V) (VR, error), opts ...Option) Stream[K, VR] {
	name := s.t.nodeName(opTryMapValues, "KSTREAM-MAPVALUES", opts)
	return processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			v, err := f(r.Value)
			if err != nil {
				return failed(name, err)
			}
			return n(processor.WithValue(r, v))
		}, nil
	})
}

// TryFlatMap is FlatMap whose f may fail the record with an error; then none of the
// records f returned is forwarded. Options: Named.
func TryFlatMap[K, V, KR, VR any](s Stream[K, V], f func(K, V) ([]KeyValue[KR, VR], error), opts ...Option) Stream[KR, VR] {
	name := s.t.nodeName(opTryFlatMap, "KSTREAM-FLATMAP", opts)
	out := processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[KR, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			kvs, err := f(r.Key, r.Value)
			if err != nil {
				return failed(name, err)
			}
			for _, kv := range kvs {
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

// TryFlatMapValues is FlatMapValues whose f may fail the record with an error; then none
// of the values f returned is forwarded. Options: Named.
func TryFlatMapValues[K, V, VR any](s Stream[K, V], f func(V) ([]VR, error), opts ...Option) Stream[K, VR] {
	name := s.t.nodeName(opTryFlatMapValues, "KSTREAM-FLATMAPVALUES", opts)
	return processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, VR]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(r processor.Record[K, V]) error {
			vs, err := f(r.Value)
			if err != nil {
				return failed(name, err)
			}
			for _, v := range vs {
				if err := n(processor.WithValue(r, v)); err != nil {
					return err
				}
			}
			return nil
		}, nil
	})
}
