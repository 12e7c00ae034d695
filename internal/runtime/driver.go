package runtime

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/eos"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/metrics"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// The test driver (package eddytest's engine) runs a topology on one worker of this
// runtime — its tasks, partitions, watermarks, time synchronization, failure policies,
// changelogs, commits and aborts — over in-memory topics and a virtual clock instead of a
// client and the wall clock. Nothing runs on a goroutine of its own: every call does its
// work and returns. It is the worker's transport (worker.tx) and, under exactly-once, its
// transactions; what it does not have is a broker's concurrency (one worker owns every
// task) and the rebalance protocol.

// DriverOptions configures a Driver.
type DriverOptions struct {
	// Partitions are the partition counts of external topics (inputs, outputs, dead
	// letters, topics a sink picks per record); DefaultPartitions is the count of an
	// input or static output not listed (at least 1).
	Partitions        map[string]int32
	DefaultPartitions int32
	// Start is the virtual wall clock's start.
	Start time.Time
	// From restarts from a snapshot of an earlier driver of the same topology (Snapshot):
	// its topics and committed offsets; the stores restore from their changelogs.
	From *DriverState
}

// Driver runs a topology deterministically in memory. Not safe for concurrent use.
type Driver struct {
	w      *worker
	topics map[string]*memTopic
	now    time.Time
	seq    uint64 // production order of every record

	// group holds the committed offsets, with their metadata.
	group map[topicPartition]committedOffset
	// fetch is each assigned partition's next offset to fetch; paused, its pause.
	fetch  map[topicPartition]int64
	paused map[topicPartition]bool

	part       kgo.Partitioner
	tps        map[string]kgo.TopicPartitioner
	roundRobin map[string]int
	txn        *memTxn

	nextCommit time.Time
	// resumed counts resumed partitions: a round that resumed one made progress (the
	// next fetches it).
	resumed int
	// skipped are the records the Skip policy skipped, by coordinate, in the order met.
	skipped      []SkippedRecord
	skippedCoord map[recordCoord]bool
	err          error // the failure that stopped the driver
	closed       bool
}

// SkippedRecord is a record the Skip policy skipped, and why.
type SkippedRecord struct {
	Record  *kgo.Record
	Failure *RecordFailure
}

type committedOffset struct {
	offset int64
	meta   string
}

// memTopic is one in-memory topic; memRec one record in it.
type memTopic struct {
	parts [][]*memRec
	// firstPending is, per partition, the index of its first record in the open
	// transaction (-1: none): the last stable offset.
	firstPending []int
}

type memRec struct {
	rec *kgo.Record
	seq uint64
	// pending: written in the open transaction; aborted: in an aborted one.
	pending, aborted bool
}

// DriverState is what a driver leaves for a restart: its topics and committed offsets.
type DriverState struct {
	topics map[string]*memTopic
	group  map[topicPartition]committedOffset
	now    time.Time
	seq    uint64
}

