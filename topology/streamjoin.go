package topology

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// JoinWindows say which records of two streams join (Kafka Streams' JoinWindows, KIP-633):
// a left record at time t joins every right record of its key with a time in
// [t − before, t + after], and grace is how far behind the watermark a record may still
// arrive.
//
// A record whose time plus grace is at or behind the watermark is late: it joins nothing,
// and is counted and sent where LateRecordsTo says, as a windowed aggregation's late
// records are. The rule is the same for both sides, so whether two records join depends on
// their times and the watermark only, never on which was fetched first. A record's window
// has closed once no record of the other side that is not late could still join it: for a
// left record at t when the watermark reaches t + after + grace, for a right record at t
// when it reaches t + before + grace. A left or outer join emits a record that joined
// nothing then, and only then: never a result with a missing side that a later match
// would contradict.
type JoinWindows struct {
	before, after, grace time.Duration
}

// JoinWindowsOf are the join windows of records at most timeDifference apart, either
// way (before = after = timeDifference), with no grace.
func JoinWindowsOf(timeDifference time.Duration) JoinWindows {
	return JoinWindows{before: timeDifference, after: timeDifference}
}

// Before sets how much earlier than a left record a right record may be and still join.
func (w JoinWindows) Before(d time.Duration) JoinWindows { w.before = d; return w }

// After sets how much later than a left record a right record may be and still join.
func (w JoinWindows) After(d time.Duration) JoinWindows { w.after = d; return w }

// Grace sets how far behind the watermark a record may arrive and still join.
func (w JoinWindows) Grace(g time.Duration) JoinWindows { w.grace = g; return w }

func (w JoinWindows) validate() error {
	if w.before+w.after < 0 || w.grace < 0 {
		return fmt.Errorf("join windows before %s, after %s, grace %s: need before + after ≥ 0 and grace ≥ 0", w.before, w.after, w.grace)
	}
	for _, d := range []time.Duration{w.before, w.after, w.grace} {
		if d%time.Millisecond != 0 {
			return fmt.Errorf("join windows before %s, after %s, grace %s: use whole milliseconds", w.before, w.after, w.grace)
		}
	}
	return nil
}

// JoinStreams joins two streams by key within join windows, as Kafka Streams'
// KStream.join(KStream, ValueJoiner, JoinWindows): each pair of a left and a right record
// of one key whose times are within w gives join(key, left, right), stamped with the later
// of the two times. Each side keeps its records in a store with a changelog while they can
// still join (until their window closes), so a pair joins however far apart the two
// arrive; a self-join (the same stream on both sides) gives every ordered pair once,
// each record paired with itself included.
//
// The two streams' topics must be co-partitioned (eddy checks the counts at start); a
// stream that may no longer be partitioned by its key (after SelectKey, Map, FlatMap,
// Process or Rebalance) is repartitioned by key first. ks, vl and vr encode the keys and
// values in the stores and in those repartition topics.
//
// Options: Named (the join's name: its nodes are "<name>-this-join", "<name>-other-join"
// and "<name>-merge", its stores "<name>-this-join-store" and "<name>-other-join-store",
// its repartition topics "<app id>-<name>-left-repartition" and "…-right-repartition"),
// LateRecordsTo, and OnDisk (the stores are in memory by default; see OnDisk).
func JoinStreams[K, VL, VR, VO any](left Stream[K, VL], right Stream[K, VR], w JoinWindows, ks serde.Serde[K],
	vl serde.Serde[VL], vr serde.Serde[VR], join func(key K, left VL, right VR) VO, opts ...Option) Stream[K, VO] {
	if join == nil {
		return noJoiner[K, VO](left.t, left.node, opJoinStreams, opts)
	}
	return joinStreams(left, right, w, ks, vl, vr, opJoinStreams, joinKind{}, opts, join, nil, nil)
}

// LeftJoinStreams is JoinStreams as a left join, as Kafka Streams' KStream.leftJoin: a left
// record that joined no right record by the time its window closed gives
// join(key, left, zero value, false), stamped with its own time; every pair gives
// join(key, left, right, true).
func LeftJoinStreams[K, VL, VR, VO any](left Stream[K, VL], right Stream[K, VR], w JoinWindows, ks serde.Serde[K],
	vl serde.Serde[VL], vr serde.Serde[VR], join func(key K, left VL, right VR, found bool) VO, opts ...Option) Stream[K, VO] {
	if join == nil {
		return noJoiner[K, VO](left.t, left.node, opLeftJoinStreams, opts)
	}
	return joinStreams(left, right, w, ks, vl, vr, opLeftJoinStreams, joinKind{keepLeft: true}, opts,
		func(k K, l VL, r VR) VO { return join(k, l, r, true) },
		func(k K, l VL) VO { var zero VR; return join(k, l, zero, false) }, nil)
}

