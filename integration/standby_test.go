package integration

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// countByKey counts the records of each key of in into out.
func countByKey(in, out string) *topology.Topology {
	t := topology.New()
	s := topology.From(t, in, serde.String(), serde.String())
	counts := topology.Count(topology.GroupByKey(s, serde.String(), serde.String()), "counts")
	topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
	return t
}

// restoresByTask keeps each task's last restore.
type restoresByTask struct {
	mu   sync.Mutex
	last map[processor.TaskID]eddy.RestoreInfo
}

func (r *restoresByTask) observe(ri eddy.RestoreInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[processor.TaskID]eddy.RestoreInfo{}
	}
	r.last[ri.Task] = ri
}

func (r *restoresByTask) get() map[processor.TaskID]eddy.RestoreInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[processor.TaskID]eddy.RestoreInfo, len(r.last))
	for k, v := range r.last {
		out[k] = v
	}
	return out
}

// produceKeys writes one record for each of n keys, k0…k<n-1>.
func produceKeys(t *testing.T, topic string, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range n {
		recs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("x")}
	}
	produceAll(t, recs)
}

// countRound writes one more record of each of keys keys into in and checks that every
// key's count in out reaches n, exactly.
func countRound(t *testing.T, in, out string, keys int, n int64) {
	t.Helper()
	produceKeys(t, in, keys)
	want := map[string]int64{}
	for i := range keys {
		want[fmt.Sprintf("k%d", i)] = n
	}
	got := latestCounts(t, out, want)
	for k, c := range want {
		if got[k] != c {
			t.Errorf("count(%s) = %d, want %d", k, got[k], c)
			return
		}
	}
}

// With a standby replica of each task (StandbyReplicas(1), exactly-once, eddy's defaults
// otherwise), the instance that keeps the copies takes the tasks over when their owner
// stops, and restores from its copies' checkpoints: a small remainder, not the
// changelogs. The counts stay exact through the handover.
func TestStandbyReplicaTakesOver(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "keys"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	const keys = 20000
	opts := []eddy.Opt{eddy.ExactlyOnce(), eddy.StandbyReplicas(1)}

	var aRestores, bRestores restoresByTask
	a := start(t, newDefaultApp(t, countByKey(in, out), appID, append(opts, eddy.OnRestore(aRestores.observe))...))
	countRound(t, in, out, keys, 1)

	bApp := newDefaultApp(t, countByKey(in, out), appID, append(opts, eddy.OnRestore(bRestores.observe))...)
	b := start(t, bApp)
	waitMembersWithPartitions(t, appID, 2, 60*time.Second)
	countRound(t, in, out, keys, 2)

	// b holds a standby of each task a runs; let them tail the last commit.
	mine := bRestores.get()
	deadline := time.Now().Add(30 * time.Second)
	for len(bApp.Status().Replicas) < 4-len(mine) {
		if time.Now().After(deadline) {
			t.Fatalf("b keeps %d standby replicas, want %d (one per task of a)", len(bApp.Status().Replicas), 4-len(mine))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)

	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	// b takes a's tasks over and restores only what its copies had not tailed.
	deadline = time.Now().Add(60 * time.Second)
	for len(bRestores.get()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("b restored %d tasks after a stopped, want 4", len(bRestores.get()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for id, ri := range bRestores.get() {
		if _, before := mine[id]; before {
			continue // b's own since the first rebalance
		}
		t.Logf("task %s taken over: restored %d records, [%d, %d), wiped %v", id, ri.Restored, ri.From, ri.To, ri.Wiped)
		if ri.Wiped || ri.From == 0 || ri.Restored > ri.To/100 {
			t.Errorf("task %s taken over from a standby restored %d of %d changelog records (from %d, wiped %v); want at most 1%%",
				id, ri.Restored, ri.To, ri.From, ri.Wiped)
		}
	}
	countRound(t, in, out, keys, 3)
	if err := b.stop(); err != nil {
		t.Error(err)
	}
}

// An instance joins a group whose tasks hold more state than the acceptable recovery lag
// (eddy's defaults: two warm-ups at a time, 10,000 records): the tasks balance would give
// it stay with their owner and it warms them up first, as replicas; once caught up it
// rejoins and takes them over, restoring only what the warm-ups had not tailed (at most
// the acceptable lag), so no task stops for a full restore.
func TestWarmUpBeforeTakingTasksOver(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "keys"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	const keys = 120000 // about 30,000 per task: three times the acceptable lag
	var bRestores restoresByTask
	a := start(t, newDefaultApp(t, countByKey(in, out), appID, eddy.ExactlyOnce()))
	countRound(t, in, out, keys, 1)

	bApp := newDefaultApp(t, countByKey(in, out), appID, eddy.ExactlyOnce(), eddy.OnRestore(bRestores.observe))
	b := start(t, bApp)
	warmUps := map[string]bool{}
	deadline := time.Now().Add(90 * time.Second)
	for {
		st := bApp.Status()
		for _, r := range st.Replicas {
			if r.WarmUp {
				warmUps[r.ID] = true
			}
		}
		running := 0
		for _, ts := range st.Tasks {
			if ts.State == "running" {
				running++
			}
		}
		if running == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b runs %d tasks 90 s after it joined, want 2 (warm-ups seen: %v)", running, warmUps)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("b warmed up %d tasks before taking them over", len(warmUps))
	if len(warmUps) == 0 {
		t.Error("b took tasks over without warming any up first")
	}
	for id, ri := range bRestores.get() {
		t.Logf("task %s: restored %d records [%d, %d) in %s, wiped %v", id, ri.Restored, ri.From, ri.To, ri.Duration, ri.Wiped)
		if !warmUps[id.String()] {
			t.Errorf("b runs task %s, which it did not warm up first", id)
		}
		if ri.Wiped || ri.Restored > 10000 {
			t.Errorf("task %s restored %d records (wiped %v) after its warm-up; want at most the acceptable lag, 10000", id, ri.Restored, ri.Wiped)
		}
	}
	countRound(t, in, out, keys, 2)
	for _, r := range []*running{a, b} {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	}
}
