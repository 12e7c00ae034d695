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

// Versioned tables (KIP-889, KIP-914). A versioned table's store keeps, per key, its
// latest version and the versions before it that are still within the history retention,
// each under its own key, so that the compacted changelog restores them all and a version
// that expires is a tombstone:
//
//	0x00                                   → the table's time: the highest update timestamp
//	0x01 | key                             → the latest version: from (8) | flag (1) | value
//	0x02 | len(key) (4) | key | to (8)     → an older version, valid in [from, to): from (8) | flag (1) | value
//	0x03 | to (8) | key                    → (empty) expiry index: something of key ends at to
//
// Times are milliseconds, big-endian with the sign bit flipped (window stores' encoding),
// so byte order is time order; flag 1 is a value, 0 a deletion. Older versions are keyed
// by the end of their validity: the version valid at t is the first one of its key that
// ends after t, one short forward scan, and the latest needs one Get. A key's versions
// are contiguous, from its first update to its latest: each ends where the next begins.
// Deletions are versions too, not gaps: an update older than a deletion must end at it.
// The expiry index orders everything by the time it stops being needed: a version ending
// at to answers lookups before to, and lookups older than the table's time less the
// retention find nothing, so once to is at or below that it goes; so does a latest
// deletion at or below it (an update older than it would be dropped as too late anyway).
// The latest value never expires.
//
// Three records per in-order update instead of one (the latest, the version it ends, its
// index entry): the price of lookups by time that a compacted changelog restores.

const (
	versionedClock   = 0x00
	versionedLatest  = 0x01
	versionedHistory = 0x02
	versionedExpiry  = 0x03
)

// versionedStore is a versioned table's store: its serdes and history retention.
type versionedStore[K, V any] struct {
	name      string
	ks        serde.Serde[K]
	vs        serde.Serde[V]
	retention int64 // ms
}

// versionedKV is one task's slice of a versioned store.
type versionedKV[K, V any] struct {
	st *versionedStore[K, V]
	b  store.Bytes
	// observed is the table's time (noTableTime: no update yet), read from the store at
	// the first update: a task is built before its stores are restored, and processes
	// only after. expiredTo is the limit up to which the expiry index was last scanned.
	observed, expiredTo int64
	loaded              bool

	kbuf, vbuf, key, hval, lval []byte
}

// noTableTime is the table's time before its first update.
const noTableTime = math.MinInt64

func (s *versionedStore[K, V]) open(env StoreContext) (*versionedKV[K, V], error) {
	b, err := env.Store(s.name)
	if err != nil {
		return nil, err
	}
	st := s
	if app, ok := env.(interface{ ApplicationID() string }); ok {
		// A copy whose serdes serve the store's changelog (serde.TopicSerde), for this task.
		bound := *s
		bound.ks, bound.vs = storeSerde(app, s.name, s.ks, true), storeSerde(app, s.name, s.vs, false)
		st = &bound
	}
	return &versionedKV[K, V]{st: st, b: b, observed: noTableTime, expiredTo: noTableTime}, nil
}

// clock reads the table's time from the store.
func (s *versionedKV[K, V]) clock() (int64, error) {
	t := int64(noTableTime)
	_, err := s.b.Get([]byte{versionedClock}, func(v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("versioned store %s: its time has %d bytes", s.st.name, len(v))
		}
		t = readTime(v)
		return nil
	})
	return t, err
}

// horizon is the oldest time lookups answer for: the table's time less the retention.
func (s *versionedKV[K, V]) horizon(observed int64) int64 {
	if observed == noTableTime {
		return noTableTime
	}
	return observed - s.st.retention
}

func (s *versionedKV[K, V]) encodeKey(k K) ([]byte, error) {
	var err error
	if s.kbuf, err = s.st.ks.AppendEncode(s.kbuf[:0], k); err != nil {
		return nil, fmt.Errorf("versioned store %s: encode key: %w", s.st.name, err)
	}
	return s.kbuf, nil
}

func latestKey(dst, kb []byte) []byte { return append(append(dst[:0], versionedLatest), kb...) }