// OuterJoinStreams is JoinStreams as an outer join, as Kafka Streams' KStream.outerJoin: a
// record of either side that joined nothing by the time its window closed gives a result
// with the other side missing (hasLeft or hasRight false, its value the zero value),
// stamped with its own time.
func OuterJoinStreams[K, VL, VR, VO any](left Stream[K, VL], right Stream[K, VR], w JoinWindows, ks serde.Serde[K],
	vl serde.Serde[VL], vr serde.Serde[VR], join func(key K, left VL, hasLeft bool, right VR, hasRight bool) VO, opts ...Option) Stream[K, VO] {
	if join == nil {
		return noJoiner[K, VO](left.t, left.node, opOuterJoinStreams, opts)
	}
	return joinStreams(left, right, w, ks, vl, vr, opOuterJoinStreams, joinKind{keepLeft: true, keepRight: true}, opts,
		func(k K, l VL, r VR) VO { return join(k, l, true, r, true) },
		func(k K, l VL) VO { var zero VR; return join(k, l, true, zero, false) },
		func(k K, r VR) VO { var zero VL; return join(k, zero, false, r, true) })
}

// joinKind says which side alone makes a result: a left join keeps the left side's
// records (or rows) that joined nothing, an outer join both sides'.
type joinKind struct{ keepLeft, keepRight bool }

// holds says whether a key (or pair) is in the join, given whether each side has it.
func (k joinKind) holds(hasL, hasR bool) bool {
	return (hasL && hasR) || (hasL && k.keepLeft) || (hasR && k.keepRight)
}

// joinNodeNames are the names of a join's two side processors and their merge: Kafka
// Streams' prefixes numbered, or under Named "<name>-this-join", "<name>-other-join" and
// "<name>-merge".
func joinNodeNames(t *Topology, c opConfig, thisPrefix, otherPrefix, mergePrefix string) (this, other, merge string) {
	if c.name != "" {
		return c.name + "-this-join", c.name + "-other-join", c.name + "-merge"
	}
	return t.g.NextName(thisPrefix), t.g.NextName(otherPrefix), t.g.NextName(mergePrefix)
}

func joinStreams[K, VL, VR, VO any](left Stream[K, VL], right Stream[K, VR], w JoinWindows, ks serde.Serde[K],
	vl serde.Serde[VL], vr serde.Serde[VR], op operator, kind joinKind, opts []Option,
	pair func(K, VL, VR) VO, leftAlone func(K, VL) VO, rightAlone func(K, VR) VO) Stream[K, VO] {
	t := left.t
	c := t.configure(op, opts)
	broken := Stream[K, VO]{t: t, node: left.node, out: &outlets[K, VO]{}}
	if right.t != t {
		t.g.Errorf("%s: the two streams belong to different topologies", op.label(c))
		return broken
	}
	if err := w.validate(); err != nil {
		t.g.Errorf("%s: %v", op.label(c), err)
		return broken
	}
	if ks == nil || vl == nil || vr == nil {
		t.g.Errorf("%s: key and value serdes are required", op.label(c))
		return broken
	}
	thisPrefix, otherPrefix := "KSTREAM-JOINTHIS", "KSTREAM-JOINOTHER"
	if kind.keepLeft && kind.keepRight {
		thisPrefix = "KSTREAM-OUTERTHIS"
	}
	if kind.keepLeft {
		otherPrefix = "KSTREAM-OUTEROTHER"
	}
	thisName, otherName, mergeName := joinNodeNames(t, c, thisPrefix, otherPrefix, "KSTREAM-MERGE")
	self := left.node == right.node
	if left.keyChanged {
		left = throughInternal(left, ks, vl, byKey, sideConfig(c, "left"))
	}
	if self {
		if r, ok := any(left).(Stream[K, VR]); ok { // one stream, so VL is VR
			right = r
		}
	} else if right.keyChanged {
		right = throughInternal(right, ks, vr, byKey, sideConfig(c, "right"))
	}
	thisStore, otherStore := thisName+"-store", otherName+"-store"
	before, after, grace := w.before.Milliseconds(), w.after.Milliseconds(), w.grace.Milliseconds()
	for _, s := range []struct {
		name      string
		lookAhead int64
	}{{thisStore, after}, {otherStore, before}} {
		st := t.g.AddStore(s.name)
		st.InMemory, st.Kind = !c.onDisk, graph.InternalStore
		lookAhead := s.lookAhead
		st.Index = func(key []byte) []byte { return closingKey(nil, key, lookAhead+grace) }
	}
	// The left side looks for right records in [t − before, t + after]; the right side
	// for left records in [t − after, t + before].
	fromLeft := joinSideNode(left, thisName, joinSide[K, VL, VR, VO]{
		own: thisStore, other: otherStore, ks: ks, vs: vl, vo: vr, lookBack: before, lookAhead: after, grace: grace,
		keepOwn: kind.keepLeft, markOther: kind.keepRight, lateTopic: c.lateTopic,
		pair: pair, alone: leftAlone})
	fromRight := joinSideNode(right, otherName, joinSide[K, VR, VL, VO]{
		own: otherStore, other: thisStore, ks: ks, vs: vr, vo: vl, lookBack: after, lookAhead: before, grace: grace,
		keepOwn: kind.keepRight, markOther: kind.keepLeft, lateTopic: c.lateTopic,
		// A self-join: the left side counts each late record and sends it to the topic, once.
		ignoreLate: self,
		pair:       func(k K, r VR, l VL) VO { return pair(k, l, r) }, alone: rightAlone})
	for _, n := range []*graph.Node{fromLeft.node, fromRight.node} {
		t.g.Connect(n, thisStore)
		t.g.Connect(n, otherStore)
		n.LateTopic = c.lateTopic
	}
	return fromLeft.MergeNamed(mergeName, fromRight)
}

