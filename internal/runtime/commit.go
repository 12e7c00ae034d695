package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/eos"
)

// The commit: the worker's guarantee (eos.AtLeastOnce or eos.ExactlyOnce, chosen once
// when the client is made) orders the steps, and work carries them out on the worker's
// tasks. See package eos for the two protocols.

// errRecreate marks errors whose transaction outcome is unknown: the worker closes its
// client and makes a new one, and its tasks restore from their checkpoints.
var errRecreate = eos.ErrUnknownOutcome

// commitLocked makes the processed records' effects durable and commits their offsets,
// as the worker's guarantee orders it.
func (w *worker) commitLocked(ctx context.Context) error {
	// A commit that started finishes even when Run is being stopped (w.stop outlives ctx
	// by the shutdown timeout): cancelling it half way would leave output unacknowledged
	// and offsets uncommitted for no gain.
	ctx, cancel := context.WithTimeout(w.stop, w.commitTimeout)
	defer cancel()
	for _, t := range w.ordered {
		t.flushOutputs() // punctuations' output too
	}
	k := &work{w: w, start: time.Now()}
	return w.guarantee.Commit(ctx, k)
}

// work is the worker's side of a commit (eos.Work). dirty are the tasks whose buffers
// Produce wrote to the changelogs, for Apply.
type work struct {
	w     *worker
	dirty []*task
	start time.Time // when the commit began
}

var _ eos.Work = (*work)(nil)

func (k *work) Produce(ctx context.Context) error {
	if err := k.w.sendMarkersLocked(k.w.clock()); err != nil {
		return err
	}
	var err error
	k.dirty, err = k.w.writeChangelogsLocked(ctx)
	return err
}

func (k *work) Flush(ctx context.Context) error { return k.w.tx.Flush(ctx) }

func (k *work) ProduceError() error {
	if errp := k.w.produceErr.Load(); errp != nil {
		return *errp
	}
	return nil
}

func (k *work) DeadLetterFailedOutputs(ctx context.Context) error {
	return k.w.deadLetterProductionFailures(ctx)
}

func (k *work) PoisonFailedOutputs() bool {
	failed := k.w.prodFailed.take()
	for c, f := range failed {
		k.w.poisoned[c] = &poison{err: f.err}
	}
	return len(failed) > 0
}

func (k *work) Apply() error {
	if err := k.w.applyStateLocked(k.dirty); err != nil {
		return err
	}
	k.w.snapshotTimeLocked()
	return nil
}

func (k *work) Revive() {
	k.w.log.Info("transaction aborted; replaying from the committed offsets")
	k.w.stats.aborted()
	k.w.reviveAllLocked()
}

func (k *work) CommitOffsets(ctx context.Context) (bool, error) { return k.w.commitOffsetsLocked(ctx) }

func (k *work) OffsetContext(ctx context.Context) context.Context { return k.w.withOffsetMeta(ctx) }

func (k *work) TransactionCommitted() {
	for _, p := range k.w.parts {
		if p.next >= 0 {
			p.committed = p.next
		}
	}
}

func (k *work) Committed() {
	k.w.stats.committed(time.Since(k.start))
	k.w.committedLocked()
	k.w.publishFinishedLocked()
	k.w.markPurgeableLocked()
}

func (k *work) ProcessPolled() error {
	k.w.applyEventsLocked()
	// Every polled record, those a task holds back for time synchronization too: the
	// transaction commits their offsets.
	return k.w.processLocked(waitForNothing)
}

// commitOffsetsLocked commits the offset after each partition's last processed record,
// with the partition's time in the metadata (at-least-once). A rebalance in progress
// defers it: the offsets go with the revocation's commit or the next interval, and
// records may be processed again, as at-least-once allows.
func (w *worker) commitOffsetsLocked(ctx context.Context) (bool, error) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for _, p := range w.parts {
		if p.next < 0 || p.next == p.committed {
			continue
		}
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.topic][p.partition] = kgo.EpochOffset{Epoch: p.epoch, Offset: p.next}
	}
	if len(offsets) == 0 {
		return true, nil
	}
	var commitErr error
	w.tx.CommitOffsetsSync(w.withOffsetMeta(ctx), offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, pr := range t.Partitions {
				if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
					commitErr = fmt.Errorf("%s/%d: %w", t.Topic, pr.Partition, err)
					return
				}
			}
		}
	})
	if commitErr != nil {
		if retriableCommit(commitErr) {
			w.log.Debug("commit deferred by a rebalance", "err", commitErr)
			return false, nil
		}
		return false, fmt.Errorf("eddy: committing offsets: %w", commitErr)
	}
	for topic, ps := range offsets {
		for part, eo := range ps {
			if p := w.parts[topicPartition{topic, part}]; p != nil {
				p.committed = eo.Offset
			}
		}
	}
	return true, nil
}

func retriableCommit(err error) bool {
	return errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kgo.ErrClientClosed) ||
		errors.Is(err, context.Canceled)
}
