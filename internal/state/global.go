package state

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/eddy-streams/eddy/store"
)

// A global table's store is one slice for the whole topic (every partition): a lookup
// cannot know which partition a key came from, since the topic need not be partitioned by
// eddy's partitioner. It lives under the slot of a sub-topology no task has, so no task's
// keys meet it, and its checkpoints — the reader's position in each partition of the
// topic — under a namespace of their own, which ReleaseAll does not scan: the cleanup of
// tasks that left never wipes a global store.
const (
	globalSub               = math.MaxUint32
	nsGlobalCheckpoint byte = 0x05
)

// Global is an instance's copy of a global table's store. The global reader alone writes
// it, through Stage and ApplyGlobal; every task reads it at once, straight from the
// database (no write buffer: nothing a task does changes it; no cache: the tasks would
// each need their own, kept in step with the reader). Get and Range are safe for
// concurrent use; Stage is the reader's.
type Global struct {
	name string
	db   store.Backend
	slot slot
	// prefix is the data prefix of the current incarnation. Only WipeGlobal changes it,
	// which the reader calls before its restore, before any task may read.
	prefix []byte

	keys    sync.Pool // *[]byte: prefixed lookup keys of concurrent readers
	scratch []byte    // the reader's staged key
}

// OpenGlobal returns the instance's copy of the named global store.
func (m *Manager) OpenGlobal(name string) (*Global, error) {
	id, err := m.storeID(name)
	if err != nil {
		return nil, err
	}
	s := slot{sub: globalSub, partition: 0, store: id}
	inc, err := m.incarnation(s)
	if err != nil {
		return nil, err
	}
	return &Global{name: name, db: m.db, slot: s, prefix: s.dataPrefix(inc)}, nil
}

// Name is the store's name.
func (g *Global) Name() string { return g.name }

// Get calls fn with key's value and reports whether the key has one. The value is valid
// only inside fn.
func (g *Global) Get(key []byte, fn func(value []byte) error) (bool, error) {
	bp, _ := g.keys.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	k := append(append((*bp)[:0], g.prefix...), key...)
	found, err := g.db.Get(k, fn)
	*bp = k
	g.keys.Put(bp)
	return found, err
}

// Range iterates the keys in [lo, hi) (hi nil: to the end) in byte order, as of when it
// is called.
func (g *Global) Range(lo, hi []byte) (store.Iterator, error) {
	dbLo := append(append([]byte(nil), g.prefix...), lo...)
	dbHi := prefixEnd(g.prefix)
	if hi != nil {
		dbHi = append(append([]byte(nil), g.prefix...), hi...)
	}
	it, err := g.db.Iterate(dbLo, dbHi)
	if err != nil {
		return nil, err
	}
	return &prefixIter{Iterator: it, n: len(g.prefix)}, nil
}

// prefixIter strips the store's prefix from the keys of a database iterator.
type prefixIter struct {
	store.Iterator
	n int
}

func (p *prefixIter) Key() []byte { return p.Iterator.Key()[p.n:] }

// Stage adds the write of key to b: value, or a deletion when value is nil. The batch
// copies both.
func (g *Global) Stage(b *store.Batch, key, value []byte) {
	g.scratch = append(append(g.scratch[:0], g.prefix...), key...)
	if value == nil {
		b.Delete(g.scratch)
	} else {
		b.Put(g.scratch, value)
	}
}

func (g *Global) checkpointKey(partition int32) []byte {
	k := binary.BigEndian.AppendUint16([]byte{nsGlobalCheckpoint}, g.slot.store)
	return binary.BigEndian.AppendUint32(k, uint32(partition))
}

func (g *Global) checkpointRange() (lo, hi []byte) {
	lo = binary.BigEndian.AppendUint16([]byte{nsGlobalCheckpoint}, g.slot.store)
	return lo, prefixEnd(lo)
}

// GlobalCheckpoints returns the reader's checkpointed position in each partition of the
// store's topic; unreadable checkpoints are left out (their partitions read from the
// start).
func (m *Manager) GlobalCheckpoints(g *Global) (map[int32]Checkpoint, error) {
	lo, hi := g.checkpointRange()
	it, err := m.db.Iterate(lo, hi)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	cps := map[int32]Checkpoint{}
	for it.Next() {
		k := it.Key()
		if len(k) != len(lo)+4 {
			continue
		}
		if c, err := decodeCheckpoint(it.Value()); err == nil {
			cps[int32(binary.BigEndian.Uint32(k[len(lo):]))] = c
		}
	}
	return cps, it.Err()
}

// ApplyGlobal writes a batch staged for the store.
func (m *Manager) ApplyGlobal(g *Global, b *store.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := m.db.Write(b); err != nil {
		return fmt.Errorf("state: applying global store %s: %w", g.name, err)
	}
	return nil
}

// SaveGlobalCheckpoints writes the reader's positions (partition → next offset to read).
// The caller writes them only once the data they cover is applied, in a write of its own
// (Badger may split a large batch): a checkpoint is never durable before its data.
func (m *Manager) SaveGlobalCheckpoints(g *Global, cps map[int32]Checkpoint) error {
	if len(cps) == 0 {
		return nil
	}
	var b store.Batch
	for p, c := range cps {
		b.Put(g.checkpointKey(p), c.encode())
	}
	if err := m.db.Write(&b); err != nil {
		return fmt.Errorf("state: checkpoints of global store %s: %w", g.name, err)
	}
	return nil
}

// WipeGlobal empties the store: its incarnation is bumped and every checkpoint removed in
// one write, and the old data is deleted in the background. The reader calls it before
// its restore, while no task reads the store.
func (m *Manager) WipeGlobal(g *Global) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	inc, err := m.incarnation(g.slot)
	if err != nil {
		return err
	}
	var b store.Batch
	b.Put(g.slot.incarnationKey(), binary.BigEndian.AppendUint32(nil, inc+1))
	lo, hi := g.checkpointRange()
	it, err := m.db.Iterate(lo, hi)
	if err != nil {
		return err
	}
	for it.Next() {
		b.Delete(it.Key())
	}
	err = it.Err()
	it.Close()
	if err != nil {
		return err
	}
	if err := m.db.Write(&b); err != nil {
		return fmt.Errorf("state: wiping global store %s: %w", g.name, err)
	}
	old := g.prefix
	g.prefix = g.slot.dataPrefix(inc + 1)
	if m.mu.closed {
		return nil
	}
	m.wipes.Add(1)
	go func() {
		defer m.wipes.Done()
		// Best effort: leftovers of an old incarnation are unreachable and harmless.
		_ = m.db.DeleteRange(old, prefixEnd(old))
	}()
	return nil
}
