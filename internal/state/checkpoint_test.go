package state

import (
	"bytes"
	"testing"
	"time"
)

// FuzzCheckpoint: a checkpoint is read back from disk, where a crash or another version may
// have left anything, so decoding never panics and refuses what eddy did not write; a
// checkpoint round-trips (decode(encode(c)) == c); and the encoding is fixed-width, so what
// decodes encodes back to the same bytes (and so decodes to the same checkpoint).
func FuzzCheckpoint(f *testing.F) {
	for _, c := range []Checkpoint{
		{TopicID: [16]byte{1, 2, 3}, Offset: 1 << 40, Written: time.UnixMilli(1700000000123)},
		{Offset: 0, Written: time.UnixMilli(0)},
		{TopicID: [16]byte{0xff}, Offset: -1, Written: time.UnixMilli(-1)},
	} {
		f.Add(c.encode(), c.TopicID[:], c.Offset, c.Written.UnixMilli())
	}
	f.Add([]byte{9, 9}, []byte(nil), int64(0), int64(0))
	f.Add([]byte{}, []byte(nil), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, b, topicID []byte, offset, written int64) {
		// Any bytes, as read from the database.
		if c, err := decodeCheckpoint(b); err == nil {
			if enc := c.encode(); !bytes.Equal(enc, b) {
				t.Fatalf("%x decodes to %+v, which encodes to %x", b, c, enc)
			}
		}
		// Any checkpoint eddy writes.
		c := Checkpoint{Offset: offset, Written: time.UnixMilli(written)}
		copy(c.TopicID[:], topicID)
		got, err := decodeCheckpoint(c.encode())
		if err != nil || got.TopicID != c.TopicID || got.Offset != c.Offset || !got.Written.Equal(c.Written) {
			t.Fatalf("%+v encodes to %x, which decodes to %+v, %v", c, c.encode(), got, err)
		}
	})
}
