package runtime

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/eos"
	"github.com/eddy-streams/eddy/internal/metrics"
	"github.com/eddy-streams/eddy/processor"
)

// syncRig is a task of a worker with a settable clock, whose partitions record what they
// process ("topic/offset@ms").
type syncRig struct {
	t    *testing.T
	w    *worker
	tk   *task
	now  time.Time
	seen []string
}

// newSyncRig makes a task with one partition per timing, each caught up at offset 0.
func newSyncRig(t *testing.T, idle time.Duration, timings ...sourceTiming) *syncRig {
	r := &syncRig{t: t, now: time.UnixMilli(1_000_000)}
	r.w = &worker{cfg: &Config{MaxTaskIdle: idle, Metrics: metrics.NewRegistry(), TransactionTimeout: 10 * time.Second,
		CommitInterval: 100 * time.Millisecond, MaxQueuedPerTask: 1000},
		poisoned: map[recordCoord]*poison{}, tasks: map[processor.TaskID]*task{}, parts: map[topicPartition]*partition{}}
	r.w.now = func() time.Time { return r.now }
	r.w.guarantee = &eos.ExactlyOnce{} // processes everything polled; the transaction is never touched here
	r.tk = &task{id: processor.TaskID{Subtopology: 0, Partition: 0}, w: r.w}
	r.w.addTaskLocked(r.tk)
	for i, tm := range timings {
		topic := fmt.Sprintf("t%d", i)
		p := &partition{topic: topic, timing: tm, next: -1, end: -1, task: r.tk, sync: syncState{pos: 0, end: 0}}
		p.handler = func(rec *kgo.Record) error {
			r.seen = append(r.seen, fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Offset, rec.Timestamp.UnixMilli()))
			return nil
		}
		r.tk.parts = append(r.tk.parts, p)
		r.w.parts[topicPartition{topic, 0}] = p
	}
	return r
}

// add fetches records at the given times into partition i, as enqueueLocked does (the
// partition's end is then its position: caught up).
func (r *syncRig) add(i int, times ...int64) { r.addUpTo(i, -1, times...) }

// addUpTo is add with the end the fetch reports (-1: the position after the records).
func (r *syncRig) addUpTo(i int, end int64, times ...int64) {
	p := r.tk.parts[i]
	fp := kgo.FetchTopicPartition{Topic: p.topic, FetchPartition: kgo.FetchPartition{Partition: 0}}
	for _, ts := range times {
		off := max(p.sync.pos, 0) + int64(len(fp.Records))
		fp.Records = append(fp.Records, &kgo.Record{Topic: p.topic, Offset: off, Timestamp: ms(ts)})
	}
	fp.HighWatermark = max(p.sync.pos, 0) + int64(len(times))
	if end >= 0 {
		fp.HighWatermark = end
	}
	r.w.enqueueLocked(fp)
}

// drain processes until the task has nothing it may process, and returns what it
// processed since the last drain.
func (r *syncRig) drain() []string {
	r.t.Helper()
	r.seen = nil
	for {
		ok, err := r.tk.processOne()
		if err != nil {
			r.t.Fatal(err)
		}
		if !ok {
			return r.seen
		}
	}
}

func (r *syncRig) enforced() int64 {
	for _, s := range r.w.cfg.Metrics.Snapshot() {
		if s.Name == "eddy_enforced_processing_total" {
			return s.Value
		}
	}
	return 0
}

func (r *syncRig) expect(got []string, want ...string) {
	r.t.Helper()
	if !slices.Equal(got, want) {
		r.t.Fatalf("processed %v, want %v", got, want)
	}
}

// With every partition queued the task takes the lowest head, a table's on a tie.
func TestSyncAllQueuedTimeOrder(t *testing.T) {
	r := newSyncRig(t, 0, sourceTiming{}, sourceTiming{table: true})
	r.add(0, 10, 30)
	r.add(1, 5, 30)
	r.add(1, 40)
	// t0/1@30 and t1/1@30 tie: the table's first. Then t0 is empty and caught up: the
	// default does not wait, and counts enforced processing.
	r.expect(r.drain(), "t1/0@5", "t0/0@10", "t1/1@30", "t0/1@30", "t1/2@40")
	if n := r.enforced(); n != 1 {
		t.Errorf("enforced processing counted %d, want 1 (the last record, with t0 empty)", n)
	}
}