// NewDriver plans the topology's topics in memory, creates every task (one worker owns
// them all) and restores their stores from the changelogs (empty on a first start).
func NewDriver(cfg *Config, g *graph.Graph, opts DriverOptions) (*Driver, error) {
	if cfg.Bounded {
		return nil, errors.New("eddy: the test driver does not run bounded applications; its input never ends")
	}
	subs, err := g.Subtopologies()
	if err != nil {
		return nil, err
	}
	if opts.DefaultPartitions < 1 {
		opts.DefaultPartitions = 1
	}
	plan := newTopicPlan()
	sources, sinks := externalTopics(subs)
	for _, gl := range g.Globals() {
		sources = append(sources, gl.Topic)
	}
	for _, t := range slices.Concat(sources, sinks, cfg.DeadLetterTopics()) {
		plan.partitions[t] = opts.DefaultPartitions
	}
	for t, n := range opts.Partitions {
		if n < 1 {
			return nil, fmt.Errorf("eddy: topic %s: %d partitions; a topic has at least 1", t, n)
		}
		plan.partitions[t] = n
	}
	if err := plan.layout(g, cfg.ApplicationID); err != nil {
		return nil, err
	}
	for _, s := range plan.subs {
		stores, err := g.StoresOf(s.ID)
		if err != nil {
			return nil, err
		}
		for _, st := range stores {
			name := changelog.Topic(cfg.ApplicationID, st.Name)
			plan.addChangelog(name, plan.partitions[s.Topics[0]], topicID(name))
		}
	}
	for _, gl := range g.Globals() {
		plan.globals = append(plan.globals, &globalTopic{g: gl, partitions: plan.partitions[gl.Topic], id: topicID(gl.Topic),
			deleteRetention: 24 * time.Hour})
	}
	plan.maxRecordBytes = defaultBatchMaxBytes
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// A step processes everything it may: a budget on the real clock would make the order
	// of work depend on the machine's speed.
	cfg.ProcessBudget = 24 * time.Hour
	d := &Driver{
		topics:       map[string]*memTopic{},
		now:          opts.Start,
		group:        map[topicPartition]committedOffset{},
		fetch:        map[topicPartition]int64{},
		paused:       map[topicPartition]bool{},
		part:         newPartitioner(plan.roundRobin, plan.byTask, plan.changelogs, plan.upstreams),
		tps:          map[string]kgo.TopicPartitioner{},
		roundRobin:   map[string]int{},
		skippedCoord: map[recordCoord]bool{},
	}
	if from := opts.From; from != nil {
		c := from.clone()
		d.topics, d.group, d.now, d.seq = c.topics, c.group, c.now, c.seq
	}
	for name, n := range plan.partitions {
		mt := d.topics[name]
		if mt == nil {
			mt = &memTopic{}
			d.topics[name] = mt
		}
		if int32(len(mt.parts)) > n {
			return nil, fmt.Errorf("eddy: topic %s has %d partitions in the snapshot, the topology now has %d", name, len(mt.parts), n)
		}
		if _, internal := plan.changelogs[name]; (internal || plan.upstreams[name] > 0) && opts.From != nil && len(mt.parts) > 0 && int32(len(mt.parts)) != n {
			return nil, fmt.Errorf("eddy: internal topic %s has %d partitions in the snapshot, the topology now needs %d; "+
				"a broker refuses that too (delete it and the application's state to rebuild it)", name, len(mt.parts), n)
		}
		for int32(len(mt.parts)) < n {
			mt.parts, mt.firstPending = append(mt.parts, nil), append(mt.firstPending, -1)
		}
	}
	mgr := state.NewManager(store.NewMemory())
	mgr.CacheBytes = cfg.StateCacheBytes
	w := &worker{
		stop: context.Background(), cfg: cfg, g: g, plan: plan, log: cfg.Logger,
		tasks: map[processor.TaskID]*task{}, parts: map[topicPartition]*partition{},
		mgr: mgr, jobs: map[topicPartition]*restoreJob{}, poisoned: map[recordCoord]*poison{},
		tx: d, now: d.clock, commitTimeout: commitTimeout, stats: newCommitStats(cfg.Metrics, 0),
	}
	w.promise = w.produced
	w.onSkip = d.skip
	if cfg.MaxBufferedBytes > 0 {
		w.bufferShare = cfg.MaxBufferedBytes
	}
	w.guarantee = eos.AtLeastOnce{}
	if cfg.ExactlyOnce {
		d.txn = &memTxn{d: d}
		w.guarantee = &eos.ExactlyOnce{Txn: d.txn}
	}
	if len(plan.globals) > 0 {
		if w.globals, err = openGlobalTables(cfg, plan, mgr); err != nil {
			return nil, err
		}
		w.globals.produceSync = func(_ context.Context, rec *kgo.Record) error { return d.append(rec, -1, false) }
	}
	d.w = w
	d.nextCommit = d.now.Add(cfg.CommitInterval)
	if err := d.start(); err != nil {
		return nil, err
	}
	return d, d.pump()
}

