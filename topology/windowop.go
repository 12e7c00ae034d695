package topology

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// Window store layout: each window's aggregate lives under
//
//	end (8 bytes) | start (8 bytes) | key bytes
//
// with times in milliseconds, big-endian with the sign bit flipped so byte order is time
// order. Keyed by end first, closing the windows the watermark has passed is one range scan
// from the start of the store, and expiring them is deleting what the scan saw. The single
// byte key 0x00 (shorter than any window key) holds the frontier: the watermark up to
// which windows were closed, so a restart neither re-opens nor re-emits them.
var (
	frontierKey   = []byte{0x00}
	windowKeysLow = []byte{0x00, 0x00}
)

func appendTime(dst []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ms)^(1<<63))
}

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// windowOp is one task's windowed aggregation.
type windowOp[K, V, VA any] struct {
	w     Windows
	b     store.Bytes
	ks    serde.Serde[K]
	vs    serde.Serde[V]
	as    serde.Serde[VA]
	fold  func(k K, v V, agg VA, found bool) VA
	next  next[Windowed[K], VA]
	env   graph.Env
	store string

	updates   bool
	lateTopic string
	// lateKs and lateVs are ks and vs bound to lateTopic (serde.TopicSerde), at the first
	// late record.
	lateKs serde.Serde[K]
	lateVs serde.Serde[V]

	frontier
	// late counts the records rejected as late by this task's operator.
	late int64
	// lastEnd is the latest window end the last scan closed up to; scanFrom the key the
	// next scan starts at (nil: the start of the store).
	scanned  bool
	lastEnd  int64
	scanFrom []byte

	kbuf, wkey, vbuf []byte
	closed           [][]byte // keys of the windows closed in one advance, reused
}

// frontier is a windowed operator's close frontier: the watermark (ms) up to which its
// windows were closed, kept in its store so a restart neither re-opens nor re-emits them.
type frontier struct {
	b     store.Bytes
	env   graph.Env
	store string
	at    int64 // MinInt64 before any
}

func (f *frontier) load() error {
	f.at = math.MinInt64
	_, err := f.b.Get(frontierKey, func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("store %s: frontier has %d bytes", f.store, len(v))
		}
		f.at = readTime(v)
		return nil
	})
	return err
}

// closedUpTo is the event time up to which windows are closed: the frontier, or the task
// watermark if it is ahead (it is, except right after a restart).
func (f *frontier) closedUpTo() int64 {
	cur := f.at
	if wm := f.env.Watermark(); !wm.IsZero() && wm.UnixMilli() > cur {
		cur = wm.UnixMilli()
	}
	return cur
}

// move sets the frontier to wm; the end of a bounded run is not kept.
func (f *frontier) move(wm time.Time) {
	f.at = wm.UnixMilli()
	if wm.Before(graph.EndOfTime) {
		f.b.Put(frontierKey, appendTime(nil, f.at))
	}
}

func (op *windowOp[K, V, VA]) process(r processor.Record[K, V]) error {
	ts := r.Timestamp.UnixMilli()
	var err error
	if op.kbuf, err = op.ks.AppendEncode(op.kbuf[:0], r.Key); err != nil {
		return fmt.Errorf("window store %s: encode key: %w", op.store, err)
	}
	cur := op.closedUpTo()
	size, grace := op.w.size.Milliseconds(), op.w.grace.Milliseconds()
	open := 0
	for _, start := range op.w.starts(ts) {
		end := start + size
		if cur != math.MinInt64 && end-1+grace <= cur {
			continue // this window is final already
		}
		open++
		op.wkey = append(appendTime(appendTime(op.wkey[:0], end), start), op.kbuf...)
		var agg VA
		var derr error
		found, err := op.b.Get(op.wkey, func(v []byte) error {
			agg, derr = op.as.Decode(v)
			return derr
		})
		if err != nil {
			return fmt.Errorf("window store %s: %w", op.store, err)
		}
		agg = op.fold(r.Key, r.Value, agg, found)
		if op.vbuf, err = op.as.AppendEncode(op.vbuf[:0], agg); err != nil {
			return fmt.Errorf("window store %s: encode aggregate: %w", op.store, err)
		}
		op.b.Put(op.wkey, op.vbuf)
		if op.updates {
			out := processor.Record[Windowed[K], VA]{Key: Windowed[K]{Key: r.Key, Start: time.UnixMilli(start), End: time.UnixMilli(end)},
				Value: agg, Timestamp: r.Timestamp, Headers: r.Headers}
			if err := op.next(out); err != nil {
				return err
			}
		}
	}
	if open == 0 {
		return op.rejectLate(r)
	}
	return nil
}

