package topology

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// SessionWindows groups a key's records into sessions: records at most gap apart (in
// event time) belong to one session — two records exactly gap apart are merged, as in
// Flink and Kafka Streams — so a session is a burst of activity followed by more than gap
// of silence. A record that falls within gap of two sessions joins them into one. A session
// is final once the watermark is gap + grace past its last record. Results are keyed by
// Windowed with Start the session's first record time and End one millisecond after its
// last.
type SessionWindows struct {
	gap, grace time.Duration
}

// Sessions returns session windows with the given inactivity gap.
func Sessions(gap time.Duration) SessionWindows { return SessionWindows{gap: gap} }

// Grace returns s with a grace period for late records. Default 0.
func (s SessionWindows) Grace(g time.Duration) SessionWindows { s.grace = g; return s }

// SessionGrouped is a grouped stream cut into sessions, ready to aggregate.
type SessionGrouped[K, V any] struct {
	g Grouped[K, V]
	s SessionWindows
}

// SessionBy cuts a grouped stream into sessions.
func SessionBy[K, V any](g Grouped[K, V], s SessionWindows) SessionGrouped[K, V] {
	if s.gap < time.Millisecond || s.grace < 0 || s.gap%time.Millisecond != 0 {
		g.s.t.g.Errorf("sessions with gap %s and grace %s: need a gap of whole milliseconds ≥ 1 ms and grace ≥ 0", s.gap, s.grace)
	}
	return SessionGrouped[K, V]{g: g, s: s}
}

// SessionCount counts the records per key and session; one final result per session.
// Options as for SessionAggregate.
func SessionCount[K, V any](sg SessionGrouped[K, V], store string, opts ...Option) Stream[Windowed[K], int64] {
	return sessionAggregate(sg, opSessionCount, func() int64 { return 0 }, func(_ K, _ V, n int64) int64 { return n + 1 },
		func(_ K, a, b int64) int64 { return a + b }, serde.Int64(), store, opts)
}

// SessionAggregate folds the values per key and session into an aggregate; merge combines
// the aggregates of two sessions that a record joins into one. Late records are handled as
// for windows (LateRecordsTo).
//
// Options: Named and LateRecordsTo. Sessions emit final results only, so EmitUpdates is
// refused.
func SessionAggregate[K, V, VA any](sg SessionGrouped[K, V], init func() VA, add func(k K, v V, agg VA) VA,
	merge func(k K, a, b VA) VA, as serde.Serde[VA], storeName string, opts ...Option) Stream[Windowed[K], VA] {
	return sessionAggregate(sg, opSessionAggregate, init, add, merge, as, storeName, opts)
}

func sessionAggregate[K, V, VA any](sg SessionGrouped[K, V], op operator, init func() VA, add func(k K, v V, agg VA) VA,
	merge func(k K, a, b VA) VA, as serde.Serde[VA], storeName string, opts []Option) Stream[Windowed[K], VA] {
	g, sw := sg.g, sg.s
	t := g.s.t
	c := t.configure(op, opts)
	st := t.g.AddStore(storeName)
	st.Retention = sw.gap + sw.grace
	st.Kind, st.View = graph.SessionStore, viewSessions
	s := processorNode(g.s, t.nameFor(c, "KSTREAM-SESSION-AGGREGATE"), func(tb *graph.TaskBuild, out *outlets[Windowed[K], VA]) (next[K, V], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		b, err := tb.Env.Store(storeName)
		if err != nil {
			return nil, err
		}
		// The store's serdes serve its changelog: bound copies for this task.
		g, as := g, storeSerde(tb.Env, storeName, as, false)
		g.ks = storeSerde(tb.Env, storeName, g.ks, true)
		op := &sessionOp[K, V, VA]{sw: sw, b: b, ks: g.ks, vs: g.vs, as: as, init: init, add: add, merge: merge,
			next: n, env: tb.Env, lateTopic: c.lateTopic, store: storeName, nextEnd: math.MinInt64, scanFrom: math.MinInt64,
			frontier: frontier{b: b, env: tb.Env, store: storeName}}
		op.late = &windowOp[K, V, VA]{ks: g.ks, vs: g.vs, env: tb.Env, lateTopic: c.lateTopic, store: storeName}
		return startTimed[K, V](tb, op)
	})
	t.g.Connect(s.node, storeName)
	s.node.LateTopic = c.lateTopic
	return s
}

