package runtime

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// partition is one input partition of a task: its queue of fetched records not yet
// processed, and its progress.
type partition struct {
	topic     string
	partition int32
	handler   graph.Handler

	// queue[head:] are fetched, unprocessed records. The slice is reused: when it empties,
	// head goes back to 0 and appends overwrite the old entries.
	queue []*kgo.Record
	head  int

	// next is the offset to commit: one past the last processed record; -1 before any.
	next      int64
	epoch     int32
	committed int64 // the last offset committed, to skip unchanged partitions
	// lastTime is the time of the last record processed, in Unix nanoseconds (for the lag
	// in time; an integer, so that the record path writes no pointer).
	lastTime int64

	// clock is the partition's event-time progress; committedClock is clock as of the last
	// commit, for an abort to go back to (a copy, see timeState).
	clock, committedClock timeState

	paused bool // fetching paused: a full queue, or the task restoring
	// idleForced marks the partition idle until its next record, whatever its idle
	// timeout: the test driver's SetIdle.
	idleForced bool
	task       *task

	// timing is the source's watermark settings; received is when the partition last had
	// a record (or was assigned).
	timing   sourceTiming
	received time.Time

	// internal partitions (of repartition topics) take their watermark from their
	// upstream tasks' headers and markers: expected is how many upstream tasks write them.
	internal bool
	expected int

	// Bounded mode: end is the offset the partition stops at (-1: none, or internal).
	end int64

	// needMeta: the watermark committed with the offset is still to be read.
	needMeta bool
	// finalMax, finalSeen and finalIdle are the time state before a bounded run moved the
	// partition to the end of time: what its offset metadata keeps.
	finalMax             time.Time
	finalSeen, finalIdle bool

	// replayFrom is the offset of the first record fetched since the last commit (-1:
	// none), where a replay under exactly-once starts.
	replayFrom int64

	// Internal partitions: purgeable is the committed offset below which records may be
	// deleted, purged the offset they were last deleted below (purge.go).
	purgeable, purged int64

	// sync is what time synchronization knows of the partition (sync.go).
	sync syncState
}

// consumed moves the partition past rec: its offset is the next to commit.
func (p *partition) consumed(rec *kgo.Record) {
	p.next, p.epoch, p.lastTime = rec.Offset+1, rec.LeaderEpoch, rec.Timestamp.UnixNano()
	if p.end >= 0 && p.next >= p.end {
		p.clock.done = true
	}
}

func (p *partition) queued() int { return len(p.queue) - p.head }

// queued is the number of records the task's partitions hold, together.
func (t *task) queued() int {
	n := 0
	for _, p := range t.parts {
		n += p.queued()
	}
	return n
}

// mayResume says whether fetching p, paused, may resume: once its task holds at most half
// of limit (the limit is the task's, shared by its partitions: a join of two topics holds
// no more than a single topic's task), or once p's own queue is empty, so a task that
// waits for p's records (time synchronization) never waits on its own pause.
func (p *partition) mayResume(limit int) bool {
	return p.queued() == 0 || p.task.queued() <= limit/2
}

func (p *partition) pop() *kgo.Record {
	r := p.queue[p.head]
	p.queue[p.head] = nil // let the record be collected once processed
	p.head++
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	}
	return r
}

