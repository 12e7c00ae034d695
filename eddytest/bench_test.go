package eddytest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// What a record costs in the driver: a Send that processes it to the end — through a
// repartition topic and a count, or into a window — on four partitions.
func BenchmarkDriverSend(b *testing.B) {
	for _, c := range []struct {
		name  string
		build func() *topology.Topology
		in    string
	}{
		{"count-through-repartition", wordCount, "lines"},
		{"tumbling-window", func() *topology.Topology { return windowed("") }, "events"},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := eddytest.New(b, c.build(), eddytest.DefaultPartitions(4))
			in := eddytest.Input(d, c.in, serde.String(), serde.String())
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprintf("k%d", i)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := in.Send(keys[i%len(keys)], keys[i%len(keys)], eddytest.At(t0.Add(time.Duration(i)*time.Millisecond))); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
