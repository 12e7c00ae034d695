package eddy_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// A bounded run leaves real watermarks behind, also across a repartition topic: a second
// bounded run over newer records, with the same application id and state, counts their
// windows. (End-of-input markers carried the end of time as the upstream watermark, the
// task behind the repartition committed it, and the second run took every record there
// as late.)
func TestBoundedRunsInARowBehindARepartition(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"events": 2, "counts": 1})
	top := topology.New()
	s := topology.From(top, "events", serde.String(), serde.String())
	byKey := topology.GroupBy(s, func(k, _ string) string { return k }, serde.String(), serde.String(), topology.Named("by-key"))
	counts := topology.WindowedCount(topology.WindowBy(byKey, topology.TumblingWindows(time.Second)), "win")
	topology.To(topology.Map(counts, func(k topology.Windowed[string], c int64) (string, string) {
		return fmt.Sprintf("%s@%d", k.Key, k.Start.UnixMilli()), fmt.Sprint(c)
	}), "counts", serde.String(), serde.String())
	dir := t.TempDir()
	var want []string
	for run, from := range []int64{1000, 10_000} {
		ref := map[string]int{}
		for p := range int32(2) {
			var recs []timed
			for i := range 40 {
				r := timed{fmt.Sprintf("k%d", i%3), from + int64(i*50) + int64(p)*7}
				recs = append(recs, r)
				ref[fmt.Sprintf("%s@%d", r.key, r.ts/1000*1000)]++
			}
			produceTimed(t, brokers, "events", p, recs...)
		}
		for k, v := range ref {
			want = append(want, fmt.Sprintf("%s=%d", k, v))
		}
		app, err := eddy.New(top, eddy.ApplicationID("twice"), eddy.Brokers(brokers...), eddy.StateDir(dir),
			eddy.Bounded(), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err = app.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("bounded run %d: %v", run, err)
		}
		slices.Sort(want)
		if got := readCounts(t, brokers); !slices.Equal(got, want) {
			t.Errorf("after bounded run %d, windowed counts:\n got %v\nwant %v", run, got, want)
		}
		if late := app.LateRecords("win"); late != 0 {
			t.Errorf("bounded run %d took %d records as late", run, late)
		}
	}
}