// task is one sub-topology on one partition number, driven by its worker's goroutine.
type task struct {
	id    processor.TaskID
	w     *worker
	g     *graph.Task
	parts []*partition

	cur    processor.Metadata
	hasCur bool
	// curRec is the record being processed; src names it in its outputs' Context when
	// production failures are dead-lettered (made at the first output).
	curRec *kgo.Record
	src    *sourceRef
	// op is the operator running on the task (graph.Call).
	op *graph.Op
	// late holds the late-record counter of each windowed store; enforced counts records
	// processed after a wait for an empty partition ran out (sync.go).
	late     map[string]*atomic.Int64
	enforced *atomic.Int64

	watermark          time.Time
	committedWatermark time.Time

	punctuators []*punctuator

	// kvs are the task's slices of its stores, by name too; changelogs[i] is the
	// changelog topic of kvs[i].
	kvs        []*state.KV
	stores     map[string]*state.KV
	changelogs []string
	// restoring is the number of stores still restoring; -1 before the restore is planned.
	// A restoring task processes nothing and its input partitions stay paused.
	restoring int
	// planSince is when the restore was first planned (it may wait for open transactions).
	planSince time.Time

	// eventTime is the event time a source extracted from the current record (observed
	// says there is one); listeners and timers run as the watermark advances.
	eventTime  time.Time
	observed   bool
	listeners  []func(time.Time) error
	eventTimer []*eventTimer

	// finished: in bounded mode, all input done and the end-of-time watermark passed on;
	// endedAt is the watermark the task had then (publishedWatermark).
	finished bool
	endedAt  time.Time

	// time is the task's busy, backpressured and idle time (tasktime.go).
	time taskTime
	// sinks count its output by topic, lastSink the one used last; outputs counts every
	// output, for sampling their latency (stats.go).
	sinks    []*sinkStats
	lastSink *sinkStats
	outputs  int64

	// The last markers the task wrote to its repartition topics.
	marked     bool
	markedAt   time.Time
	markedWM   time.Time
	markedIdle bool
}

type punctuator struct {
	interval  time.Duration
	next      time.Time
	fn        processor.Punctuator
	cancelled bool
}

var _ graph.Env = (*task)(nil)

func (t *task) ApplicationID() string    { return t.w.cfg.ApplicationID }
func (t *task) TaskID() processor.TaskID { return t.id }
func (t *task) Watermark() time.Time     { return t.watermark }

func (t *task) Metadata() (processor.Metadata, bool) { return t.cur, t.hasCur }

func (t *task) OpSlot() **graph.Op { return &t.op }

func (t *task) Bounded() bool { return t.w.cfg.Bounded }

func (t *task) LateRecord(store string) {
	m := t.w.cfg.Metrics
	if m == nil {
		return
	}
	c, ok := t.late[store]
	if !ok {
		// Resolved once per task and store, not per record.
		c = m.Counter("eddy_late_records_total", "Records a windowed aggregation rejected as late.", "store", store)
		if t.late == nil {
			t.late = map[string]*atomic.Int64{}
		}
		t.late[store] = c
	}
	c.Add(1)
}

func (t *task) Send(rec *kgo.Record) error {
	if t.curRec != nil && t.w.cfg.OnProduction.Action == DeadLetter {
		if t.src == nil {
			t.src = &sourceRef{Context: context.Background(), rec: t.curRec}
		}
		rec.Context = t.src
	}
	t.stamp(rec)
	t.output(rec)
	if !t.w.bufferFull() {
		return t.w.send(rec)
	}
	// The producer's buffer is full: this produce blocks until a batch is acknowledged.
	start := time.Now()
	err := t.w.send(rec)
	t.time.blocked += time.Since(start)
	return err
}

func (t *task) Store(name string) (store.Bytes, error) {
	kv, ok := t.stores[name]
	if !ok {
		return nil, fmt.Errorf("task %s has no store %q", t.id, name)
	}
	return kv, nil
}

func (t *task) GlobalStore(name string) (graph.GlobalReader, error) { return t.w.globals.store(name) }

func (t *task) Schedule(interval time.Duration, fn processor.Punctuator) func() {
	p := &punctuator{interval: interval, next: t.w.clock().Add(interval), fn: fn}
	if interval <= 0 {
		// A zero interval would spin the worker; treat it as the smallest useful one.
		p.interval = time.Millisecond
	}
	t.punctuators = append(t.punctuators, p)
	return func() { p.cancelled = true }
}

