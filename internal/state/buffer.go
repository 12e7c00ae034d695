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
	"sort"
)

// entry is one buffered write: a value, or a tombstone.
type entry struct {
	value   []byte
	deleted bool
}

// Buffer holds the writes of one task's store since the last commit. Reads see it over the
// database; at commit its last value per key goes to the changelog and then to the
// database. Not safe for concurrent use: a task's goroutine owns it.
type Buffer struct {
	m      map[string]entry
	bytes  int
	sorted []string // keys in order; nil when stale
}

// NewBuffer returns an empty buffer.
func NewBuffer() *Buffer { return &Buffer{m: map[string]entry{}} }

// Put buffers key = value; both are copied.
func (b *Buffer) Put(key, value []byte) {
	v := bytes.Clone(value)
	if v == nil {
		// A present empty value must stay distinguishable from a tombstone.
		v = []byte{}
	}
	b.set(key, entry{value: v})
}

// Delete buffers a tombstone for key.
func (b *Buffer) Delete(key []byte) { b.set(key, entry{deleted: true}) }

func (b *Buffer) set(key []byte, e entry) {
	old, ok := b.m[string(key)]
	if ok {
		b.bytes -= len(old.value)
	} else {
		b.bytes += len(key)
		b.sorted = nil
	}
	b.bytes += len(e.value)
	b.m[string(key)] = e
}

// Get returns the buffered value of key: found reports whether the buffer has the key at
// all; deleted whether it is a tombstone.
func (b *Buffer) Get(key []byte) (value []byte, deleted, found bool) {
	e, ok := b.m[string(key)]
	return e.value, e.deleted, ok
}

// Len is the number of buffered keys.
func (b *Buffer) Len() int { return len(b.m) }

// Bytes is roughly the memory the buffered keys and values take.
func (b *Buffer) Bytes() int { return b.bytes }

// Keys returns the buffered keys in byte order. The slice is the buffer's own; it is valid
// until the next write.
func (b *Buffer) Keys() []string {
	if b.sorted == nil {
		b.sorted = make([]string, 0, len(b.m))
		for k := range b.m {
			b.sorted = append(b.sorted, k)
		}
		sort.Strings(b.sorted)
	}
	return b.sorted
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

// Reset empties the buffer, keeping its map for reuse.
func (b *Buffer) Reset() {
	clear(b.m)
	b.bytes = 0
	b.sorted = nil
}