func historyKey(dst, kb []byte, to int64) []byte {
	dst = binary.BigEndian.AppendUint32(append(dst[:0], versionedHistory), uint32(len(kb)))
	return appendTime(append(dst, kb...), to)
}

func expiryKey(dst, kb []byte, to int64) []byte {
	return append(appendTime(append(dst[:0], versionedExpiry), to), kb...)
}

// latest reads kb's latest version into s.lval (its value bytes).
func (s *versionedKV[K, V]) latest(kb []byte) (from int64, deleted, found bool, err error) {
	s.key = latestKey(s.key, kb)
	found, err = s.b.Get(s.key, func(v []byte) error {
		if len(v) < 9 {
			return fmt.Errorf("versioned store %s: a latest version of %d bytes", s.st.name, len(v))
		}
		from, deleted = readTime(v), v[8] == 0
		s.lval = append(s.lval[:0], v[9:]...)
		return nil
	})
	if err != nil {
		err = fmt.Errorf("versioned store %s: %w", s.st.name, err)
	}
	return from, deleted, found, err
}

// after finds kb's first older version that ends after t: its end, start, whether it is a
// deletion, and its value (in s.hval).
func (s *versionedKV[K, V]) after(kb []byte, t int64) (to, from int64, deleted, found bool, err error) {
	lo := historyKey(nil, kb, t+1)
	hi := append(historyKey(nil, kb, math.MaxInt64), 0)
	it, err := s.b.Range(lo, hi)
	if err != nil {
		return 0, 0, false, false, fmt.Errorf("versioned store %s: %w", s.st.name, err)
	}
	if it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) < 8 || len(v) < 9 {
			err = fmt.Errorf("versioned store %s: a version of %d, %d bytes", s.st.name, len(k), len(v))
		} else {
			to, from, deleted, found = readTime(k[len(k)-8:]), readTime(v), v[8] == 0, true
			s.hval = append(s.hval[:0], v[9:]...)
		}
	}
	if ierr := it.Err(); err == nil && ierr != nil {
		err = fmt.Errorf("versioned store %s: %w", s.st.name, ierr)
	}
	if cerr := it.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("versioned store %s: %w", s.st.name, cerr)
	}
	return to, from, deleted, found, err
}

// flag is a version's flag byte.
func flag(deleted bool) byte {
	if deleted {
		return 0
	}
	return 1
}

// putHistory writes kb's older version valid in [from, to) (a value, or a deletion) and
// its index entry.
func (s *versionedKV[K, V]) putHistory(kb []byte, to, from int64, deleted bool, value []byte) {
	s.vbuf = append(append(appendTime(s.vbuf[:0], from), flag(deleted)), value...)
	s.b.Put(historyKey(s.key, kb, to), s.vbuf)
	s.b.Put(expiryKey(s.key, kb, to), []byte{})
}

// putResult is what an update did: dropped (older than the history keeps), latest (it is
// the key's newest change, to pass downstream), and the value it replaced.
type putResult[V any] struct {
	dropped, latest bool
	old             V
	hadOld          bool
}

