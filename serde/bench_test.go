package serde_test

import (
	"testing"

	"github.com/eddy-streams/eddy/serde"
)

// The benchmarks call through the Serde interface, as the runtime does, and
// encode into one reused buffer, so AppendEncode should report 0 allocs/op.
// String's Decode allocates once: the string must not alias the caller's buffer.
// Results go to package-level sinks so the compiler cannot drop the work.

var (
	sinkInt64  int64
	sinkString string
)

func BenchmarkInt64(b *testing.B) {
	s := serde.Int64()
	b.Run("AppendEncode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8)
		for i := range b.N {
			var err error
			buf, err = s.AppendEncode(buf[:0], int64(i))
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		in := []byte{0, 0, 0, 0, 0, 0, 4, 0xd2}
		for range b.N {
			v, err := s.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			sinkInt64 = v
		}
	})
}

func BenchmarkString(b *testing.B) {
	s := serde.String()
	const v = "customer-0042:order-1299"
	b.Run("AppendEncode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, len(v))
		for range b.N {
			var err error
			buf, err = s.AppendEncode(buf[:0], v)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		in := []byte(v)
		for range b.N {
			got, err := s.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			sinkString = got
		}
	})
}