// start assigns every task to the worker, restores the stores and loads the committed
// offsets and watermarks, as a worker does for its assignment.
func (d *Driver) start() error {
	w := d.w
	assigned := map[string][]int32{}
	for _, s := range w.plan.subs {
		for _, topic := range s.Topics {
			for p := range w.plan.partitions[topic] {
				assigned[topic] = append(assigned[topic], p)
			}
		}
	}
	w.assignLocked(assigned)
	if w.fatal != nil {
		return w.fatal
	}
	need := make([]*partition, 0, len(w.parts))
	offs := kadm.OffsetResponses{}
	for _, t := range w.ordered {
		for _, p := range t.parts {
			need = append(need, p)
			p.needMeta = false
			tp := topicPartition{p.topic, p.partition}
			pos := int64(0)
			if c, ok := d.group[tp]; ok {
				pos = c.offset
				offs.Add(kadm.OffsetResponse{Offset: kadm.Offset{Topic: p.topic, Partition: p.partition, At: c.offset, Metadata: c.meta}})
			}
			d.fetch[tp] = pos
			p.sync.pos, p.sync.end = pos, d.end(p.topic, p.partition)
		}
	}
	w.applyOffsetMetaLocked(need, offs)
	if err := d.feedGlobals(); err != nil {
		return err
	}
	for _, t := range w.ordered {
		if err := d.restore(t); err != nil {
			return err
		}
	}
	return w.fatal
}

// restore replays a task's changelogs into its stores, which start empty.
func (d *Driver) restore(t *task) error {
	w := d.w
	if t.restoring >= 0 {
		return nil
	}
	t.restoring = len(t.kvs)
	for i, kv := range t.kvs {
		topic := t.changelogs[i]
		log := d.topics[topic].parts[t.id.Partition]
		var keys, values [][]byte
		for _, m := range log {
			if !m.pending && !m.aborted {
				keys, values = append(keys, m.rec.Key), append(values, m.rec.Value)
			}
		}
		end := int64(len(log))
		id := w.plan.changelogs[topic].id
		if err := w.mgr.ApplyRestored(kv, keys, values, state.Checkpoint{TopicID: id, Offset: end, Written: d.now}); err != nil {
			return fmt.Errorf("eddy: task %s: restoring %s: %w", t.id, kv.Name(), err)
		}
		target := &changelog.Target{Topic: topic, Partition: t.id.Partition, From: 0, To: end, Restored: int64(len(keys)), Started: time.Now()}
		job := &restoreJob{task: t, kv: kv, target: target, wiped: true}
		w.jobs[topicPartition{topic, t.id.Partition}] = job
		w.finishRestore(job)
	}
	return nil
}

func (d *Driver) clock() time.Time { return d.now }

// topicID is a topic's id in memory: a hash of its name.
func topicID(name string) [16]byte {
	h := fnv.New128a()
	h.Write([]byte(name))
	var id [16]byte
	copy(id[:], h.Sum(nil))
	return id
}

