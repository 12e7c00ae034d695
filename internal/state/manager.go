package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// Checkpoint says up to where a task's slice of a store reflects its changelog partition.
// It is written after the data it covers, so it may lag its data but never lead it.
type Checkpoint struct {
	TopicID [16]byte  // the changelog topic's id: a recreated topic invalidates the state
	Offset  int64     // the next changelog offset to read
	Written time.Time // when it was written, against delete.retention.ms
}

const checkpointVersion = 1

func (c Checkpoint) encode() []byte {
	b := make([]byte, 0, 1+16+8+8)
	b = append(b, checkpointVersion)
	b = append(b, c.TopicID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Offset))
	return binary.BigEndian.AppendUint64(b, uint64(c.Written.UnixMilli()))
}

// decodeCheckpoint reads a checkpoint as encode writes it. Version 1 is exactly 33 bytes:
// a longer value is not one eddy wrote, and trusting its first 33 bytes could resume a
// restore from a wrong offset, so it is unreadable (and the slice restores from scratch).
func decodeCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(b) != 1+16+8+8 || b[0] != checkpointVersion {
		return c, fmt.Errorf("state: unreadable checkpoint (%d bytes, version %d)", len(b), firstByte(b))
	}
	copy(c.TopicID[:], b[1:17])
	c.Offset = int64(binary.BigEndian.Uint64(b[17:25]))
	c.Written = time.UnixMilli(int64(binary.BigEndian.Uint64(b[25:33])))
	return c, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// Manager is an instance's state: the database and the store ids. Safe for concurrent use
// by the workers; each task's slices are used by one worker at a time.
type Manager struct {
	db store.Backend
	// CacheBytes bounds each store slice's cache of committed values (0: no cache).
	CacheBytes int

	mu struct {
		sync.Mutex
		ids    map[string]uint16
		closed bool
		// released holds the slots of tasks that left this instance, with when they
		// left; Cleanup wipes those gone for long enough, Open takes a slot back.
		released map[slot]time.Time
		// open counts the KVs open on each slot: a slot is released when its last one
		// is. Two can be open at once on one slot for a moment: a task's, and a replica's
		// or a former owner's (another worker) that has not closed yet.
		open map[slot]int
	}
	wipes sync.WaitGroup // background deletes of old incarnations
}

// NewManager manages state in db.
func NewManager(db store.Backend) *Manager {
	m := &Manager{db: db}
	m.mu.ids = map[string]uint16{}
	m.mu.released = map[slot]time.Time{}
	m.mu.open = map[slot]int{}
	return m
}

// ReleaseAll marks every slot that has a checkpoint as released at t: at start no task is
// here yet, and the state of tasks that do not come back is dropped after the delay.
func (m *Manager) ReleaseAll(t time.Time) error {
	it, err := m.db.Iterate([]byte{nsCheckpoint}, []byte{nsCheckpoint + 1})
	if err != nil {
		return err
	}
	defer it.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	for it.Next() {
		k := it.Key()
		if len(k) != 1+slotLen {
			continue
		}
		s := slot{
			sub:       binary.BigEndian.Uint32(k[1:5]),
			partition: binary.BigEndian.Uint32(k[5:9]),
			store:     binary.BigEndian.Uint16(k[9:11]),
		}
		m.mu.released[s] = t
	}
	return it.Err()
}

// TaskOffsets is the state a task has on this instance: the sum of the changelog offsets
// its store slices' checkpoints are at.
type TaskOffsets struct {
	Sub       int
	Partition int32
	Sum       int64
}

// OffsetSums lists every task with checkpointed state in the database, running here or
// left by a task that moved or by an earlier run and not yet cleaned up, with its offset
// sum (Kafka Streams' task offset sums): what the group balancer weighs to send a task
// where the least of its changelog is left to restore.
func (m *Manager) OffsetSums() ([]TaskOffsets, error) {
	it, err := m.db.Iterate([]byte{nsCheckpoint}, []byte{nsCheckpoint + 1})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []TaskOffsets
	for it.Next() {
		k := it.Key()
		if len(k) != 1+slotLen {
			continue
		}
		cp, err := decodeCheckpoint(it.Value())
		if err != nil {
			continue // unreadable: the task restores from scratch, so it holds nothing
		}
		sub, partition := int(binary.BigEndian.Uint32(k[1:5])), int32(binary.BigEndian.Uint32(k[5:9]))
		// Checkpoints are keyed by slot, so a task's slices are next to each other.
		if n := len(out); n > 0 && out[n-1].Sub == sub && out[n-1].Partition == partition {
			out[n-1].Sum += cp.Offset
			continue
		}
		out = append(out, TaskOffsets{Sub: sub, Partition: partition, Sum: cp.Offset})
	}
	return out, it.Err()
}

