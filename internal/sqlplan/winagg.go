package sqlplan

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// A window aggregation over TUMBLE, HOP or CUMULATE windows (Flink's WindowAggregate).
// CUMULATE(step, size) windows are Flink's: windows of one start, every multiple of size,
// and ends every step after it up to size — [s, s+step), [s, s+2·step), … [s, s+size).
//
// The operator's store holds, with times as milliseconds in 8 bytes big-endian, the sign
// bit flipped (byte order is time order):
//
//	0x00 | end | start | group key          → the window's accumulators
//	0x01 | end | start | group key | i | v  → nothing: DISTINCT aggregate i has seen v
//	0x02                                    → the frontier: windows ending at or before
//	                                          it + 1 ms are closed
//
// Keyed by end first, the windows the watermark closes are one range scan from the
// start. A window closes, and its row is emitted once, when the watermark reaches its
// last millisecond (its window_time); a row whose every window has closed is late and
// dropped, as Flink drops it. The frontier outlives restarts, so a restarted task neither
// re-opens a closed window nor emits it twice. In a bounded run the end of the input
// closes every window.

// winAggProc is a window aggregation.
type winAggProc struct {
	ctx   processor.Context[[]any, Change]
	plan  *aggPlan
	post  *rowFn // HAVING and the SELECT list
	win   window
	store string
	kv    store.Bytes
	keys  binRow
	accs  binRow
	// frontier: the watermark (ms) up to which windows are closed, MinInt64 before any;
	// next: the earliest end of an open window (MaxInt64: none), unknown after a restart.
	frontier    int64
	next        int64
	nextUnknown bool
	// Buffers and the scratch accumulators, reused record to record.
	kbuf, wkey, dkey, vbuf []byte
	acc                    []any
	closed                 [][]byte // the keys of the windows one fire closes
}

var frontierKey = []byte{2}

func appendMillis(dst []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ms)^(1<<63))
}

func readMillis(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func (w *winAggProc) Init(ctx processor.Context[[]any, Change]) (err error) {
	w.ctx = ctx
	if w.kv, err = ctx.Store(w.store); err != nil {
		return err
	}
	w.frontier, w.nextUnknown = math.MinInt64, true
	if _, err := w.kv.Get(frontierKey, func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("window store %s: its frontier has %d bytes, want 8", w.store, len(v))
		}
		w.frontier = readMillis(v)
		return nil
	}); err != nil {
		return err
	}
	w.acc = make([]any, len(w.plan.accKinds))
	// Every millisecond the watermark passes may close a window (fire returns at once
	// when none ends there).
	ctx.ScheduleEventTime(time.Millisecond, func(time.Time) error { return w.fire(w.ctx.Watermark().UnixMilli(), true) })
	return nil
}

func (w *winAggProc) Close() error { return nil }