// rejectLate counts a record whose every window is final, and sends it to the late-records
// topic if there is one.
func (op *windowOp[K, V, VA]) rejectLate(r processor.Record[K, V]) error {
	op.late++
	op.env.LateRecord(op.store)
	if op.lateTopic == "" {
		return nil
	}
	if op.lateKs == nil {
		op.lateKs, op.lateVs = serde.ForTopic(op.ks, op.lateTopic, true), serde.ForTopic(op.vs, op.lateTopic, false)
	}
	key, err := recordBytes(op.lateKs, r.Key)
	if err != nil {
		return fmt.Errorf("late record: encode key: %w", err)
	}
	value, err := recordBytes(op.lateVs, r.Value)
	if err != nil {
		return fmt.Errorf("late record: encode value: %w", err)
	}
	return op.env.Send(&kgo.Record{Topic: op.lateTopic, Key: key, Value: value, Timestamp: r.Timestamp})
}

// advance closes the windows the watermark has made final: in final mode it emits their
// results; in both modes it deletes them (they can no longer change) and moves the
// frontier.
func (op *windowOp[K, V, VA]) advance(wm time.Time) error {
	w := wm.UnixMilli()
	if w <= op.at {
		return nil
	}
	// Windows end only at size + a multiple of advance: scan only when the watermark
	// makes a new such end final (end − 1 + grace ≤ w), not at every record.
	size, adv := op.w.size.Milliseconds(), op.w.advance.Milliseconds()
	lastEnd := size + floorDiv(w-op.w.grace.Milliseconds()+1-size, adv)*adv
	if op.scanned && lastEnd <= op.lastEnd && wm.Before(graph.EndOfTime) {
		return nil
	}
	op.scanned, op.lastEnd = true, lastEnd
	// Final when end − 1 + grace ≤ w, that is end < w − grace + 2. The scan starts after
	// the windows the previous one closed: their deleted keys stay in the database until
	// compaction, and walking past them again at every scan would cost more each time.
	hi := appendTime(nil, w-op.w.grace.Milliseconds()+2)
	lo := windowKeysLow
	if op.scanFrom != nil {
		lo = op.scanFrom
	}
	it, err := op.b.Range(lo, hi)
	if err != nil {
		return fmt.Errorf("window store %s: %w", op.store, err)
	}
	op.closed = op.closed[:0]
	var emitErr error
	for it.Next() {
		k := it.Key()
		if len(k) < 16 {
			continue
		}
		op.closed = append(op.closed, append([]byte(nil), k...))
		if op.updates {
			continue
		}
		if emitErr = op.emit(k, it.Value()); emitErr != nil {
			break
		}
	}
	if err := endScan(it, emitErr, "window", op.store); err != nil {
		return err
	}
	for _, k := range op.closed {
		op.b.Delete(k)
	}
	op.scanFrom = appendTime(nil, lastEnd+1)
	op.move(wm)
	return nil
}

// emit forwards a closed window's final result.
func (op *windowOp[K, V, VA]) emit(k, v []byte) error {
	end, start := readTime(k[:8]), readTime(k[8:16])
	key, err := op.ks.Decode(k[16:])
	if err != nil {
		return fmt.Errorf("window store %s: decode key: %w", op.store, err)
	}
	agg, err := op.as.Decode(v)
	if err != nil {
		return fmt.Errorf("window store %s: decode aggregate: %w", op.store, err)
	}
	return op.next(processor.Record[Windowed[K], VA]{
		Key:   Windowed[K]{Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(end)},
		Value: agg, Timestamp: time.UnixMilli(end - 1),
	})
}

// endScan closes a closing scan's iterator and returns the first error: the emission's,
// else the iterator's.
func endScan(it store.Iterator, emitErr error, kind, name string) error {
	err := it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if emitErr != nil {
		return emitErr
	}
	if err != nil {
		return fmt.Errorf("%s store %s: %w", kind, name, err)
	}
	return nil
}
