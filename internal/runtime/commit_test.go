package runtime

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/eos"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// txnOutcome is a transaction whose End commits, aborts or fails as told.
type txnOutcome struct {
	open      bool
	aborts    bool
	commitErr error
}

func (t *txnOutcome) Begin() error        { t.open = true; return nil }
func (t *txnOutcome) InTransaction() bool { return t.open }
func (t *txnOutcome) Commit(context.Context) (bool, error) {
	t.open = false
	return !t.aborts && t.commitErr == nil, t.commitErr
}
func (t *txnOutcome) Abort(context.Context) error { t.open = false; return nil }

// commitFixture is a worker with one task (one store, one input partition) whose
// producer writes to an in-process cluster, and whose transaction is txn.
type commitFixture struct {
	w      *worker
	t      *task
	p      *partition
	kv     *state.KV
	builds int
}

func newCommitFixture(t *testing.T, txn eos.Transactions) *commitFixture {
	t.Helper()
	const topic = "app-counts-changelog"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	mgr := state.NewManager(store.NewMemory())
	f := &commitFixture{}
	g := graph.New()
	g.Add(&graph.Node{Name: "src", Kind: graph.Source, Topics: []string{"in"}, Build: func(*graph.TaskBuild) (graph.Handler, error) {
		f.builds++
		return func(*kgo.Record) error { return nil }, nil
	}})
	w := &worker{
		stop: context.Background(), cfg: &Config{}, g: g, log: slog.New(slog.DiscardHandler), cl: cl, tx: cl, mgr: mgr,
		plan:     &topicPlan{changelogs: map[string]*changelogTopic{topic: {partitions: 1, id: [16]byte{7}}}},
		tasks:    map[processor.TaskID]*task{},
		parts:    map[topicPartition]*partition{},
		poisoned: map[recordCoord]*poison{},

		guarantee: &eos.ExactlyOnce{Txn: txn}, commitTimeout: 10 * time.Second,
		stats: newCommitStats(nil, 0),
	}
	w.promise = w.produced
	kv, err := mgr.Open(0, 0, "counts")
	if err != nil {
		t.Fatal(err)
	}
	tk := &task{id: processor.TaskID{}, w: w, kvs: []*state.KV{kv}, stores: map[string]*state.KV{"counts": kv},
		changelogs: []string{topic}}
	if tk.g, err = buildTask(g, 0, tk); err != nil {
		t.Fatal(err)
	}
	p := &partition{topic: "in", next: -1, committed: -1, replayFrom: -1, end: -1, task: tk}
	tk.parts = []*partition{p}
	w.addTaskLocked(tk)
	w.parts[topicPartition{"in", 0}] = p
	f.w, f.t, f.p, f.kv = w, tk, p, kv
	return f
}

// work changes everything an abort must undo: a buffered write, the partition's clock, the
// task's watermark, a poisoned record handled in the transaction.
func (f *commitFixture) work() {
	f.kv.Put([]byte("k"), []byte("v"))
	f.p.clock = timeState{maxTime: time.UnixMilli(9000), seen: true, idle: true, done: true}
	f.t.watermark = time.UnixMilli(8999)
	f.p.next = 10
	f.w.poisoned[recordCoord{"in", 0, 4}] = &poison{err: &graph.RecordError{Kind: graph.Processing}, handled: true}
}

func (f *commitFixture) stored(t *testing.T) bool {
	t.Helper()
	f.kv.Buffer().Reset() // read the database only
	found, err := f.kv.Get([]byte("k"), func([]byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// The exactly-once commit on the runtime's own state, without a broker's transactions: a
// committed transaction applies the buffer with its checkpoint and snapshots the time; an
// aborted one rolls back the buffer, the clock, the watermark and the handled poison
// records, and rebuilds the processors; an unknown outcome applies nothing and asks for
// a new client.
func TestExactlyOnceCommitOnTheWorkersState(t *testing.T) {
	committedClock := timeState{maxTime: time.UnixMilli(5000), seen: true}

	t.Run("aborted", func(t *testing.T) {
		txn := &txnOutcome{open: true, aborts: true}
		f := newCommitFixture(t, txn)
		f.p.clock, f.p.committedClock = committedClock, committedClock.clone()
		f.t.watermark, f.t.committedWatermark = time.UnixMilli(4999), time.UnixMilli(4999)
		f.work()
		if err := f.w.commitLocked(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f.kv.Buffer().Len() != 0 || f.stored(t) {
			t.Error("an aborted transaction's write survived")
		}
		if f.p.clock.maxTime != committedClock.maxTime || f.p.clock.idle || f.p.clock.done || !f.t.watermark.Equal(time.UnixMilli(4999)) {
			t.Errorf("time not rolled back: clock %+v, watermark %v", f.p.clock, f.t.watermark)
		}
		if ps := f.w.poisoned[recordCoord{"in", 0, 4}]; ps == nil || ps.handled {
			t.Errorf("poisoned record after the abort: %+v, want kept and to be handled again", ps)
		}
		if f.builds != 2 {
			t.Errorf("processors built %d times, want 2 (rebuilt after the abort)", f.builds)
		}
		if a, c := f.w.stats.aborts.Load(), f.w.stats.commits.Load(); a != 1 || c != 0 {
			t.Errorf("counted %d aborts and %d commits, want 1 and 0", a, c)
		}
	})

	t.Run("committed", func(t *testing.T) {
		txn := &txnOutcome{open: true}
		f := newCommitFixture(t, txn)
		f.work()
		if err := f.w.commitLocked(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !f.stored(t) {
			t.Error("a committed transaction's write is not in the database")
		}
		cp, found, err := f.w.mgr.Checkpoint(f.kv)
		if err != nil || !found || cp.Offset != 1 || cp.TopicID != [16]byte{7} {
			t.Errorf("checkpoint %+v, %v, %v; want offset 1 (one past the acknowledged record) of topic 7", cp, found, err)
		}
		if f.p.committedClock.maxTime != time.UnixMilli(9000) || !f.t.committedWatermark.Equal(time.UnixMilli(8999)) {
			t.Errorf("time not snapshotted: %+v, %v", f.p.committedClock, f.t.committedWatermark)
		}
		if f.p.committed != 10 || len(f.w.poisoned) != 0 {
			t.Errorf("after the commit: committed offset %d (want 10), poisoned %v (want none)", f.p.committed, f.w.poisoned)
		}
		if a, c := f.w.stats.aborts.Load(), f.w.stats.commits.Load(); a != 0 || c != 1 || f.w.stats.latency.Count() != 1 {
			t.Errorf("counted %d aborts, %d commits, %d latencies; want 0, 1 and 1", a, c, f.w.stats.latency.Count())
		}
	})

	// State that changed with no record polled (windows closed by a watermark that
	// idleness moved) opens the transaction its changelog records go in, and commits.
	t.Run("state changed outside a transaction", func(t *testing.T) {
		txn := &txnOutcome{}
		f := newCommitFixture(t, txn)
		f.kv.Put([]byte("k"), []byte("v"))
		if err := f.w.commitLocked(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !f.stored(t) {
			t.Error("the write was not committed")
		}
	})

	t.Run("outcome unknown", func(t *testing.T) {
		txn := &txnOutcome{open: true, commitErr: errors.New("request timed out")}
		f := newCommitFixture(t, txn)
		f.work()
		err := f.w.commitLocked(context.Background())
		if !errors.Is(err, errRecreate) {
			t.Fatalf("commit = %v, want an unknown outcome", err)
		}
		if f.stored(t) {
			t.Error("a write was applied on a guess")
		}
	})
}
