package eddytest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// KeyValueStore reads a key-value store of the topology — a topology.NewKeyValueStore,
// or the store of a table, a table aggregation (Count, Reduce, Aggregate) or a join's
// table side — over every task that holds a slice of it, with the store's serdes: what
// the processors would read now, writes not yet committed included.
type KeyValueStore[K, V any] struct{ storeReader[K, V] }

// storeReader is a store's name and its serdes, bound to its changelog topic as eddy binds
// them (a registry serde's subject).
type storeReader[K, V any] struct {
	d    *Driver
	name string
	ks   serde.Serde[K]
	vs   serde.Serde[V]
}

func newStoreReader[K, V any](d *Driver, name string, ks serde.Serde[K], vs serde.Serde[V]) storeReader[K, V] {
	topic := d.d.ChangelogTopic(name)
	return storeReader[K, V]{d: d, name: name, ks: serde.ForTopic(ks, topic, true), vs: serde.ForTopic(vs, topic, false)}
}

// Store returns a reader of the key-value store name.
func Store[K, V any](d *Driver, name string, ks serde.Serde[K], vs serde.Serde[V]) *KeyValueStore[K, V] {
	return &KeyValueStore[K, V]{newStoreReader(d, name, ks, vs)}
}

// Get returns the value of k, looked up in every task's slice (a key lives in one).
func (s *KeyValueStore[K, V]) Get(k K) (v V, found bool, err error) {
	if _, err := s.d.storeOf(s.name, graph.KeyValueStore); err != nil {
		return v, false, err
	}
	key, err := s.ks.AppendEncode(nil, k)
	if err != nil {
		return v, false, fmt.Errorf("eddytest: encoding a key of store %s: %w", s.name, err)
	}
	parts, err := s.d.d.StoreSlices(s.name)
	if err != nil {
		return v, false, err
	}
	var raw []byte
	for _, b := range parts {
		ok, err := b.Get(key, func(val []byte) error { raw = append([]byte(nil), val...); return nil })
		if err != nil {
			return v, false, fmt.Errorf("eddytest: store %s: %w", s.name, err)
		}
		if ok {
			found = true
			break
		}
	}
	if !found {
		return v, false, nil
	}
	if v, err = s.vs.Decode(raw); err != nil {
		return v, false, fmt.Errorf("eddytest: decoding a value of store %s: %w", s.name, err)
	}
	return v, true, nil
}

// All returns every entry of the store, task by task in id order, each task's in the
// byte order of the encoded keys.
func (s *KeyValueStore[K, V]) All() ([]KeyValue[K, V], error) {
	if _, err := s.d.storeOf(s.name, graph.KeyValueStore); err != nil {
		return nil, err
	}
	parts, err := s.d.d.StoreSlices(s.name)
	if err != nil {
		return nil, err
	}
	var out []KeyValue[K, V]
	for _, b := range parts {
		it, err := b.Range(nil, nil)
		if err != nil {
			return nil, fmt.Errorf("eddytest: store %s: %w", s.name, err)
		}
		for it.Next() {
			k, err := s.ks.Decode(it.Key())
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("eddytest: decoding a key of store %s: %w", s.name, err)
			}
			v, err := s.vs.Decode(it.Value())
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("eddytest: decoding a value of store %s: %w", s.name, err)
			}
			out = append(out, KeyValue[K, V]{Key: k, Value: v})
		}
		if err := it.Err(); err != nil {
			it.Close()
			return nil, fmt.Errorf("eddytest: store %s: %w", s.name, err)
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storeOf is the topology's store name, checked to be of the kind a reader reads.
func (d *Driver) storeOf(name string, kinds ...graph.StoreKind) (*graph.Store, error) {
	for _, st := range d.top.Graph().Stores() {
		if st.Name != name {
			continue
		}
		if !slices.Contains(kinds, st.Kind) {
			return nil, fmt.Errorf("eddytest: store %s is a %s store; read it with %s", name, st.Kind, readerFor(st.Kind))
		}
		return st, nil
	}
	return nil, fmt.Errorf("eddytest: the topology has no store %q", name)
}

func readerFor(k graph.StoreKind) string {
	switch k {
	case graph.KeyValueStore:
		return "eddytest.Store"
	case graph.WindowStore, graph.SessionStore:
		return "eddytest.WindowStore"
	case graph.VersionedStore:
		return "eddytest.VersionedStore"
	}
	return "no reader: it is an operator's own bookkeeping"
}

// entries lists a windowed or versioned store's entries over every task, in task order.
func (d *Driver) entries(st *graph.Store, each func(graph.StoreEntry) error) error {
	bs, err := d.d.StoreSlices(st.Name)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if err := st.View(b, each); err != nil {
			return fmt.Errorf("eddytest: store %s: %w", st.Name, err)
		}
	}
	return nil
}

