// Package state keeps a task's state stores: the key layout inside the instance's one
// database, the per-task write buffer that holds a transaction's writes until commit, the
// merged view that reads see, checkpoints, and the store registry.
//
// Layout (all big-endian, fixed width, so task 1_3 never matches 1_30):
//
//	data:        0x01 | sub-topology u32 | partition u32 | store id u16 | incarnation u32 | key
//	checkpoint:  0x02 | sub-topology u32 | partition u32 | store id u16
//	incarnation: 0x03 | sub-topology u32 | partition u32 | store id u16
//	store ids:   0x04 | store name
//
// A task's slice of a store is wiped by bumping its incarnation (new writes go under a new
// prefix at once) and deleting the old prefix's range off the hot path.
package state

import (
	"bytes"

	"github.com/google/btree"
)

// entry is one buffered write: a value, or a tombstone. fresh marks a key the database
// does not have (written with PutNew, never committed): deleting it drops it from the
// buffer, so neither the database nor the changelog ever sees it. local marks a key kept
// in the database only, never in the changelog: an index entry that a restore derives
// from the logged keys (KV.SetIndex).
type entry struct {
	value   []byte
	deleted bool
	fresh   bool
	local   bool
}

// Buffer holds the writes of one task's store since the last commit. Reads see it over the
// database; at commit its last value per key goes to the changelog and then to the
// database. Not safe for concurrent use: a task's goroutine owns it.
type Buffer struct {
	m     map[string]entry
	bytes int
	// order holds the keys in byte order, for ranges: a tree, because window operators
	// range over a buffer that changes between every two ranges, and sorting the keys
	// again each time cost O(n log n) per range.
	order *btree.BTreeG[string]
}

// NewBuffer returns an empty buffer.
func NewBuffer() *Buffer {
	return &Buffer{m: map[string]entry{}, order: btree.NewG(32, func(a, b string) bool { return a < b })}
}

// Put buffers key = value; both are copied.
func (b *Buffer) Put(key, value []byte) { b.set(key, entry{value: copyValue(value)}) }

// copyValue copies a value to buffer; a present empty value stays distinguishable from
// a tombstone (never nil).
func copyValue(value []byte) []byte {
	if len(value) == 0 {
		return []byte{}
	}
	return bytes.Clone(value)
}

// PutNew is Put for a key the caller knows the database does not have (a key made
// unique by a sequence number): if it is deleted before the commit, it is forgotten
// instead of written as a tombstone.
func (b *Buffer) PutNew(key, value []byte) { b.set(key, entry{value: copyValue(value), fresh: true}) }

// PutNewLocal is PutNew for a local key: one the database keeps and the changelog does
// not (an index entry a restore derives from the logged keys, KV.SetIndex).
func (b *Buffer) PutNewLocal(key, value []byte) {
	b.set(key, entry{value: copyValue(value), fresh: true, local: true})
}

// Delete buffers a tombstone for key, or forgets a fresh key.
func (b *Buffer) Delete(key []byte) { b.remove(key, false) }

// DeleteLocal is Delete for a local key: the tombstone goes to the database only.
func (b *Buffer) DeleteLocal(key []byte) { b.remove(key, true) }

func (b *Buffer) remove(key []byte, local bool) {
	if old, ok := b.m[string(key)]; ok && old.fresh {
		b.bytes -= len(key) + len(old.value)
		delete(b.m, string(key))
		b.order.Delete(string(key))
		return
	}
	b.set(key, entry{deleted: true, local: local})
}

func (b *Buffer) set(key []byte, e entry) {
	old, ok := b.m[string(key)]
	if ok {
		// A fresh key stays fresh when written again: the database still lacks it. A
		// local key stays local: the changelog never had it.
		e.fresh = e.fresh || (old.fresh && !e.deleted)
		e.local = e.local || old.local
		b.bytes -= len(old.value)
		b.m[string(key)] = e
	} else {
		k := string(key)
		b.bytes += len(k)
		b.m[k] = e
		b.order.ReplaceOrInsert(k)
	}
	b.bytes += len(e.value)
}

// Get returns the buffered value of key: found reports whether the buffer has the key at
// all; deleted whether it is a tombstone.
func (b *Buffer) Get(key []byte) (value []byte, deleted, found bool) {
	e, ok := b.m[string(key)]
	return e.value, e.deleted, ok
}

// Len is the number of buffered keys.
func (b *Buffer) Len() int { return len(b.m) }

// Logs reports whether any buffered key goes to the changelog (one that is not local).
// It looks until it finds one: the question is asked only when a commit wrote no
// changelog record for the store.
func (b *Buffer) Logs() bool {
	for _, e := range b.m {
		if !e.local {
			return true
		}
	}
	return false
}

// Bytes is roughly the memory the buffered keys and values take.
func (b *Buffer) Bytes() int { return b.bytes }

// keysFrom appends to dst[:0] at most max buffered keys in [from, hi) in byte order (hi
// nil: to the end), leaving out from itself when after is set.
func (b *Buffer) keysFrom(dst []string, from string, after bool, hi []byte, max int) []string {
	out := dst[:0]
	add := func(k string) bool {
		if after && k == from {
			return true
		}
		out = append(out, k)
		return len(out) < max
	}
	if hi == nil {
		b.order.AscendGreaterOrEqual(from, add)
	} else {
		b.order.AscendRange(from, string(hi), add)
	}
	return out
}

// Each calls fn for every buffered key, in no particular order (a commit needs none, and
// sorting a large buffer cost more than writing it), value nil for a tombstone.
func (b *Buffer) Each(fn func(key string, value []byte, deleted bool) error) error {
	for k, e := range b.m {
		if err := fn(k, e.value, e.deleted); err != nil {
			return err
		}
	}
	return nil
}

// EachInOrder is Each in key order.
func (b *Buffer) EachInOrder(fn func(key string, value []byte, deleted bool) error) error {
	var err error
	b.order.Ascend(func(k string) bool {
		e := b.m[k]
		err = fn(k, e.value, e.deleted)
		return err == nil
	})
	return err
}

// Logged is the buffer's changes for the changelog: every key but the local ones.
func (b *Buffer) Logged() Logged { return Logged{b} }

// Logged is a buffer's changes without its local keys (changelog.Changes).
type Logged struct{ b *Buffer }

// Each calls fn for every buffered key that is not local, in no particular order.
func (l Logged) Each(fn func(key string, value []byte, deleted bool) error) error {
	for k, e := range l.b.m {
		if e.local {
			continue
		}
		if err := fn(k, e.value, e.deleted); err != nil {
			return err
		}
	}
	return nil
}

// Reset empties the buffer, keeping its map for reuse.
func (b *Buffer) Reset() {
	clear(b.m)
	b.bytes = 0
	b.order.Clear(true)
}
