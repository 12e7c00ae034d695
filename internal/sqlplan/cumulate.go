package sqlplan

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// CUMULATE(step, size) windows, Flink's: windows of one start, every multiple of size,
// and ends every step after it up to size — [s, s+step), [s, s+2·step), … [s, s+size) —
// so a row is in each window of its size-period that ends after it. The DSL has no such
// windows; cumulateProc keeps them itself. Its store holds, under 0x00, the group key,
// the window's start and its end (8 bytes each, big-endian), the window's accumulators;
// and under 0x01, the end, the group key and the start, nothing: the windows in the
// order they close. A window closes, and its row is emitted once, when the watermark
// reaches its last millisecond (Flink's window time); a row for a closed window is late
// and dropped. In a bounded run the end of the input closes every window.

// cumulateProc is a CUMULATE window aggregation.
type cumulateProc struct {
	ctx         processor.Context[[]any, Change]
	plan        *aggPlan
	post        *rowFn
	step, size  int64 // ms
	store       string
	kv          store.Bytes
	keys, accs  binRow
	next        int64 // the earliest end of an open window (ms), math.MaxInt64: none known
	nextUnknown bool  // after a restart: read it from the store
}

func (c *cumulateProc) Init(ctx processor.Context[[]any, Change]) (err error) {
	c.ctx = ctx
	if c.kv, err = ctx.Store(c.store); err != nil {
		return err
	}
	c.nextUnknown = true
	ctx.ScheduleEventTime(time.Duration(c.step)*time.Millisecond, func(time.Time) error { return c.fire(ctx.Watermark()) })
	return nil
}

func (c *cumulateProc) Close() error { return nil }

func windowKey(prefix byte, a []byte, b, d int64) []byte {
	k := append([]byte{prefix}, a...)
	k = binary.BigEndian.AppendUint64(k, uint64(b))
	return binary.BigEndian.AppendUint64(k, uint64(d))
}

func (c *cumulateProc) Process(rec processor.Record[[]any, []any]) error {
	key, err := c.keys.AppendEncode(nil, rec.Key)
	if err != nil {
		return err
	}
	ts := rec.Timestamp.UnixMilli()
	start := ts - ((ts%c.size)+c.size)%c.size
	wm := c.ctx.Watermark().UnixMilli()
	for end := start + c.step; end <= start+c.size; end += c.step {
		if end <= ts || end-1 <= wm {
			continue // the row is not in this window, or the window has closed: late
		}
		k := windowKey(0, key, start, end)
		var acc []any
		found, err := c.kv.Get(k, func(v []byte) (err error) {
			acc, err = c.accs.Decode(v)
			return err
		})
		if err != nil {
			return err
		}
		if !found {
			acc = c.plan.init()
			idx := binary.BigEndian.AppendUint64([]byte{1}, uint64(end))
			idx = binary.BigEndian.AppendUint64(append(idx, key...), uint64(start))
			c.kv.Put(idx, nil)
			if !c.nextUnknown {
				c.next = min(c.next, end)
			}
		}
		acc = c.plan.add(rec.Value, acc, 1)
		enc, err := c.accs.AppendEncode(nil, acc)
		if err != nil {
			return err
		}
		c.kv.Put(k, enc)
	}
	// A watermark that passed a window's last millisecond closes it now, not at the next
	// multiple of step.
	if c.nextUnknown || c.next-1 <= wm {
		return c.fire(c.ctx.Watermark())
	}
	return nil
}

// fire emits and forgets the windows whose last millisecond the watermark wm has reached.
func (c *cumulateProc) fire(wm time.Time) error {
	upTo := wm.UnixMilli() + 1 // windows with end - 1 <= wm
	if wm.UnixMilli() >= math.MaxInt64/4 {
		upTo = math.MaxInt64
	}
	it, err := c.kv.Range([]byte{1}, []byte{2})
	if err != nil {
		return err
	}
	type due struct {
		key        []byte
		start, end int64
	}
	var closing []due
	c.next, c.nextUnknown = math.MaxInt64, false
	for it.Next() {
		k := it.Key()
		end := int64(binary.BigEndian.Uint64(k[1:9]))
		if end > upTo {
			c.next = end
			break
		}
		closing = append(closing, due{append([]byte(nil), k[9:len(k)-8]...), int64(binary.BigEndian.Uint64(k[len(k)-8:])), end})
	}
	if err := it.Err(); err != nil {
		it.Close()
		return err
	}
	it.Close()
	for _, d := range closing {
		k := windowKey(0, d.key, d.start, d.end)
		var acc []any
		if _, err := c.kv.Get(k, func(v []byte) (err error) {
			acc, err = c.accs.Decode(v)
			return err
		}); err != nil {
			return err
		}
		c.kv.Delete(k)
		idx := binary.BigEndian.AppendUint64([]byte{1}, uint64(d.end))
		c.kv.Delete(binary.BigEndian.AppendUint64(append(idx, d.key...), uint64(d.start)))
		if acc == nil {
			continue
		}
		key, err := c.keys.Decode(d.key)
		if err != nil {
			return err
		}
		start, end := time.UnixMilli(d.start).UTC(), time.UnixMilli(d.end).UTC()
		at := end.Add(-time.Millisecond)
		row, keep, err := c.post.apply(c.plan.row(key, acc, start, end, at))
		if err != nil {
			return fmt.Errorf("CUMULATE window: %w", err)
		}
		if !keep {
			continue
		}
		if err := c.ctx.Forward(processor.Record[[]any, Change]{Key: key, Value: Change{Insert, row}, Timestamp: at}); err != nil {
			return err
		}
	}
	return nil
}

// EndOfInput closes every window: a bounded run's input has ended.
func (c *cumulateProc) EndOfInput() error { return c.fire(time.UnixMilli(math.MaxInt64 / 2)) }