// Session store layout:
//
//	0x00                                   the close frontier (as for windows)
//	0x01 | end | start | key               → aggregate (end = last record time)
//	0x02 | len(key) u32 | key | end | start → nothing (find a key's sessions)
//
// Keyed by end, closing the sessions the watermark made final is one range scan; the
// second copy finds the sessions a new record may join.
const (
	sessPrimary = 0x01
	sessIndex   = 0x02
)

type session struct {
	start, end int64
}

type sessionOp[K, V, VA any] struct {
	sw    SessionWindows
	b     store.Bytes
	ks    serde.Serde[K]
	vs    serde.Serde[V]
	as    serde.Serde[VA]
	init  func() VA
	add   func(K, V, VA) VA
	merge func(K, VA, VA) VA
	next  next[Windowed[K], VA]
	env   graph.Env
	store string

	lateTopic string
	late      *windowOp[K, V, VA] // reused for rejectLate

	frontier
	// nextEnd is a lower bound of the earliest end among open sessions (MinInt64: scan);
	// scanFrom is where the next closing scan starts (MinInt64: the start of the store).
	nextEnd, scanFrom int64

	kbuf []byte
}

func (op *sessionOp[K, V, VA]) primaryKey(end, start int64, key []byte) []byte {
	return append(appendTime(appendTime([]byte{sessPrimary}, end), start), key...)
}

func (op *sessionOp[K, V, VA]) indexPrefix(key []byte) []byte {
	b := binary.BigEndian.AppendUint32([]byte{sessIndex}, uint32(len(key)))
	return append(b, key...)
}

