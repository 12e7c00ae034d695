package store

import (
	"bytes"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// Memory is a Backend that keeps everything in memory, in a skip list ordered
// by key bytes. It is safe for concurrent use: reads share a lock, writes
// take it alone, and a Write is atomic.
//
// Memory never modifies a stored key or value in place (an overwrite stores a
// new copy), so Get calls its fn after releasing the lock and an iterator can
// hand out the stored slices without copying.
//
// Iterators are not snapshots. Each Next returns the smallest key in
// [lo, hi) that is greater than the previous key returned and present at the
// moment of the call, with its value at that moment. So an iterator never
// returns a key twice or out of order; it sees writes ahead of its position
// made after Iterate, and not those behind it; a key present for the whole
// iteration is returned exactly once. (A copy of the range taken at Iterate
// would give a snapshot, at the cost of copying the range on every scan;
// nothing in eddy needs the snapshot, since a task's own writes go to its
// buffer, not here, until commit.)
type Memory struct {
	mu struct {
		sync.RWMutex
		// closed is set once by Close; every method checks it under mu.
		closed bool
		// head is the skip list's sentinel; head.next[i] starts level i.
		head memNode
		// version counts structural changes (inserted or removed nodes).
		// An iterator that saw another version re-seeks by key instead of
		// following a node that may have been unlinked.
		version uint64
		// bytes are the keys' and values' lengths, together.
		bytes int64
	}
}

var _ Backend = (*Memory)(nil)

// maxHeight bounds a node's tower: with a 1/4 chance of growing each level,
// 24 levels stay efficient well past 4^23 ≈ 7·10^13 keys.
const maxHeight = 24

type memNode struct {
	key, value []byte
	next       []*memNode // next[i] is the following node on level i
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	m := &Memory{}
	m.mu.head.next = make([]*memNode, maxHeight)
	return m
}

// seekLocked returns the first node whose key is >= key, or nil. If prev is
// not nil it receives, for every level, the last node before that position.
// m.mu must be held.
func (m *Memory) seekLocked(key []byte, prev *[maxHeight]*memNode) *memNode {
	var own [maxHeight]*memNode
	if prev == nil {
		prev = &own
	} else {
		*prev = [maxHeight]*memNode{}
	}
	return m.seekFromLocked(key, prev)
}

// Get implements Backend.
func (m *Memory) Get(key []byte, fn func(value []byte) error) (bool, error) {
	if !validKey(key) {
		return false, ErrInvalidKey
	}
	m.mu.RLock()
	if m.mu.closed {
		m.mu.RUnlock()
		return false, ErrClosed
	}
	n := m.seekLocked(key, nil)
	if n == nil || !bytes.Equal(n.key, key) {
		m.mu.RUnlock()
		return false, nil
	}
	value := n.value
	m.mu.RUnlock()
	if fn == nil {
		return true, nil
	}
	// Outside the lock: value is never modified, and fn may call m again.
	return true, fn(value)
}

// Write implements Backend. It is atomic: readers see all of b or none.
func (m *Memory) Write(b *Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return ErrClosed
	}
	if err := b.validate(); err != nil {
		return err
	}
	structural := false
	// A batch in key order (a write buffer applied in order) is a merge: each search
	// starts where the one before it ended (the finger) instead of at the head.
	var finger [maxHeight]*memNode
	var last []byte
	for i := range b.Len() {
		key, value, del := b.op(i)
		if i > 0 && bytes.Compare(key, last) <= 0 {
			finger = [maxHeight]*memNode{}
		}
		last = key
		if del {
			structural = m.deleteLocked(key, &finger) || structural
		} else {
			structural = m.putLocked(key, value, &finger) || structural
		}
	}
	if structural {
		m.mu.version++
	}
	return nil
}

// seekFromLocked returns the first node whose key is >= key, or nil, and leaves in prev
// the last node before that position on every level. It starts each level from prev's
// node there when that is further along (prev: for each level a node before key, or nil
// for none: a finger). m.mu must be held.
func (m *Memory) seekFromLocked(key []byte, prev *[maxHeight]*memNode) *memNode {
	head := &m.mu.head
	x := head
	// stop is the node that ended the walk on the level above, known to be >= key:
	// meeting it again on a lower level needs no comparison. That saves comparisons,
	// each of which costs cache misses.
	var stop *memNode
	for level := maxHeight - 1; level >= 0; level-- {
		if p := prev[level]; p != nil && p != x && (x == head || bytes.Compare(p.key, x.key) > 0) {
			x = p // before key, like x, and further along: stop is still after it
		}
		for {
			n := x.next[level]
			if n == nil || n == stop || bytes.Compare(n.key, key) >= 0 {
				stop = n
				break
			}
			x = n
		}
		prev[level] = x
	}
	return stop
}

// putLocked sets key to a copy of value and reports whether it inserted a
// node; prev is a finger (see seekFromLocked). m.mu must be held for writing.
func (m *Memory) putLocked(key, value []byte, prev *[maxHeight]*memNode) bool {
	n := m.seekFromLocked(key, prev)
	if n != nil && bytes.Equal(n.key, key) {
		// A new copy, not an in-place update: readers may hold the old one.
		m.mu.bytes += int64(len(value) - len(n.value))
		n.value = append(make([]byte, 0, len(value)), value...)
		return false
	}
	// One allocation for key and value; the value is capped so that it
	// cannot be appended into, and the key is capped by the slicing.
	kv := make([]byte, len(key)+len(value))
	copy(kv, key)
	copy(kv[len(key):], value)
	m.mu.bytes += int64(len(kv))
	h := randomHeight()
	n = &memNode{key: kv[:len(key):len(key)], value: kv[len(key):], next: make([]*memNode, h)}
	for level := range h {
		n.next[level] = prev[level].next[level]
		prev[level].next[level] = n
	}
	return true
}

