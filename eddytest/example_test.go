package eddytest_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// A windowed count over two partitions, tested without a broker: windows close when the
// watermark of their task passes their end.
func Example() {
	top := topology.New()
	clicks := topology.From(top, "clicks", serde.String(), serde.String())
	perMinute := topology.WindowedCount(topology.WindowBy(topology.GroupByKey(clicks, serde.String(), serde.String()),
		topology.TumblingWindows(time.Minute)), "clicks-per-minute")
	topology.To(perMinute, "counts", topology.WindowedSerde(serde.String()), serde.Int64())

	t := &testing.T{} // in a test, the test's own t
	d := eddytest.New(t, top, eddytest.Partitions("clicks", 2))
	in := eddytest.Input(d, "clicks", serde.String(), serde.String())
	out := eddytest.Output(d, "counts", topology.WindowedSerde(serde.String()), serde.Int64())
	noon := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		user string
		at   time.Duration
	}{{"ann", 10 * time.Second}, {"ann", 50 * time.Second}, {"bob", 20 * time.Second}, {"ann", 70 * time.Second}} {
		if err := in.Send(c.user, "/home", eddytest.At(noon.Add(c.at)), eddytest.ToPartition(0)); err != nil {
			fmt.Println(err)
		}
	}
	for _, r := range out.ReadAll() {
		fmt.Printf("%s %s–%s: %d\n", r.Key.Key, r.Key.Start.Format("15:04"), r.Key.End.Format("15:04"), r.Value)
	}
	// Output:
	// ann 12:00–12:01: 2
	// bob 12:00–12:01: 1
}

// The README's word count test, kept compiling and passing here.
func TestReadmeExample(t *testing.T) {
	d := eddytest.New(t, wordCountOn("text-lines", "word-counts")) // the topology; one partition per topic unless told
	in := eddytest.Input(d, "text-lines", serde.String(), serde.String())
	out := eddytest.Output(d, "word-counts", serde.String(), serde.Int64())
	if err := in.Send("", "the cat and the hat"); err != nil {
		t.Fatal(err)
	}
	want := []eddytest.KeyValue[string, int64]{{"cat", 1}, {"and", 1}, {"the", 2}, {"hat", 1}}
	if got := out.Latest(); !slices.Equal(got, want) { // each word's latest count
		t.Fatalf("counts %v, want %v", got, want)
	}
}