// sideConfig is the configuration of one side's repartition: the join's, with the side in
// the topic's name when the join is named.
func sideConfig(c opConfig, side string) opConfig {
	if c.name != "" {
		c.name += "-" + side
	}
	return c
}

// joinSide is the description of one side of a stream-stream join: its records (values of
// type VT) are kept in the own store and looked up in the other side's store, with
// values of type VX.
type joinSide[K, VT, VX, VO any] struct {
	own, other string
	ks         serde.Serde[K]
	vs         serde.Serde[VT]
	vo         serde.Serde[VX]
	// A record at t joins the other side's records in [t − lookBack, t + lookAhead].
	lookBack, lookAhead, grace int64
	// keepOwn: this side's records that joined nothing are emitted alone when their window
	// closes; markOther: the other side's are, so a match marks them as joined.
	keepOwn, markOther bool
	lateTopic          string
	// ignoreLate drops late records without counting or sending them (the other side
	// does, in a self-join).
	ignoreLate bool
	pair       func(K, VT, VX) VO
	alone      func(K, VT) VO
}

// Stream-stream join store layout (each side its own store; times big-endian with the
// sign bit flipped, as for windows):
//
//	0x00                                            the close frontier
//	0x01 | len(key) u32 | key | time | tag          → joined flag (1 byte) | value
//	0x02 | close time | len(key) u32 | key | time | tag → nothing: the records, in closing order
//
// The closing entries are local (state.KV.SetIndex): the changelog has only the records,
// and a restore derives each record's closing entry from its key (closingKey).
//
// The tag, a random 64-bit number, tells apart records of one key at one time: unique
// with odds of 2⁻⁶⁴ per pair, with nothing to keep (a counter would be one more write per
// record, and under at-least-once its last value could come back from the changelog older
// than keys written with it, which would then be reused). A record can join no
// record of the other side once the watermark reaches its close time (its time +
// lookAhead + grace), so closing — emitting those that joined nothing, when the join
// keeps them, and deleting them — is a range scan from the start of 0x02.
const (
	joinRecords = 0x01
	joinClosing = 0x02
)

// closingKey appends to dst the closing entry of the record entry key, which closes
// closeAfter after its time, and returns nil for a key that is not a record entry.
func closingKey(dst, key []byte, closeAfter int64) []byte {
	if len(key) < 1+4+16 || key[0] != joinRecords {
		return nil
	}
	closeAt := readTime(key[len(key)-16:]) + closeAfter
	return append(appendTime(append(dst, joinClosing), closeAt), key[1:]...)
}

