package topology_test

import (
	"testing"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The windowed key decoder never panics, and what it decodes encodes back to the same
// bytes.
func FuzzWindowedSerde(f *testing.F) {
	s := topology.WindowedSerde(serde.String())
	f.Add([]byte{})
	f.Add([]byte("key\x00\x00\x00\x00\x00\x00\x03\xe8\x00\x00\x00\x00\x00\x00\x07\xd0"))
	f.Add(make([]byte, 15))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := s.Decode(b)
		if err != nil {
			return
		}
		again, err := s.AppendEncode(nil, w)
		if err != nil || string(again) != string(b) {
			t.Errorf("%q decoded to %v, encoded back to %q (%v)", b, w, again, err)
		}
	})
}
