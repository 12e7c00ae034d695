package state

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/eddy-streams/eddy/store"
)

// Slice describes one slice of a store as it lies in an instance's database, for tools
// that read a stopped instance's state (eddy store dump): the store, the task it belongs
// to, the changelog position it reflects, and how many keys it holds.
type Slice struct {
	Store string
	// Global is true for a global table's store, which is one slice for the whole topic.
	Global bool
	// Sub and Partition are the task: sub-topology and partition (not for a global store).
	Sub       int
	Partition int32
	// Checkpoint is the changelog position the slice reflects; none when HasCheckpoint is
	// false (the next start restores it in full). A global store has one per partition of
	// its topic, in GlobalCheckpoints.
	Checkpoint        Checkpoint
	HasCheckpoint     bool
	GlobalCheckpoints map[int32]Checkpoint
	// Keys counts the slice's keys (of its current incarnation: a wiped one's keys, being
	// deleted in the background, are not counted).
	Keys int64

	slot   slot
	prefix []byte
}

// Inspect lists the slices in db, sorted by store name, then sub-topology and partition.
// It only reads.
func Inspect(db store.Backend) ([]Slice, error) {
	names, err := storeNames(db)
	if err != nil {
		return nil, err
	}
	bySlot := map[slot]*Slice{}
	get := func(s slot) (*Slice, error) {
		if sl, ok := bySlot[s]; ok {
			return sl, nil
		}
		name, ok := names[s.store]
		if !ok {
			name = fmt.Sprintf("#%d (no name)", s.store)
		}
		inc, err := readIncarnation(db, s)
		if err != nil {
			return nil, err
		}
		sl := &Slice{Store: name, Global: s.sub == globalSub, Sub: int(s.sub), Partition: int32(s.partition), slot: s, prefix: s.dataPrefix(inc)}
		if sl.Global {
			sl.Sub, sl.Partition = -1, -1
		}
		bySlot[s] = sl
		return sl, nil
	}

	// The data: count each slot's keys of its current incarnation.
	it, err := db.Iterate([]byte{nsData}, []byte{nsData + 1})
	if err != nil {
		return nil, err
	}
	for it.Next() {
		k := it.Key()
		if len(k) < 1+slotLen+4 {
			continue
		}
		sl, err := get(parseSlot(k[1:]))
		if err != nil {
			it.Close()
			return nil, err
		}
		if string(k[:len(sl.prefix)]) == string(sl.prefix) {
			sl.Keys++
		}
	}
	if err := it.Err(); err != nil {
		it.Close()
		return nil, err
	}
	it.Close()

	// The checkpoints, of slices with keys or without (a slice may be empty).
	if err := scan(db, []byte{nsCheckpoint}, func(k, v []byte) error {
		if len(k) != 1+slotLen {
			return nil
		}
		sl, err := get(parseSlot(k[1:]))
		if err != nil {
			return err
		}
		if cp, err := decodeCheckpoint(v); err == nil {
			sl.Checkpoint, sl.HasCheckpoint = cp, true
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := scan(db, []byte{nsGlobalCheckpoint}, func(k, v []byte) error {
		if len(k) != 1+2+4 {
			return nil
		}
		sl, err := get(slot{sub: globalSub, store: binary.BigEndian.Uint16(k[1:3])})
		if err != nil {
			return err
		}
		if cp, err := decodeCheckpoint(v); err == nil {
			if sl.GlobalCheckpoints == nil {
				sl.GlobalCheckpoints = map[int32]Checkpoint{}
			}
			sl.GlobalCheckpoints[int32(binary.BigEndian.Uint32(k[3:]))] = cp
		}
		return nil
	}); err != nil {
		return nil, err
	}

	out := make([]Slice, 0, len(bySlot))
	for _, sl := range bySlot {
		out = append(out, *sl)
	}
	slices.SortFunc(out, func(a, b Slice) int {
		switch {
		case a.Store != b.Store:
			if a.Store < b.Store {
				return -1
			}
			return 1
		case a.Sub != b.Sub:
			return a.Sub - b.Sub
		default:
			return int(a.Partition - b.Partition)
		}
	})
	return out, nil
}

// Scan calls fn with each key of the slice and its value, in key order, the key without
// the slice's prefix: as the store's user wrote it. Key and value are valid only inside
// fn. It only reads.
func (s Slice) Scan(db store.Backend, fn func(key, value []byte) error) error {
	return scan(db, s.prefix, func(k, v []byte) error { return fn(k[len(s.prefix):], v) })
}

// storeNames maps the store ids in db to their names.
func storeNames(db store.Backend) (map[uint16]string, error) {
	names := map[uint16]string{}
	err := scan(db, []byte{nsStoreID}, func(k, v []byte) error {
		if len(v) == 2 {
			names[binary.BigEndian.Uint16(v)] = string(k[1:])
		}
		return nil
	})
	return names, err
}

// scan calls fn with every key under prefix and its value.
func scan(db store.Backend, prefix []byte, fn func(k, v []byte) error) error {
	it, err := db.Iterate(prefix, prefixEnd(prefix))
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	return it.Err()
}

// parseSlot reads the slot at the start of b, which has at least slotLen bytes.
func parseSlot(b []byte) slot {
	return slot{
		sub:       binary.BigEndian.Uint32(b),
		partition: binary.BigEndian.Uint32(b[4:]),
		store:     binary.BigEndian.Uint16(b[8:]),
	}
}
