package runtime

import (
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// wmState is everything readWMEnd makes of a watermark header.
type wmState struct {
	up                   uint64
	st                   upstreamWM
	marker, end, present bool
}

func readHeader(headers ...kgo.RecordHeader) (wmState, []kgo.RecordHeader) {
	rec := &kgo.Record{Headers: headers}
	var s wmState
	s.up, s.st, s.marker, s.end, s.present = readWMEnd(rec)
	return s, rec.Headers
}

// encodeState writes s back as eddy writes a header: the watermark as a time (none when
// it has none), the flags it knows.
func encodeState(s wmState) []byte {
	var wm time.Time
	if s.st.wm != math.MinInt64 {
		wm = time.UnixMilli(s.st.wm)
	}
	var flags byte
	if s.st.idle {
		flags |= flagIdle
	}
	if s.marker {
		flags |= flagMarker
	}
	if s.end {
		flags |= flagEnd
	}
	return encodeWM(wm, flags, int(s.up>>32), int32(uint32(s.up)))
}

// FuzzWatermarkHeader: the eddy-wm header comes from the broker, so reading it never
// panics; a header eddy writes reads back as written; and what reads as a header encodes
// to one that reads the same. A header is taken only at its exact length, and only the
// header is removed: the record's other headers stay, in order.
func FuzzWatermarkHeader(f *testing.F) {
	for _, seed := range [][]byte{
		encodeWM(time.UnixMilli(4999), 0, 0, 1),
		encodeWM(time.Time{}, flagMarker, 1, 0),
		encodeWM(time.UnixMilli(-2), flagMarker|flagIdle, 3, 7),
		encodeWM(time.UnixMilli(1700000000000), flagMarker|flagEnd, math.MaxUint32, math.MaxInt32),
		{},
		make([]byte, 16),
		make([]byte, 18),
	} {
		f.Add(seed, int64(5000), byte(flagMarker), uint32(2), int32(3))
	}
	f.Fuzz(func(t *testing.T, value []byte, ms int64, flags byte, sub uint32, partition int32) {
		// Any bytes, as read from a repartition topic, between two other headers.
		other := []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: wmHeader, Value: value}, {Key: "b"}}
		s, rest := readHeader(other...)
		if s.present != (len(value) == 17) {
			t.Fatalf("%x (%d bytes): read = %v", value, len(value), s.present)
		}
		if s.present && (len(rest) != 2 || rest[0].Key != "a" || rest[1].Key != "b") {
			t.Fatalf("%x: headers left %v, want a and b", value, rest)
		}
		if !s.present && len(rest) != 3 {
			t.Fatalf("%x: headers left %v, want all three", value, rest)
		}
		// The zero time means "no watermark" to encodeWM, so the one instant that is the
		// zero time (0001-01-01 UTC, far before any event time eddy accepts) cannot be
		// written as itself.
		if s.present && !(s.st.wm != math.MinInt64 && time.UnixMilli(s.st.wm).IsZero()) {
			again, _ := readHeader(kgo.RecordHeader{Key: wmHeader, Value: encodeState(s)})
			if again != s {
				t.Fatalf("%x reads as %+v, which encodes to a header that reads as %+v", value, s, again)
			}
		}

		// Any header eddy writes.
		var wm time.Time
		if ms != math.MinInt64 && !time.UnixMilli(ms).IsZero() {
			wm = time.UnixMilli(ms)
		}
		got, _ := readHeader(kgo.RecordHeader{Key: wmHeader, Value: encodeWM(wm, flags, int(sub), partition)})
		want := wmState{up: uint64(sub)<<32 | uint64(uint32(partition)), st: upstreamWM{wm: math.MinInt64, idle: flags&flagIdle != 0},
			marker: flags&flagMarker != 0, end: flags&flagEnd != 0, present: true}
		if !wm.IsZero() {
			want.st.wm = ms
		}
		if got != want {
			t.Fatalf("encodeWM(%d, %08b, %d, %d) reads as %+v, want %+v", ms, flags, sub, partition, got, want)
		}
	})
}

// Only the upstream tasks there are end an internal partition: an end naming another
// (corrupt offset metadata, another topology's marker) counts for nothing.
func TestEndUpstreamIgnoresUnknownTasks(t *testing.T) {
	p := &partition{internal: true, expected: 3}
	for _, up := range []uint64{38, 1<<32 | 7, 3} {
		p.endUpstream(up)
	}
	if p.clock.done || len(p.clock.ended) != 0 {
		t.Fatalf("ends of unknown upstream tasks ended the partition: %+v", p.clock)
	}
	for i := range uint64(3) {
		p.endUpstream(1<<32 | i)
	}
	if !p.clock.done {
		t.Error("the ends of all three upstream tasks did not end the partition")
	}
}