// put applies an update (a value, or a deletion) at time at; wantOld asks for the value
// an in-order update replaces.
func (s *versionedKV[K, V]) put(k K, v V, deleted bool, at time.Time, wantOld bool) (res putResult[V], err error) {
	if !s.loaded {
		if s.observed, err = s.clock(); err != nil {
			return res, err
		}
		s.loaded = true
	}
	ts := at.UnixMilli()
	if s.observed != noTableTime && ts < s.horizon(s.observed) {
		res.dropped = true
		return res, nil
	}
	kb, err := s.encodeKey(k)
	if err != nil {
		return res, err
	}
	var vb []byte
	if !deleted {
		if vb, err = s.st.vs.AppendEncode(nil, v); err != nil {
			return res, fmt.Errorf("versioned store %s: encode value: %w", s.st.name, err)
		}
	}
	if ts > s.observed {
		s.observed = ts
		s.b.Put([]byte{versionedClock}, appendTime(nil, ts))
	}
	from, ldel, has, err := s.latest(kb)
	if err != nil {
		return res, err
	}
	if !has || ts >= from {
		// In order: the newest change of the key; the latest version before it ends at ts.
		if has && !ldel && wantOld {
			if res.old, err = s.st.vs.Decode(s.lval); err != nil {
				return res, fmt.Errorf("versioned store %s: decode value: %w", s.st.name, err)
			}
			res.hadOld = true
		}
		if has && ts > from {
			s.putHistory(kb, ts, from, ldel, s.lval)
		}
		if deleted {
			s.b.Put(expiryKey(s.key, kb, ts), []byte{})
		}
		s.vbuf = append(append(appendTime(s.vbuf[:0], ts), flag(deleted)), vb...)
		s.b.Put(latestKey(s.key, kb), s.vbuf)
		res.latest = true
		return res, s.expire()
	}
	// Out of order: into the history, where the version at ts begins.
	to, hfrom, hdel, found, err := s.after(kb, ts)
	if err != nil {
		return res, err
	}
	switch {
	case found && hfrom <= ts:
		// Inside the version [hfrom, to): it now ends at ts, and [ts, to) is the update.
		if hfrom < ts {
			s.putHistory(kb, ts, hfrom, hdel, s.hval)
		}
		s.putHistory(kb, to, ts, deleted, vb)
	case found:
		// Before the key's first version: valid until it begins.
		s.putHistory(kb, hfrom, ts, deleted, vb)
	default:
		// Before the latest, the key's only version.
		s.putHistory(kb, from, ts, deleted, vb)
	}
	return res, s.expire()
}

// expire deletes what the table's time has moved past (see the layout), scanning the
// expiry index from where the last scan ended. It scans once the horizon has moved a
// sixteenth of the retention: lookups check the horizon themselves, so expiring late
// only keeps the store larger for a while.
func (s *versionedKV[K, V]) expire() error {
	limit := s.horizon(s.observed)
	if limit == noTableTime || s.expiredTo != noTableTime && limit < s.expiredTo+max(1, s.st.retention/16) {
		return nil
	}
	lo := []byte{versionedExpiry}
	if s.expiredTo != noTableTime {
		lo = appendTime(lo, s.expiredTo+1)
	}
	it, err := s.b.Range(lo, appendTime([]byte{versionedExpiry}, limit+1))
	if err != nil {
		return fmt.Errorf("versioned store %s: %w", s.st.name, err)
	}
	var gone [][]byte
	for it.Next() {
		gone = append(gone, append([]byte(nil), it.Key()...))
	}
	if err := endScan(it, nil, "versioned", s.st.name); err != nil {
		return err
	}
	for _, k := range gone {
		if len(k) < 9 {
			continue
		}
		to, kb := readTime(k[1:9]), k[9:]
		s.b.Delete(k)
		hk := historyKey(nil, kb, to)
		if found, err := s.b.Get(hk, func([]byte) error { return nil }); err != nil {
			return fmt.Errorf("versioned store %s: %w", s.st.name, err)
		} else if found {
			s.b.Delete(hk)
		}
		from, deleted, found, err := s.latest(kb)
		if err != nil {
			return err
		}
		if found && deleted && from <= limit {
			s.b.Delete(latestKey(nil, kb))
		}
	}
	s.expiredTo = limit
	return nil
}

// get returns k's latest value.
func (s *versionedKV[K, V]) get(k K) (v V, found bool, err error) {
	kb, err := s.encodeKey(k)
	if err != nil {
		return v, false, err
	}
	_, deleted, has, err := s.latest(kb)
	if err != nil || !has || deleted {
		return v, false, err
	}
	return s.decode(s.lval)
}

// getAt returns k's value as of time at: the version valid then, if at is within the
// history retention of the table's time.
func (s *versionedKV[K, V]) getAt(k K, at time.Time) (v V, found bool, err error) {
	ts := at.UnixMilli()
	// The materializing step moves the table's time; a join's view reads it each time.
	observed, err := s.clock()
	if err != nil || observed == noTableTime || ts < s.horizon(observed) {
		return v, false, err
	}
	kb, err := s.encodeKey(k)
	if err != nil {
		return v, false, err
	}
	from, deleted, has, err := s.latest(kb)
	if err != nil {
		return v, false, err
	}
	if has && ts >= from {
		if deleted {
			return v, false, nil
		}
		return s.decode(s.lval)
	}
	_, hfrom, hdel, found, err := s.after(kb, ts)
	if err != nil || !found || hfrom > ts || hdel {
		return v, false, err
	}
	return s.decode(s.hval)
}