// joinSideNode adds the processor of one side of a stream-stream join.
func joinSideNode[K, VT, VX, VO any](s Stream[K, VT], name string, side joinSide[K, VT, VX, VO]) Stream[K, VO] {
	return processorNode(s, name, func(tb *graph.TaskBuild, out *outlets[K, VO]) (next[K, VT], error) {
		n, err := out.compile(tb)
		if err != nil {
			return nil, err
		}
		own, err := tb.Env.Store(side.own)
		if err != nil {
			return nil, err
		}
		other, err := tb.Env.Store(side.other)
		if err != nil {
			return nil, err
		}
		// This task's copy, its serdes serving the stores' changelogs (serde.TopicSerde):
		// its own side's keys and values, and the other side's values it reads back.
		side := side
		side.ks, side.vs = storeSerde(tb.Env, side.own, side.ks, true), storeSerde(tb.Env, side.own, side.vs, false)
		side.vo = storeSerde(tb.Env, side.other, side.vo, false)
		op := &joinSideOp[K, VT, VX, VO]{joinSide: side, b: own, o: other, next: n, env: tb.Env,
			nextClose: math.MinInt64, scanned: math.MinInt64, step: max(1, (side.lookBack+side.lookAhead+side.grace)/10),
			frontier: frontier{b: own, env: tb.Env, store: side.own},
			late:     &windowOp[K, VT, struct{}]{ks: side.ks, vs: side.vs, env: tb.Env, lateTopic: side.lateTopic, store: side.own}}
		op.putNew, op.putIndex, op.deleteIndex = own.Put, own.Put, own.Delete
		if n, ok := own.(interface{ PutNew(k, v []byte) }); ok {
			op.putNew, op.putIndex = n.PutNew, n.PutNew
		}
		if l, ok := own.(interface {
			PutNewLocal(k, v []byte)
			DeleteLocal(k []byte)
		}); ok {
			op.putIndex, op.deleteIndex = l.PutNewLocal, l.DeleteLocal
		}
		return startTimed[K, VT](tb, op)
	})
}

// joinSideOp is one task's side of a stream-stream join.
type joinSideOp[K, VT, VX, VO any] struct {
	joinSide[K, VT, VX, VO]
	b, o store.Bytes // own and other side's stores
	// putNew writes a key the own store does not have: keys made unique by the tag are
	// new, so a record that closes before the commit is never written (a store that can
	// tell, state.KV.PutNew; else Put).
	putNew func(k, v []byte)
	// putIndex and deleteIndex write the closing entries, which the changelog does not
	// carry (a store that can tell, state.KV.PutNewLocal; else like the records).
	putIndex    func(k, v []byte)
	deleteIndex func(k []byte)
	next        next[K, VO]
	env         graph.Env
	frontier
	late *windowOp[K, VT, struct{}] // rejects late records

	scanFrom []byte // where the next closing scan starts (nil: the start of 0x02)
	// nextClose is the earliest close time of a stored record (MinInt64: not known, as
	// after a restart; MaxInt64: none), so a watermark advance scans only when a record
	// has closed; scanned is the watermark of the last scan, and a scan waits until the
	// watermark has moved on by step, so closing is batched.
	nextClose, scanned, step int64

	kbuf, key, lo, hi, vbuf []byte
	marks                   [][]byte // keys and values of the other side's records to mark as joined
	closed                  [][]byte
}

func (op *joinSideOp[K, VT, VX, VO]) errorf(format string, args ...any) error {
	return fmt.Errorf("join store %s: "+format, append([]any{op.own}, args...)...)
}

func (op *joinSideOp[K, VT, VX, VO]) process(r processor.Record[K, VT]) error {
	ts := r.Timestamp.UnixMilli()
	cur := op.closedUpTo()
	if cur != math.MinInt64 && ts+op.grace <= cur {
		if op.ignoreLate {
			return nil
		}
		return op.late.rejectLate(r)
	}
	var err error
	if op.kbuf, err = op.ks.AppendEncode(op.kbuf[:0], r.Key); err != nil {
		return op.errorf("encode key: %w", err)
	}
	joined, err := op.joinOther(r, ts)
	if err != nil {
		return err
	}
	closeAt := ts + op.lookAhead + op.grace
	if cur != math.MinInt64 && closeAt <= cur {
		// Closed already (a negative lookAhead): nothing later can join it.
		if op.keepOwn && !joined {
			return op.next(processor.WithValue(r, op.alone(r.Key, r.Value)))
		}
		return nil
	}
	op.key = binary.BigEndian.AppendUint64(appendKeyed(op.key[:0], joinRecords, op.kbuf, ts), rand.Uint64())
	flag := byte(0)
	if joined {
		flag = 1
	}
	if op.vbuf, err = op.vs.AppendEncode(append(op.vbuf[:0], flag), r.Value); err != nil {
		return op.errorf("encode value: %w", err)
	}
	op.putNew(op.key, op.vbuf)
	op.vbuf = closingKey(op.vbuf[:0], op.key, op.lookAhead+op.grace)
	op.putIndex(op.vbuf, nil)
	op.nextClose = min(op.nextClose, closeAt)
	return nil
}

