package topology

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// Windows defines fixed-size time windows, [start, end): tumbling (each record in one
// window) or hopping (windows of a size starting every advance, so a record falls in
// several). Grace is how long after a window's end, in event time, its records are still
// accepted; a window is final once the watermark reaches end − 1 ms + grace.
type Windows struct {
	size, advance, grace time.Duration
	sliding              bool // SlidingWindows: size is the time difference + 1 ms
}

// TumblingWindows are back-to-back windows of the given size.
func TumblingWindows(size time.Duration) Windows { return Windows{size: size, advance: size} }

// HoppingWindows are windows of the given size starting every advance (Flink's "sliding"
// windows).
func HoppingWindows(size, advance time.Duration) Windows {
	return Windows{size: size, advance: advance}
}

// Grace returns w with a grace period: records up to g behind a window's end (in event
// time, by the watermark) still count. Default 0.
func (w Windows) Grace(g time.Duration) Windows { w.grace = g; return w }

func (w Windows) validate() error {
	if w.sliding {
		if d := w.size - time.Millisecond; d < 0 || d%time.Millisecond != 0 || w.grace < 0 {
			return fmt.Errorf("sliding windows with time difference %s, grace %s: need whole milliseconds ≥ 0 and grace ≥ 0", d, w.grace)
		}
		return nil
	}
	if w.size < time.Millisecond || w.advance < time.Millisecond || w.advance > w.size || w.grace < 0 {
		return fmt.Errorf("windows of size %s, advance %s, grace %s: need size ≥ 1 ms, 0 < advance ≤ size, grace ≥ 0",
			w.size, w.advance, w.grace)
	}
	if w.size%time.Millisecond != 0 || w.advance%time.Millisecond != 0 {
		return fmt.Errorf("windows of size %s, advance %s: use whole milliseconds", w.size, w.advance)
	}
	return nil
}