func (s *versionedKV[K, V]) decode(b []byte) (V, bool, error) {
	v, err := s.st.vs.Decode(b)
	if err != nil {
		return v, false, fmt.Errorf("versioned store %s: decode value: %w", s.st.name, err)
	}
	return v, true, nil
}

// each walks every key's latest value (deleted keys left out).
func (s *versionedKV[K, V]) each(fn func(K, V) error) error {
	it, err := s.b.Range([]byte{versionedLatest}, []byte{versionedLatest + 1})
	if err != nil {
		return fmt.Errorf("versioned store %s: %w", s.st.name, err)
	}
	var ferr error
	for it.Next() {
		k, v := it.Key(), it.Value()
		if len(v) < 9 || v[8] == 0 {
			continue
		}
		key, err := s.st.ks.Decode(k[1:])
		if err != nil {
			ferr = fmt.Errorf("versioned store %s: decode key: %w", s.st.name, err)
			break
		}
		val, err := s.st.vs.Decode(v[9:])
		if err != nil {
			ferr = fmt.Errorf("versioned store %s: decode value: %w", s.st.name, err)
			break
		}
		if ferr = fn(key, val); ferr != nil {
			break
		}
	}
	return endScan(it, ferr, "versioned", s.st.name)
}

// view is the versioned table's reader: latest values, and values as of a time.
func (s *versionedStore[K, V]) view() view[K, V] {
	return func(env graph.Env) (reader[K, V], error) {
		kv, err := s.open(env)
		if err != nil {
			return reader[K, V]{}, err
		}
		return reader[K, V]{each: kv.each, get: kv.get, at: kv.getAt}, nil
	}
}

// versionedTable materializes a table's updates in a versioned store (TableFrom with
// Versioned). An update older than the key's latest version goes into its history only;
// the step passes on the newest changes (KIP-914), so what follows the table sees its
// latest values change in order. One older than the history keeps is dropped, and
// counted as late.
func versionedTable[K, V any](t *Topology, changes Stream[K, Change[V]], name string, ks serde.Serde[K], vs serde.Serde[V],
	retention time.Duration) Table[K, V] {
	st := &versionedStore[K, V]{name: name, ks: ks, vs: vs, retention: retention.Milliseconds()}
	gs := t.g.AddStore(name)
	gs.Kind, gs.View = graph.VersionedStore, viewVersions
	needOld := new(bool)
	mat := processorNode(changes, name+"-materialize",
		func(tb *graph.TaskBuild, out *outlets[K, Change[V]]) (next[K, Change[V]], error) {
			n, err := out.compile(tb)
			if err != nil {
				return nil, err
			}
			kv, err := st.open(tb.Env)
			if err != nil {
				return nil, err
			}
			sendOld, env := *needOld, tb.Env
			return func(r processor.Record[K, Change[V]]) error {
				res, err := kv.put(r.Key, r.Value.Value, r.Value.Deleted, r.Timestamp, sendOld)
				switch {
				case err != nil:
					return fmt.Errorf("table %s: %w", name, err)
				case res.dropped:
					env.LateRecord(name)
					return nil
				case !res.latest:
					return nil
				}
				if sendOld {
					r.Value.Old, r.Value.HadOld = res.old, res.hadOld
				}
				return n(r)
			}, nil
		})
	t.g.Connect(mat.node, name)
	return Table[K, V]{s: mat, view: st.view(), root: name, old: needOld, history: retention, ks: ks, vs: vs}
}

// lookup reads k from a table for a stream record at time at: the version valid then for
// a versioned table, else the current value.
func (r reader[K, V]) lookup(k K, at time.Time) (V, bool, error) {
	if r.at != nil {
		return r.at(k, at)
	}
	return r.get(k)
}