// deleteLocked removes key and reports whether it was present; prev is a finger (see
// seekFromLocked), left valid: it holds nodes before key only. m.mu must be held for
// writing.
func (m *Memory) deleteLocked(key []byte, prev *[maxHeight]*memNode) bool {
	n := m.seekFromLocked(key, prev)
	if n == nil || !bytes.Equal(n.key, key) {
		return false
	}
	for level := range n.next {
		prev[level].next[level] = n.next[level]
	}
	m.mu.bytes -= int64(len(n.key) + len(n.value))
	return true
}

// randomHeight returns a tower height in [1, maxHeight], each level above
// the first with probability 1/4: every two trailing zero bits of a random
// number add one level. The top bit keeps the count within maxHeight.
func randomHeight() int {
	return 1 + bits.TrailingZeros64(rand.Uint64()|1<<(2*(maxHeight-1)))/2
}

// DeleteRange implements Backend. Unlike Badger's, it is atomic and holds
// the write lock for the whole range.
func (m *Memory) DeleteRange(lo, hi []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return ErrClosed
	}
	var prev [maxHeight]*memNode
	n := m.seekLocked(lo, &prev)
	if n == nil || !before(n.key, hi) {
		return nil
	}
	for ; n != nil && before(n.key, hi); n = n.next[0] {
		m.mu.bytes -= int64(len(n.key) + len(n.value))
	}
	// On every level, splice out the run of nodes in [lo, hi) that follows
	// the last node before lo.
	for level := range maxHeight {
		n := prev[level].next[level]
		for n != nil && before(n.key, hi) {
			n = n.next[level]
		}
		prev[level].next[level] = n
	}
	m.mu.version++
	return nil
}

// EstimateSize implements Sizer: the bytes of the keys and values under prefix, which it
// counts by walking them unless prefix is empty (the total is kept).
func (m *Memory) EstimateSize(prefix []byte) int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(prefix) == 0 || m.mu.closed {
		return m.mu.bytes
	}
	var size int64
	for n := m.seekLocked(prefix, nil); n != nil && bytes.HasPrefix(n.key, prefix); n = n.next[0] {
		size += int64(len(n.key) + len(n.value))
	}
	return size
}

// before reports whether key is below the exclusive upper bound hi, where
// hi == nil means no bound.
func before(key, hi []byte) bool {
	return hi == nil || bytes.Compare(key, hi) < 0
}

// Close implements Backend. It drops the data.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.closed {
		return nil
	}
	m.mu.closed = true
	m.mu.head.next = nil
	m.mu.bytes = 0
	m.mu.version++
	return nil
}

// Iterate implements Backend; see [Memory] for what an iterator sees.
func (m *Memory) Iterate(lo, hi []byte) (Iterator, error) {
	m.mu.RLock()
	closed := m.mu.closed
	m.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	it := &memoryIterator{m: m}
	// The bounds are copied into the iterator itself when they fit: one allocation for
	// a short range, as a join's lookup of one key is.
	room := it.bounds[:]
	it.lo = cloneInto(room, lo)
	if len(lo) <= len(room) {
		room = room[len(lo):]
	}
	it.hi = cloneInto(room, hi)
	return it, nil
}

// cloneInto copies b into room when it fits, else into new memory, keeping nil as nil
// (nil bounds mean "unbounded"). The copy is capped: appending to it never writes into
// what follows it in room.
func cloneInto(room, b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) > len(room) {
		return clone(b)
	}
	n := copy(room, b)
	return room[:n:n]
}

// clone copies b, keeping nil as nil (nil bounds mean "unbounded").
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

type memoryIterator struct {
	m      *Memory
	lo, hi []byte
	bounds [96]byte // room for short bounds
	// node is the current node; it is followed only while version matches
	// the store's, since otherwise it may have been unlinked.
	node       *memNode
	version    uint64
	started    bool
	done       bool
	key, value []byte
	err        error
}

func (it *memoryIterator) Next() bool {
	if it.done {
		return false
	}
	m := it.m
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.mu.closed {
		it.finish(ErrClosed)
		return false
	}
	var n *memNode
	switch {
	case !it.started:
		n = m.seekLocked(it.lo, nil)
		it.started = true
	case it.version == m.mu.version:
		n = it.node.next[0]
	default:
		// The list changed: find the first key after the last one returned.
		n = m.seekLocked(it.key, nil)
		if n != nil && bytes.Equal(n.key, it.key) {
			n = n.next[0]
		}
	}
	if n == nil || !before(n.key, it.hi) {
		it.finish(nil)
		return false
	}
	it.node, it.version = n, m.mu.version
	it.key, it.value = n.key, n.value
	return true
}

func (it *memoryIterator) finish(err error) {
	it.done, it.err = true, err
	it.node, it.key, it.value = nil, nil, nil
}

func (it *memoryIterator) Key() []byte   { return it.key }
func (it *memoryIterator) Value() []byte { return it.value }
func (it *memoryIterator) Err() error    { return it.err }

func (it *memoryIterator) Close() error {
	if !it.done {
		it.finish(nil)
	}
	return nil
}
