package state

import (
	"bytes"

	"github.com/eddy-streams/eddy/store"
)

// KV is one task's slice of one key-value store: the buffer over the database. Reads see
// the buffer first; writes go only to the buffer until the commit applies it. Owned by the
// task's goroutine; not safe for concurrent use.
type KV struct {
	name string
	// db holds the committed state: the instance's database, or for a slice kept in
	// memory (Manager.OpenInMemory) a Memory of its own, checkpoint included, which a
	// restart or a move of the task loses, so the slice restores in full.
	db       store.Backend
	inMemory bool
	slot     slot
	prefix   []byte // data prefix of the current incarnation
	buf      *Buffer
	cache    *valueCache // committed values read or written lately; nil: none
	scratch  []byte      // prefixed key for lookups, reused
	// index derives the local key kept beside a logged key (nil: none): see SetIndex.
	index func(key []byte) []byte
	// hits count the reads the buffer or the cache answered, misses those that went to
	// the database.
	hits, misses int64
	// written estimates the bytes of the committed state this instance wrote or restored:
	// a commit adds each new key's size and, where the cache knows the value it replaces
	// or deletes, takes that off (see SizeEstimate).
	written int64
}

// Reads are the slice's point reads so far: hits, answered from its write buffer or its
// cache of committed values, and misses, which read the database.
func (s *KV) Reads() (hits, misses int64) { return s.hits, s.misses }

// SizeEstimate is the bytes the slice's state takes: what its buffer holds, and its
// committed state as the database estimates it — an in-memory slice exactly; Badger
// counts only what reached its tables, so the larger of that and what this instance
// wrote and restored (which counts a key overwritten or deleted out of the cache's sight
// twice) stands for it.
func (s *KV) SizeEstimate() int64 {
	size := int64(s.buf.Bytes())
	sz, ok := s.db.(store.Sizer)
	switch {
	case ok && s.inMemory:
		return size + sz.EstimateSize(nil) // a database of its own
	case ok:
		return size + max(sz.EstimateSize(s.prefix), s.written)
	}
	return size + s.written
}

// Name is the store's name.
func (s *KV) Name() string { return s.name }

// InMemory reports whether the slice's committed state is kept in memory.
func (s *KV) InMemory() bool { return s.inMemory }

// Buffer is the store's write buffer.
func (s *KV) Buffer() *Buffer { return s.buf }

func (s *KV) dbKey(key []byte) []byte {
	s.scratch = append(append(s.scratch[:0], s.prefix...), key...)
	return s.scratch
}

// GetCommitted calls fn with key's value as of the slice's last commit (the database,
// never the write buffer) and reports whether it has one. Unlike the other methods it is
// safe to call from any goroutine while the task runs, as long as the slice is not wiped
// meanwhile (a restore does that, before the task runs): interactive queries read this.
func (s *KV) GetCommitted(key []byte, fn func(value []byte) error) (bool, error) {
	k := make([]byte, 0, len(s.prefix)+len(key))
	return s.db.Get(append(append(k, s.prefix...), key...), fn)
}

// RangeCommitted iterates the keys in [lo, hi) (nil bounds open) as of the slice's last
// commit, the database alone; safe from any goroutine as GetCommitted is. The iterator
// holds a database snapshot: close it.
func (s *KV) RangeCommitted(lo, hi []byte) (store.Iterator, error) {
	dbLo := append(append([]byte(nil), s.prefix...), lo...)
	dbHi := prefixEnd(s.prefix)
	if hi != nil {
		dbHi = append(append([]byte(nil), s.prefix...), hi...)
	}
	it, err := s.db.Iterate(dbLo, dbHi)
	if err != nil {
		return nil, err
	}
	return &prefixIter{Iterator: it, n: len(s.prefix)}, nil
}

// Get calls fn with key's current value (buffered or committed) and reports whether the key
// has one. The value is valid only inside fn.
func (s *KV) Get(key []byte, fn func(value []byte) error) (bool, error) {
	if v, deleted, ok := s.buf.Get(key); ok {
		s.hits++
		if deleted {
			return false, nil
		}
		return true, fn(v)
	}
	if e, ok := s.cache.get(key); ok {
		s.hits++
		if e.absent {
			return false, nil
		}
		return true, fn(e.value)
	}
	s.misses++
	if s.cache == nil {
		return s.db.Get(s.dbKey(key), fn)
	}
	var kept []byte
	found, err := s.db.Get(s.dbKey(key), func(v []byte) error {
		kept = append(make([]byte, 0, len(v)), v...)
		return fn(kept)
	})
	if err == nil {
		s.cache.put(string(key), cached{value: kept, absent: !found})
	}
	return found, err
}

// SetIndex says that for every logged key k with index(k) != nil the slice keeps a local
// key index(k), with an empty value, that the changelog does not have: written with
// PutNewLocal and deleted with DeleteLocal by the store's user, and derived by a restore
// from each restored key (a put of k puts index(k), a deletion deletes it). It halves the
// changelog of a store that keeps its keys in a second order too (a join side's records
// by closing time).
func (s *KV) SetIndex(index func(key []byte) []byte) { s.index = index }

// PutNewLocal writes a local key the database does not have: see Buffer.PutNewLocal.
func (s *KV) PutNewLocal(key, value []byte) { s.buf.PutNewLocal(key, value) }

// DeleteLocal deletes a local key: see Buffer.DeleteLocal.
func (s *KV) DeleteLocal(key []byte) { s.buf.DeleteLocal(key) }

// Put sets key to value in the buffer.
func (s *KV) Put(key, value []byte) { s.buf.Put(key, value) }

