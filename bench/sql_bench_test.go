package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
)

// The record cost of the windowed count in the DSL and in SQL, without a broker: each
// record sent through the in-memory driver (its own cost is the same for both), 10k keys,
// 100-byte values, one partition, 1000 records per second of event time.
//
//	go test -run XXX -bench WindowedCount -benchmem ./bench
func BenchmarkWindowedCount(b *testing.B) {
	value := make([]byte, 100)
	for _, p := range []Pipeline{Windowed, SQLWindowed} {
		b.Run(string(p), func(b *testing.B) {
			top, err := EddyTopology(ChildConfig{Pipeline: p, Input: "in", Output: "out"}, func() {})
			if err != nil {
				b.Fatal(err)
			}
			d := eddytest.New(b, top)
			in := eddytest.Input(d, "in", serde.String(), serde.Bytes())
			keys := make([]string, 100)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%d", i)
			}
			t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := in.Send(keys[i%len(keys)], value, eddytest.At(t0.Add(time.Duration(i)*time.Millisecond))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
