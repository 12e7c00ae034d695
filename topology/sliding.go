package topology

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// SlidingWindows are Kafka Streams' sliding windows (KIP-450): windows of a fixed length
// that move with the records, so two records of a key share a window exactly when their
// times are at most timeDifference apart. Each record opens the window that ends at its
// time, [t − timeDifference, t], and, when later records fall within timeDifference
// after it, the window that starts just after it, [t + 1 ms, t + 1 ms + timeDifference].
// Every distinct set of records that fits in timeDifference thus has one window, and
// windows that would hold no record are never made. Results are keyed by Windowed with
// End exclusive: End − Start = timeDifference + 1 ms. A window is final once the watermark
// reaches its last millisecond plus grace.
//
// Aggregates of new windows are folded from the records they cover, so the store keeps a
// key's records for timeDifference + grace.
func SlidingWindows(timeDifference time.Duration) Windows {
	return Windows{size: timeDifference + time.Millisecond, advance: time.Millisecond, sliding: true}
}

// Sliding window store layout (times big-endian with the sign bit flipped, as for fixed
// windows; d is the time difference):
//
//	0x00                                  the close frontier
//	0x01 | start | key                    → nothing: the windows, in closing order
//	0x02 | len(key) u32 | key | start     → the window [start, start + d]'s aggregate
//	0x03 | len(key) u32 | key | time      → the values of the key's records at time,
//	                                        each prefixed with its length (uvarint)
//	0x04 | time | key                     → nothing: the records, in expiry order
//
// A window [s, s + d] is final when s + d + grace ≤ watermark, and a record at t can be in
// no open window once t + d + grace ≤ watermark, so closing and expiring are range scans
// from the start of 0x01 and 0x04.
const (
	slideClose   = 0x01
	slideWindow  = 0x02
	slideRecords = 0x03
	slideExpiry  = 0x04
)

type slidingOp[K, V, VA any] struct {
	d, grace int64 // ms
	b        store.Bytes
	ks       serde.Serde[K]
	vs       serde.Serde[V]
	as       serde.Serde[VA]
	fold     func(k K, v V, agg VA, found bool) VA
	next     next[Windowed[K], VA]
	store    string
	updates  bool
	late     *windowOp[K, V, VA] // for rejectLate

	frontier
	// due is a lower bound of the earliest window start and record time stored
	// (MinInt64: unknown, scan); scanFrom is where the next closing scans start.
	due, scanFrom int64

	kbuf, vbuf []byte
	starts     []int64 // the key's window starts near a record, reused
	updated    []slideWindowAgg
}

type slideWindowAgg struct {
	start int64
	agg   []byte
}

func newSlidingOp[K, V, VA any](w Windows, b store.Bytes, env graph.Env, g Grouped[K, V], as serde.Serde[VA], storeName string,
	c opConfig, fold func(k K, v V, agg VA, found bool) VA, n next[Windowed[K], VA]) *slidingOp[K, V, VA] {
	return &slidingOp[K, V, VA]{d: w.size.Milliseconds() - 1, grace: w.grace.Milliseconds(), b: b, ks: g.ks, vs: g.vs, as: as,
		fold: fold, next: n, store: storeName, updates: c.emitUpdates,
		late:     &windowOp[K, V, VA]{ks: g.ks, vs: g.vs, env: env, lateTopic: c.lateTopic, store: storeName},
		frontier: frontier{b: b, env: env, store: storeName}, due: math.MinInt64, scanFrom: math.MinInt64}
}

// keyed is prefix | len(key) u32 | key | ms.
func keyed(prefix byte, key []byte, ms int64) []byte {
	return appendKeyed(make([]byte, 0, 13+len(key)), prefix, key, ms)
}

// appendKeyed appends keyed(prefix, key, ms) to dst.
func appendKeyed(dst []byte, prefix byte, key []byte, ms int64) []byte {
	dst = binary.BigEndian.AppendUint32(append(dst, prefix), uint32(len(key)))
	return appendTime(append(dst, key...), ms)
}

// timeKeyed is prefix | ms | key.
func timeKeyed(prefix byte, ms int64, key []byte) []byte {
	return append(appendTime([]byte{prefix}, ms), key...)
}

func (op *slidingOp[K, V, VA]) errorf(format string, args ...any) error {
	return fmt.Errorf("sliding window store %s: "+format, append([]any{op.store}, args...)...)
}