// Default 0: a partition with records known to be on the broker is waited for until they
// come; a caught-up one is not waited for.
func TestSyncDefaultWaitsForKnownLagOnly(t *testing.T) {
	r := newSyncRig(t, 0, sourceTiming{}, sourceTiming{table: true})
	r.tk.parts[1].sync.end = 3 // three table records on the broker, none fetched
	r.add(0, 100, 200)
	r.expect(r.drain())
	if _, _, wake := r.tk.next(waitForPartitions); !wake.Equal(r.now.Add(lagWaitLimit)) {
		t.Fatalf("wake = %v, want now + lagWaitLimit", wake)
	}
	r.now = r.now.Add(time.Second)
	r.addUpTo(1, 3, 50, 150)
	// Two of three: t1 has lag again once its queue is empty.
	r.expect(r.drain(), "t1/0@50", "t0/0@100", "t1/1@150")
	r.add(1, 160)
	r.expect(r.drain(), "t1/2@160", "t0/1@200")
	if n := r.enforced(); n != 1 {
		t.Errorf("enforced = %d, want 1 (t0/1, with t1 caught up)", n)
	}
}

// Known lag that never arrives is waited for lagWaitLimit, then the task goes on.
func TestSyncLagWaitIsBounded(t *testing.T) {
	r := newSyncRig(t, 0, sourceTiming{}, sourceTiming{table: true})
	r.tk.parts[1].sync.end = 5
	r.add(0, 100)
	r.expect(r.drain())
	r.now = r.now.Add(lagWaitLimit - time.Millisecond)
	r.expect(r.drain())
	r.now = r.now.Add(time.Millisecond)
	r.expect(r.drain(), "t0/0@100")
}

// MaxTaskIdle d > 0 waits d even for a caught-up partition, counted from the moment it
// holds a record back (not from when it ran empty), and again after it had records.
func TestSyncMaxTaskIdleWaitsForCaughtUpPartition(t *testing.T) {
	const d = 2 * time.Second
	r := newSyncRig(t, d, sourceTiming{}, sourceTiming{table: true})
	// Quiet for longer than d before any record: that does not count.
	r.expect(r.drain())
	r.now = r.now.Add(time.Hour)
	r.add(0, 100)
	r.expect(r.drain())
	if _, _, wake := r.tk.next(waitForPartitions); !wake.Equal(r.now.Add(d)) {
		t.Fatalf("wake = %v, want now + %s", wake, d)
	}
	// The table update comes within d, with an earlier time: it goes first. Then t1 is
	// empty again, and the stream record waits for it to stay quiet for d.
	r.now = r.now.Add(d / 2)
	r.add(1, 90)
	r.expect(r.drain(), "t1/0@90")
	r.now = r.now.Add(d - time.Millisecond)
	r.add(0, 300)
	r.expect(r.drain())
	r.now = r.now.Add(time.Millisecond)
	r.expect(r.drain(), "t0/0@100", "t0/1@300")
	if n := r.enforced(); n != 2 {
		t.Errorf("enforced = %d, want 2", n)
	}
	// The wait ran out and t1 had nothing since: later records do not wait again.
	r.add(0, 400)
	r.expect(r.drain(), "t0/2@400")
}

// A negative MaxTaskIdle never waits, not even for known lag.
func TestSyncDisabled(t *testing.T) {
	r := newSyncRig(t, -1, sourceTiming{}, sourceTiming{table: true})
	r.tk.parts[1].sync.end = 10
	r.add(0, 100)
	r.expect(r.drain(), "t0/0@100")
	if n := r.enforced(); n != 0 {
		t.Errorf("enforced = %d with waiting disabled, want 0", n)
	}
}

