package integration

import (
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/topology"
)

// The idle-partition fix works as fast with the default commit interval (30 s under
// at-least-once) as with a short one: all clicks come to partition 0 of 3, the two empty
// partitions go idle after 2 s, and the idleness reaches the tasks behind the repartition
// topic at the watermark interval (about 1 s), not at the upstream tasks' next commit.
// Before watermark markers flowed on their own clock, the first window came 30 s after
// the start.
func TestIdleTimeoutWithDefaultCommitInterval(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "clicks"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 3, nil)
	kafkatest.CreateTopic(t, adm, out, 3, nil)
	want := produceClicks(t, in, 0, 200)
	app, err := eddy.New(clickCounts(in, out, topology.IdleTimeout(2*time.Second)),
		eddy.ApplicationID(kafkatest.Topic(t, "app")),
		eddy.Brokers(kafkatest.Bootstrap(t)...),
		eddy.StateDir(t.TempDir()),
		eddy.Logger(testLogger(t)),
		eddy.LowMemoryState())
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	run := start(t, app)
	// Joining the group takes a few seconds, then 2 s of idleness and about 1 s for the
	// markers; 15 s is well short of the 30 s commit interval that used to carry them.
	recs := consumeN(t, out, len(want), 15*time.Second)
	t.Logf("all %d windows %s after the start", len(want), time.Since(started).Round(100*time.Millisecond))
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("windows:\n got %v\nwant %v", got, want)
	}
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := countAll(t, out); n != len(want) {
		t.Errorf("%d window results in %s, want %d (each window once)", n, out, len(want))
	}
}
