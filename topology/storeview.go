package topology

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/store"
)

// The views of the windowed and versioned stores (graph.Store.View): each task slice's
// entries decoded from the layouts above their operators (windowop.go, sliding.go,
// sessions.go, versioned.go), for readers outside the operators — the test driver.

// eachEntry ranges over the whole slice.
func eachEntry(b store.Bytes, lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := b.Range(lo, hi)
	if err != nil {
		return err
	}
	for it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Err(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

// viewWindows lists the open windows of a tumbling or hopping aggregation: end | start |
// key → aggregate, after the frontier's one-byte key.
func viewWindows(b store.Bytes, each func(graph.StoreEntry) error) error {
	return eachEntry(b, windowKeysLow, nil, func(k, v []byte) error {
		if len(k) < 16 {
			return fmt.Errorf("a window key of %d bytes", len(k))
		}
		return each(graph.StoreEntry{Key: k[16:], Value: v, Start: readTime(k[8:16]), End: readTime(k[:8])})
	})
}

// viewSliding lists the open windows of a sliding aggregation of the given size (time
// difference + 1 ms): 0x02 | len(key) | key | start → aggregate.
func viewSliding(size int64) func(store.Bytes, func(graph.StoreEntry) error) error {
	return func(b store.Bytes, each func(graph.StoreEntry) error) error {
		return eachEntry(b, []byte{slideWindow}, []byte{slideWindow + 1}, func(k, v []byte) error {
			key, start, err := splitKeyed(k)
			if err != nil {
				return err
			}
			return each(graph.StoreEntry{Key: key, Value: v, Start: start, End: start + size})
		})
	}
}

// splitKeyed splits prefix | len(key) u32 | key | ms.
func splitKeyed(k []byte) (key []byte, ms int64, err error) {
	if len(k) < 13 || int(binary.BigEndian.Uint32(k[1:5])) != len(k)-13 {
		return nil, 0, fmt.Errorf("a store key of %d bytes that does not hold its key's length", len(k))
	}
	return k[5 : len(k)-8], readTime(k[len(k)-8:]), nil
}

// viewSessions lists the open sessions: 0x01 | end | start | key → aggregate, end the
// session's last millisecond.
func viewSessions(b store.Bytes, each func(graph.StoreEntry) error) error {
	return eachEntry(b, []byte{sessPrimary}, []byte{sessPrimary + 1}, func(k, v []byte) error {
		if len(k) < 17 {
			return fmt.Errorf("a session key of %d bytes", len(k))
		}
		return each(graph.StoreEntry{Key: k[17:], Value: v, Start: readTime(k[9:17]), End: readTime(k[1:9]) + 1})
	})
}

// viewVersions lists a versioned table's versions, each key's latest (0x01 | key →
// from | flag | value) and its history (0x02 | len(key) | key | to → from | flag |
// value).
func viewVersions(b store.Bytes, each func(graph.StoreEntry) error) error {
	version := func(key, v []byte, to int64) error {
		if len(v) < 9 {
			return fmt.Errorf("a version of %d bytes", len(v))
		}
		e := graph.StoreEntry{Key: key, Start: readTime(v), End: to, Deleted: v[8] == 0}
		if !e.Deleted {
			e.Value = v[9:]
		}
		return each(e)
	}
	err := eachEntry(b, []byte{versionedLatest}, []byte{versionedLatest + 1}, func(k, v []byte) error {
		return version(k[1:], v, math.MaxInt64)
	})
	if err != nil {
		return err
	}
	return eachEntry(b, []byte{versionedHistory}, []byte{versionedHistory + 1}, func(k, v []byte) error {
		key, to, err := splitKeyed(k)
		if err != nil {
			return err
		}
		return version(key, v, to)
	})
}