// each calls fn with each window ts (ms) falls in.
func (w *winAggProc) each(ts int64, fn func(start, end int64) error) error {
	size, slide := w.win.size.Milliseconds(), w.win.slide.Milliseconds()
	if w.win.cumulate {
		start := ts - floorMod(ts, size)
		for end := start + slide; end <= start+size; end += slide {
			if end > ts {
				if err := fn(start, end); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for start := ts - floorMod(ts, slide); start > ts-size; start -= slide {
		if err := fn(start, start+size); err != nil {
			return err
		}
	}
	return nil
}

func floorMod(a, b int64) int64 { return ((a % b) + b) % b }

func (w *winAggProc) Process(rec processor.Record[[]any, []any]) error {
	return w.add(rec.Key, rec.Value, rec.Timestamp)
}

// groupedWinAggProc is a window aggregation over rows already in their groups' tasks:
// it computes each row's group key and arguments itself (groupProc's work), into scratch
// rows, so the rows on its path are neither copied nor forwarded once more.
type groupedWinAggProc struct {
	winAggProc
	where     *Expr
	key, args []any
}

func (g *groupedWinAggProc) Init(ctx processor.Context[[]any, Change]) error {
	g.key, g.args = make([]any, len(g.plan.keys)), make([]any, len(g.plan.argKinds))
	return g.winAggProc.Init(ctx)
}

func (g *groupedWinAggProc) Process(rec processor.Record[[]any, Change]) error {
	if keep, err := g.plan.group(g.where, rec.Value.Row, g.key, g.args); err != nil || !keep {
		return err
	}
	return g.add(g.key, g.args, rec.Timestamp)
}

// add folds one row — its group key and aggregate arguments, at event time at — into the
// windows it falls in.
func (w *winAggProc) add(key, args []any, at time.Time) error {
	var err error
	if w.kbuf, err = w.keys.AppendEncode(w.kbuf[:0], key); err != nil {
		return err
	}
	closed := max(w.frontier, w.ctx.Watermark().UnixMilli()) // the zero watermark is far below any time
	return w.each(at.UnixMilli(), func(start, end int64) error {
		if end-1 <= closed {
			return nil // closed: the row is late for this window
		}
		w.wkey = append(appendMillis(appendMillis(append(w.wkey[:0], 0), end), start), w.kbuf...)
		found, err := w.kv.Get(w.wkey, func(v []byte) error { return w.accs.decodeInto(v, w.acc) })
		if err != nil {
			return fmt.Errorf("window store %s: %w", w.store, err)
		}
		if !found {
			w.plan.initInto(w.acc)
			if !w.nextUnknown {
				w.next = min(w.next, end)
			}
		}
		for i, a := range w.plan.aggs {
			if a.distinct {
				seen, err := w.seen(i, a, args[a.argAt])
				if err != nil {
					return err
				}
				if seen {
					continue
				}
			}
			w.plan.addOne(a, args, w.acc, 1)
		}
		if w.vbuf, err = w.accs.AppendEncode(w.vbuf[:0], w.acc); err != nil {
			return err
		}
		w.kv.Put(w.wkey, w.vbuf)
		return nil
	})
}

// seen reports whether DISTINCT aggregate i has had value v in the window of w.wkey,
// and records that it has. NULL counts as seen: no aggregate counts it.
func (w *winAggProc) seen(i int, a aggFn, v any) (bool, error) {
	if v == nil {
		return true, nil
	}
	w.dkey = append(append(w.dkey[:0], 1), w.wkey[1:]...)
	w.dkey = append(w.dkey, byte(i))
	var err error
	if w.dkey, err = (binRow{[]Kind{a.arg.Type.Kind}}).AppendEncode(w.dkey, []any{v}); err != nil {
		return false, err
	}
	found, err := w.kv.Get(w.dkey, func([]byte) error { return nil })
	if err != nil || found {
		return found, err
	}
	w.kv.Put(w.dkey, nil)
	return false, nil
}

// fire emits and forgets the windows whose last millisecond the watermark wm (ms) has
// reached; keep says to record the frontier (not at the end of a bounded run).
func (w *winAggProc) fire(wm int64, keep bool) error {
	if !w.nextUnknown && w.next-1 > wm {
		return nil
	}
	// Closed when end − 1 ≤ wm, that is end < wm + 2. The scan starts after the windows
	// closed before, whose deleted keys stay in the database until compaction.
	lo := []byte{0}
	if w.frontier != math.MinInt64 {
		lo = appendMillis(lo, w.frontier+2)
	}
	limit := wm + 2
	if wm >= math.MaxInt64/4 {
		limit = math.MaxInt64
	}
	it, err := w.kv.Range(lo, []byte{1})
	if err != nil {
		return err
	}
	w.closed = w.closed[:0]
	w.next, w.nextUnknown = math.MaxInt64, false
	var emitErr error
	for it.Next() {
		k := it.Key()
		if end := readMillis(k[1:9]); end >= limit {
			w.next = end
			break
		}
		w.closed = append(w.closed, append([]byte(nil), k...))
		if emitErr = w.emit(k, it.Value()); emitErr != nil {
			break
		}
	}
	err = it.Err()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err = cmp.Or(emitErr, err); err != nil {
		return err
	}
	for _, k := range w.closed {
		w.kv.Delete(k)
	}
	if err := w.forgetDistinct(limit); err != nil {
		return err
	}
	if keep && wm > w.frontier {
		w.frontier = wm
		w.kv.Put(frontierKey, appendMillis(nil, wm))
	}
	return nil
}

// forgetDistinct deletes the DISTINCT values of the windows that end before limit.
func (w *winAggProc) forgetDistinct(limit int64) error {
	if !w.plan.distinct() {
		return nil
	}
	it, err := w.kv.Range([]byte{1}, appendMillis([]byte{1}, limit))
	if err != nil {
		return err
	}
	var gone [][]byte
	for it.Next() {
		gone = append(gone, append([]byte(nil), it.Key()...))
	}
	if err := it.Err(); err != nil {
		it.Close()
		return err
	}
	it.Close()
	for _, k := range gone {
		w.kv.Delete(k)
	}
	return nil
}

// emit forwards the row of the window under store key k with accumulators acc.
func (w *winAggProc) emit(k, acc []byte) error {
	end, start := readMillis(k[1:9]), readMillis(k[9:17])
	key, err := w.keys.Decode(k[17:])
	if err != nil {
		return fmt.Errorf("window store %s: a group key: %w", w.store, err)
	}
	if err := w.accs.decodeInto(acc, w.acc); err != nil {
		return fmt.Errorf("window store %s: accumulators: %w", w.store, err)
	}
	at := time.UnixMilli(end - 1).UTC()
	row, keep, err := w.post.apply(w.plan.row(key, w.acc, time.UnixMilli(start).UTC(), time.UnixMilli(end).UTC(), at))
	if err != nil {
		return fmt.Errorf("window aggregation: %w", err)
	}
	if !keep {
		return nil
	}
	return w.ctx.Forward(processor.Record[[]any, Change]{Key: key, Value: Change{Insert, row}, Timestamp: at})
}

// EndOfInput closes every window: a bounded run's input has ended.
func (w *winAggProc) EndOfInput() error { return w.fire(math.MaxInt64/2, false) }
