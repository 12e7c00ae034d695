package integration

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

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
	want, _ := produceClicks(t, in, 0, 200)
	app := newDefaultApp(t, clickCounts(in, out, topology.IdleTimeout(2*time.Second)), kafkatest.Topic(t, "app"))
	started := time.Now()
	run := start(t, app)
	// Joining the group takes a few seconds, then 2 s of idleness and about 1 s for the
	// markers; 15 s is well short of the 30 s commit interval that used to carry them.
	n := 0
	consumeUntil(t, out, 15*time.Second, func(*kgo.Record) { n++ }, func() bool { return n >= len(want) })
	t.Logf("all %d windows %s after the start", len(want), time.Since(started).Round(100*time.Millisecond))
	// The stop commits what was processed; whatever the app wrote is in the output then.
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got []string
	for _, r := range readCommitted(t, out) {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("windows, each once:\n got %v\nwant %v", got, want)
	}
}

// Two copies on one host, as a new user starts them (the same application, two
// terminals). Sharing the default state directory, the second stops at once with an
// error that says what to do — a shared directory would mean one process id, so one
// transactional id, and one locked database. Each with its own state directory, they run
// side by side: both hold tasks, and the counts are exact.
func TestTwoInstancesOnOneHost(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	// The defaults, but for the state directory under test.
	newInstance := func(dir string) *eddy.App {
		return newDefaultApp(t, wordCountTopology(in, out), appID, eddy.StateDir(dir))
	}

	shared := t.TempDir()
	first := start(t, newInstance(shared))
	waitMembersWithPartitions(t, appID, 1, 60*time.Second)
	err := newInstance(shared).Run(t.Context())
	if !errors.Is(err, eddy.ErrStateDirInUse) || !strings.Contains(err.Error(), "give each instance its own StateDir") {
		t.Fatalf("second instance on the same StateDir: Run = %v, want ErrStateDirInUse saying what to do", err)
	}
	if err := first.stop(); err != nil {
		t.Fatalf("first instance: %v", err)
	}

	lines, want := corpus(1000, 3)
	produceLines(t, in, lines, 0)
	a, b := start(t, newInstance(t.TempDir())), start(t, newInstance(t.TempDir()))
	waitMembersWithPartitions(t, appID, 2, 60*time.Second)
	got := latestCounts(t, out, want)
	for _, r := range []*running{a, b} {
		if err := r.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("count(%s) = %d, want %d", w, got[w], n)
		}
	}
}

// waitMembersWithPartitions waits until the group is stable with n members, each assigned
// at least one partition, and returns how long that took.
func waitMembersWithPartitions(t *testing.T, group string, n int, timeout time.Duration) time.Duration {
	t.Helper()
	adm := kafkatest.Admin(t)
	began := time.Now()
	deadline := began.Add(timeout)
	for {
		gs, err := adm.DescribeGroups(t.Context(), group)
		if err == nil {
			if g, ok := gs[group]; ok && g.State == "Stable" && len(g.Members) == n {
				all := true
				for _, m := range g.Members {
					if ca, ok := m.Assigned.AsConsumer(); !ok || len(ca.Topics) == 0 {
						all = false
					}
				}
				if all {
					return time.Since(began)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: not %d members with partitions after %s (last: %v, %v)", group, n, timeout, gs, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// After a crash the survivors take the dead instance's tasks once its session times out:
// eddy.SessionTimeout sets it (relayapp passes 6 s), so a kill -9 costs seconds, not
// Kafka's default 45 s.
func TestFailoverAfterKillTakesTheSessionTimeout(t *testing.T) {
	r := newRelay(t, 4)
	a, b := r.launch("a", "-session-timeout", "6s"), r.launch("b", "-session-timeout", "6s")
	waitMembersWithPartitions(t, r.appID, 2, 60*time.Second)
	a.kill(t)
	took := waitMembersWithPartitions(t, r.appID, 1, 25*time.Second)
	t.Logf("the survivor held every task %s after the kill", took.Round(100*time.Millisecond))
	b.terminate(t)
}
