package runtime

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Offset metadata round-trips, tells eddy's from others', and refuses what it cannot read.
func TestOffsetMeta(t *testing.T) {
	for _, m := range []offsetMeta{
		{ms: 5000, seen: true},
		{ms: -3, seen: true, idle: true},
		{ended: []int32{0, 2, 70}},
		{ms: 42, seen: true, idle: true, ended: []int32{1}},
	} {
		s := m.String()
		got, ok := decodeOffsetMeta(s)
		if !ok || got.ms != m.ms || got.seen != m.seen || got.idle != m.idle || !slices.Equal(got.ended, m.ended) {
			t.Errorf("%+v → %q → %+v, %v", m, s, got, ok)
		}
	}
	if got := (offsetMeta{ms: 5000, seen: true, idle: true}).String(); got != "eddy1:5000:idle" {
		t.Errorf("encoded %q, want eddy1:5000:idle", got)
	}
	for _, s := range []string{"", "member-1-abc", "eddy1:", "eddy1:x", "eddy1:5:what", "eddy1:5:end=zz"} {
		if m, ok := decodeOffsetMeta(s); ok {
			t.Errorf("%q decoded to %+v", s, m)
		}
	}
}

// A partition that leaves takes its failed records with it; others' stay.
func TestForgetPoisoned(t *testing.T) {
	w := &worker{poisoned: map[recordCoord]*poison{
		{"in", 0, 5}: {}, {"in", 0, 9}: {}, {"in", 1, 5}: {}, {"other", 0, 5}: {},
	}}
	w.forgetPoisonedLocked(&partition{topic: "in", partition: 0})
	if len(w.poisoned) != 2 || w.poisoned[recordCoord{"in", 1, 5}] == nil || w.poisoned[recordCoord{"other", 0, 5}] == nil {
		t.Errorf("poisoned after in/0 left: %v", w.poisoned)
	}
}

// Bounded mode: the ends of a downstream partition's upstream tasks hold for one run only.
// Those committed in its offset metadata by an earlier run, and end markers an earlier run
// wrote but did not read, end nothing now: the upstream tasks end again in this run (a
// rerun over new input finished its downstream tasks before their input had come).
func TestEndsOfEarlierRunsAreStale(t *testing.T) {
	const run = 2_000_000
	m := offsetMeta{ms: 42, seen: true, ended: []int32{0, 1}, run: run}
	got, ok := decodeOffsetMeta(m.String())
	if !ok || got.run != run || !slices.Equal(got.ended, m.ended) {
		t.Errorf("%+v → %q → %+v, %v", m, m.String(), got, ok)
	}
	if old, ok := decodeOffsetMeta("eddy1:42:end=3"); !ok || old.run != 0 {
		t.Errorf("metadata without a run decoded to %+v, %v; want run 0 (no run's)", old, ok)
	}

	w := &worker{cfg: &Config{Bounded: true}, plan: &topicPlan{run: run}, poisoned: map[recordCoord]*poison{}}
	tk := &task{w: w}
	p := &partition{topic: "rep", internal: true, expected: 1, next: -1, end: -1, task: tk,
		handler: func(*kgo.Record) error { return nil }}
	tk.parts = []*partition{p}
	end := func(at int64) *kgo.Record {
		// The offset doubles as the run the marker names.
		return &kgo.Record{Topic: "rep", Offset: at, Timestamp: ms(at),
			Headers: []kgo.RecordHeader{{Key: wmHeader, Value: encodeWM(endOfTime, flagMarker|flagEnd, 0, 0)},
				{Key: runHeader, Value: binary.BigEndian.AppendUint64(nil, uint64(at))}}}
	}
	p.queue = append(p.queue, end(run-1))
	if ok, err := tk.processOne(); !ok || err != nil {
		t.Fatalf("processOne = %v, %v", ok, err)
	}
	if p.clock.done || !tk.watermark.IsZero() || p.next != run {
		t.Errorf("after an earlier run's end marker: done %v, watermark %v, next %d; want not done, no watermark, next %d",
			p.clock.done, tk.watermark, p.next, run)
	}
	// Another run's marker stamped after this run started (a host whose clock was ahead)
	// is stale too: the run is a tag, not a time.
	p.queue = append(p.queue, end(run+5))
	if ok, err := tk.processOne(); !ok || err != nil || p.clock.done {
		t.Fatalf("another run's later marker: processOne = %v, %v; done %v, want not done", ok, err, p.clock.done)
	}
	p.queue = append(p.queue, end(run))
	if ok, err := tk.processOne(); !ok || err != nil {
		t.Fatalf("processOne = %v, %v", ok, err)
	}
	if !p.clock.done {
		t.Error("this run's end marker did not end the partition")
	}
}

// FuzzOffsetMeta: offset metadata comes from the broker, written by any client of the
// group, so decoding never panics; a value round-trips (decode(encode(x)) == x); and what
// decodes encodes to a fixed point: it decodes to the same value, and encodes again to
// the same string.
func FuzzOffsetMeta(f *testing.F) {
	for _, m := range []offsetMeta{
		{ms: 5000, seen: true},
		{ms: -3, seen: true, idle: true},
		{ended: []int32{0, 2, 70}},
		{ms: 42, seen: true, idle: true, ended: []int32{1}},
		{},
	} {
		var bitmap []byte
		for _, i := range m.ended {
			bitmap = append(bitmap, byte(i))
		}
		f.Add(m.String(), m.ms, m.seen, m.idle, bitmap)
	}
	for _, s := range []string{"", "member-1-abc", "eddy1:", "eddy1:x", "eddy1:5:what", "eddy1:5:end=zz",
		"eddy1:9223372036854775807:idle:end=ffffffff", "eddy1:-:end=1:idle", "eddy1:+7:end=-6:end=1:idle:idle"} {
		f.Add(s, int64(0), false, false, []byte(nil))
	}
	f.Fuzz(func(t *testing.T, s string, ms int64, seen, idle bool, bitmap []byte) {
		// Any string, as read from a committed offset.
		if m, ok := decodeOffsetMeta(s); ok {
			// The ended upstream partitions are a set: a bit named twice (a repeated
			// ":end=" part) is named once, as endUpstream keeps them.
			slices.Sort(m.ended)
			m.ended = slices.Compact(m.ended)
			enc := m.String()
			again, ok := decodeOffsetMeta(enc)
			if !ok || !sameOffsetMeta(again, m) {
				t.Fatalf("%q decodes to %+v, which encodes to %q, which decodes to %+v (ok %v)", s, m, enc, again, ok)
			}
			if enc2 := again.String(); enc2 != enc {
				t.Fatalf("%q: encodings %q then %q", s, enc, enc2)
			}
		}
		// Any value eddy writes: ms only when seen; the ended upstream partitions, in
		// order and once each (bitmap's bytes name them).
		m := offsetMeta{seen: seen, idle: idle}
		if seen {
			m.ms = ms
		}
		for _, b := range bitmap {
			if !slices.Contains(m.ended, int32(b)) {
				m.ended = append(m.ended, int32(b))
			}
		}
		slices.Sort(m.ended)
		enc := m.String()
		got, ok := decodeOffsetMeta(enc)
		if !ok || !sameOffsetMeta(got, m) {
			t.Fatalf("%+v encodes to %q, which decodes to %+v (ok %v)", m, enc, got, ok)
		}
	})
}

func sameOffsetMeta(a, b offsetMeta) bool {
	return a.ms == b.ms && a.seen == b.seen && a.idle == b.idle && a.run == b.run && slices.Equal(a.ended, b.ended)
}