// PutNew sets key, which the database does not have, to value: see Buffer.PutNew.
func (s *KV) PutNew(key, value []byte) { s.buf.PutNew(key, value) }

// Delete removes key (a tombstone in the buffer).
func (s *KV) Delete(key []byte) { s.buf.Delete(key) }

// Range iterates the keys in [lo, hi) (hi nil: to the end) in byte order, merging the
// buffer over the database. The iterator sees the buffer as it is now.
func (s *KV) Range(lo, hi []byte) (store.Iterator, error) {
	// The iterator, its bounds and its first chunk of buffered keys are one allocation
	// when they are short, as a join's lookup of one key is (the database copies the
	// bounds it keeps).
	m := &mergeIter{prefixLen: len(s.prefix), buf: s.buf, hi: hi}
	bounds := append(append(m.bounds[:0], s.prefix...), lo...)
	dbLo := bounds[:len(bounds):len(bounds)]
	var dbHi []byte
	if hi != nil {
		dbHi = append(append(bounds[len(bounds):], s.prefix...), hi...)
	} else {
		dbHi = prefixEnd(s.prefix)
	}
	it, err := s.db.Iterate(dbLo, dbHi)
	if err != nil {
		return nil, err
	}
	m.db = it
	m.kScratch, m.vScratch = m.kBuf[:0], m.vBuf[:0]
	m.keys = s.buf.keysFrom(m.chunk[:0], string(lo), false, hi, keyChunk)
	m.more = len(m.keys) == keyChunk
	m.advanceDB()
	return m, nil
}

// committed moves the buffer's writes, now in the database, into the cache.
func (s *KV) committed() {
	s.buf.Each(func(k string, v []byte, deleted bool) error {
		if old, ok := s.cache.lookup(k); ok && !old.absent {
			s.written -= int64(len(k) + len(old.value))
		}
		if !deleted {
			s.written += int64(len(k) + len(v))
		}
		s.cache.put(k, cached{value: v, absent: deleted})
		return nil
	})
	s.written = max(s.written, 0)
}

// appendBatch writes the buffer into b under the store's prefix, in no particular order
// (sorting a large buffer cost more than writing it to Badger).
func (s *KV) appendBatch(b *store.Batch) { s.appendBuffer(b, s.buf.Each) }

// appendBuffer writes the buffer into b under the store's prefix, in each's order.
func (s *KV) appendBuffer(b *store.Batch, each func(func(string, []byte, bool) error) error) {
	_ = each(func(k string, v []byte, deleted bool) error {
		s.scratch = append(append(s.scratch[:0], s.prefix...), k...)
		if deleted {
			b.Delete(s.scratch)
		} else {
			b.Put(s.scratch, v)
		}
		return nil
	})
}

// mergeIter merges the buffered keys of a range over a database iterator; on equal keys
// the buffer wins, and buffered tombstones hide database keys.
type mergeIter struct {
	db        store.Iterator
	dbOK      bool
	prefixLen int
	buf       *Buffer
	// keys are buffered keys still to visit, in order, read from the buffer a chunk at a
	// time (a scan that stops early does not pay for the whole range); more says the
	// buffer may hold more before hi.
	keys    []string
	more    bool
	hi      []byte
	lastBuf string // the last buffered key taken from keys

	key, value         []byte
	kScratch, vScratch []byte
	err                error

	// Room for short bounds, a first chunk of keys and short keys and values, so that a
	// short range costs one allocation.
	bounds [96]byte
	chunk  [8]string
	kBuf   [64]byte
	vBuf   [192]byte
}

func (m *mergeIter) advanceDB() {
	m.dbOK = m.db.Next()
	if !m.dbOK && m.err == nil {
		m.err = m.db.Err()
	}
}

// keyChunk is how many buffered keys a range reads at a time.
const keyChunk = 64

func (m *mergeIter) Next() bool {
	for m.err == nil {
		if len(m.keys) == 0 && m.more {
			m.keys = m.buf.keysFrom(nil, m.lastBuf, true, m.hi, keyChunk)
			m.more = len(m.keys) == keyChunk
		}
		var dbKey []byte
		if m.dbOK {
			dbKey = m.db.Key()[m.prefixLen:]
		}
		switch {
		case len(m.keys) == 0 && !m.dbOK:
			return false
		case len(m.keys) > 0 && (!m.dbOK || bytes.Compare([]byte(m.keys[0]), dbKey) <= 0):
			k := m.keys[0]
			m.keys = m.keys[1:]
			m.lastBuf = k
			if m.dbOK && k == string(dbKey) {
				m.advanceDB() // shadowed by the buffer
			}
			v, deleted, _ := m.buf.Get([]byte(k))
			if deleted {
				continue
			}
			m.kScratch = append(m.kScratch[:0], k...)
			m.key, m.value = m.kScratch, v
			return true
		default:
			// Copied into the iterator's own scratch (never into a slice that may be the
			// buffer's value): the database's slices die at its next Next.
			m.kScratch = append(m.kScratch[:0], dbKey...)
			m.vScratch = append(m.vScratch[:0], m.db.Value()...)
			m.key, m.value = m.kScratch, m.vScratch
			m.advanceDB()
			return true
		}
	}
	return false
}

func (m *mergeIter) Key() []byte   { return m.key }
func (m *mergeIter) Value() []byte { return m.value }
func (m *mergeIter) Err() error    { return m.err }
func (m *mergeIter) Close() error  { return m.db.Close() }

var _ store.Bytes = (*KV)(nil)