// An empty internal partition whose upstream watermark has reached the next record does
// not hold it back; below it, it does (here for MaxTaskIdle, with lag for the default).
func TestSyncInternalPartitionWatermark(t *testing.T) {
	r := newSyncRig(t, time.Second, sourceTiming{table: true}, sourceTiming{})
	in := r.tk.parts[1]
	in.internal, in.expected = true, 1
	in.observeUpstream(0, upstreamWM{wm: 500})
	if !in.clock.seen || !in.watermark().Equal(ms(500)) {
		t.Fatalf("internal watermark %v (seen %v), want 500", in.watermark(), in.clock.seen)
	}
	r.add(0, 400, 500, 600)
	r.expect(r.drain(), "t0/0@400", "t0/1@500")
	r.now = r.now.Add(time.Second)
	r.expect(r.drain(), "t0/2@600")
}

// A partition at its end in a bounded run holds nothing back; waitForNothing processes
// everything queued.
func TestSyncDoneAndWaitForNothing(t *testing.T) {
	r := newSyncRig(t, time.Hour, sourceTiming{}, sourceTiming{table: true})
	r.tk.parts[1].clock.done = true
	r.add(0, 100)
	r.expect(r.drain(), "t0/0@100")
	r.tk.parts[1].clock.done = false
	r.add(0, 200)
	r.expect(r.drain())
	if ok, err := r.tk.processNext(waitForNothing); !ok || err != nil {
		t.Fatalf("processNext(waitForNothing) = %v, %v", ok, err)
	}
	r.expect(r.seen, "t0/1@200")
}

// Transaction markers move the position and the offset to commit, and never reach a
// processor: a partition whose last record is a commit marker is caught up, and a
// bounded run's end (the last stable offset, past the marker) is reached.
func TestSyncControlRecords(t *testing.T) {
	r := newSyncRig(t, 0, sourceTiming{}, sourceTiming{table: true})
	tbl := r.tk.parts[1]
	tbl.end = 3 // bounded: the end is the last stable offset, after the marker at 2
	fp := kgo.FetchTopicPartition{Topic: "t1", FetchPartition: kgo.FetchPartition{HighWatermark: 3, Records: []*kgo.Record{
		{Topic: "t1", Offset: 0, Timestamp: ms(10)},
		{Topic: "t1", Offset: 1, Timestamp: ms(20)},
		{Topic: "t1", Offset: 2, Timestamp: ms(99999), Attrs: controlAttrs(t)},
	}}}
	r.w.enqueueLocked(fp)
	r.add(0, 15)
	r.expect(r.drain(), "t1/0@10", "t0/0@15", "t1/1@20")
	if tbl.queued() != 0 || tbl.next != 3 || !tbl.clock.done || tbl.sync.lagging() {
		t.Errorf("after the marker: queued %d, next %d, done %v, lagging %v; want 0, 3, true, false",
			tbl.queued(), tbl.next, tbl.clock.done, tbl.sync.lagging())
	}
}

// controlAttrs are the attributes of a commit marker, as franz-go decodes them from a
// control batch (RecordAttrs has no exported constructor).
func controlAttrs(t *testing.T) kgo.RecordAttrs {
	t.Helper()
	rec := kmsg.Record{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // what follows the length varint (1 byte for 0)
	batch := kmsg.RecordBatch{Magic: 2, Attributes: 0x20, NumRecords: 1, ProducerID: 1, Records: rec.AppendTo(nil)}
	raw := batch.AppendTo(nil)
	batch.Length = int32(len(raw) - 12)
	raw = batch.AppendTo(nil)
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{KeepControlRecords: true, DisableCRCValidation: true, Topic: "t"},
		&kmsg.FetchResponseTopicPartition{RecordBatches: raw}, kgo.DefaultDecompressor(), nil)
	if fp.Err != nil || len(fp.Records) != 1 || !fp.Records[0].Attrs.IsControl() {
		t.Fatalf("decoding a control batch: %v, %d records", fp.Err, len(fp.Records))
	}
	return fp.Records[0].Attrs
}