func (op *slidingOp[K, V, VA]) process(r processor.Record[K, V]) error {
	t := r.Timestamp.UnixMilli()
	var err error
	if op.kbuf, err = op.ks.AppendEncode(op.kbuf[:0], r.Key); err != nil {
		return op.errorf("encode key: %w", err)
	}
	key := op.kbuf
	cur := op.closedUpTo()
	final := func(start int64) bool { return cur != math.MinInt64 && start+op.d+op.grace <= cur }
	if final(t) {
		// Every window that holds t, now or later, ends by t + d: all are final.
		return op.late.rejectLate(r)
	}
	if err := op.keep(key, t, r.Value); err != nil {
		return err
	}

	// The key's windows from t − d to t + 1: those up to t hold t, t + 1 may be its right
	// window already.
	op.starts, op.updated = op.starts[:0], op.updated[:0]
	it, err := op.b.Range(keyed(slideWindow, key, t-op.d), keyed(slideWindow, key, t+2))
	if err != nil {
		return op.errorf("%w", err)
	}
	for it.Next() {
		k := it.Key()
		start := readTime(k[len(k)-8:])
		op.starts = append(op.starts, start)
		if start <= t && !final(start) {
			op.updated = append(op.updated, slideWindowAgg{start: start, agg: append([]byte(nil), it.Value()...)})
		}
	}
	if err := endScan(it, nil, "sliding window", op.store); err != nil {
		return err
	}
	for _, u := range op.updated {
		agg, err := op.as.Decode(u.agg)
		if err != nil {
			return op.errorf("decode aggregate: %w", err)
		}
		if err := op.put(r, key, u.start, op.fold(r.Key, r.Value, agg, true), false); err != nil {
			return err
		}
	}

	// The windows t may add: its own left window, its right window (when a later record is
	// within d), and the right window of the record just before it, which t is the first
	// to enter. Their aggregates are folded from the records they cover.
	candidates := [3]int64{t - op.d, t + 1, math.MinInt64}
	p, ok, err := op.lastRecord(key, t-op.d-1, t)
	if err != nil {
		return err
	}
	if ok {
		candidates[2] = p + 1
	}
	for _, s := range candidates {
		if s == math.MinInt64 || slices.Contains(op.starts, s) || final(s) {
			continue
		}
		op.starts = append(op.starts, s)
		agg, n, err := op.aggregate(r.Key, key, s)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if err := op.put(r, key, s, agg, true); err != nil {
			return err
		}
	}
	return nil
}

// keep adds the record's value to the key's records at t.
func (op *slidingOp[K, V, VA]) keep(key []byte, t int64, v V) error {
	var err error
	if op.vbuf, err = op.vs.AppendEncode(op.vbuf[:0], v); err != nil {
		return op.errorf("encode value: %w", err)
	}
	rk := keyed(slideRecords, key, t)
	var vals []byte
	found, err := op.b.Get(rk, func(old []byte) error { vals = append(make([]byte, 0, len(old)+len(op.vbuf)+2), old...); return nil })
	if err != nil {
		return op.errorf("%w", err)
	}
	vals = binary.AppendUvarint(vals, uint64(len(op.vbuf)))
	op.b.Put(rk, append(vals, op.vbuf...))
	if !found {
		op.b.Put(timeKeyed(slideExpiry, t, key), nil)
		op.due = minDue(op.due, t)
	}
	return nil
}

func minDue(due, t int64) int64 {
	if due == math.MinInt64 {
		return due // unknown stays unknown until a scan
	}
	return min(due, t)
}

// put stores a window's aggregate (and, for a new window, its place in the closing
// order), and forwards it when every change is emitted.
func (op *slidingOp[K, V, VA]) put(r processor.Record[K, V], key []byte, start int64, agg VA, created bool) error {
	v, err := op.as.AppendEncode(nil, agg)
	if err != nil {
		return op.errorf("encode aggregate: %w", err)
	}
	op.b.Put(keyed(slideWindow, key, start), v)
	if created {
		op.b.Put(timeKeyed(slideClose, start, key), nil)
		op.due = minDue(op.due, start)
	}
	if !op.updates {
		return nil
	}
	return op.next(processor.Record[Windowed[K], VA]{Key: op.window(r.Key, start), Value: agg, Timestamp: r.Timestamp, Headers: r.Headers})
}

func (op *slidingOp[K, V, VA]) window(k K, start int64) Windowed[K] {
	return Windowed[K]{Key: k, Start: time.UnixMilli(start), End: time.UnixMilli(start + op.d + 1)}
}