// starts returns the starts (ms) of the windows containing ts (ms), oldest first.
func (w Windows) starts(ts int64) []int64 {
	size, adv := w.size.Milliseconds(), w.advance.Milliseconds()
	last := floorDiv(ts, adv) * adv
	var out []int64
	for s := last - (size/adv-1)*adv; s <= last; s += adv {
		if s+size > ts && s <= ts {
			out = append(out, s)
		}
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Windowed is a key within a time window [Start, End).
type Windowed[K any] struct {
	Key        K
	Start, End time.Time
}

// WindowedSerde encodes a windowed key as the key's bytes followed by the window's start
// and end, each 8 bytes big-endian milliseconds.
func WindowedSerde[K any](ks serde.Serde[K]) serde.Serde[Windowed[K]] { return windowedSerde[K]{ks} }

type windowedSerde[K any] struct{ ks serde.Serde[K] }

// ForTopic binds the key's serde, when it depends on its topic, to topic.
func (s windowedSerde[K]) ForTopic(topic string, key bool) serde.Serde[Windowed[K]] {
	return windowedSerde[K]{serde.ForTopic(s.ks, topic, key)}
}

func (s windowedSerde[K]) AppendEncode(dst []byte, w Windowed[K]) ([]byte, error) {
	dst, err := s.ks.AppendEncode(dst, w.Key)
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(w.Start.UnixMilli()))
	return binary.BigEndian.AppendUint64(dst, uint64(w.End.UnixMilli())), nil
}

func (s windowedSerde[K]) Decode(b []byte) (Windowed[K], error) {
	var w Windowed[K]
	if len(b) < 16 {
		return w, fmt.Errorf("serde: windowed key needs at least 16 bytes, got %d", len(b))
	}
	n := len(b) - 16
	k, err := s.ks.Decode(b[:n])
	if err != nil {
		return w, err
	}
	w.Key = k
	w.Start = time.UnixMilli(int64(binary.BigEndian.Uint64(b[n:])))
	w.End = time.UnixMilli(int64(binary.BigEndian.Uint64(b[n+8:])))
	return w, nil
}

// timedOp is a windowed or session operator: it loads its frontier, processes records,
// and closes what the watermark made final.
type timedOp[K, V any] interface {
	load() error
	process(processor.Record[K, V]) error
	advance(watermark time.Time) error
}

// startTimed loads op and registers it for watermark advances; it returns its record
// function.
func startTimed[K, V any](tb *graph.TaskBuild, op timedOp[K, V]) (next[K, V], error) {
	if err := op.load(); err != nil {
		return nil, err
	}
	tb.Env.OnWatermark(op.advance)
	return op.process, nil
}

// WindowedGrouped is a grouped stream cut into windows, ready to aggregate.
type WindowedGrouped[K, V any] struct {
	g Grouped[K, V]
	w Windows
}

// WindowBy cuts a grouped stream into windows.
func WindowBy[K, V any](g Grouped[K, V], w Windows) WindowedGrouped[K, V] {
	if err := w.validate(); err != nil {
		g.s.t.g.Errorf("%v", err)
	}
	return WindowedGrouped[K, V]{g: g, w: w}
}

// WindowedCount counts the records per key and window, in the window store named store.
// Options as for WindowedAggregate.
func WindowedCount[K, V any](wg WindowedGrouped[K, V], store string, opts ...Option) Stream[Windowed[K], int64] {
	return windowedAggregate(wg, opWindowedCount, "KSTREAM-WINDOWED-AGGREGATE", serde.Int64(), store, opts,
		func(_ K, _ V, n int64, _ bool) int64 { return n + 1 })
}

// WindowedReduce combines the values per key and window with f. Options as for
// WindowedAggregate.
func WindowedReduce[K, V any](wg WindowedGrouped[K, V], f func(agg, v V) V, store string, opts ...Option) Stream[Windowed[K], V] {
	return windowedAggregate(wg, opWindowedReduce, "KSTREAM-WINDOWED-REDUCE", wg.g.vs, store, opts, func(_ K, v V, agg V, found bool) V {
		if !found {
			return v
		}
		return f(agg, v)
	})
}

// WindowedAggregate folds the values per key and window into an aggregate of type VA.
// The results are a stream of windowed keys: by default one final result per window when
// the watermark passes its end plus grace (EmitUpdates: every change).
//
// Options: Named, EmitUpdates and LateRecordsTo.
func WindowedAggregate[K, V, VA any](wg WindowedGrouped[K, V], init func() VA, add func(k K, v V, agg VA) VA, as serde.Serde[VA], store string, opts ...Option) Stream[Windowed[K], VA] {
	return windowedAggregate(wg, opWindowedAggregate, "KSTREAM-WINDOWED-AGGREGATE", as, store, opts, func(k K, v V, agg VA, found bool) VA {
		if !found {
			agg = init()
		}
		return add(k, v, agg)
	})
}

func windowedAggregate[K, V, VA any](wg WindowedGrouped[K, V], op operator, prefix string, as serde.Serde[VA], storeName string, opts []Option,
	fold func(k K, v V, agg VA, found bool) VA) Stream[Windowed[K], VA] {
	g, w := wg.g, wg.w
	t := g.s.t
	c := t.configure(op, opts)
	st := t.g.AddStore(storeName)
	st.Retention = w.size + w.grace
	st.Kind, st.View = graph.WindowStore, viewWindows
	if w.sliding {
		st.View = viewSliding(w.size.Milliseconds())
	}
	s := processorNode(g.s, t.nameFor(c, prefix), func(tb *graph.TaskBuild, out *outlets[Windowed[K], VA]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		b, err := tb.Env.Store(storeName)
		if err != nil {
			return nil, err
		}
		// The store's serdes serve its changelog (sliding windows keep the values too): bound
		// copies for this task, as tasks are built concurrently.
		g, as := g, storeSerde(tb.Env, storeName, as, false)
		g.ks = storeSerde(tb.Env, storeName, g.ks, true)
		if w.sliding {
			g.vs = storeSerde(tb.Env, storeName, g.vs, false)
			return startTimed[K, V](tb, newSlidingOp(w, b, tb.Env, g, as, storeName, c, fold, n))
		}
		return startTimed[K, V](tb, &windowOp[K, V, VA]{w: w, b: b, ks: g.ks, vs: g.vs, as: as, fold: fold, next: n, env: tb.Env,
			updates: c.emitUpdates, lateTopic: c.lateTopic, store: storeName,
			frontier: frontier{b: b, env: tb.Env, store: storeName}})
	})
	t.g.Connect(s.node, storeName)
	s.node.LateTopic = c.lateTopic
	return s
}
