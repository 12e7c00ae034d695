package topology

import (
	"errors"
	"fmt"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// StoreContext is what opening a store needs from a processor's context: any
// processor.Context has it.
type StoreContext interface {
	Store(name string) (store.Bytes, error)
}

// KeyValueStore declares a key-value state store that processors can use (name it in
// Process with Stores). Each task has its own slice of it in the instance's local
// database, backed by the compacted changelog topic "<application id>-<name>-changelog",
// from which a task that moves or restarts restores it before processing.
type KeyValueStore[K, V any] struct {
	name string
	ks   serde.Serde[K]
	vs   serde.Serde[V]
}

// NewKeyValueStore declares a key-value store with the serdes of its keys and values.
// Iteration order is the byte order of the encoded keys.
func NewKeyValueStore[K, V any](t *Topology, name string, ks serde.Serde[K], vs serde.Serde[V]) *KeyValueStore[K, V] {
	if ks == nil || vs == nil {
		t.g.Errorf("store %s: key and value serdes are required", name)
	}
	t.g.AddStore(name)
	return &KeyValueStore[K, V]{name: name, ks: ks, vs: vs}
}

// Name is the store's name.
func (s *KeyValueStore[K, V]) Name() string { return s.name }

// Open returns the calling task's slice of the store, typed. Call it in a processor's Init
// with its context; the processor must name the store in Process (Stores option).
func (s *KeyValueStore[K, V]) Open(ctx StoreContext) (store.KeyValue[K, V], error) {
	b, err := ctx.Store(s.name)
	if err != nil {
		return nil, err
	}
	ks, vs := s.ks, s.vs
	if a, ok := ctx.(interface{ ApplicationID() string }); ok {
		ks, vs = storeSerde(a, s.name, ks, true), storeSerde(a, s.name, vs, false)
	}
	return &typedKV[K, V]{b: b, ks: ks, vs: vs}, nil
}

// typedKV encodes keys and values with the store's serdes over a task's byte store.
type typedKV[K, V any] struct {
	b    store.Bytes
	ks   serde.Serde[K]
	vs   serde.Serde[V]
	kbuf []byte // reused: the byte store copies what it keeps
	vbuf []byte
}

var _ store.KeyValue[string, int64] = (*typedKV[string, int64])(nil)

func (s *typedKV[K, V]) key(k K) ([]byte, error) {
	var err error
	s.kbuf, err = s.ks.AppendEncode(s.kbuf[:0], k)
	if err != nil {
		return nil, fmt.Errorf("encode store key: %w", err)
	}
	return s.kbuf, nil
}

func (s *typedKV[K, V]) Get(k K) (V, bool, error) {
	var v V
	kb, err := s.key(k)
	if err != nil {
		return v, false, err
	}
	found, err := s.b.Get(kb, func(b []byte) error {
		var derr error
		v, derr = s.vs.Decode(b)
		return derr
	})
	if err != nil {
		return v, false, fmt.Errorf("store get: %w", err)
	}
	return v, found, nil
}

func (s *typedKV[K, V]) Put(k K, v V) error {
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	s.vbuf, err = s.vs.AppendEncode(s.vbuf[:0], v)
	if err != nil {
		return fmt.Errorf("encode store value: %w", err)
	}
	s.b.Put(kb, s.vbuf)
	return nil
}

func (s *typedKV[K, V]) Delete(k K) error {
	kb, err := s.key(k)
	if err != nil {
		return err
	}
	s.b.Delete(kb)
	return nil
}

func (s *typedKV[K, V]) Range(from, to *K) (store.KeyValueIterator[K, V], error) {
	var lo, hi []byte
	if from != nil {
		b, err := s.ks.AppendEncode(nil, *from)
		if err != nil {
			return nil, fmt.Errorf("encode range start: %w", err)
		}
		lo = b
	}
	if to != nil {
		b, err := s.ks.AppendEncode(nil, *to)
		if err != nil {
			return nil, fmt.Errorf("encode range end: %w", err)
		}
		hi = b
		if hi == nil {
			hi = []byte{}
		}
	}
	it, err := s.b.Range(lo, hi)
	if err != nil {
		return nil, err
	}
	return &typedIter[K, V]{it: it, ks: s.ks, vs: s.vs}, nil
}

type typedIter[K, V any] struct {
	it  store.Iterator
	ks  serde.Serde[K]
	vs  serde.Serde[V]
	k   K
	v   V
	err error
}

func (i *typedIter[K, V]) Next() bool {
	if i.err != nil || !i.it.Next() {
		return false
	}
	if i.k, i.err = i.ks.Decode(i.it.Key()); i.err != nil {
		return false
	}
	if i.v, i.err = i.vs.Decode(i.it.Value()); i.err != nil {
		return false
	}
	return true
}

func (i *typedIter[K, V]) Key() K     { return i.k }
func (i *typedIter[K, V]) Value() V   { return i.v }
func (i *typedIter[K, V]) Err() error { return errors.Join(i.err, i.it.Err()) }
func (i *typedIter[K, V]) Close() error {
	return i.it.Close()
}

func connectStores(t *Topology, n *graph.Node, names []string) {
	for _, name := range names {
		t.g.Connect(n, name)
	}
}

// storeSerde binds a serde that depends on its topic (serde.TopicSerde) to the changelog of
// the store it encodes for: "<application id>-<store>-changelog", as Kafka Streams names
// the subjects of its stores' serdes.
func storeSerde[T any](app interface{ ApplicationID() string }, store string, s serde.Serde[T], key bool) serde.Serde[T] {
	return serde.ForTopic(s, app.ApplicationID()+"-"+store+"-changelog", key)
}
