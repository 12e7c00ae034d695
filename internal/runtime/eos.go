package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Under exactly-once the rebalance callbacks never take w.mu. franz-go's
// GroupTransactSession calls the revoke and lost callbacks holding its own lock, which End
// also takes, and a rebalance waits for its callbacks while End may wait for the
// rebalance: a callback waiting for a loop that is committing would deadlock. They need not
// wait: the callbacks record what changed; the loop applies it at its next step, before it
// queues any record.
//
// Nor do rebalances abort transactions. The session aborts the open transaction at End
// after any revocation, so the loop never lets one run while a transaction is open: it
// keeps franz-go's poll gate (BlockRebalanceOnPoll) shut from the poll that begins a
// transaction until the commit that ends it, and a callback that finds the gate shut
// (OnPartitionsCallbackBlocked) has the loop commit at once, inside the gate. The
// revocation then runs between transactions; Kafka Streams, too, commits the revoked
// tasks rather than aborting. Committing inside the gate is safe where a revocation
// waits: franz-go's heartbeat loop keeps running while a revoke or assign callback waits,
// and answers the heartbeat End asks for. A lost assignment is the exception: its callback
// runs after the heartbeat loop ended, and End would wait for it until its context ended;
// commitInGateLocked opens the gate if End takes longer than gateTimeout, and the
// transaction aborts as it must.

// markJoining records that the worker's member is about to join the group (joiningSince).
func (w *worker) markJoining() { w.joiningSince.Store(time.Now().UnixNano()) }

// joiningGroup reports whether the worker's member is joining the group, for less than
// holdLimit: a commit now would be refused (joiningSince), so it waits for the
// assignment, as long as the transaction can.
func (w *worker) joiningGroup() bool {
	since := w.joiningSince.Load()
	return since != 0 && time.Since(time.Unix(0, since)) < w.holdLimit()
}

// staleLocked reports whether the session holds a revocation that fell between
// transactions (eos.Session.Stale), with nothing processed since the last commit.
func (w *worker) staleLocked() bool {
	s := w.sess.Load()
	return s != nil && s.Stale() && !w.guarantee.Pending() && w.queuedLocked() == 0
}

// clearStaleLocked clears the session's stale revocation (eos.Session.ClearStale) before
// the records of fetches are queued: the session rewinds the consumer to the committed
// offsets, and each partition of fetches goes back to its first fetched record, so what
// was fetched comes again, none of it skipped or twice.
func (w *worker) clearStaleLocked(fetches kgo.Fetches) error {
	rewind := map[string]map[int32]kgo.EpochOffset{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 || w.parts[topicPartition{fp.Topic, fp.Partition}] == nil {
			return // nothing fetched, or the partition was just revoked
		}
		if rewind[fp.Topic] == nil {
			rewind[fp.Topic] = map[int32]kgo.EpochOffset{}
		}
		rewind[fp.Topic][fp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: fp.Records[0].Offset}
	})
	if err := w.sess.Load().ClearStale(); err != nil {
		return fmt.Errorf("%w: %w", errRecreate, err)
	}
	if len(rewind) > 0 {
		w.tx.SetOffsets(rewind)
	}
	return nil
}

// gateTimeout is how long a commit may keep the poll gate shut before the worker opens it
// (see above); far beyond a commit's usual tens of milliseconds, well within the group's
// rebalance timeout.
const gateTimeout = 10 * time.Second

// commitInGateLocked commits while the poll gate is shut, opening it if the commit takes
// longer than gateTimeout.
func (w *worker) commitInGateLocked(ctx context.Context) error {
	defer w.openGateAfter(gateTimeout)()
	return w.commitLocked(ctx)
}

// openGateAfter opens the poll gate after d unless the returned function is called first.
func (w *worker) openGateAfter(d time.Duration) (stop func()) {
	cl := w.cl
	t := time.AfterFunc(d, func() {
		w.log.Warn("a commit kept the rebalance waiting; letting it go on", "after", d)
		cl.AllowRebalance()
	})
	return func() { t.Stop() }
}

