package topology

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
)

// The grace buffer of a stream-table join (Grace, KIP-923): stream records wait in a store,
// in timestamp order, until the watermark reaches their time plus the grace period:
//
//	0x01 | ts (8) | seq (8)   → len(key) (4) | key | len(value) (4) | value | headers
//
// headers: count (4), then len (4) | key | len (4) | value each. The sequence keeps
// records with one timestamp in arrival order. It is not stored: after a restart it goes
// on from the highest one in the buffer (which holds a grace period's records at most),
// so no key is reused — a stored counter could come back from the changelog older than
// the keys written with it under at-least-once, and a reused key would overwrite a
// buffered record.

// graceBuffer is one task's slice of a join's grace buffer.
type graceBuffer[K, V any] struct {
	name  string
	b     store.Bytes
	ks    serde.Serde[K]
	vs    serde.Serde[V]
	grace int64 // ms
	// seq is the sequence of the last record buffered, found in the store at the first
	// (a task is built before its stores are restored, and processes only after).
	seq       uint64
	seqLoaded bool
	// from is the key the next release scans from (nil: the start).
	from []byte
	key  []byte
	val  []byte
}

// withGrace returns the join's record function with a grace buffer before join, which
// joins and forwards one record. Buffered records are released by the watermark.
func withGrace[K, V any](tb *graph.TaskBuild, name string, ks serde.Serde[K], vs serde.Serde[V], grace time.Duration,
	join func(processor.Record[K, V]) error) (next[K, V], error) {
	b, err := tb.Env.Store(name)
	if err != nil {
		return nil, err
	}
	// The buffer's serdes serve its changelog (serde.TopicSerde).
	ks, vs = storeSerde(tb.Env, name, ks, true), storeSerde(tb.Env, name, vs, false)
	g := &graceBuffer[K, V]{name: name, b: b, ks: ks, vs: vs, grace: grace.Milliseconds()}
	env := tb.Env
	tb.Env.OnWatermark(func(wm time.Time) error { return g.release(wm, join) })
	return func(r processor.Record[K, V]) error {
		if wm := env.Watermark(); !wm.IsZero() && r.Timestamp.UnixMilli()+g.grace <= wm.UnixMilli() {
			return join(r) // late already: nothing to wait for (as Kafka Streams)
		}
		return g.put(r)
	}, nil
}

func (g *graceBuffer[K, V]) put(r processor.Record[K, V]) error {
	if !g.seqLoaded {
		if err := g.loadSeq(); err != nil {
			return err
		}
	}
	var err error
	if g.val, err = appendField(g.val[:0], func(dst []byte) ([]byte, error) { return g.ks.AppendEncode(dst, r.Key) }); err != nil {
		return fmt.Errorf("join buffer %s: encode key: %w", g.name, err)
	}
	if g.val, err = appendField(g.val, func(dst []byte) ([]byte, error) { return g.vs.AppendEncode(dst, r.Value) }); err != nil {
		return fmt.Errorf("join buffer %s: encode value: %w", g.name, err)
	}
	g.val = binary.BigEndian.AppendUint32(g.val, uint32(len(r.Headers)))
	for _, h := range r.Headers {
		g.val = binary.BigEndian.AppendUint32(g.val, uint32(len(h.Key)))
		g.val = binary.BigEndian.AppendUint32(append(g.val, h.Key...), uint32(len(h.Value)))
		g.val = append(g.val, h.Value...)
	}
	g.seq++
	g.key = binary.BigEndian.AppendUint64(appendTime(append(g.key[:0], 0x01), r.Timestamp.UnixMilli()), g.seq)
	g.b.Put(g.key, g.val)
	return nil
}

// appendField appends len (4) | what enc appends to dst.
func appendField(dst []byte, enc func([]byte) ([]byte, error)) ([]byte, error) {
	at := len(dst)
	out, err := enc(binary.BigEndian.AppendUint32(dst, 0))
	if err != nil {
		return dst, err
	}
	binary.BigEndian.PutUint32(out[at:], uint32(len(out)-at-4))
	return out, nil
}

