package eddytest

import (
	"fmt"

	"github.com/eddy-streams/eddy/serde"
)

// KeyValueStore reads a key-value store of the topology — a topology.NewKeyValueStore,
// or the store of a table, a table aggregation (Count, Reduce, Aggregate) or a join's
// table side — over every task that holds a slice of it, with the store's serdes: what
// the processors would read now, writes not yet committed included.
type KeyValueStore[K, V any] struct {
	d    *Driver
	name string
	ks   serde.Serde[K]
	vs   serde.Serde[V]
}

// Store returns a reader of the key-value store name.
func Store[K, V any](d *Driver, name string, ks serde.Serde[K], vs serde.Serde[V]) *KeyValueStore[K, V] {
	topic := d.d.ChangelogTopic(name)
	return &KeyValueStore[K, V]{d: d, name: name, ks: serde.ForTopic(ks, topic, true), vs: serde.ForTopic(vs, topic, false)}
}

// Get returns the value of k, looked up in the task of k's partition (as a table's key
// lands there) — or, in a store whose keys are not partitioned by its key, in every task.
func (s *KeyValueStore[K, V]) Get(k K) (v V, found bool, err error) {
	key, err := s.ks.AppendEncode(nil, k)
	if err != nil {
		return v, false, fmt.Errorf("eddytest: encoding a key of store %s: %w", s.name, err)
	}
	slices, err := s.d.d.StoreSlices(s.name)
	if err != nil {
		return v, false, err
	}
	var raw []byte
	for _, b := range slices {
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
	slices, err := s.d.d.StoreSlices(s.name)
	if err != nil {
		return nil, err
	}
	var out []KeyValue[K, V]
	for _, b := range slices {
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