// sessionsOf lists the key's sessions.
func (op *sessionOp[K, V, VA]) sessionsOf(key []byte) ([]session, error) {
	prefix := op.indexPrefix(key)
	it, err := op.b.Range(prefix, append(append([]byte(nil), prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []session
	for it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+16 {
			continue
		}
		out = append(out, session{end: readTime(k[len(prefix):]), start: readTime(k[len(prefix)+8:])})
	}
	return out, it.Err()
}

func (op *sessionOp[K, V, VA]) process(r processor.Record[K, V]) error {
	ts := r.Timestamp.UnixMilli()
	var err error
	if op.kbuf, err = op.ks.AppendEncode(op.kbuf[:0], r.Key); err != nil {
		return fmt.Errorf("session store %s: encode key: %w", op.store, err)
	}
	key := append([]byte(nil), op.kbuf...)
	gap, grace := op.sw.gap.Milliseconds(), op.sw.grace.Milliseconds()
	cur := op.closedUpTo()
	sessions, err := op.sessionsOf(key)
	if err != nil {
		return fmt.Errorf("session store %s: %w", op.store, err)
	}
	merged := session{start: ts, end: ts}
	var agg VA
	found := false
	for _, s := range sessions {
		if ts < s.start-gap || ts > s.end+gap {
			continue
		}
		var a VA
		var derr error
		if _, err := op.b.Get(op.primaryKey(s.end, s.start, key), func(v []byte) error { a, derr = op.as.Decode(v); return derr }); err != nil {
			return fmt.Errorf("session store %s: %w", op.store, err)
		}
		if found {
			agg = op.merge(r.Key, agg, a)
		} else {
			agg, found = a, true
		}
		merged.start, merged.end = min(merged.start, s.start), max(merged.end, s.end)
		op.b.Delete(op.primaryKey(s.end, s.start, key))
		op.b.Delete(append(op.indexPrefix(key), append(appendTime(nil, s.end), appendTime(nil, s.start)...)...))
	}
	if !found && cur != math.MinInt64 && ts+gap+grace <= cur {
		// A session of its own would be final already, and it joins no open one.
		return op.late.rejectLate(r)
	}
	if !found {
		agg = op.init()
	}
	agg = op.add(r.Key, r.Value, agg)
	v, err := op.as.AppendEncode(nil, agg)
	if err != nil {
		return fmt.Errorf("session store %s: encode aggregate: %w", op.store, err)
	}
	op.b.Put(op.primaryKey(merged.end, merged.start, key), v)
	op.b.Put(append(op.indexPrefix(key), append(appendTime(nil, merged.end), appendTime(nil, merged.start)...)...), []byte{})
	op.nextEnd = minDue(op.nextEnd, merged.end)
	return nil
}

// advance emits and deletes the sessions the watermark made final (end + gap + grace ≤
// watermark), scanning only when the earliest open session may have closed.
func (op *sessionOp[K, V, VA]) advance(wm time.Time) error {
	w := wm.UnixMilli()
	if w <= op.at {
		return nil
	}
	limit := w - op.sw.gap.Milliseconds() - op.sw.grace.Milliseconds() // close ends ≤ limit
	if op.nextEnd != math.MinInt64 && op.nextEnd > limit && wm.Before(graph.EndOfTime) {
		return nil
	}
	// From where the last scan ended: the sessions before it are closed, and their deleted
	// keys stay in Badger until compaction, which every scan from the start would walk.
	// A new or merged session ends after the last limit (else its record was late).
	lo := []byte{sessPrimary}
	if op.scanFrom != math.MinInt64 {
		lo = appendTime(lo, op.scanFrom)
	}
	it, err := op.b.Range(lo, appendTime([]byte{sessPrimary}, limit+1))
	if err != nil {
		return fmt.Errorf("session store %s: %w", op.store, err)
	}
	var closed [][]byte
	var emitErr error
	for it.Next() {
		k := it.Key()
		if len(k) < 17 {
			continue
		}
		closed = append(closed, append([]byte(nil), k...))
		end, start := readTime(k[1:9]), readTime(k[9:17])
		key, err := op.ks.Decode(k[17:])
		if err != nil {
			emitErr = fmt.Errorf("session store %s: decode key: %w", op.store, err)
			break
		}
		agg, err := op.as.Decode(it.Value())
		if err != nil {
			emitErr = fmt.Errorf("session store %s: decode aggregate: %w", op.store, err)
			break
		}
		if emitErr = op.next(processor.Record[Windowed[K], VA]{
			Key:   Windowed[K]{Key: key, Start: time.UnixMilli(start), End: time.UnixMilli(end + 1)},
			Value: agg, Timestamp: time.UnixMilli(end),
		}); emitErr != nil {
			break
		}
	}
	if err := endScan(it, emitErr, "session", op.store); err != nil {
		return err
	}
	for _, k := range closed {
		op.b.Delete(k)
		key := k[17:]
		op.b.Delete(append(op.indexPrefix(key), k[1:17]...))
	}
	op.scanFrom = limit + 1
	// The earliest end still open, for the next scan to wait for: looked for only a gap
	// and grace ahead (a range open to the end of the store would walk every deleted key
	// Badger keeps there); with none that close, that far ahead is a lower bound.
	op.nextEnd = math.MinInt64
	span := op.sw.gap.Milliseconds() + op.sw.grace.Milliseconds() + 1
	if !wm.Before(graph.EndOfTime) || limit > math.MaxInt64-2*span {
		op.nextEnd = math.MaxInt64
	} else if nit, err := op.b.Range(appendTime([]byte{sessPrimary}, limit+1), appendTime([]byte{sessPrimary}, limit+1+span)); err == nil {
		if nit.Next() && len(nit.Key()) >= 9 {
			op.nextEnd = readTime(nit.Key()[1:9])
		} else if nit.Err() == nil {
			op.nextEnd = limit + 1 + span
		}
		nit.Close()
	}
	op.move(wm)
	return nil
}
