package eos

import (
	"context"
	"errors"
	"fmt"
)

// ErrUnknownOutcome marks a commit whose outcome is unknown (the transaction's End
// failed): the worker closes its client and makes a new one, and its tasks restore from
// their checkpoints. A buffer is never applied on a guess.
var ErrUnknownOutcome = errors.New("eos: transaction outcome unknown")

// Work is a worker's side of a commit: the steps a Guarantee orders. The worker holds its
// tasks' write buffers, time state and queued records; the guarantee decides when each
// becomes durable and what an abort undoes.
type Work interface {
	// Produce writes what the commit carries besides the output already sent: the
	// watermark markers and each changed store key's last value to its changelog.
	Produce(ctx context.Context) error
	// Flush waits until every produced record is acknowledged or failed.
	Flush(ctx context.Context) error
	// ProduceError is the first produce failure that stops the application (nil: none).
	ProduceError() error
	// DeadLetterFailedOutputs writes the inputs of outputs that failed on their own
	// account (too large, refused) to the dead-letter topic and flushes them.
	DeadLetterFailedOutputs(ctx context.Context) error
	// PoisonFailedOutputs marks the inputs of outputs that failed on their own account for
	// handling before any effect on the replay, and reports whether there were any.
	PoisonFailedOutputs() bool
	// Apply writes the flushed write buffers to the local database, each store's
	// checkpoint after its data, and records the tasks' time state as committed.
	Apply() error
	// Revive undoes everything since the last commit after an abort: queued records and
	// buffered writes dropped, processors rebuilt, time state rolled back, consumer
	// rewound. The database was never touched.
	Revive()
	// CommitOffsets commits the offsets after the processed records, with the
	// watermarks in their metadata (at-least-once). It reports false with a nil error
	// when a rebalance deferred the commit (the offsets go with the revocation's commit
	// or the next one); nothing to commit is a success.
	CommitOffsets(ctx context.Context) (bool, error)
	// TransactionCommitted records every partition's position as committed: a
	// transaction commits the offsets of everything polled, and all of it was processed.
	TransactionCommitted()
	// OffsetContext is ctx carrying the offset metadata for a transactional commit.
	OffsetContext(ctx context.Context) context.Context
	// Committed tells the worker the commit is complete: what it marked as pending
	// (failure counts, handled poison records, finished tasks) is published, and consumed
	// records below the committed offsets may be purged.
	Committed()
	// ProcessPolled processes every polled record (a transaction commits the offsets of
	// all of them).
	ProcessPolled() error
}

// Guarantee is a delivery guarantee's commit protocol, driven by one worker's goroutine:
// AtLeastOnce or ExactlyOnce. The worker's loop calls it and never asks which it is.
type Guarantee interface {
	// Begin is called before records are processed or produced: it opens a transaction
	// if none is open.
	Begin() error
	// Pending reports whether uncommitted work waits in a transaction, so that what it
	// counts is published only at the commit.
	Pending() bool
	// ProcessesAllPolled reports whether every polled record must be processed before a
	// commit, and whether commits run outside the poll gate.
	ProcessesAllPolled() bool
	// RollsBack reports whether a failed record's effects can be undone by an abort, to
	// handle the record again, before any effect, on the replay.
	RollsBack() bool
	// Commit makes the processed records' effects durable. It returns nil when they
	// committed or when the transaction was aborted (the work revived: carry on), an
	// error wrapping ErrUnknownOutcome when the outcome is unknown, and any other error
	// when the application must stop.
	Commit(ctx context.Context, w Work) error
	// Replay aborts the open transaction and revives the work, to process the records
	// again from the committed offsets.
	Replay(ctx context.Context, w Work) error
	// StopClean commits what was processed on a clean stop.
	StopClean(ctx context.Context, w Work) error
	// StopAfterError ends the work after an error: only what is complete may commit. Its
	// error is not the one that stopped the application: the caller logs it.
	StopAfterError(ctx context.Context, w Work) error
}

// AtLeastOnce is the degenerate protocol: no transaction. Output is flushed, then the state
// applied, then the offsets committed: a record's offset is committed only once
// everything it produced was acknowledged, and a buffer is applied once its changelog
// records are acknowledged, whatever happens to the offset commit after.
type AtLeastOnce struct{}

var _ Guarantee = AtLeastOnce{}

// Begin does nothing: there is no transaction.
func (AtLeastOnce) Begin() error { return nil }

// Pending is false: counts are published at once.
func (AtLeastOnce) Pending() bool { return false }

// ProcessesAllPolled is false: records stay queued across commits.
func (AtLeastOnce) ProcessesAllPolled() bool { return false }

// RollsBack is false: a failed record's partial effects stand.
func (AtLeastOnce) RollsBack() bool { return false }

