package integration

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Rebalances under exactly-once cost a commit, not a replay: copies of the smoke
// application join and leave the group (cleanly, no kill) while records flow, and no
// output record is aborted — a member losing tasks commits its open transaction before it
// gives them up, as Kafka Streams does. The committed output is verified exactly as under
// kill -9.
func TestRebalancesCommitInsteadOfAborting(t *testing.T) {
	s := newSmoke(t, "exactly_once", 5)
	s.start("a")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.generate(30000, 50, 20*time.Millisecond) // about 2,500 records/s for 12 s
	}()
	// Four changes of membership while the records flow: two joins, a clean leave and a
	// join again. Each costs the group one or two rebalances (cooperative: the tasks
	// that move are revoked in one and assigned in the next).
	changes := []func(){
		func() { s.start("b") },
		func() { s.start("c") },
		func() { s.procs["b"].terminate(t) },
		func() { s.start("b") },
	}
	for _, change := range changes {
		time.Sleep(2500 * time.Millisecond)
		change()
	}
	wg.Wait()
	s.settle(3 * time.Minute)
	s.stopAll()
	s.verify(true)

	outputs := []string{s.input + "-echo", s.input + "-sum", s.input + "-count", s.input + "-windows",
		s.input + "-enriched", s.input + "-paired", s.appID + "-digits-repartition"}
	written, aborted := 0, 0
	for _, topic := range outputs {
		all, committed := countRecords(readAll(t, topic, kgo.ReadUncommitted())), countRecords(readAll(t, topic, kgo.ReadCommitted()))
		written += all
		aborted += all - committed
	}
	revokes, aborts := 0, 0
	for _, p := range s.all {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			t.Fatal(err)
		}
		revokes += strings.Count(string(b), "msg=\"partitions revoked\"")
		aborts += strings.Count(string(b), "transaction aborted")
	}
	t.Logf("%d membership changes, %d revocations: %d of %d output records aborted (%d transactions)",
		len(changes), revokes, aborted, written, aborts)
	if revokes == 0 {
		t.Fatal("no member gave up a task: the test did not rebalance")
	}
	if aborted != 0 || aborts != 0 {
		t.Errorf("rebalances aborted %d output records in %d transactions; want none", aborted, aborts)
	}
}

func countRecords(parts map[int32][]*kgo.Record) int {
	n := 0
	for _, recs := range parts {
		n += len(recs)
	}
	return n
}