// Release records that the task holding kv left this instance: once no other KV is open
// on its slot, the slot is released (Cleanup wipes it after the delay). A slice kept in
// memory is dropped at once: it has no checkpoint, so the task restores it in full
// wherever it goes. Release kv once.
func (m *Manager) Release(kv *KV) {
	if kv.inMemory {
		_ = kv.db.Close() // a Memory's Close cannot fail
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.mu.open[kv.slot] - 1; n > 0 {
		m.mu.open[kv.slot] = n
		return
	}
	delete(m.mu.open, kv.slot)
	m.mu.released[kv.slot] = time.Now()
}

// Cleanup wipes the slots released before t and returns how many.
func (m *Manager) Cleanup(before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for s, at := range m.mu.released {
		if at.After(before) {
			continue
		}
		if err := m.wipeLocked(s); err != nil {
			return n, err
		}
		delete(m.mu.released, s)
		n++
	}
	return n, nil
}

// DB is the database.
func (m *Manager) DB() store.Backend { return m.db }

// storeID returns the store's id, assigning and persisting a new one on first use, so a
// store keeps its id across restarts even when stores are added to the topology.
func (m *Manager) storeID(name string) (uint16, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.mu.ids[name]; ok {
		return id, nil
	}
	var id uint16
	found, err := m.db.Get(storeIDKey(name), func(v []byte) error {
		if len(v) != 2 {
			return fmt.Errorf("state: store id of %q has %d bytes", name, len(v))
		}
		id = binary.BigEndian.Uint16(v)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if !found {
		if id, err = m.nextIDLocked(); err != nil {
			return 0, err
		}
		var b store.Batch
		b.Put(storeIDKey(name), binary.BigEndian.AppendUint16(nil, id))
		if err := m.db.Write(&b); err != nil {
			return 0, fmt.Errorf("state: saving the id of store %q: %w", name, err)
		}
	}
	m.mu.ids[name] = id
	return id, nil
}

func (m *Manager) nextIDLocked() (uint16, error) {
	it, err := m.db.Iterate([]byte{nsStoreID}, []byte{nsStoreID + 1})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	next := uint16(1)
	for it.Next() {
		if v := it.Value(); len(v) == 2 {
			if id := binary.BigEndian.Uint16(v); id >= next {
				if id == math.MaxUint16 {
					return 0, errors.New("state: out of store ids")
				}
				next = id + 1
			}
		}
	}
	return next, it.Err()
}

// Open returns a task's slice of the named store, with an empty buffer.
func (m *Manager) Open(sub int, partition int32, name string) (*KV, error) {
	id, err := m.storeID(name)
	if err != nil {
		return nil, err
	}
	s := slot{sub: uint32(sub), partition: uint32(partition), store: id}
	m.mu.Lock()
	delete(m.mu.released, s)
	m.mu.open[s]++
	m.mu.Unlock()
	inc, err := m.incarnation(s)
	if err != nil {
		return nil, err
	}
	return &KV{name: name, db: m.db, slot: s, prefix: s.dataPrefix(inc), buf: NewBuffer(), cache: newValueCache(m.CacheBytes)}, nil
}

// OpenInMemory returns a task's slice of the named store with its committed state in
// memory: reads never reach the database, and a commit writes to memory. Its checkpoint
// lives there too, so a task that starts (or starts again) on this instance restores the
// slice in full from its changelog. For stores whose records live briefly, as a
// stream-stream join's, which hold a join window's worth of records.
func (m *Manager) OpenInMemory(sub int, partition int32, name string) (*KV, error) {
	id, err := m.storeID(name)
	if err != nil {
		return nil, err
	}
	s := slot{sub: uint32(sub), partition: uint32(partition), store: id}
	return &KV{name: name, db: store.NewMemory(), inMemory: true, slot: s, prefix: s.dataPrefix(0), buf: NewBuffer()}, nil
}

func (m *Manager) incarnation(s slot) (uint32, error) { return readIncarnation(m.db, s) }

// readIncarnation reads the slot's current incarnation (0 before its first wipe).
func readIncarnation(db store.Backend, s slot) (uint32, error) {
	var inc uint32
	_, err := db.Get(s.incarnationKey(), func(v []byte) error {
		if len(v) != 4 {
			return fmt.Errorf("state: incarnation has %d bytes", len(v))
		}
		inc = binary.BigEndian.Uint32(v)
		return nil
	})
	return inc, err
}

// Checkpoint returns the slice's checkpoint, if it has one.
func (m *Manager) Checkpoint(kv *KV) (Checkpoint, bool, error) {
	var c Checkpoint
	var derr error
	found, err := kv.db.Get(kv.slot.checkpointKey(), func(v []byte) error {
		c, derr = decodeCheckpoint(v)
		return nil
	})
	if err != nil {
		return c, false, err
	}
	if derr != nil {
		// An unreadable checkpoint is no checkpoint: the caller restores fully.
		return c, false, nil
	}
	return c, found, nil
}

// Commit applies the buffers of a task's stores to the database, then writes their
// checkpoints in a separate write: Badger may split a large batch, and a checkpoint must
// never be durable before the data it covers. Slices kept in memory are written to their
// own memory the same way. A checkpoint with a negative offset is not written: the slice
// keeps the one it has, which may lag its data (a buffer of local keys only moved no
// changelog). The buffers are emptied.
func (m *Manager) Commit(kvs []*KV, cps []Checkpoint) error {
	var b store.Batch
	for _, kv := range kvs {
		if !kv.inMemory {
			kv.appendBatch(&b)
		}
	}
	if b.Len() > 0 {
		if err := m.db.Write(&b); err != nil {
			return fmt.Errorf("state: applying buffered writes: %w", err)
		}
	}
	b.Reset()
	for i, kv := range kvs {
		if kv.inMemory {
			if err := kv.commitInMemory(cps[i]); err != nil {
				return err
			}
			continue
		}
		if cps[i].Offset >= 0 {
			b.Put(kv.slot.checkpointKey(), cps[i].encode())
		}
		kv.committed()
		kv.buf.Reset()
	}
	if b.Len() > 0 {
		if err := m.db.Write(&b); err != nil {
			return fmt.Errorf("state: writing checkpoints: %w", err)
		}
	}
	return nil
}

var batchPool = sync.Pool{New: func() any { return new(store.Batch) }}

// commitInMemory applies a memory slice's buffer and checkpoint to its memory, in one
// write (a Memory's writes are atomic), and empties the buffer.
func (kv *KV) commitInMemory(cp Checkpoint) error {
	// In key order, which a Memory applies as a merge. The batch comes from a pool, not
	// the slice: kept per slice, every slice's largest commit stayed live.
	b := batchPool.Get().(*store.Batch)
	defer batchPool.Put(b)
	b.Reset()
	kv.appendBuffer(b, kv.buf.EachInOrder)
	if cp.Offset >= 0 {
		b.Put(kv.slot.checkpointKey(), cp.encode())
	}
	err := kv.db.Write(b)
	b.Reset()
	if err != nil {
		return fmt.Errorf("state: applying buffered writes of store %s: %w", kv.name, err)
	}
	kv.buf.Reset()
	return nil
}

// ApplyRestored writes changelog records straight to the database during a restore (value
// nil: delete), with the local keys derived from them (KV.SetIndex), then the checkpoint
// after them.
func (m *Manager) ApplyRestored(kv *KV, keys, values [][]byte, cp Checkpoint) error {
	kv.cache.clear()
	var b store.Batch
	var key []byte
	for i, k := range keys {
		key = append(append(key[:0], kv.prefix...), k...)
		if values[i] == nil {
			b.Delete(key)
		} else {
			b.Put(key, values[i])
			kv.written += int64(len(k) + len(values[i]))
		}
		if kv.index == nil {
			continue
		}
		if idx := kv.index(k); idx != nil {
			key = append(append(key[:0], kv.prefix...), idx...)
			if values[i] == nil {
				b.Delete(key)
			} else {
				b.Put(key, nil)
			}
		}
	}
	if b.Len() > 0 {
		if err := kv.db.Write(&b); err != nil {
			return fmt.Errorf("state: applying restored records: %w", err)
		}
	}
	b.Reset()
	b.Put(kv.slot.checkpointKey(), cp.encode())
	return kv.db.Write(&b)
}

// Wipe drops a task's slice: the incarnation is bumped and the checkpoint removed in one
// write, so the slice is empty at once; the old data is deleted in the background.
func (m *Manager) Wipe(kv *KV) error {
	if kv.inMemory {
		_ = kv.db.Close() // a Memory's Close cannot fail
		kv.db = store.NewMemory()
		kv.buf.Reset()
		kv.written = 0
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.wipeLocked(kv.slot); err != nil {
		return fmt.Errorf("state: wiping store %s: %w", kv.name, err)
	}
	inc, err := m.incarnation(kv.slot)
	if err != nil {
		return err
	}
	kv.prefix = kv.slot.dataPrefix(inc)
	kv.buf.Reset()
	kv.cache.clear()
	kv.written = 0
	return nil
}

func (m *Manager) wipeLocked(s slot) error {
	inc, err := m.incarnation(s)
	if err != nil {
		return err
	}
	var b store.Batch
	b.Put(s.incarnationKey(), binary.BigEndian.AppendUint32(nil, inc+1))
	b.Delete(s.checkpointKey())
	if err := m.db.Write(&b); err != nil {
		return err
	}
	if m.mu.closed {
		return nil
	}
	old := s.dataPrefix(inc)
	m.wipes.Add(1)
	go func() {
		defer m.wipes.Done()
		// Best effort: leftovers of an old incarnation are unreachable and harmless.
		_ = m.db.DeleteRange(old, prefixEnd(old))
	}()
	return nil
}

// Close waits for background deletes and closes the database.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.mu.closed = true
	m.mu.Unlock()
	m.wipes.Wait()
	return m.db.Close()
}