// groupEvent is one assignment or revocation, in the order the callbacks saw them.
type groupEvent struct {
	assigned   bool
	partitions map[string][]int32
}

func (w *worker) pushEvent(assigned bool, parts map[string][]int32) {
	w.lostMu.Lock()
	defer w.lostMu.Unlock()
	w.events = append(w.events, groupEvent{assigned: assigned, partitions: parts})
}

// onAssignedEOS pauses the new partitions of sub-topologies with stores at once, before
// the first fetch: a record polled for a task that must restore first could not be
// processed before the transaction commits the offsets of everything polled.
func (w *worker) onAssignedEOS(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	pause := map[string][]int32{}
	for topic, parts := range assigned {
		if sub, ok := w.plan.subOf[topic]; ok && w.plan.stateful[sub] {
			pause[topic] = parts
		}
	}
	if len(pause) > 0 {
		cl.PauseFetchPartitions(pause)
	}
	w.pushEvent(true, assigned)
	w.endRebalance()
}

func (w *worker) onRevokedEOS(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if len(revoked) == 0 {
		// The (empty) revocation that ends a group session: a join follows, and a
		// commit from now until the assignment would carry the ending generation. (A
		// non-empty one comes after an assignment, in its generation: the assign
		// callback follows, and only then the rejoin, which ends the session so.)
		w.markJoining()
	}
	if len(revoked) > 0 {
		w.startRebalance()
		w.noteRevoked()
	}
	w.pushEvent(false, revoked)
}

// onLostEOS is onRevokedEOS for partitions lost without a revocation; the session marks
// those whatever they are.
func (w *worker) onLostEOS(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	w.markJoining()
	w.startRebalance()
	w.noteRevoked()
	w.pushEvent(false, lost)
}

// noteRevoked tells the session of a revocation (eos.Session.Revoked). One before the
// session is stored (while its client joins for the first time) has nothing to tell:
// no transaction has begun.
func (w *worker) noteRevoked() {
	if s := w.sess.Load(); s != nil {
		s.Revoked()
	} else {
		w.revokedEarly.Store(true)
	}
}

// commitDue is when the next commit is due: at the interval (next), or earlier when a
// rebalance callback waits for the poll gate (gateWanted). Tasks that hold polled records
// back (time synchronization) may hold them until holdLimit after it, as at the interval:
// a rebalance does not change what a join or a window computes, it waits at most that.
func (w *worker) commitDue(next time.Time) time.Time {
	if _, ok := w.ctl.paused(); ok {
		return time.Now() // a savepoint waits for this worker's commit (pausedStep)
	}
	if at := w.gateWanted.Load(); at != 0 && time.Unix(0, at).Before(next) {
		return time.Unix(0, at)
	}
	return next
}

// applyEventsLocked applies the callbacks' events: new tasks for assigned partitions,
// closed tasks (their buffers dropped: the transaction they wrote into will abort) for
// revoked or lost ones.
func (w *worker) applyEventsLocked() {
	w.lostMu.Lock()
	events := w.events
	w.events = nil
	w.lostMu.Unlock()
	for _, ev := range events {
		if ev.assigned {
			w.assignLocked(ev.partitions)
			w.setReplicasLocked()
			continue
		}
		gone := w.tasksOfLocked(ev.partitions)
		if len(gone) == 0 {
			continue
		}
		for _, t := range gone {
			w.closeTaskLocked(t)
		}
		w.log.Info("partitions revoked", "closed tasks", len(gone), "tasks", len(w.tasks))
	}
}

// replayLocked aborts the open transaction and revives every task: the consumer goes back
// to the committed offsets, and the poisoned records are handled as they come again.
func (w *worker) replayLocked(ctx context.Context) error { return w.guarantee.Replay(ctx, &work{w: w}) }

