package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// Bounded mode: batch as a special case of streaming. At start the ends of the external
// input partitions are fixed (their last stable offsets); a partition is done when its
// position reaches its end, an internal partition when every upstream task has sent its
// end-of-input marker. A task whose partitions are all done moves its watermark to the end
// of time once, so every window closes (that watermark is never persisted, nor sent
// downstream: its markers keep the real one, with the end flag), and tells its
// downstream tasks it has ended. When every task is finished the worker commits and Run
// returns.

// endOfTime is the watermark of a finished task.
var endOfTime = graph.EndOfTime

// flagEnd marks an end-of-input marker.
const flagEnd = 1 << 2

// planBounds fixes the ends of the external input partitions and where the group will
// start on each, and fails if another instance is in the group: bounded mode runs on one
// instance.
func planBounds(ctx context.Context, adm *kadm.Client, appID string, p *topicPlan) error {
	// A fresh broker answers the group requests with COORDINATOR_NOT_AVAILABLE for a few
	// seconds: retried, within a bound, here and in every request below.
	var groups kadm.DescribedGroups
	err := retryStart(ctx, func(ctx context.Context) (err error) {
		groups, err = adm.DescribeGroups(ctx, appID)
		if err == nil {
			err = groups.Error()
		}
		return err
	})
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("eddy: Bounded: checking that group %s has no other members: %w", appID, err)
	}
	if g, ok := groups[appID]; ok && len(g.Members) > 0 {
		return fmt.Errorf("eddy: Bounded runs on one instance, but group %s has %d members; stop them first", appID, len(g.Members))
	}
	var external []string
	for _, topic := range p.topics {
		if p.upstreams[topic] == 0 {
			external = append(external, topic)
		}
	}
	// listed lists offsets of the external inputs, retried at start like the rest.
	listed := func(list func(context.Context, ...string) (kadm.ListedOffsets, error)) (l kadm.ListedOffsets, err error) {
		err = retryStart(ctx, func(ctx context.Context) error {
			if l, err = list(ctx, external...); err == nil {
				err = l.Error()
			}
			return err
		})
		return l, err
	}
	ends, err := listed(adm.ListCommittedOffsets)
	if err != nil {
		return fmt.Errorf("eddy: end offsets of the inputs: %w", err)
	}
	starts, err := listed(adm.ListStartOffsets)
	if err != nil {
		return fmt.Errorf("eddy: start offsets of the inputs: %w", err)
	}
	var committed kadm.OffsetResponses
	err = retryStart(ctx, func(ctx context.Context) (err error) {
		committed, err = adm.FetchOffsets(ctx, appID)
		return err
	})
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("eddy: committed offsets of %s: %w", appID, err)
	}
	p.ends, p.starts = map[topicPartition]int64{}, map[topicPartition]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		tp := topicPartition{o.Topic, o.Partition}
		p.ends[tp] = o.Offset
		p.starts[tp] = o.Offset
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok {
			p.starts[tp] = s.Offset
		}
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.At >= 0 {
			p.starts[tp] = c.At
		}
	})
	for _, s := range p.subs {
		p.tasks += int(p.partitions[s.Topics[0]])
	}
	p.finished = map[processor.TaskID]bool{}
	p.run = time.Now().UnixMilli()
	return nil
}

// runHeader is the header of an end-of-input marker that names the bounded run it ends
// (8 bytes, big-endian: plan.run).
const runHeader = "eddy-run"

// staleEnd reports whether an end-of-input marker read now was written by another run
// (and not read then, as when that run crashed): all are, outside bounded mode; in a
// bounded run, those whose run header names another run. A stale end ends nothing, and
// its watermark moves nothing: this run's upstream tasks end again. The run is an exact
// tag, as in the offset metadata, not a comparison of clocks.
func (w *worker) staleEnd(rec *kgo.Record) bool {
	if !w.cfg.Bounded {
		return true
	}
	for _, h := range rec.Headers {
		if h.Key == runHeader && len(h.Value) == 8 {
			return int64(binary.BigEndian.Uint64(h.Value)) != w.plan.run
		}
	}
	return true
}

