package topology

import (
	"bytes"
	"testing"

	"github.com/eddy-streams/eddy/serde"
)

// The subscription decoder never panics, and what it decodes encodes back to the same
// bytes.
func FuzzSubscriptionSerde(f *testing.F) {
	var s subscriptionSerde
	sub, _ := s.AppendEncode(nil, fkSubscription{hash: [16]byte{1, 2, 3}, key: []byte("order-7")})
	unsub, _ := s.AppendEncode(nil, fkSubscription{unsubscribe: true, key: []byte{}})
	for _, b := range [][]byte{sub, unsub, {}, {0}, {1, 0}, {0, 2}, {0, 0, 1}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := s.Decode(b)
		if err != nil {
			return
		}
		again, err := s.AppendEncode(nil, v)
		if err != nil || !bytes.Equal(again, b) || v.key == nil {
			t.Errorf("% x decoded to %+v, encoded back to % x (%v)", b, v, again, err)
		}
	})
}

// The response decoder never panics, and what it decodes encodes back to the same bytes.
func FuzzResponseSerde(f *testing.F) {
	s := responseSerde[string]{vos: serde.String()}
	for _, r := range []fkResponse[string]{{}, {hasHash: true, hash: [16]byte{9}}, {hasHash: true, found: true, value: "Ann"}, {found: true}} {
		b, _ := s.AppendEncode(nil, r)
		f.Add(b)
	}
	f.Add([]byte{0, 4})
	f.Add([]byte{0, 1, 2})
	f.Add([]byte{0, 0, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := s.Decode(b)
		if err != nil {
			return
		}
		again, err := s.AppendEncode(nil, v)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("% x decoded to %+v, encoded back to % x (%v)", b, v, again, err)
		}
	})
}