// lastRecord returns the time of the key's latest record in [from, to).
func (op *slidingOp[K, V, VA]) lastRecord(key []byte, from, to int64) (int64, bool, error) {
	it, err := op.b.Range(keyed(slideRecords, key, from), keyed(slideRecords, key, to))
	if err != nil {
		return 0, false, op.errorf("%w", err)
	}
	last, ok := int64(0), false
	for it.Next() {
		k := it.Key()
		last, ok = readTime(k[len(k)-8:]), true
	}
	return last, ok, endScan(it, nil, "sliding window", op.store)
}

// aggregate folds the key's records in [start, start + d], in time order, and returns the
// aggregate and how many records it holds.
func (op *slidingOp[K, V, VA]) aggregate(k K, key []byte, start int64) (VA, int, error) {
	var agg VA
	n := 0
	it, err := op.b.Range(keyed(slideRecords, key, start), keyed(slideRecords, key, start+op.d+1))
	if err != nil {
		return agg, 0, op.errorf("%w", err)
	}
	var ferr error
	for ferr == nil && it.Next() {
		vals := it.Value()
		for len(vals) > 0 {
			l, w := binary.Uvarint(vals)
			if w <= 0 || uint64(len(vals)-w) < l {
				ferr = op.errorf("records of a key at %d: corrupt value list", readTime(it.Key()[len(it.Key())-8:]))
				break
			}
			v, err := op.vs.Decode(vals[w : w+int(l)])
			if err != nil {
				ferr = op.errorf("decode value: %w", err)
				break
			}
			agg = op.fold(k, v, agg, n > 0)
			n++
			vals = vals[w+int(l):]
		}
	}
	return agg, n, endScan(it, ferr, "sliding window", op.store)
}

// advance emits (final mode) and deletes the windows the watermark made final, deletes
// the records no open window can hold any more, and moves the frontier. It scans only when
// the earliest stored window or record may have become final.
func (op *slidingOp[K, V, VA]) advance(wm time.Time) error {
	w := wm.UnixMilli()
	if w <= op.at {
		return nil
	}
	limit := w - op.d - op.grace // windows starting, and records, at or before it are done
	if op.due != math.MinInt64 && op.due > limit && wm.Before(graph.EndOfTime) {
		return nil
	}
	closed, err := op.scan(slideClose, limit)
	if err != nil {
		return err
	}
	for _, k := range closed {
		start, key := readTime(k[1:9]), k[9:]
		wk := keyed(slideWindow, key, start)
		if !op.updates {
			if err := op.emit(key, start, wk); err != nil {
				return err
			}
		}
		op.b.Delete(wk)
		op.b.Delete(k)
	}
	expired, err := op.scan(slideExpiry, limit)
	if err != nil {
		return err
	}
	for _, k := range expired {
		op.b.Delete(keyed(slideRecords, k[9:], readTime(k[1:9])))
		op.b.Delete(k)
	}
	// Nothing at or before limit is left; what comes next is not known without looking.
	op.due = limit + 1
	op.scanFrom = limit + 1
	op.move(wm)
	return nil
}

// scan lists the keys under prefix with time ≤ limit, from where the last scan ended. The
// range ends at limit: a range open to the end of the prefix made Badger walk the deleted
// keys beyond it (its iterator skips tombstones up to the end of the common prefix of the
// bounds), which grew with the store's history.
func (op *slidingOp[K, V, VA]) scan(prefix byte, limit int64) ([][]byte, error) {
	lo := []byte{prefix}
	if op.scanFrom != math.MinInt64 {
		lo = appendTime(lo, op.scanFrom)
	}
	it, err := op.b.Range(lo, appendTime([]byte{prefix}, limit+1))
	if err != nil {
		return nil, op.errorf("%w", err)
	}
	var keys [][]byte
	for it.Next() {
		if k := it.Key(); len(k) >= 9 {
			keys = append(keys, append([]byte(nil), k...))
		}
	}
	return keys, endScan(it, nil, "sliding window", op.store)
}

// emit forwards a closed window's final result.
func (op *slidingOp[K, V, VA]) emit(key []byte, start int64, wk []byte) error {
	k, err := op.ks.Decode(key)
	if err != nil {
		return op.errorf("decode key: %w", err)
	}
	var agg VA
	found, err := op.b.Get(wk, func(v []byte) error {
		var derr error
		agg, derr = op.as.Decode(v)
		return derr
	})
	if err != nil {
		return op.errorf("window at %d: %w", start, err)
	}
	if !found {
		return op.errorf("window at %d is in the closing order but has no aggregate", start)
	}
	return op.next(processor.Record[Windowed[K], VA]{Key: op.window(k, start), Value: agg, Timestamp: time.UnixMilli(start + op.d)})
}