// initBound sets up a new partition's end in bounded mode.
func (w *worker) initBound(p *partition) {
	if !w.cfg.Bounded {
		return
	}
	p.end = -1
	if p.internal {
		return
	}
	tp := topicPartition{p.topic, p.partition}
	p.end = w.plan.ends[tp]
	if w.plan.starts[tp] >= p.end {
		p.clock.done, p.committedClock.done = true, true // nothing to read: done, even after an abort
	}
}

// pastEnd reports whether rec lies at or beyond its partition's end: it is left for a
// later run (neither processed nor committed).
func (p *partition) pastEnd(rec *kgo.Record) bool { return p.end >= 0 && rec.Offset >= p.end }

// finishLocked finishes the tasks whose partitions are all done and reports whether it
// finished any.
func (w *worker) finishLocked() (bool, error) {
	newly := false
	for _, t := range w.ordered {
		if !t.finished && t.restoring == 0 && t.allDone() {
			if err := w.finishTask(t); err != nil {
				return false, err
			}
			w.finishedPending = append(w.finishedPending, t.id)
			newly = true
		}
	}
	return newly, nil
}

// publishFinishedLocked records, after a commit, the tasks whose end it committed: the
// instance's workers return when every task of the application is there. A task that
// moves to another worker after that has nothing left to do.
func (w *worker) publishFinishedLocked() {
	if len(w.finishedPending) == 0 {
		return
	}
	w.plan.finishedMu.Lock()
	for _, id := range w.finishedPending {
		w.plan.finished[id] = true
	}
	w.plan.finishedMu.Unlock()
	w.finishedPending = w.finishedPending[:0]
}

// endCommitted reports whether the end of task id was committed in this run.
func (p *topicPlan) endCommitted(id processor.TaskID) bool {
	p.finishedMu.Lock()
	defer p.finishedMu.Unlock()
	return p.finished[id]
}

// allFinished reports whether every task of the application has committed its end.
func (p *topicPlan) allFinished() bool {
	p.finishedMu.Lock()
	defer p.finishedMu.Unlock()
	return len(p.finished) >= p.tasks
}

func (t *task) allDone() bool {
	for _, p := range t.parts {
		if !p.clock.done || p.queued() > 0 && !p.pastEnd(p.queue[p.head]) {
			return false
		}
	}
	return len(t.parts) > 0
}

// finishTask runs a finished task's end-of-input functions (operators that report their
// results at the end, such as a table's ToStream), moves its watermark to the end of time,
// then tells its downstream tasks it has ended: what the end functions emit is sent before
// the end markers. An abort revives the task with new operators and clears finished: the
// end is reached, and reported, again. A task whose end this run has committed already
// (it moved from another worker since) does not report it again: its results are out.
func (w *worker) finishTask(t *task) error {
	t.finished = true
	if !w.plan.endCommitted(t.id) {
		if err := protect("the end of input", t.g.EndOfInput); err != nil {
			return fmt.Errorf("eddy: task %s: end of input: %w", t.id, err)
		}
	}
	t.endedAt = t.watermark
	for _, p := range t.parts {
		// The offset metadata keeps the real watermark: a later run goes on from it.
		p.finalMax, p.finalSeen, p.finalIdle = p.clock.maxTime, p.clock.seen, p.clock.idle
		p.clock.maxTime, p.clock.seen, p.clock.idle = endOfTime, true, false
	}
	if err := t.advanceWatermark(); err != nil {
		return fmt.Errorf("eddy: task %s: end of input: %w", t.id, err)
	}
	value := encodeWM(t.publishedWatermark(), flagMarker|flagEnd, t.id.Subtopology, t.id.Partition)
	run := binary.BigEndian.AppendUint64(nil, uint64(w.plan.run))
	for _, topic := range w.plan.writes[t.id.Subtopology] {
		for p := range w.plan.partitions[topic] {
			rec := &kgo.Record{Topic: topic, Partition: p, Timestamp: time.Now(),
				Headers: []kgo.RecordHeader{{Key: wmHeader, Value: value}, {Key: runHeader, Value: run}}}
			if err := w.send(rec); err != nil {
				return err
			}
		}
	}
	w.log.Info("task reached the end of its input", "task", t.id.String())
	return nil
}