// processOne processes the next record of the task, if any and if the task does not wait
// for an empty partition (sync.go); it reports whether there was one. An error carries
// the task and the record's coordinates.
func (t *task) processOne() (bool, error) { return t.processNext(waitForPartitions) }

// processNext is processOne under rule.
func (t *task) processNext(rule waitRule) (bool, error) {
	p, enforced, _ := t.next(rule)
	if p == nil {
		return false, nil
	}
	if enforced {
		t.countEnforced()
	}
	if p.pastEnd(p.queue[p.head]) {
		// Bounded mode: beyond the end fixed at start; left for a later run.
		for p.queued() > 0 {
			p.pop()
		}
		return true, nil
	}
	rec := p.pop()
	if p.internal {
		if up, st, marker, end, ok := readWMEnd(rec); ok {
			if end && t.w.staleEnd(rec) {
				p.next, p.epoch = rec.Offset+1, rec.LeaderEpoch
				return true, nil
			}
			p.observeUpstream(up, st)
			if end {
				p.endUpstream(up)
			}
			if marker {
				p.next, p.epoch = rec.Offset+1, rec.LeaderEpoch
				return true, t.advanceWatermark()
			}
		}
	} else {
		// A partition with records is not idle: it rejoins the watermark (which never
		// goes down, so its records behind it are late).
		p.clock.idle, p.idleForced = false, false
	}
	t.cur = processor.Metadata{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	if len(t.w.poisoned) > 0 {
		if ps, ok := t.w.poisoned[coordOf(rec)]; ok {
			// It failed before the last abort: handled now, before any effect. The entry
			// stays until a commit covers it, in case this transaction aborts too.
			ps.handled = true
			if err := t.w.dispose(rec, ps.err, t.w.cfg.policy(ps.err.Kind)); err != nil {
				return true, err
			}
			p.consumed(rec)
			return true, nil
		}
	}
	t.hasCur, t.observed, t.curRec, t.src = true, false, rec, nil
	err := t.call(p.handler, rec)
	t.hasCur, t.curRec, t.src = false, nil, nil
	if err != nil {
		if err := t.recordFailed(rec, err); err != nil {
			return true, err
		}
		// Skipped or dead-lettered: consumed, but its time is not the stream's.
		p.consumed(rec)
		return true, nil
	}
	p.consumed(rec)
	eventTime := rec.Timestamp
	if t.observed {
		eventTime, t.observed = t.eventTime, false
	}
	if !p.internal && (!p.clock.seen || eventTime.After(p.clock.maxTime)) {
		p.clock.maxTime, p.clock.seen = eventTime, true
	}
	if err := t.advanceWatermark(); err != nil {
		return true, fmt.Errorf("eddy: task %s: after record %s: %w", t.id, t.cur, err)
	}
	return true, nil
}

// punctuate runs the punctuators that are due and returns the earliest next due time (the
// zero time when there are none).
func (t *task) punctuate(now time.Time) (time.Time, error) {
	var next time.Time
	if len(t.punctuators) == 0 {
		return next, nil
	}
	// A punctuator may schedule another; those land in t.punctuators while this loop
	// walks the old list.
	ps := t.punctuators
	t.punctuators = nil
	live := make([]*punctuator, 0, len(ps))
	for _, p := range ps {
		if p.cancelled {
			continue
		}
		if !now.Before(p.next) {
			if err := protect("a punctuator", func() error { return p.fn(now) }); err != nil {
				return next, fmt.Errorf("eddy: task %s: punctuation: %w", t.id, err)
			}
			// Skip missed beats instead of firing them in a burst.
			for !now.Before(p.next) {
				p.next = p.next.Add(p.interval)
			}
		}
		if !p.cancelled {
			live = append(live, p)
			if next.IsZero() || p.next.Before(next) {
				next = p.next
			}
		}
	}
	for _, p := range t.punctuators {
		if next.IsZero() || p.next.Before(next) {
			next = p.next
		}
	}
	t.punctuators = append(live, t.punctuators...)
	return next, nil
}