// reviveAllLocked undoes everything since the last commit after an abort: queued records
// and buffered writes are dropped, processors are closed and built again (they may hold
// state derived from aborted records), and each task's time state goes back to the last
// commit. The session has rewound the consumer to the committed offsets. The database was
// never touched, so stores need no restore.
func (w *worker) reviveAllLocked() {
	w.abortedLocked()
	w.finishedPending = w.finishedPending[:0]
	// The session rewinds the partitions that have a committed offset, but one that never
	// had a commit would read on past the aborted records: every partition goes back to
	// where this transaction started reading it.
	rewind := map[string]map[int32]kgo.EpochOffset{}
	for _, p := range w.parts {
		if p.replayFrom >= 0 {
			// The records from there on come again; the end stays as the broker said.
			p.sync.pos = p.replayFrom
			p.sync.waitSince, p.sync.lagSince = time.Time{}, time.Time{}
			if rewind[p.topic] == nil {
				rewind[p.topic] = map[int32]kgo.EpochOffset{}
			}
			rewind[p.topic][p.partition] = kgo.EpochOffset{Epoch: -1, Offset: p.replayFrom}
			p.replayFrom = -1
		}
	}
	if len(rewind) > 0 {
		w.tx.SetOffsets(rewind)
	}
	for _, t := range w.ordered {
		if err := protect("closing task "+t.id.String(), t.g.Close); err != nil {
			w.log.Warn("closing a processor for revival", "task", t.id.String(), "err", err)
		}
		for _, kv := range t.kvs {
			kv.Buffer().Reset()
		}
		t.punctuators, t.listeners, t.eventTimer = nil, nil, nil
		g, err := buildTask(w.g, t.id.Subtopology, t)
		if err != nil {
			w.setFatalLocked(err)
			return
		}
		t.g = g
		t.finished = false // its end (markers, last windows) was in the aborted transaction
		t.marked = false   // so was the last marker: the next one goes out whatever it says
		t.rollbackTime()
		for _, p := range t.parts {
			for i := p.head; i < len(p.queue); i++ {
				p.queue[i] = nil
			}
			p.queue, p.head = p.queue[:0], 0
			p.handler = g.Handlers[p.topic]
			p.next = -1
		}
	}
}

// recreate replaces the worker's client after a transaction error of unknown outcome: the
// tasks are closed without applying anything, and the new session's producer id fences
// the old one; the group gives the tasks back and they restore from their checkpoints.
func (w *worker) recreate(ctx context.Context) error {
	w.mu.Lock()
	for _, t := range w.tasks {
		w.closeTaskLocked(t)
	}
	w.mu.Unlock()
	// The transaction may still be open (a flush that failed): open the poll gate, or
	// Close, which leaves the group through it, waits for ever.
	w.cl.AllowRebalance()
	w.cl.Close()
	w.sess.Store(nil)
	w.gateWanted.Store(0)
	w.startRebalance() // the new client joins again
	w.produceErr.Store(nil)
	w.prodFailed.take()
	w.abortedLocked()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = w.connect(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // stopping: the tasks are closed, nothing is left to commit
		case <-time.After(time.Second):
		}
	}
	return err
}

// snapshotTimeLocked records each task's time state as committed.
func (w *worker) snapshotTimeLocked() {
	for _, t := range w.tasks {
		t.committedWatermark = t.watermark
		for _, p := range t.parts {
			p.replayFrom = -1
			p.snapshotTime()
		}
	}
}

// rollbackTime puts the task's time state back to the last commit: the watermark and
// every partition's clock (for internal partitions their upstream watermarks too, so
// records replayed after an abort meet the watermark they met the first time; in bounded
// runs the ends, which are only as far as the commit).
func (t *task) rollbackTime() {
	t.watermark = t.committedWatermark
	for _, p := range t.parts {
		p.clock = p.committedClock.clone()
	}
}

// snapshotTime records the partition's time state as committed.
func (p *partition) snapshotTime() { p.committedClock = p.clock.clone() }