// Commit produces the changelogs, flushes, dead-letters failed outputs, applies the state
// and commits the offsets.
func (AtLeastOnce) Commit(ctx context.Context, w Work) error {
	if err := w.Produce(ctx); err != nil {
		return err
	}
	if err := w.Flush(ctx); err != nil {
		return fmt.Errorf("eddy: flushing output before commit: %w", err)
	}
	if err := w.ProduceError(); err != nil {
		return err
	}
	if err := w.DeadLetterFailedOutputs(ctx); err != nil {
		return err
	}
	if err := w.Apply(); err != nil {
		return err
	}
	committed, err := w.CommitOffsets(ctx)
	if err != nil || !committed {
		return err
	}
	w.Committed()
	return nil
}

// Replay is not possible without a transaction.
func (AtLeastOnce) Replay(context.Context, Work) error {
	return errors.New("eos: at-least-once cannot roll back a record's effects")
}

// StopClean commits.
func (g AtLeastOnce) StopClean(ctx context.Context, w Work) error { return g.Commit(ctx, w) }

// StopAfterError commits the records processed before the error, which are complete. Its
// error is not the one that stopped the application: the caller logs it.
func (g AtLeastOnce) StopAfterError(ctx context.Context, w Work) error { return g.Commit(ctx, w) }

// Transactions is a transactional producer and group consumer: Session, or a fake in
// tests. Begin opens a transaction unless one is open; Commit ends it, reporting false
// with a nil error when the group aborted it instead (an error: the outcome is unknown);
// Abort aborts the open one.
type Transactions interface {
	Begin() error
	InTransaction() bool
	Commit(ctx context.Context) (committed bool, err error)
	Abort(ctx context.Context) error
}

// ExactlyOnce commits each commit interval's output, changelog records and consumed
// offsets in one transaction, and applies the state only after it committed.
type ExactlyOnce struct {
	// Txn is the worker's transactional session.
	Txn Transactions
}

var _ Guarantee = (*ExactlyOnce)(nil)

// Begin opens a transaction unless one is open.
func (g *ExactlyOnce) Begin() error {
	if err := g.Txn.Begin(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	}
	return nil
}

// Pending reports whether a transaction is open.
func (g *ExactlyOnce) Pending() bool { return g.Txn.InTransaction() }

// ProcessesAllPolled is true: the transaction commits the offsets of everything polled.
func (g *ExactlyOnce) ProcessesAllPolled() bool { return true }

// RollsBack is true: an abort undoes a failed record's effects.
func (g *ExactlyOnce) RollsBack() bool { return true }

// Commit is the exactly-once commit: produce the changelog records into the transaction,
// flush (a failed output aborts, never commits with the offsets of the record it came
// from), commit it with the consumed offsets, and only then apply the buffers to the
// database with their checkpoints. An aborted transaction revives the work; an unknown
// outcome is ErrUnknownOutcome.
func (g *ExactlyOnce) Commit(ctx context.Context, w Work) error {
	if err := w.Produce(ctx); err != nil {
		return err
	}
	if !g.Txn.InTransaction() {
		return nil
	}
	if err := w.Flush(ctx); err != nil {
		return fmt.Errorf("%w: flush: %w", ErrUnknownOutcome, err)
	}
	if err := w.ProduceError(); err != nil {
		// The transaction holds a failed output: it must not commit.
		_ = g.Txn.Abort(ctx)
		return err
	}
	if w.PoisonFailedOutputs() {
		// Outputs refused on their own account: their inputs are dead-lettered on the
		// replay, before any effect.
		return g.Replay(ctx, w)
	}
	committed, err := g.Txn.Commit(w.OffsetContext(ctx))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	}
	if !committed {
		// Aborted by the group (a revocation or loss since it began, a fenced
		// generation): the consumer was rewound; drop what was buffered.
		w.Revive()
		return nil
	}
	w.TransactionCommitted()
	w.Committed()
	return w.Apply()
}

// Replay aborts the open transaction and revives the work.
func (g *ExactlyOnce) Replay(ctx context.Context, w Work) error {
	if err := g.Txn.Abort(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, err)
	}
	w.Revive()
	return nil
}

// StopClean processes everything polled (the transaction commits its offsets) and
// commits. An unknown outcome is not an error here: nothing was applied locally, and the
// next owner restores from the checkpoints whatever the outcome.
func (g *ExactlyOnce) StopClean(ctx context.Context, w Work) error {
	if err := w.ProcessPolled(); err != nil {
		_ = g.Txn.Abort(ctx)
		return err
	}
	if err := g.Commit(ctx, w); err != nil && !errors.Is(err, ErrUnknownOutcome) {
		return err
	}
	return nil
}

// StopAfterError aborts: the transaction holds the failed work's partial output and the
// offsets of everything polled.
func (g *ExactlyOnce) StopAfterError(ctx context.Context, _ Work) error {
	if err := g.Txn.Abort(ctx); err != nil {
		return fmt.Errorf("eos: aborting the transaction after an error: %w", err)
	}
	return nil
}
