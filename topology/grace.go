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
//	0x00                      → the sequence number of the last record buffered
//	0x01 | ts (8) | seq (8)   → len(key) (4) | key | len(value) (4) | value | headers
//
// headers: count (4), then len (4) | key | len (4) | value each. The sequence keeps
// records with one timestamp in arrival order, and survives restarts with the store.

// graceBuffer is one task's slice of a join's grace buffer.
type graceBuffer[K, V any] struct {
	name  string
	b     store.Bytes
	ks    serde.Serde[K]
	vs    serde.Serde[V]
	grace int64 // ms
	// seq is the sequence of the last record buffered, read from the store at the first
	// (a task is built before its stores are restored, and processes only after).
	seq       uint64
	seqLoaded bool
	// from is the key the next release scans from (nil: the start).
	from []byte
	key  []byte
}

// withGrace returns the join's record function with a grace buffer before join, which
// joins and forwards one record. Buffered records are released by the watermark.
func withGrace[K, V any](tb *graph.TaskBuild, name string, ks serde.Serde[K], vs serde.Serde[V], grace time.Duration,
	join func(processor.Record[K, V]) error) (next[K, V], error) {
	b, err := tb.Env.Store(name)
	if err != nil {
		return nil, err
	}
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
		if _, err := g.b.Get([]byte{0x00}, func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("join buffer %s: its sequence has %d bytes", g.name, len(v))
			}
			g.seq = binary.BigEndian.Uint64(v)
			return nil
		}); err != nil {
			return err
		}
		g.seqLoaded = true
	}
	key, err := g.ks.AppendEncode(nil, r.Key)
	if err != nil {
		return fmt.Errorf("join buffer %s: encode key: %w", g.name, err)
	}
	value, err := g.vs.AppendEncode(nil, r.Value)
	if err != nil {
		return fmt.Errorf("join buffer %s: encode value: %w", g.name, err)
	}
	v := binary.BigEndian.AppendUint32(nil, uint32(len(key)))
	v = binary.BigEndian.AppendUint32(append(v, key...), uint32(len(value)))
	v = binary.BigEndian.AppendUint32(append(v, value...), uint32(len(r.Headers)))
	for _, h := range r.Headers {
		v = binary.BigEndian.AppendUint32(v, uint32(len(h.Key)))
		v = binary.BigEndian.AppendUint32(append(v, h.Key...), uint32(len(h.Value)))
		v = append(v, h.Value...)
	}
	g.seq++
	seq := binary.BigEndian.AppendUint64(nil, g.seq)
	g.b.Put([]byte{0x00}, seq)
	g.key = append(appendTime(append(g.key[:0], 0x01), r.Timestamp.UnixMilli()), seq...)
	g.b.Put(g.key, v)
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
	bad := fmt.Errorf("join buffer %s: a record of %d bytes is malformed", g.name, len(v))
	if len(k) != 17 {
		return r, bad
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
		return r, bad
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
			return r, bad
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
	t.g.AddStore(buffer)
	return buffer
}