// joinOther joins r with the other side's records in its window and says whether there
// was any.
func (op *joinSideOp[K, VT, VX, VO]) joinOther(r processor.Record[K, VT], ts int64) (bool, error) {
	op.lo = appendKeyed(op.lo[:0], joinRecords, op.kbuf, ts-op.lookBack)
	op.hi = appendKeyed(op.hi[:0], joinRecords, op.kbuf, ts+op.lookAhead+1)
	it, err := op.o.Range(op.lo, op.hi)
	if err != nil {
		return false, fmt.Errorf("join store %s: %w", op.other, err)
	}
	op.marks = op.marks[:0]
	joined := false
	var emitErr error
	for it.Next() {
		k, v := it.Key(), it.Value()
		if len(v) < 1 || len(k) < 16 {
			emitErr = fmt.Errorf("join store %s: a record entry of %d bytes, key of %d", op.other, len(v), len(k))
			break
		}
		x, err := op.vo.Decode(v[1:])
		if err != nil {
			emitErr = fmt.Errorf("join store %s: decode value: %w", op.other, err)
			break
		}
		joined = true
		if op.markOther && v[0] == 0 {
			op.marks = append(op.marks, append([]byte(nil), k...), append([]byte{1}, v[1:]...))
		}
		out := processor.WithValue(r, op.pair(r.Key, r.Value, x))
		if at := readTime(k[len(k)-16:]); at > ts {
			out.Timestamp = time.UnixMilli(at)
		}
		if emitErr = op.next(out); emitErr != nil {
			break
		}
	}
	if err := endScan(it, emitErr, "join", op.other); err != nil {
		return false, err
	}
	for i := 0; i < len(op.marks); i += 2 {
		op.o.Put(op.marks[i], op.marks[i+1])
	}
	return joined, nil
}

// advance closes the records whose window the watermark has closed: it emits those that
// joined nothing, when the join keeps them, and deletes them all. It scans only once a
// stored record has closed and the watermark has moved on by step since the last scan
// (the end of a bounded run closes everything): a record that joined nothing is emitted
// after its window closed, never before, and at most step later.
func (op *joinSideOp[K, VT, VX, VO]) advance(wm time.Time) error {
	w := wm.UnixMilli()
	if w <= op.at || (wm.Before(graph.EndOfTime) && (w < op.nextClose || (op.scanned != math.MinInt64 && w < op.scanned+op.step))) {
		return nil
	}
	lo := op.scanFrom
	if lo == nil {
		lo = []byte{joinClosing}
	}
	hi := appendTime([]byte{joinClosing}, w+1)
	// Past hi, the first entry left tells the next close time.
	it, err := op.b.Range(lo, []byte{joinClosing + 1})
	if err != nil {
		return op.errorf("%w", err)
	}
	op.closed = op.closed[:0]
	op.nextClose = math.MaxInt64
	for it.Next() {
		k := it.Key()
		if string(k) >= string(hi) {
			if len(k) >= 9 {
				op.nextClose = readTime(k[1:9])
			}
			break
		}
		op.closed = append(op.closed, append([]byte(nil), k...))
	}
	if err := endScan(it, nil, "join", op.own); err != nil {
		return err
	}
	for _, idx := range op.closed {
		if len(idx) < 9+4+16 {
			return op.errorf("a closing entry of %d bytes", len(idx))
		}
		op.key = append(append(op.key[:0], joinRecords), idx[9:]...)
		if op.keepOwn {
			if err := op.emitAlone(op.key); err != nil {
				return err
			}
		}
		op.b.Delete(op.key)
		op.deleteIndex(idx)
	}
	op.scanFrom, op.scanned = hi, w
	op.move(wm)
	return nil
}

// emitAlone emits the record under key alone if it joined nothing.
func (op *joinSideOp[K, VT, VX, VO]) emitAlone(key []byte) error {
	var v VT
	var joined bool
	var derr error
	found, err := op.b.Get(key, func(b []byte) error {
		if len(b) < 1 {
			return op.errorf("a record entry of %d bytes", len(b))
		}
		if joined = b[0] == 1; !joined {
			v, derr = op.vs.Decode(b[1:])
		}
		return derr
	})
	if err != nil {
		return op.errorf("%w", err)
	}
	if !found || joined {
		return nil
	}
	n := binary.BigEndian.Uint32(key[1:5])
	if int(n) > len(key)-5-16 {
		return op.errorf("a record key of %d bytes says its key has %d", len(key), n)
	}
	k, err := op.ks.Decode(key[5 : 5+n])
	if err != nil {
		return op.errorf("decode key: %w", err)
	}
	ts := readTime(key[5+n:])
	return op.next(processor.Record[K, VO]{Key: k, Value: op.alone(k, v), Timestamp: time.UnixMilli(ts)})
}