// WindowStoreReader reads the store of a windowed aggregation (tumbling, hopping,
// sliding) or a session aggregation: its open windows with their aggregates — a window
// leaves the store once final and emitted (or, with EmitUpdates, once past its grace).
type WindowStoreReader[K, V any] struct{ storeReader[K, V] }

// WindowStore returns a reader of the window or session store name, whose keys and
// aggregates the serdes decode.
func WindowStore[K, V any](d *Driver, name string, ks serde.Serde[K], vs serde.Serde[V]) *WindowStoreReader[K, V] {
	return &WindowStoreReader[K, V]{newStoreReader(d, name, ks, vs)}
}

// WindowEntry is one window and its aggregate.
type WindowEntry[K, V any] struct {
	Window topology.Windowed[K]
	Value  V
}

// All lists every open window, task by task, each task's in the store's order.
func (s *WindowStoreReader[K, V]) All() ([]WindowEntry[K, V], error) {
	st, err := s.d.storeOf(s.name, graph.WindowStore, graph.SessionStore)
	if err != nil {
		return nil, err
	}
	var out []WindowEntry[K, V]
	err = s.d.entries(st, func(e graph.StoreEntry) error {
		k, err := s.ks.Decode(e.Key)
		if err != nil {
			return fmt.Errorf("decoding a key: %w", err)
		}
		v, err := s.vs.Decode(e.Value)
		if err != nil {
			return fmt.Errorf("decoding an aggregate: %w", err)
		}
		out = append(out, WindowEntry[K, V]{Window: topology.Windowed[K]{Key: k, Start: time.UnixMilli(e.Start), End: time.UnixMilli(e.End)}, Value: v})
		return nil
	})
	return out, err
}

// Fetch lists k's open windows, by start.
func (s *WindowStoreReader[K, V]) Fetch(k K) ([]WindowEntry[K, V], error) {
	want, err := s.ks.AppendEncode(nil, k)
	if err != nil {
		return nil, fmt.Errorf("eddytest: encoding a key of store %s: %w", s.name, err)
	}
	all, err := s.All()
	if err != nil {
		return nil, err
	}
	var out []WindowEntry[K, V]
	for _, e := range all {
		if got, err := s.ks.AppendEncode(nil, e.Window.Key); err == nil && bytes.Equal(got, want) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b WindowEntry[K, V]) int { return a.Window.Start.Compare(b.Window.Start) })
	return out, nil
}

// VersionedStoreReader reads a versioned table's store (TableFrom with Versioned): each
// key's versions, as the table's joins look them up by time.
type VersionedStoreReader[K, V any] struct{ storeReader[K, V] }

// VersionedStore returns a reader of the versioned store name.
func VersionedStore[K, V any](d *Driver, name string, ks serde.Serde[K], vs serde.Serde[V]) *VersionedStoreReader[K, V] {
	return &VersionedStoreReader[K, V]{newStoreReader(d, name, ks, vs)}
}

// Version is one version of a key: its value from From until To (the zero time for the
// latest version, valid until a newer one); Deleted marks a deletion, which has no value.
type Version[V any] struct {
	Value    V
	From, To time.Time
	Deleted  bool
}

// Versions lists k's versions the store keeps, newest first.
func (s *VersionedStoreReader[K, V]) Versions(k K) ([]Version[V], error) {
	st, err := s.d.storeOf(s.name, graph.VersionedStore)
	if err != nil {
		return nil, err
	}
	want, err := s.ks.AppendEncode(nil, k)
	if err != nil {
		return nil, fmt.Errorf("eddytest: encoding a key of store %s: %w", s.name, err)
	}
	var out []Version[V]
	err = s.d.entries(st, func(e graph.StoreEntry) error {
		if !bytes.Equal(e.Key, want) {
			return nil
		}
		v := Version[V]{From: time.UnixMilli(e.Start), Deleted: e.Deleted}
		if e.End != math.MaxInt64 {
			v.To = time.UnixMilli(e.End)
		}
		if !e.Deleted {
			var err error
			if v.Value, err = s.vs.Decode(e.Value); err != nil {
				return fmt.Errorf("decoding a value: %w", err)
			}
		}
		out = append(out, v)
		return nil
	})
	slices.SortStableFunc(out, func(a, b Version[V]) int { return b.From.Compare(a.From) })
	return out, err
}

// AsOf returns k's value at time t: the version valid then. found is false when there is
// none (no version yet, a deletion, or older than the history kept).
func (s *VersionedStoreReader[K, V]) AsOf(k K, t time.Time) (v V, found bool, err error) {
	vs, err := s.Versions(k)
	if err != nil {
		return v, false, err
	}
	for _, ver := range vs {
		if !t.Before(ver.From) && (ver.To.IsZero() || t.Before(ver.To)) {
			return ver.Value, !ver.Deleted, nil
		}
	}
	return v, false, nil
}