// loadSeq sets the sequence to the highest one in the buffer.
func (g *graceBuffer[K, V]) loadSeq() error {
	it, err := g.b.Range([]byte{0x01}, []byte{0x02})
	if err != nil {
		return fmt.Errorf("join buffer %s: %w", g.name, err)
	}
	for it.Next() {
		if k := it.Key(); len(k) == 17 {
			g.seq = max(g.seq, binary.BigEndian.Uint64(k[9:]))
		}
	}
	if err := endScan(it, nil, "join buffer", g.name); err != nil {
		return err
	}
	g.seqLoaded = true
	return nil
}

// release joins, in timestamp order, the buffered records whose time plus the grace
// period the watermark has reached, and deletes them.
func (g *graceBuffer[K, V]) release(wm time.Time, join func(processor.Record[K, V]) error) error {
	limit := wm.UnixMilli() - g.grace
	lo := g.from
	if lo == nil {
		lo = []byte{0x01}
	}
	hi := appendTime([]byte{0x01}, limit+1)
	it, err := g.b.Range(lo, hi)
	if err != nil {
		return fmt.Errorf("join buffer %s: %w", g.name, err)
	}
	type entry struct{ k, v []byte }
	var due []entry
	for it.Next() {
		due = append(due, entry{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
	}
	if err := endScan(it, nil, "join buffer", g.name); err != nil {
		return err
	}
	// The next scan starts after what this one covered: the deleted keys stay in the
	// database until compaction (see windowop.go).
	g.from = hi
	for _, e := range due {
		r, err := g.decode(e.k, e.v)
		if err != nil {
			return err
		}
		g.b.Delete(e.k)
		if err := join(r); err != nil {
			return err
		}
	}
	return nil
}

func (g *graceBuffer[K, V]) decode(k, v []byte) (r processor.Record[K, V], err error) {
	bad := func() error { return fmt.Errorf("join buffer %s: a record of %d bytes is malformed", g.name, len(v)) }
	if len(k) != 17 {
		return r, bad()
	}
	r.Timestamp = time.UnixMilli(readTime(k[1:9]))
	field := func() ([]byte, bool) {
		if len(v) < 4 || uint32(len(v)-4) < binary.BigEndian.Uint32(v) {
			return nil, false
		}
		n := binary.BigEndian.Uint32(v)
		f := v[4 : 4+n]
		v = v[4+n:]
		return f, true
	}
	key, ok1 := field()
	value, ok2 := field()
	if !ok1 || !ok2 || len(v) < 4 {
		return r, bad()
	}
	if r.Key, err = g.ks.Decode(key); err != nil {
		return r, fmt.Errorf("join buffer %s: decode key: %w", g.name, err)
	}
	if r.Value, err = g.vs.Decode(value); err != nil {
		return r, fmt.Errorf("join buffer %s: decode value: %w", g.name, err)
	}
	n := binary.BigEndian.Uint32(v)
	v = v[4:]
	for range n {
		hk, ok1 := field()
		hv, ok2 := field()
		if !ok1 || !ok2 {
			return r, bad()
		}
		r.Headers = append(r.Headers, processor.Header{Key: string(hk), Value: append([]byte(nil), hv...)})
	}
	return r, nil
}

// graceStore declares the grace buffer of the join named name when its options give
// Grace, and returns the buffer's store name ("" without Grace). Grace needs a versioned
// table (history > 0), and no more grace than the table keeps history for: a record
// released later than that would find no version.
func graceStore(t *Topology, op operator, c opConfig, name string, history time.Duration) string {
	if c.given&optGrace == 0 {
		return ""
	}
	switch {
	case history == 0:
		t.g.Errorf("%s: Grace needs a versioned table (TableFrom with Versioned): a table without history has only its "+
			"latest value, so waiting would join later versions, not the one valid at the record's time", op.label(c))
		return ""
	case c.grace > history:
		t.g.Errorf("%s: Grace(%s) is longer than the table's history retention (Versioned(%s)): records released then "+
			"would find no version", op.label(c), c.grace, history)
		return ""
	}
	buffer := name + "-buffer"
	t.g.AddStore(buffer).Kind = graph.InternalStore
	return buffer
}