// The worker's poll waits (with a deadline) while its only task holds records back, and
// returns at once when some task may process.
func TestSyncWorkerReadiness(t *testing.T) {
	r := newSyncRig(t, 3*time.Second, sourceTiming{}, sourceTiming{table: true})
	if busy, wake := r.w.readyLocked(); busy || !wake.IsZero() {
		t.Fatalf("nothing queued: busy %v, wake %v; want false, zero", busy, wake)
	}
	r.add(0, 100)
	busy, wake := r.w.readyLocked()
	if busy || !wake.Equal(r.now.Add(3*time.Second)) {
		t.Fatalf("waiting: busy %v, wake %v; want false, now + 3 s", busy, wake)
	}
	other := &task{id: processor.TaskID{Subtopology: 1}, w: r.w}
	op := &partition{topic: "x", task: other, next: -1, end: -1, handler: func(*kgo.Record) error { return nil }}
	other.parts = []*partition{op}
	r.w.addTaskLocked(other)
	op.queue = append(op.queue, &kgo.Record{Topic: "x", Timestamp: ms(1)})
	if busy, _ := r.w.readyLocked(); !busy {
		t.Fatal("another task may process: not busy")
	}
}

// Under exactly-once a due commit waits for a task that holds records back, up to
// holdLimit past due; then the task processes them and the commit goes ahead.
func TestSyncHoldsCommitBounded(t *testing.T) {
	r := newSyncRig(t, 2*time.Second, sourceTiming{}, sourceTiming{table: true})
	r.add(0, 100)
	due := r.now
	held, err := r.w.holdsCommitLocked(due)
	if err != nil || !held {
		t.Fatalf("holdsCommitLocked = %v, %v; want held", held, err)
	}
	if limit := r.w.holdLimit(); limit != (10*time.Second-100*time.Millisecond)/2 {
		t.Fatalf("holdLimit = %s", limit)
	}
	r.now = due.Add(r.w.holdLimit())
	held, err = r.w.holdsCommitLocked(due)
	if err != nil || held {
		t.Fatalf("past the limit: holdsCommitLocked = %v, %v; want the commit to go ahead", held, err)
	}
	r.expect(r.seen, "t0/0@100")
	if r.tk.parts[0].queued() != 0 {
		t.Error("records left queued for a commit of everything polled")
	}
}

// A task that waits holds only itself back: the worker's other tasks are processed.
func TestSyncWaitingTaskDoesNotStallTheWorker(t *testing.T) {
	r := newSyncRig(t, time.Hour, sourceTiming{}, sourceTiming{table: true})
	r.add(0, 100)
	other := &task{id: processor.TaskID{Subtopology: 1}, w: r.w}
	var done []int64
	op := &partition{topic: "x", task: other, next: -1, end: -1, sync: syncState{},
		handler: func(rec *kgo.Record) error { done = append(done, rec.Offset); return nil }}
	other.parts = []*partition{op}
	r.w.addTaskLocked(other)
	r.w.parts[topicPartition{"x", 0}] = op
	r.w.enqueueLocked(kgo.FetchTopicPartition{Topic: "x", FetchPartition: kgo.FetchPartition{HighWatermark: 3,
		Records: []*kgo.Record{{Topic: "x", Offset: 0}, {Topic: "x", Offset: 1}, {Topic: "x", Offset: 2}}}})
	if err := r.w.processLocked(waitForPartitions); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(done, []int64{0, 1, 2}) || len(r.seen) != 0 || r.tk.parts[0].queued() != 1 {
		t.Errorf("other task processed %v, the waiting one %v (queued %d); want [0 1 2], none, 1", done, r.seen, r.tk.parts[0].queued())
	}
}

// A fetch that reports an end older than the one known (a buffered fetch, after the
// listing at assignment) does not lower it: the partition still lags.
func TestSyncEndNeverGoesDown(t *testing.T) {
	s := newSyncState()
	s.received(-1, 10)
	s.received(4, 3)
	if s.end != 10 || !s.lagging() {
		t.Errorf("end %d, lagging %v; want 10 and true (position 4)", s.end, s.lagging())
	}
}
