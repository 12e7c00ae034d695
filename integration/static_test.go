package integration

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
)

// joins counts the JoinGroup responses a client reads: every member of a group rejoins
// in each rebalance, so a member that reads none took part in none.
type joins struct{ n atomic.Int64 }

func (j *joins) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 11 && err == nil { // JoinGroup
		j.n.Add(1)
	}
}

// restoreTally adds up what an instance's stores restored.
type restoreTally struct {
	mu            sync.Mutex
	records       int64
	wiped, stores int
}

func (r *restoreTally) observe(ri eddy.RestoreInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records += ri.Restored
	r.stores++
	if ri.Wiped {
		r.wiped++
	}
}

// A rolling restart of static members (StaticMembership): each instance in turn stops
// and starts again under its id, with its state directory, within the session timeout.
// The other instance takes part in no rebalance (it reads no JoinGroup response), the
// restarted one gets its tasks back and restores nothing from the changelogs (its stores
// are on its disk, checkpointed at the clean stop), and the counts stay exact.
func TestStaticMembershipRollingRestart(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	type instance struct {
		id, dir  string
		joins    *joins
		restores *restoreTally
		app      *eddy.App
		run      *running
	}
	launch := func(id, dir string) *instance {
		i := &instance{id: id, dir: dir, joins: &joins{}, restores: &restoreTally{}}
		// eddy's defaults (30 s commits, a 45 s session timeout) but for the id and the
		// test's instruments: what a user who only sets StaticMembership gets.
		i.app = newDefaultApp(t, wordCountTopology(in, out), appID, eddy.StateDir(dir), eddy.StaticMembership(id),
			eddy.OnRestore(i.restores.observe), eddy.ClientOpts(kgo.WithHooks(i.joins)))
		i.run = start(t, i.app)
		return i
	}
	waitReady := func(i *instance) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !i.app.Ready() {
			if time.Now().After(deadline) {
				t.Fatalf("instance %s not running its tasks 60 s after its start (state %v)", i.id, i.app.State())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	a, b := launch("a", t.TempDir()), launch("b", t.TempDir())
	waitMembersWithPartitions(t, appID, 2, 60*time.Second)
	waitReady(a)
	waitReady(b)

	lines, want := corpus(2000, 7)
	produceLines(t, in, lines[:1000], 0)
	half := map[string]int64{}
	for _, l := range lines[:1000] {
		for _, w := range strings.Fields(l) {
			half[w]++
		}
	}
	latestCounts(t, out, half)

	instances := []*instance{a, b}
	for k, old := range instances {
		other := instances[1-k]
		before := other.joins.n.Load()
		if err := old.run.stop(); err != nil {
			t.Fatalf("stopping %s: %v", old.id, err)
		}
		restarted := launch(old.id, old.dir)
		waitReady(restarted)
		instances[k] = restarted
		if got := other.joins.n.Load() - before; got != 0 {
			t.Errorf("restarting %s: %s took part in %d rebalances, want none", old.id, other.id, got)
		}
		if got := restarted.joins.n.Load(); got != 1 {
			t.Errorf("restarted %s joined %d times, want once (its old assignment back)", old.id, got)
		}
		restarted.restores.mu.Lock()
		if restarted.restores.records != 0 || restarted.restores.wiped != 0 || restarted.restores.stores == 0 {
			t.Errorf("restarted %s: %d stores restored %d records (%d wiped), want its stores back with nothing to restore",
				old.id, restarted.restores.stores, restarted.restores.records, restarted.restores.wiped)
		}
		restarted.restores.mu.Unlock()
	}

	produceLines(t, in, lines[1000:], 1000)
	got := latestCounts(t, out, want)
	for w, n := range want {
		if got[w] != n {
			t.Errorf("count(%s) = %d, want %d", w, got[w], n)
		}
	}
	for _, i := range instances {
		if err := i.run.stop(); err != nil {
			t.Errorf("stopping %s: %v", i.id, err)
		}
	}
}

// Two running instances under one static id: the newer one takes the tasks, and the
// older one's Run stops with an error that says so, rather than rejoining and fencing the
// newer one in turn. The newer one then counts everything exactly.
func TestStaticMembershipDuplicateIDStopsTheOlder(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 2, nil)
	kafkatest.CreateTopic(t, adm, out, 2, nil)
	appID := kafkatest.Topic(t, "app")
	older := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.StaticMembership("dup")))
	waitMembersWithPartitions(t, appID, 1, 60*time.Second)
	newer := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.StaticMembership("dup")))
	select {
	case err := <-older.done:
		older.done <- err
		if err == nil || !strings.Contains(err.Error(), "StaticMembership id (dup-0)") || !strings.Contains(err.Error(), "give each instance its own id") {
			t.Fatalf("the older instance's Run = %v, want an error naming the shared id", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the older instance still runs 60 s after another joined under its id")
	}
	lines, want := corpus(500, 3)
	produceLines(t, in, lines, 0)
	got := latestCounts(t, out, want)
	for w, n := range want {
		if got[w] != n {
			t.Errorf("count(%s) = %d, want %d", w, got[w], n)
		}
	}
	if err := newer.stop(); err != nil {
		t.Errorf("the newer instance: %v", err)
	}
}
