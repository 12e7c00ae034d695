package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Time synchronization (Kafka Streams' max.task.idle.ms, KIP-695). A task with several
// input partitions takes, among their head records, the one with the lowest timestamp,
// so a stream record at time t meets a table as updated up to t. That holds only among
// the records fetched: when one partition's queue is empty, its next record may be older
// than the heads of the others. So the task processes only when every partition has a
// record queued, or when each empty one has nothing to wait for:
//
//   - it has reached its end in a bounded run;
//   - it is internal (a repartition topic) and its upstream tasks' watermark has reached
//     the next record's time: what they still send at or before it is late by their own
//     sources' bound, so it would not be processed in time order anyway;
//   - it is caught up (its position is the end the last fetch or listing reported: the
//     last stable offset under read_committed, the high watermark otherwise) and the
//     task has waited MaxTaskIdle for it (default 0: no wait);
//   - it has known lag (records on the broker not fetched yet) and they have not come
//     within lagWaitLimit.
//
// A negative MaxTaskIdle turns all of it off: whatever is queued is processed.
//
// Internal partitions are never idle for watermarks (a restoring upstream is not idle,
// DESIGN §6), but they follow the same rule here, for two reasons. Their markers say how
// far their upstream tasks are, so often there is nothing to wait for at all; and
// waiting without a bound for an upstream task that has no input would stall the join
// as an idle input stalls windows. The watermark rule holds windows back, where an
// early result cannot be taken back; here a wait only orders records.
//
// The wait starts when the task has a record to process and an empty partition holds it
// back, and ends when that partition receives records. (Kafka Streams starts the clock
// whenever it finds the partition empty, even while the task has nothing to process, so
// after a quiet spell longer than max.task.idle.ms it does not wait at all for the next
// record; a record that arrives a little before the update it should meet is what the
// option is for, so eddy waits then too.)
//
// Positions are exact because the worker's consumer keeps transaction control records
// (kgo.KeepControlRecords): a commit marker moves the position past itself like any
// record, and is consumed, never processed, when it reaches the head of its queue
// (settle). Without it the position of a partition written transactionally stops one
// short of its last stable offset, and the partition would look lagging forever.

// lagWaitLimit bounds the wait for records known to be on the broker. Kafka Streams waits
// for them without a bound, knowing its consumer's exact position; eddy learns positions
// from the records it receives, and a tail the broker never delivers as a record (batches
// that compaction emptied) would otherwise hold the task for ever. Known records arrive
// within a fetch or two; ten seconds is far past that.
const lagWaitLimit = 10 * time.Second

// waitRule says whether a task waits for its empty partitions before processing.
type waitRule uint8

const (
	// waitForPartitions is time synchronization, as above.
	waitForPartitions waitRule = iota
	// waitForNothing processes whatever is queued: for a commit that must cover every
	// polled record (exactly-once) and is out of time to wait.
	waitForNothing
)

// syncState is what time synchronization knows of one input partition.
type syncState struct {
	// pos is the offset after the last record received (control records included),
	// or the committed position at assignment; end is the end the broker reported last.
	// -1: not known.
	pos, end int64
	// waitSince is when the task began waiting for the partition while it was caught up
	// (MaxTaskIdle), lagSince while it had known lag (lagWaitLimit); zero when not waiting.
	waitSince, lagSince time.Time
}

func newSyncState() syncState { return syncState{pos: -1, end: -1} }

// received records that the partition was fetched up to pos, with end as the broker's
// end, and ends any wait for it: it has records now.
func (s *syncState) received(pos, end int64) {
	if pos >= 0 {
		s.pos = pos
	}
	// The end only grows: a buffered fetch can report an end older than the listing at
	// assignment, and lowering it would make a lagging partition look caught up.
	s.end = max(s.end, end)
	s.waitSince, s.lagSince = time.Time{}, time.Time{}
}

// lagging reports whether the broker has records of the partition not received yet, or
// its position is not known.
func (s *syncState) lagging() bool { return s.pos < 0 || s.end < 0 || s.pos < s.end }

// holds reports whether the empty partition p holds back a record at ts at wall-clock
// time now, and until when; expired says the task waited for it as long as it may, so
// the record it processes now is enforced processing.
func (p *partition) holds(ts, now time.Time, idle time.Duration) (hold bool, until time.Time, expired bool) {
	switch {
	case p.clock.done:
		return false, until, false
	case p.internal && p.clock.seen && !p.watermark().Before(ts):
		return false, until, false
	case p.sync.lagging():
		p.sync.waitSince = time.Time{}
		if p.sync.lagSince.IsZero() {
			p.sync.lagSince = now
		}
		until = p.sync.lagSince.Add(max(lagWaitLimit, idle))
	default:
		p.sync.lagSince = time.Time{}
		if p.sync.waitSince.IsZero() {
			p.sync.waitSince = now
		}
		until = p.sync.waitSince.Add(idle)
	}
	if now.Before(until) {
		return true, until, false
	}
	return false, time.Time{}, true
}

// next returns the partition whose head record the task processes next: the lowest
// timestamp, a table's first on a tie, so a stream record at time t joins the table as of
// t, updates at t included; else the one whose source the topology declares first (the
// order of t.parts), so a run's order does not depend on the order of an assignment. It is nil when every queue is empty, or when the task waits
// for an empty partition (see above); then wake is when the wait ends at the latest.
// enforced says a partition's wait ran out.
func (t *task) next(rule waitRule) (best *partition, enforced bool, wake time.Time) {
	empty := false
	for _, p := range t.parts {
		p.settle()
		if p.queued() == 0 {
			empty = true
			continue
		}
		if best == nil {
			best = p
			continue
		}
		ts, bts := p.queue[p.head].Timestamp, best.queue[best.head].Timestamp
		if ts.Before(bts) || ts.Equal(bts) && p.timing.table && !best.timing.table {
			best = p
		}
	}
	idle := t.w.cfg.MaxTaskIdle
	if best == nil || !empty || rule == waitForNothing || idle < 0 {
		return best, false, wake
	}
	now := t.w.clock()
	ts := best.queue[best.head].Timestamp
	for _, p := range t.parts {
		if p.queued() > 0 {
			continue
		}
		hold, until, expired := p.holds(ts, now, idle)
		if hold {
			if wake.IsZero() || until.Before(wake) {
				wake = until
			}
			continue
		}
		enforced = enforced || expired
	}
	if !wake.IsZero() {
		return nil, false, wake
	}
	return best, enforced, wake
}

// settle consumes the transaction control records at the head of the queue: they move the
// position and the offset to commit, and never reach a processor. One at or past a
// bounded run's end stays, for that end's handling.
func (p *partition) settle() {
	for p.queued() > 0 {
		rec := p.queue[p.head]
		if !rec.Attrs.IsControl() || p.pastEnd(rec) {
			return
		}
		p.pop()
		p.consumed(rec)
	}
}

// countEnforced counts one record processed although a partition of the task was empty
// (Kafka Streams' enforced-processing-total).
func (t *task) countEnforced() {
	m := t.w.cfg.Metrics
	if m == nil {
		return
	}
	if t.enforced == nil {
		t.enforced = m.Counter("eddy_enforced_processing_total",
			"Records processed while an input partition of their task was empty and its wait (MaxTaskIdle) had run out.",
			"task", t.id.String())
	}
	t.enforced.Add(1)
}

// clock is the worker's wall clock (a test's, when set).
func (w *worker) clock() time.Time {
	if w.now != nil {
		return w.now()
	}
	return time.Now()
}

// readyLocked reports whether some task has a record it may process now (or a restore
// to drive), and otherwise the earliest time a waiting task's wait ends (zero: none
// waits). The poll waits for records until then at most.
func (w *worker) readyLocked() (busy bool, wake time.Time) {
	for _, t := range w.ordered {
		if t.restoring != 0 {
			return true, wake
		}
		p, _, until := t.next(waitForPartitions)
		if p != nil {
			return true, wake
		}
		if !until.IsZero() && (wake.IsZero() || until.Before(wake)) {
			wake = until
		}
	}
	return false, wake
}

// holdLimit bounds how long, under exactly-once, a commit that is due waits for tasks
// that hold polled records back: the transaction commits the offsets of every record
// polled, so it cannot end while one is unprocessed, and it must end within the
// transaction timeout. Half of what the commit interval leaves of it.
func (w *worker) holdLimit() time.Duration {
	return (w.cfg.TransactionTimeout - w.cfg.CommitInterval) / 2
}

// holdsCommitLocked reports, under exactly-once, whether a due commit waits because tasks
// hold polled records back (time synchronization), which they may until holdLimit past
// due, or until the write buffers are over budget. When the wait is over it processes
// them (enforced processing) and reports false: the commit goes ahead.
func (w *worker) holdsCommitLocked(due time.Time) (bool, error) {
	if w.queuedLocked() == 0 {
		return false, nil
	}
	if w.clock().Before(due.Add(w.holdLimit())) && !w.overBudgetLocked() {
		return true, nil
	}
	return false, w.processLocked(waitForNothing)
}

// loadPositionsLocked gives the newly assigned partitions of tasks with several inputs
// their position and end before any of their records is processed: the committed offset
// (else the log start; offs holds what loadOffsetMetaLocked fetched) and the end (the
// last stable offset under exactly-once, else the high watermark), so that a partition
// with records on the broker is waited for from the start. A partition that received
// records meanwhile keeps the position they gave.
func (w *worker) loadPositionsLocked(ctx context.Context, need []*partition, offs kadm.OffsetResponses) error {
	if w.cfg.MaxTaskIdle < 0 {
		return nil
	}
	var parts []*partition
	topics := map[string]bool{}
	var list []string
	for _, p := range need {
		if len(p.task.parts) > 1 {
			parts = append(parts, p)
			if !topics[p.topic] {
				topics[p.topic] = true
				list = append(list, p.topic)
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	adm := kadm.NewClient(w.cl)
	listEnds := adm.ListEndOffsets
	if w.cfg.ExactlyOnce {
		listEnds = adm.ListCommittedOffsets
	}
	var starts, ends kadm.ListedOffsets
	err := retryStart(ctx, func(ctx context.Context) (err error) {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if starts, err = adm.ListStartOffsets(lctx, list...); err == nil {
			err = starts.Error()
		}
		if err == nil {
			if ends, err = listEnds(lctx, list...); err == nil {
				err = ends.Error()
			}
		}
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return errStopping
		}
		return fmt.Errorf("eddy: the positions of the inputs of %s (time synchronization): %w", w.cfg.ApplicationID, err)
	}
	for _, p := range parts {
		e, ok := ends.Lookup(p.topic, p.partition)
		if !ok {
			continue
		}
		if p.sync.pos < 0 {
			pos := int64(0)
			if s, ok := starts.Lookup(p.topic, p.partition); ok {
				pos = s.Offset
			}
			// The consumer starts at the committed offset, or at the log start when there
			// is none or it lies below it.
			if o, ok := offs.Lookup(p.topic, p.partition); ok && o.At > pos {
				pos = o.At
			}
			p.sync.pos = pos
		}
		p.sync.end = max(p.sync.end, e.Offset)
	}
	return nil
}

// fetchedEnd is the end a fetch reports for its partition: the last stable offset under
// read_committed, the high watermark otherwise.
func (w *worker) fetchedEnd(fp kgo.FetchTopicPartition) int64 {
	if w.cfg.ExactlyOnce {
		return fp.LastStableOffset
	}
	return fp.HighWatermark
}