// feedGlobals applies the records of the global tables' topics not applied yet, as the
// global reader does (read_committed under exactly-once): before the tasks' next records,
// so a record sent after a table update meets it.
func (d *Driver) feedGlobals() error {
	r := d.w.globals
	if r == nil {
		return nil
	}
	var topics []kgo.FetchTopic
	for _, t := range r.tables {
		ft := kgo.FetchTopic{Topic: t.g.Topic}
		for p := range t.partitions {
			log := d.topics[t.g.Topic].parts[p]
			end := d.end(t.g.Topic, p)
			fp := kgo.FetchPartition{Partition: p, HighWatermark: end, LastStableOffset: end}
			for off := t.pos[p]; off < end; off++ {
				if m := log[off]; !m.aborted {
					r := *m.rec
					fp.Records = append(fp.Records, &r)
				}
			}
			if len(fp.Records) > 0 {
				ft.Partitions = append(ft.Partitions, fp)
			}
		}
		if len(ft.Partitions) > 0 {
			topics = append(topics, ft)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	return r.apply(context.Background(), kgo.Fetches{{Topics: topics}}, nil)
}

// Now is the virtual wall clock.
func (d *Driver) Now() time.Time { return d.now }

// Partitions is a topic's partition count; ok is false for a topic the driver has not.
func (d *Driver) Partitions(topic string) (n int32, ok bool) {
	mt, ok := d.topics[topic]
	if !ok {
		return 0, false
	}
	return int32(len(mt.parts)), true
}

// Metrics is the driver's counter registry.
func (d *Driver) Metrics() *metrics.Registry { return d.w.cfg.Metrics }

// Skipped lists the records the Skip policy skipped, each once, in the order met.
func (d *Driver) Skipped() []SkippedRecord { return d.skipped }

func (d *Driver) skip(rec *kgo.Record, re *graph.RecordError) {
	c := coordOf(rec)
	if !d.skippedCoord[c] {
		d.skippedCoord[c] = true
		task := processor.TaskID{Subtopology: d.w.plan.subOf[rec.Topic], Partition: rec.Partition}
		d.skipped = append(d.skipped, SkippedRecord{Record: copyRecord(rec), Failure: newRecordFailure(task, rec, re)})
	}
}

// Input appends records to an input topic, as a producer outside the application would
// (partition -1: by the key's murmur2 hash, as Kafka's default partitioner; records
// without a key go round-robin), then processes until nothing is left to do. A zero
// timestamp is the virtual clock's now.
func (d *Driver) Input(partition int32, recs ...*kgo.Record) error {
	if err := d.usable(); err != nil {
		return err
	}
	for _, rec := range recs {
		if _, ok := d.w.plan.subOf[rec.Topic]; !ok && !d.isGlobal(rec.Topic) {
			return fmt.Errorf("eddytest: no source reads topic %q", rec.Topic)
		}
		if partition < -1 {
			return fmt.Errorf("eddytest: partition %d of %s: partitions are numbered from 0", partition, rec.Topic)
		}
		if partition >= 0 {
			if n, _ := d.Partitions(rec.Topic); partition >= n {
				return fmt.Errorf("eddytest: topic %s has %d partitions; there is no partition %d", rec.Topic, n, partition)
			}
		}
		if err := d.append(rec, partition, false); err != nil {
			return err
		}
	}
	return d.pump()
}

func (d *Driver) isGlobal(topic string) bool {
	return d.w.globals != nil && d.w.globals.byTopic[topic] != nil
}

// usable says why the driver can take no more work, if it cannot.
func (d *Driver) usable() error {
	if d.err != nil {
		return d.err
	}
	if d.closed {
		return errors.New("eddytest: the driver is closed")
	}
	return nil
}

// progress is a fingerprint of the work done: it changes when a record is produced or
// processed.
func (d *Driver) progress() (uint64, int64) {
	n := int64(d.resumed)
	for _, p := range d.w.parts {
		n += p.next + int64(p.head) - int64(len(p.queue))
	}
	return d.seq, n
}

// maxRounds bounds the rounds of one pump, and the commits of one Commit: a chain of
// repartition topics takes a round per hop; only a topology that feeds itself (a sink to
// its own source) needs more.
const maxRounds = 100_000

var errSelfFeeding = errors.New("eddytest: the topology keeps producing records to its own inputs without end")

// pump runs the worker's step — fetch, process, idleness, punctuation, markers, and a
// commit when over the buffer budget — until a round changes nothing.
func (d *Driver) pump() error {
	if err := d.usable(); err != nil {
		return err
	}
	for round := 0; ; round++ {
		if round > maxRounds {
			return d.fail(errSelfFeeding)
		}
		progressed, err := d.round()
		if errors.Is(err, errReplay) {
			if err = d.w.replayLocked(context.Background()); err == nil {
				continue
			}
		}
		if err != nil {
			return d.fail(err)
		}
		if !progressed {
			return nil
		}
	}
}

func (d *Driver) round() (bool, error) {
	w := d.w
	if w.fatal != nil {
		return false, w.fatal
	}
	if err := d.feedGlobals(); err != nil {
		return false, err
	}
	fetched := d.fetchLocked()
	if w.queuedLocked() > 0 {
		if err := w.guarantee.Begin(); err != nil {
			return false, err
		}
	}
	seq, n := d.progress()
	if err := w.processLocked(waitForPartitions); err != nil {
		return false, err
	}
	for _, t := range w.ordered {
		if t.restoring != 0 {
			continue
		}
		if err := t.checkIdle(d.now); err != nil {
			return false, err
		}
		if _, err := t.punctuate(d.now); err != nil {
			return false, err
		}
	}
	if err := w.sendMarkersLocked(d.now); err != nil {
		return false, err
	}
	if w.overBudgetLocked() {
		if err := d.commitLocked(false); err != nil {
			return false, err
		}
	}
	seq2, n2 := d.progress()
	return fetched || seq != seq2 || n != n2, nil
}

// fail stops the driver as a worker stops after an error: what was processed before the
// failed record is committed under at-least-once, the transaction aborted under
// exactly-once, and every task closed.
func (d *Driver) fail(err error) error {
	w := d.w
	if serr := w.guarantee.StopAfterError(context.Background(), &work{w: w}); serr != nil {
		w.log.Warn("ending the work after an error failed", "err", serr)
	}
	for _, t := range slices.Clone(w.ordered) {
		w.closeTaskLocked(t)
	}
	d.err = err
	return err
}

// commitLocked commits as the worker does when its interval is due; held reports
// whether, under exactly-once, tasks holding polled records back may defer it.
func (d *Driver) commitLocked(mayHold bool) error {
	w := d.w
	if mayHold && w.guarantee.ProcessesAllPolled() {
		held, err := w.holdsCommitLocked(d.nextCommit)
		if err != nil || held {
			return err
		}
	} else if w.guarantee.ProcessesAllPolled() {
		if err := w.processLocked(waitForNothing); err != nil {
			return err
		}
	}
	err := w.commitLocked(context.Background())
	d.nextCommit = d.now.Add(w.cfg.CommitInterval)
	return err
}

// Commit commits now, and processes what the commit made visible (under exactly-once,
// the records it wrote to repartition topics), again until nothing is left: afterwards
// every output of the input so far is committed. Under exactly-once it first processes
// every record fetched, those a task holds back for time synchronization too, as a
// worker does when a commit cannot wait any longer (AdvanceTime's commits wait as long as
// a worker's would).
func (d *Driver) Commit() error {
	for i := 0; ; i++ {
		if i > maxRounds {
			return d.fail(errSelfFeeding)
		}
		if err := d.usable(); err != nil {
			return err
		}
		if err := d.commitLocked(false); err != nil {
			if !errors.Is(err, errReplay) {
				return d.fail(err)
			}
			if err := d.w.replayLocked(context.Background()); err != nil {
				return d.fail(err)
			}
		}
		before := d.seq
		if err := d.pump(); err != nil {
			return err
		}
		if d.seq == before && (d.txn == nil || !d.txn.open) {
			return nil
		}
	}
}

// AdvanceTime moves the virtual wall clock forward by dt, stopping at every moment in
// between when something is due — a wall-clock punctuator, a commit, a partition's idle
// timeout, the end of a task's wait for an empty partition — and doing it then.
func (d *Driver) AdvanceTime(dt time.Duration) error {
	if err := d.usable(); err != nil {
		return err
	}
	if dt < 0 {
		return fmt.Errorf("eddytest: AdvanceTime(%s): time does not go back", dt)
	}
	target := d.now.Add(dt)
	for {
		next, ok := d.nextDue()
		if !ok || next.After(target) {
			next = target
		}
		d.now = next
		if err := d.pump(); err != nil {
			return err
		}
		if !d.now.Before(d.nextCommit) {
			if err := d.commitLocked(true); err != nil {
				if errors.Is(err, errReplay) {
					err = d.w.replayLocked(context.Background())
				}
				if err != nil {
					return d.fail(err)
				}
			}
			if err := d.pump(); err != nil {
				return err
			}
		}
		if !d.now.Before(target) {
			return nil
		}
	}
}

// nextDue is the earliest moment after now at which something is due.
func (d *Driver) nextDue() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(d.now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(d.nextCommit)
	if d.w.guarantee.ProcessesAllPolled() && d.w.queuedLocked() > 0 {
		consider(d.nextCommit.Add(d.w.holdLimit()))
	}
	for _, t := range d.w.ordered {
		for _, p := range t.punctuators {
			if !p.cancelled {
				consider(p.next)
			}
		}
		for _, p := range t.parts {
			if !p.internal && !p.clock.idle && p.timing.idleTimeout > 0 {
				consider(p.received.Add(p.timing.idleTimeout))
			}
		}
		if _, _, wake := t.next(waitForPartitions); !wake.IsZero() {
			consider(wake)
		}
	}
	return next, !next.IsZero()
}

// partition finds an assigned input partition.
func (d *Driver) partition(topic string, partition int32) (*partition, error) {
	if _, ok := d.w.plan.subOf[topic]; !ok {
		return nil, fmt.Errorf("eddytest: no source reads topic %q", topic)
	}
	p := d.w.parts[topicPartition{topic, partition}]
	if p == nil {
		n, _ := d.Partitions(topic)
		return nil, fmt.Errorf("eddytest: topic %s has %d partitions; there is no partition %d", topic, n, partition)
	}
	return p, nil
}

// external finds a partition of an external input topic for a change of its time, on a
// driver that still runs; why says what to do instead for a repartition topic's.
func (d *Driver) external(topic string, partition int32, why string) (*partition, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	p, err := d.partition(topic, partition)
	if err != nil {
		return nil, err
	}
	if p.internal {
		return nil, fmt.Errorf("eddytest: %s is a repartition topic: %s", topic, why)
	}
	return p, nil
}

// SetWatermark raises an input partition's watermark to wm, as a record with the event
// time wm plus the source's out-of-orderness bound would, and runs what that moves:
// window closes and event-time punctuators. A watermark never goes down: a lower wm
// changes nothing. Internal partitions take theirs from their upstream tasks.
func (d *Driver) SetWatermark(topic string, partition int32, wm time.Time) error {
	p, err := d.external(topic, partition, "its watermark is its upstream tasks'; set theirs")
	if err != nil {
		return err
	}
	if p.timing.table {
		return fmt.Errorf("eddytest: %s is read as a table: a table's partitions take no part in the watermark", topic)
	}
	maxTime := wm.Add(p.timing.outOfOrderness + time.Millisecond)
	if !p.clock.seen || maxTime.After(p.clock.maxTime) {
		p.clock.maxTime, p.clock.seen = maxTime, true
	}
	if err := p.task.advanceWatermark(); err != nil {
		return d.fail(err)
	}
	return d.settle()
}

// settle pumps after a change of a partition's time, and under exactly-once commits it:
// the time a test set is no record's, so an abort could not replay it — committed, the
// replay of a later failure starts from it.
func (d *Driver) settle() error {
	if err := d.pump(); err != nil {
		return err
	}
	if d.txn != nil {
		return d.Commit()
	}
	return nil
}

// SetIdle marks an input partition idle until its next record, as its idle timeout
// would: it stops holding its task's watermark back.
func (d *Driver) SetIdle(topic string, partition int32) error {
	p, err := d.external(topic, partition, "it is idle when its upstream tasks are; make their inputs idle")
	if err != nil {
		return err
	}
	p.idleForced = true
	if err := p.task.checkIdle(d.now); err != nil {
		return d.fail(err)
	}
	return d.settle()
}

// Watermark is a task's watermark (zero before it has one).
func (d *Driver) Watermark(id processor.TaskID) (time.Time, bool) {
	t, ok := d.w.tasks[id]
	if !ok {
		return time.Time{}, false
	}
	return t.watermark, true
}

// TaskOf is the task that reads a partition of a source topic.
func (d *Driver) TaskOf(topic string, partition int32) (processor.TaskID, error) {
	p, err := d.partition(topic, partition)
	if err != nil {
		return processor.TaskID{}, err
	}
	return p.task.id, nil
}

// Tasks lists the tasks in id order.
func (d *Driver) Tasks() []processor.TaskID {
	ids := make([]processor.TaskID, len(d.w.ordered))
	for i, t := range d.w.ordered {
		ids[i] = t.id
	}
	return ids
}

// Close stops the driver as a clean stop of Run does: the final commit, then every task
// closed. Snapshot afterwards is a clean restart's state.
func (d *Driver) Close() error {
	if d.closed || d.err != nil {
		return d.err
	}
	w := d.w
	err := w.guarantee.StopClean(context.Background(), &work{w: w})
	for _, t := range slices.Clone(w.ordered) {
		w.closeTaskLocked(t)
	}
	d.closed = true
	if err != nil {
		d.err = err
	}
	return err
}

// ChangelogTopic is the changelog topic of a store.
func (d *Driver) ChangelogTopic(store string) string {
	return changelog.Topic(d.w.cfg.ApplicationID, store)
}

// StoreSlices returns every task's slice of a store, in task order.
func (d *Driver) StoreSlices(name string) ([]store.Bytes, error) {
	var out []store.Bytes
	for _, t := range d.w.ordered {
		if kv, ok := t.stores[name]; ok {
			out = append(out, kv)
		}
	}
	if len(out) == 0 {
		if d.err != nil || d.closed {
			return nil, fmt.Errorf("eddytest: store %s: the driver stopped (%v), and its tasks with it", name, d.usable())
		}
		return nil, fmt.Errorf("eddytest: the topology has no store %q", name)
	}
	return out, nil
}
