package eos

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// fakeWork records the steps a guarantee takes, in order, and fails those it is told to.
type fakeWork struct {
	steps     []string
	flushErr  error
	produce   error
	poisoned  bool
	deferred  bool
	processed error
}

func (f *fakeWork) step(s string)                 { f.steps = append(f.steps, s) }
func (f *fakeWork) Produce(context.Context) error { f.step("produce"); return nil }
func (f *fakeWork) Flush(context.Context) error   { f.step("flush"); return f.flushErr }
func (f *fakeWork) ProduceError() error           { return f.produce }
func (f *fakeWork) DeadLetterFailedOutputs(context.Context) error {
	f.step("dead-letter")
	return nil
}
func (f *fakeWork) PoisonFailedOutputs() bool { f.step("poison"); return f.poisoned }
func (f *fakeWork) Apply() error              { f.step("apply"); return nil }
func (f *fakeWork) Revive()                   { f.step("revive") }
func (f *fakeWork) CommitOffsets(context.Context) (bool, error) {
	f.step("commit-offsets")
	return !f.deferred, nil
}
func (f *fakeWork) OffsetContext(ctx context.Context) context.Context { return ctx }
func (f *fakeWork) TransactionCommitted()                             { f.step("txn-committed") }
func (f *fakeWork) Committed()                                        { f.step("committed") }
func (f *fakeWork) ProcessPolled() error                              { f.step("process"); return f.processed }

// fakeTxn is a transaction whose End commits, aborts or fails as told.
type fakeTxn struct {
	w         *fakeWork
	open      bool
	commitErr error
	abortErr  error
	aborts    bool // the group aborts it (a rebalance)
}

func (t *fakeTxn) Begin() error        { t.open = true; return nil }
func (t *fakeTxn) InTransaction() bool { return t.open }
func (t *fakeTxn) Commit(context.Context) (bool, error) {
	t.w.step("txn-commit")
	t.open = false
	if t.commitErr != nil {
		return false, t.commitErr
	}
	return !t.aborts, nil
}
func (t *fakeTxn) Abort(context.Context) error {
	t.w.step("txn-abort")
	t.open = false
	return t.abortErr
}

func TestAtLeastOnceCommitOrder(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		work fakeWork
		want []string
		err  string
	}{
		// State is applied once its changelog records are acknowledged, then the offsets
		// are committed, then the commit is published.
		{"commits", fakeWork{}, []string{"produce", "flush", "dead-letter", "apply", "commit-offsets", "committed"}, ""},
		// A rebalance deferred the offsets: nothing is published as committed.
		{"deferred", fakeWork{deferred: true}, []string{"produce", "flush", "dead-letter", "apply", "commit-offsets"}, ""},
		// A failed output stops before any state is applied or offset committed.
		{"produce error", fakeWork{produce: errors.New("refused")}, []string{"produce", "flush"}, "refused"},
		{"flush error", fakeWork{flushErr: errors.New("down")}, []string{"produce", "flush"}, "flushing output before commit: down"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.work
			err := AtLeastOnce{}.Commit(ctx, &w)
			if !slices.Equal(w.steps, c.want) {
				t.Errorf("steps %v, want %v", w.steps, c.want)
			}
			if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Errorf("Commit = %v, want %q", err, c.err)
			}
		})
	}
	if err := (AtLeastOnce{}).Replay(ctx, &fakeWork{}); err == nil {
		t.Error("at-least-once replayed a record's effects it cannot roll back")
	}
}

// The exactly-once commit protocol without a broker: the state is applied only after the
// transaction committed; an abort revives the work (buffers, time, queued records) and
// applies nothing; an unknown outcome applies nothing and asks for a new client.
func TestExactlyOnceCommitProtocol(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		work    fakeWork
		txn     fakeTxn
		closed  bool // no transaction open
		want    []string
		unknown bool
		err     string
	}{
		{"committed", fakeWork{}, fakeTxn{},
			false, []string{"produce", "flush", "poison", "txn-commit", "txn-committed", "committed", "apply"}, false, ""},
		{"aborted by the group", fakeWork{}, fakeTxn{aborts: true},
			false, []string{"produce", "flush", "poison", "txn-commit", "revive"}, false, ""},
		{"outcome unknown", fakeWork{}, fakeTxn{commitErr: errors.New("timeout")},
			false, []string{"produce", "flush", "poison", "txn-commit"}, true, "timeout"},
		{"flush fails", fakeWork{flushErr: errors.New("down")}, fakeTxn{},
			false, []string{"produce", "flush"}, true, "down"},
		{"an output failed", fakeWork{produce: errors.New("refused")}, fakeTxn{},
			false, []string{"produce", "flush", "txn-abort"}, false, "refused"},
		{"outputs refused on their own account", fakeWork{poisoned: true}, fakeTxn{},
			false, []string{"produce", "flush", "poison", "txn-abort", "revive"}, false, ""},
		{"no transaction", fakeWork{}, fakeTxn{},
			true, []string{"produce"}, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, txn := c.work, c.txn
			txn.w, txn.open = &w, !c.closed
			err := (&ExactlyOnce{Txn: &txn}).Commit(ctx, &w)
			if !slices.Equal(w.steps, c.want) {
				t.Errorf("steps %v, want %v", w.steps, c.want)
			}
			if errors.Is(err, ErrUnknownOutcome) != c.unknown {
				t.Errorf("Commit = %v; unknown outcome %v, want %v", err, errors.Is(err, ErrUnknownOutcome), c.unknown)
			}
			if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Errorf("Commit = %v, want %q", err, c.err)
			}
			if slices.Contains(w.steps, "apply") && slices.Index(w.steps, "apply") < slices.Index(w.steps, "txn-commit") {
				t.Error("state applied before the transaction committed")
			}
		})
	}
}

func TestExactlyOnceStops(t *testing.T) {
	ctx := context.Background()
	w := &fakeWork{}
	txn := &fakeTxn{w: w, open: true}
	g := &ExactlyOnce{Txn: txn}
	// A clean stop processes everything polled (the transaction commits its offsets),
	// then commits.
	if err := g.StopClean(ctx, w); err != nil {
		t.Fatal(err)
	}
	if want := []string{"process", "produce", "flush", "poison", "txn-commit", "txn-committed", "committed", "apply"}; !slices.Equal(w.steps, want) {
		t.Errorf("clean stop: %v, want %v", w.steps, want)
	}
	// An unknown outcome at a stop is no error: nothing was applied, the next owner
	// restores from the checkpoints.
	w = &fakeWork{}
	txn = &fakeTxn{w: w, open: true, commitErr: errors.New("timeout")}
	if err := (&ExactlyOnce{Txn: txn}).StopClean(ctx, w); err != nil {
		t.Errorf("clean stop with an unknown outcome = %v, want nil", err)
	}
	// After an error the transaction aborts: it holds the failed work's partial output.
	w = &fakeWork{}
	txn = &fakeTxn{w: w, open: true}
	if err := (&ExactlyOnce{Txn: txn}).StopAfterError(ctx, w); err != nil || !slices.Equal(w.steps, []string{"txn-abort"}) {
		t.Errorf("stop after an error: %v, %v; want only an abort", w.steps, err)
	}
	// A processing failure at a clean stop aborts too.
	w = &fakeWork{processed: errors.New("bad record")}
	txn = &fakeTxn{w: w, open: true}
	if err := (&ExactlyOnce{Txn: txn}).StopClean(ctx, w); err == nil || !slices.Equal(w.steps, []string{"process", "txn-abort"}) {
		t.Errorf("clean stop with a failing record: %v, %v", w.steps, err)
	}
}
