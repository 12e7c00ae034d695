// Package eos is eddy's commit protocol, under either delivery guarantee. A worker drives
// a Guarantee, chosen once: AtLeastOnce (flush the output, apply the state, commit the
// offsets) or ExactlyOnce (one transactional producer per worker, Kafka Streams' EOS v2
// shape, whose transactions hold a commit interval's output records, changelog records and
// consumed offsets together, fenced by the consumer group's generation, KIP-447). The
// worker's side of a commit is the Work interface: the guarantee orders its steps, and the
// worker's loop never asks which guarantee it runs under.
//
// Under exactly-once a Session wraps franz-go's GroupTransactSession, which does the hard
// parts: it adds the polled offsets to the transaction with the group generation, aborts
// the transaction when any partition was revoked or lost since it began, and rewinds the
// consumer to the committed offsets after an abort. A rebalance need not abort, though:
// the worker holds franz-go's poll gate (BlockRebalanceOnPoll) for as long as a
// transaction is open and commits it before it lets a revocation run, so a revocation
// always falls between transactions. The session marks it all the same, and would abort
// the next transaction for it; the worker clears that stale mark first (ClearStale). What
// the protocol adds is what happens around it: the local state is applied only after the
// transaction committed; after an abort the work is revived (buffered writes and queued
// records dropped, processors rebuilt, time state rolled back); after an error whose
// outcome is unknown (ErrUnknownOutcome) the worker closes the session, makes a new one
// (whose producer id fences the old one) and restores its tasks from their checkpoints. A
// buffer is never applied on a guess.
package eos

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TransactionalID is the transactional id of one worker of one instance. It is stable
// across restarts of the instance (the process id lives in its state directory), so a
// restarted instance's producers fence their predecessors' and abort any transaction they
// left open at once, instead of after the transaction timeout.
func TransactionalID(applicationID, processID string, worker int) string {
	return fmt.Sprintf("%s-%s-%d", applicationID, processID, worker)
}

// Session is one worker's transactional producer and group consumer. Not safe for
// concurrent use beyond what franz-go allows: the worker's goroutine drives it; only
// Revoked is called from the group's callbacks.
type Session struct {
	s    *kgo.GroupTransactSession
	ctx  context.Context
	open bool
	// stale says partitions were revoked or lost since the last End: franz-go then
	// aborts whatever transaction ends next, even one begun after the revocation.
	stale atomic.Bool
}

// NewSession makes the session's client from opts, which must name a consumer group and a
// transactional id. ctx bounds the end ClearStale makes; it should outlive the session's
// work.
func NewSession(ctx context.Context, opts ...kgo.Opt) (*Session, error) {
	s, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("eos: transactional session: %w", err)
	}
	return &Session{s: s, ctx: ctx}, nil
}

// Revoked records that the group revoked partitions (non-empty) or lost them, as the
// worker's OnPartitionsRevoked and OnPartitionsLost callbacks learn. Safe to call from
// them.
func (s *Session) Revoked() { s.stale.Store(true) }

// Client is the session's client, for polling and producing.
func (s *Session) Client() *kgo.Client { return s.s.Client() }

// InTransaction reports whether a transaction is open.
func (s *Session) InTransaction() bool { return s.open }

// Begin opens a transaction unless one is open.
func (s *Session) Begin() error {
	if s.open {
		return nil
	}
	if err := s.s.Begin(); err != nil {
		return fmt.Errorf("eos: begin transaction: %w", err)
	}
	s.open = true
	return nil
}

// Stale reports whether partitions were revoked or lost since the last commit or abort
// (Revoked). franz-go's session then aborts whatever transaction ends next, even one
// begun after the revocation: ClearStale, between transactions, prevents that.
func (s *Session) Stale() bool { return s.stale.Load() }

// ClearStale ends the (empty) transaction state with an abort, which clears the mark a
// revocation between transactions left, so the next transaction can commit. Only
// between transactions: with one open it does nothing (that one must abort). The abort
// rewinds the consumer to the committed offsets: the caller drops what it polled since
// the last commit (none of it was processed: no transaction is open) and rewinds the
// partitions that have no committed offset to their first polled record.
func (s *Session) ClearStale() error {
	if s.open || !s.stale.Swap(false) {
		return nil
	}
	if _, err := s.s.End(s.ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("eos: clearing a revocation between transactions: %w", err)
	}
	return nil
}

// Commit flushes the transaction's records and tries to commit it with the offsets of
// everything polled. committed is false with a nil error when the transaction was aborted
// instead (a revocation, a lost partition, a fenced generation): the consumer was rewound
// and the caller must drop what it buffered. A non-nil error means the outcome is unknown:
// close the session and start a new one. Without an open transaction it reports committed.
func (s *Session) Commit(ctx context.Context) (committed bool, err error) {
	if !s.open {
		return true, nil
	}
	s.open = false
	// Any revocation until now is this End's to handle (it resets franz-go's marks); one
	// during it leaves this mark, for ClearStale.
	s.stale.Store(false)
	committed, err = s.s.End(ctx, kgo.TryCommit)
	if err != nil {
		return false, fmt.Errorf("eos: commit transaction: %w", err)
	}
	return committed, nil
}

// Abort aborts the open transaction, if any; the consumer is rewound to the committed
// offsets.
func (s *Session) Abort(ctx context.Context) error {
	if !s.open {
		return nil
	}
	s.open = false
	s.stale.Store(false)
	if _, err := s.s.End(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("eos: abort transaction: %w", err)
	}
	return nil
}

// Close closes the client, leaving the group.
func (s *Session) Close() { s.s.Close() }
