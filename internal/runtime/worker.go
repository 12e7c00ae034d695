package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/eos"
	"github.com/eddy-streams/eddy/internal/assign"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
)

// errStopping ends a step that Run's stop interrupted half way: the worker stops as after
// an error (under exactly-once the transaction aborts), and Run returns nil.
var errStopping = errors.New("eddy: stopping")

// maxPollWait bounds how long a poll waits for records.
const maxPollWait = 100 * time.Millisecond

// commitTimeout bounds one commit: the flush of the output and the offset commit.
const commitTimeout = 60 * time.Second

// topicPartition keys a worker's partitions.
type topicPartition struct {
	topic     string
	partition int32
}

// worker is one consumer-group member and the one goroutine that drives all of its tasks.
type worker struct {
	cfg   *Config
	g     *graph.Graph
	plan  *topicPlan
	index int
	log   *slog.Logger
	cl    *kgo.Client
	// tx is what the task path needs of the client (cl, or the test driver's in-memory
	// topics): producing, flushing, pausing and resuming fetches, rewinding, committing.
	tx  transport
	bal *assign.Balancer
	// stop ends ShutdownTimeout after Run's context: commits, aborts and the final
	// shutdown run under it, so a stop is bounded even when the brokers do not answer.
	stop context.Context

	// mu guards tasks, parts and fatal. The loop holds it from the return of a poll until
	// AllowRebalance; franz-go runs the rebalance callbacks, which take it too under
	// at-least-once, only outside that window or while a poll returned nothing — so a
	// callback never sees a task in the middle of a record. (Under exactly-once the gate
	// stays shut until the open transaction commits, and the callbacks do not take mu:
	// eos.go.)
	mu    sync.Mutex
	tasks map[processor.TaskID]*task
	parts map[topicPartition]*partition
	fatal error // an error met in a callback, returned by the loop

	// produceErr holds the first error of an asynchronous produce. Offsets are not
	// committed past it: at-least-once means a record is committed only once its output
	// was acknowledged.
	produceErr atomic.Pointer[error]
	promise    func(*kgo.Record, error)
	// prodFailed are the inputs of outputs that failed on their own account, to be
	// dead-lettered (OnProduction); poisoned, under exactly-once, the records that failed
	// in a transaction that was then aborted, to be skipped or dead-lettered on the
	// replay before they have any effect.
	prodFailed productionFailures
	poisoned   map[recordCoord]*poison
	// pending are the failure counts of the open transaction, published when it commits.
	pending []pendingCount
	// finishedPending are the bounded-mode tasks finished since the last commit.
	finishedPending []processor.TaskID

	// mgr is the instance's state (nil without stores); restorer and jobs the changelog
	// replays under way; globals the instance's global tables (nil without), which tasks
	// read.
	mgr      *state.Manager
	globals  *globalReader
	restorer *changelog.Restorer
	jobs     map[topicPartition]*restoreJob
	// replicas keeps the instance's standby and warm-up replicas (nil: none wanted);
	// the worker hands it the ones of each assignment, and takes a task's slots from it
	// before the task opens its stores.
	replicas *standbys
	// ctl follows the control topic (nil in a bounded run); pausedFor is the savepoint
	// whose pause this worker acknowledged last.
	ctl       *controller
	pausedFor string

	// acks tracks the highest acknowledged offset per changelog partition, fed by the
	// producer's promise: a checkpoint is one past it.
	acks changelog.Acks

	// purgedAt is when the worker last deleted consumed records of repartition topics.
	purgedAt time.Time
	// bufferShare is the worker's share of MaxBufferedBytes (0: no bound, or no stores).
	bufferShare int

	// guarantee is the delivery guarantee, chosen once in connect; commitTimeout bounds
	// one commit; pauseOnAssign says the assigned callback pauses new partitions before
	// the loop sees them (exactly-once, eos.go).
	guarantee     eos.Guarantee
	commitTimeout time.Duration
	pauseOnAssign bool
	// events collects the assignments and revocations that callbacks saw under
	// exactly-once, for the loop to apply (see eos.go for why those callbacks cannot take
	// mu); under at-least-once it stays empty.
	lostMu sync.Mutex
	events []groupEvent
	// sess is the transactional session (nil under at-least-once), which the revoke and
	// lost callbacks tell of revocations (revokedEarly: one before sess was stored);
	// gateWanted says a rebalance callback waits for the poll gate, which under
	// exactly-once stays shut while a transaction is open: the commit is due at once.
	revokedEarly atomic.Bool
	sess         atomic.Pointer[eos.Session]
	gateWanted   atomic.Int64 // UnixNano of when it was first asked for; 0: not
	// joiningSince is when the worker's member started joining the group (UnixNano; 0:
	// it has its assignment). A transaction does not commit meanwhile: franz-go would
	// send its offsets with the generation that is ending, and the group would refuse
	// them and abort it.
	joiningSince atomic.Int64

	// now is the worker's wall clock (clock); nil: time.Now. The test driver and tests
	// set it.
	now func() time.Time
	// markEvery is the marker interval (markers.go): markerInterval, or 0 under the test
	// driver, which sends a marker whenever a watermark or idleness changed.
	markEvery time.Duration
	// ordered are the tasks in id order, for the loops that visit every task: the same
	// input gives the same order of work, and of output across tasks, on every run.
	ordered []*task
	// onSkip, if set, learns of every record the Skip policy skips (the test driver).
	onSkip func(*kgo.Record, *graph.RecordError)
	// rebalancing says the worker has no assignment of the current generation: it is
	// joining the group, or lost partitions and waits for the assignment (Monitor).
	rebalancing atomic.Bool
	// sampledAt is when the tasks' times were last sampled; inflight counts the records
	// handed the producer and not yet finished, against its maxBuffered (tasktime.go).
	sampledAt   time.Time
	inflight    atomic.Int64
	maxBuffered int64
	// stats are the worker's commit counters (stats.go).
	stats commitStats
}

// transport is what the task path needs of a Kafka client; *kgo.Client has it, and the
// test driver's in-memory topics (driver.go).
type transport interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	Flush(ctx context.Context) error
	PauseFetchPartitions(topicPartitions map[string][]int32) map[string][]int32
	ResumeFetchPartitions(topicPartitions map[string][]int32)
	SetOffsets(setOffsets map[string]map[int32]kgo.EpochOffset)
	CommitOffsetsSync(ctx context.Context, uncommitted map[string]map[int32]kgo.EpochOffset,
		onDone func(*kgo.Client, *kmsg.OffsetCommitRequest, *kmsg.OffsetCommitResponse, error))
}

func newWorker(stop context.Context, cfg *Config, g *graph.Graph, plan *topicPlan, mgr *state.Manager, globals *globalReader, replicas *standbys, ctl *controller, index int) (*worker, error) {
	w := &worker{
		replicas: replicas,
		ctl:      ctl,
		stop:     stop,
		cfg:      cfg,
		g:        g,
		plan:     plan,
		index:    index,
		log:      cfg.Logger.With("worker", index),
		tasks:    map[processor.TaskID]*task{},
		parts:    map[topicPartition]*partition{},
		mgr:      mgr,
		globals:  globals,
		jobs:     map[topicPartition]*restoreJob{},

		poisoned: map[recordCoord]*poison{},

		markEvery: markerInterval,
		stats:     newCommitStats(cfg.Metrics, index),
	}
	if mgr != nil && cfg.MaxBufferedBytes > 0 {
		w.bufferShare = max(cfg.MaxBufferedBytes/cfg.Workers, 1)
	}
	// One promise for every record: no closure per produce.
	w.promise = w.produced
	w.bal = assign.NewBalancer(plan.subs, assign.MemberInfo{ProcessID: cfg.ProcessID, Worker: index, Endpoint: cfg.AdvertisedAddress}, w.localState)
	w.bal.Observe(w.markJoining, func() { w.joiningSince.Store(0) })
	w.bal.SetReplication(assign.Replication{Standbys: cfg.StandbyReplicas, MaxWarmups: cfg.MaxWarmupReplicas, AcceptableLag: cfg.AcceptableRecoveryLag})
	w.startRebalance()
	if err := w.connect(); err != nil {
		w.endRebalance()
		return nil, err
	}
	return w, nil
}

// produced is the promise of every record the worker produces: a failure is the record's
// own (collected for its policy) or stops the application; an acknowledged changelog
// record moves its partition's checkpoint.
func (w *worker) produced(r *kgo.Record, err error) {
	w.inflight.Add(-1)
	if err != nil {
		if errors.Is(err, kgo.ErrAborting) {
			return // an aborted transaction's output, discarded on purpose
		}
		src, ok := r.Context.(*sourceRef)
		if ok && w.recordSpecific(r, err) {
			w.prodFailed.add(src.rec, r, err)
			return
		}
		var from string
		if ok {
			from = coordOf(src.rec).String()
		}
		e := produceError(err, r.Topic, from)
		w.produceErr.CompareAndSwap(nil, &e)
		return
	}
	if w.plan.changelogs[r.Topic] != nil {
		w.acks.Observe(r)
	}
}

// run is the worker's loop: poll, queue, process, punctuate, commit. It returns nil when ctx
// ends (after a final commit) and an error when processing or committing fails.
func (w *worker) run(ctx context.Context) (err error) {
	interrupted := false // stopped in the middle of a step: nothing incomplete may commit
	defer func() {
		err = errors.Join(err, w.shutdown(err == nil && !interrupted))
	}()
	nextCommit := time.Now().Add(w.cfg.CommitInterval)
	var nextPunctuation time.Time
	held := false // a due commit waits for tasks that hold polled records back (sync.go)
	for {
		if ctx.Err() != nil {
			return nil
		}
		if id, ok := w.ctl.paused(); ok {
			paused, err := w.pausedStep(ctx, id)
			if err != nil {
				return err
			}
			if paused {
				continue
			}
		}
		due := w.commitDue(nextCommit)
		commitAt := due
		switch {
		case held:
			commitAt = due.Add(w.holdLimit())
		case w.joiningGroup() && !commitAt.After(time.Now()):
			// The commit waits for the join (joiningGroup): poll meanwhile, not spin.
			commitAt = time.Now().Add(maxPollWait)
		}
		fetches := w.poll(ctx, commitAt, nextPunctuation)
		w.mu.Lock()
		np, stepErr := w.step(ctx, fetches, &nextCommit)
		w.mu.Unlock()
		held = false
		if stepErr == nil && w.guarantee.ProcessesAllPolled() {
			// Exactly-once: the poll gate stays shut while a transaction is open, and
			// a rebalance callback waiting for it has the transaction commit now, so a
			// revocation always comes between transactions and costs a commit, not an
			// abort and a replay (eos.go).
			due = w.commitDue(nextCommit)
			wanted := w.gateWanted.Load() != 0
			if (wanted || !time.Now().Before(due) || w.overBudget()) && (wanted || !w.joiningGroup()) {
				w.mu.Lock()
				if held, stepErr = w.holdsCommitLocked(due); stepErr == nil && !held {
					w.gateWanted.Store(0)
					stepErr = w.commitInGateLocked(ctx)
					nextCommit = time.Now().Add(w.cfg.CommitInterval)
				}
				w.mu.Unlock()
			}
		}
		if !w.guarantee.Pending() {
			w.cl.AllowRebalance()
		}
		if errors.Is(stepErr, errReplay) {
			w.mu.Lock()
			stepErr = w.replayLocked(ctx)
			w.mu.Unlock()
		}
		if errors.Is(stepErr, errRecreate) && ctx.Err() == nil {
			w.log.Warn("transaction outcome unknown; restarting the worker's client", "err", stepErr)
			if err := w.recreate(ctx); err != nil {
				return err
			}
			continue
		}
		if stepErr != nil {
			if errors.Is(stepErr, kgo.ErrClientClosed) && ctx.Err() != nil {
				return nil
			}
			if errors.Is(stepErr, errStopping) {
				interrupted = true
				return nil
			}
			return stepErr
		}
		nextPunctuation = np
		if w.cfg.Bounded {
			w.mu.Lock()
			newly, err := w.finishLocked()
			w.mu.Unlock()
			if err != nil {
				return err
			}
			if newly {
				// The end of a task counts once it is committed: commit at once.
				nextCommit = time.Now()
			}
			if w.plan.allFinished() {
				w.log.Info("bounded run complete: every task reached the end of its input")
				return nil // the shutdown commits
			}
		}
	}
}

// poll returns at once with whatever is buffered when a task has a record it may process
// or a restore is under way;
// otherwise it waits for records until the next commit or punctuation is due, or a
// task's wait for an empty partition ends (sync.go), because PollRecords blocks while
// there is no data. Records a task holds back do not make it return at once: that would
// spin while the task waits.
func (w *worker) poll(ctx context.Context, nextCommit, nextPunctuation time.Time) kgo.Fetches {
	w.mu.Lock()
	busy, wake := w.readyLocked()
	w.mu.Unlock()
	if busy {
		return w.cl.PollRecords(nil, w.cfg.MaxPollRecords) //nolint:staticcheck // nil: drain without waiting
	}
	deadline := nextCommit
	if !nextPunctuation.IsZero() && nextPunctuation.Before(deadline) {
		deadline = nextPunctuation
	}
	if !wake.IsZero() && wake.Before(deadline) {
		deadline = wake
	}
	// A rebalance callback may give this worker tasks to restore while it waits here, and
	// their input stays paused until it does, so no record would end the wait: come back
	// regularly.
	if limit := time.Now().Add(maxPollWait); limit.Before(deadline) {
		deadline = limit
	}
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	return w.cl.PollRecords(pctx, w.cfg.MaxPollRecords)
}

func (w *worker) queuedLocked() int {
	n := 0
	for _, p := range w.parts {
		n += p.queued()
	}
	return n
}

// step handles one poll's worth: queue the records, process for a bounded time, punctuate,
// and commit when due. It returns the next punctuation time.
func (w *worker) step(ctx context.Context, fetches kgo.Fetches, nextCommit *time.Time) (time.Time, error) {
	if w.fatal != nil {
		return time.Time{}, w.fatal
	}
	w.applyEventsLocked()
	for _, fe := range fetches.Errors() {
		switch {
		case errors.Is(fe.Err, context.DeadlineExceeded), errors.Is(fe.Err, context.Canceled):
		case errors.Is(fe.Err, kgo.ErrClientClosed):
			return time.Time{}, fe.Err
		case isAuthorization(fe.Err):
			// A refused permission does not grant itself: stop, saying which.
			return time.Time{}, fetchAuthorization(fe.Err, fe.Topic, fe.Partition, w.cfg.ApplicationID)
		case errors.Is(fe.Err, kerr.FencedInstanceID):
			// Another instance joined under this worker's static id and took its tasks
			// (franz-go has called onLost). Joining again would fence it in turn, and
			// the two would take the tasks from each other for ever.
			return time.Time{}, fmt.Errorf("eddy: worker %d: another instance of %s joined the group with this instance's StaticMembership id (%s-%d) and took over its tasks: give each instance its own id: %w",
				w.index, w.cfg.ApplicationID, w.cfg.InstanceID, w.index, fe.Err)
		default:
			// Fetch errors are retried by the client; they are worth a line, not a stop.
			w.log.Warn("fetch error", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
	}
	if w.staleLocked() {
		if err := w.clearStaleLocked(fetches); err != nil {
			return time.Time{}, err
		}
		fetches = nil // their records come again
	}
	fetches.EachPartition(w.enqueueLocked)
	if ctx.Err() != nil {
		return time.Time{}, nil // stopping: the shutdown commits
	}
	if err := w.loadOffsetMetaLocked(ctx); err != nil {
		return time.Time{}, err
	}
	if err := w.restoreLocked(ctx); err != nil {
		return time.Time{}, err
	}
	if w.queuedLocked() > 0 {
		if err := w.guarantee.Begin(); err != nil {
			return time.Time{}, err
		}
	}
	if err := w.processLocked(waitForPartitions); err != nil {
		return time.Time{}, err
	}
	now := w.clock()
	var nextPunct time.Time
	for _, t := range w.ordered {
		if t.restoring != 0 {
			continue
		}
		if err := t.checkIdle(now); err != nil {
			return time.Time{}, err
		}
		next, err := t.punctuate(now)
		if err != nil {
			return time.Time{}, err
		}
		if !next.IsZero() && (nextPunct.IsZero() || next.Before(nextPunct)) {
			nextPunct = next
		}
	}
	// Watermarks and idleness travel to the tasks behind repartition topics at the marker
	// interval, whatever the commit interval: with 30 s commits they would otherwise reach
	// them 30 s late, and an idle input would hold windows back that long.
	if err := w.sendMarkersLocked(now); err != nil {
		return time.Time{}, err
	}
	w.sampleTimesLocked(time.Now())
	if !w.guarantee.ProcessesAllPolled() && (!now.Before(*nextCommit) || w.overBudgetLocked()) {
		if err := w.commitLocked(ctx); err != nil {
			return time.Time{}, err
		}
		*nextCommit = time.Now().Add(w.cfg.CommitInterval)
	}
	w.purgeLocked(ctx, now)
	return nextPunct, nil
}

// enqueueLocked appends a fetched partition's records to its queue, and pauses fetching a
// partition whose queue is full: backpressure, so a slow task does not buffer its input
// without bound.
func (w *worker) enqueueLocked(fp kgo.FetchTopicPartition) {
	p, ok := w.parts[topicPartition{fp.Topic, fp.Partition}]
	if !ok {
		// Revoked between fetch and poll; the new owner fetches from the committed offset.
		return
	}
	if len(fp.Records) == 0 {
		// The end it reports still tells time synchronization whether records wait on the
		// broker (the position is only known from records).
		if end := w.fetchedEnd(fp); end > p.sync.end {
			p.sync.end = end
		}
		return
	}
	if p.replayFrom < 0 {
		p.replayFrom = fp.Records[0].Offset
	}
	p.queue = append(p.queue, fp.Records...)
	p.sync.received(fp.Records[len(fp.Records)-1].Offset+1, w.fetchedEnd(fp))
	p.settle()
	p.received = w.clock()
	if !p.paused && p.task.queued() >= w.cfg.MaxQueuedPerTask {
		p.paused = true
		w.tx.PauseFetchPartitions(map[string][]int32{p.topic: {p.partition}})
	}
}

// processLocked processes queued records task by task for at most a time budget, so
// commits and punctuations stay on time when input piles up; what remains waits for the
// next step. Under rule waitForPartitions a task waits for its empty partitions (sync.go);
// waitForNothing processes everything queued.
func (w *worker) processLocked(rule waitRule) error {
	deadline := time.Now().Add(w.cfg.ProcessBudget)
	// Under exactly-once every polled record is processed before the transaction commits:
	// the transaction commits the offsets of everything polled.
	exhaust := w.guarantee.ProcessesAllPolled()
	for {
		progressed := false
		for _, t := range w.ordered {
			if t.restoring != 0 || t.queued() == 0 {
				continue
			}
			start := time.Now()
			n := 0
			for ; n < 256; n++ {
				ok, err := t.processNext(rule)
				if err != nil {
					t.time.account(time.Since(start), n)
					w.stats.sinceCommit += int64(n)
					t.flushOutputs()
					return err
				}
				if !ok {
					break
				}
				progressed = true
			}
			t.time.account(time.Since(start), n)
			w.stats.sinceCommit += int64(n)
			t.flushOutputs()
		}
		if w.overBudgetLocked() && !exhaust {
			break // the write buffers are full: commit before processing more
		}
		if !progressed || (!exhaust && time.Now().After(deadline)) {
			break
		}
	}
	var resume map[string][]int32
	for _, p := range w.parts {
		if p.paused && p.task.restoring == 0 && p.mayResume(w.cfg.MaxQueuedPerTask) {
			p.paused = false
			if resume == nil {
				resume = map[string][]int32{}
			}
			resume[p.topic] = append(resume[p.topic], p.partition)
		}
	}
	if resume != nil {
		w.tx.ResumeFetchPartitions(resume)
	}
	return nil
}

// send hands a sink's record to the producer.
func (w *worker) send(rec *kgo.Record) error {
	if errp := w.produceErr.Load(); errp != nil {
		return *errp
	}
	// A punctuation may produce before any record was polled in this transaction.
	if err := w.guarantee.Begin(); err != nil {
		return err
	}
	w.inflight.Add(1)
	w.tx.Produce(context.Background(), rec, w.promise)
	return nil
}

// writeChangelogsLocked produces the last buffered value of every changed key of every
// ready task to its changelog partition, and returns the tasks that wrote any. State can
// change with no record polled (a watermark moved by idleness closes windows), so the
// first write opens the transaction if none is.
func (w *worker) writeChangelogsLocked(ctx context.Context) ([]*task, error) {
	var dirty []*task
	for _, t := range w.ordered {
		if t.restoring != 0 {
			continue
		}
		wrote := false
		for i, kv := range t.kvs {
			buf := kv.Buffer()
			if buf.Len() == 0 {
				continue
			}
			if err := w.guarantee.Begin(); err != nil { // idempotent: opens one if none is
				return nil, err
			}
			wrote = true
			topic := t.changelogs[i]
			// The buffer's values stay untouched until applyStateLocked resets it, after
			// the flush: the producer may hold them without a copy.
			changelog.Write(ctx, w.produceChange, topic, t.id.Partition, buf.Logged())
		}
		if wrote {
			dirty = append(dirty, t)
		}
	}
	return dirty, nil
}

// produceChange hands a changelog record to the producer, with the promise that tracks
// its acknowledgement.
func (w *worker) produceChange(ctx context.Context, rec *kgo.Record) {
	w.inflight.Add(1)
	w.tx.Produce(ctx, rec, w.promise)
}

// applyStateLocked writes the flushed buffers of the dirty tasks to the database, each
// store's checkpoint one past its changelog partition's highest acknowledged offset.
func (w *worker) applyStateLocked(dirty []*task) error {
	now := time.Now()
	for _, t := range dirty {
		var kvs []*state.KV
		var cps []state.Checkpoint
		for i, kv := range t.kvs {
			if kv.Buffer().Len() == 0 {
				continue
			}
			tp := topicPartition{t.changelogs[i], t.id.Partition}
			next, ok := w.acks.Next(tp.topic, tp.partition)
			if !ok {
				if kv.Buffer().Logs() {
					return fmt.Errorf("eddy: task %s: no acknowledged offset for changelog %s/%d after flush", t.id, tp.topic, tp.partition)
				}
				// Local keys only: the changelog did not move, and the slice keeps the
				// checkpoint it has.
				next = -1
			}
			kvs = append(kvs, kv)
			cps = append(cps, state.Checkpoint{TopicID: w.plan.changelogs[tp.topic].id, Offset: next, Written: now})
		}
		if err := w.mgr.Commit(kvs, cps); err != nil {
			return fmt.Errorf("eddy: task %s: %w", t.id, err)
		}
	}
	return nil
}

func (w *worker) setFatalLocked(err error) {
	if w.fatal == nil {
		w.fatal = err
	}
}

// shutdown commits what was processed (on a clean stop; after an error only the records
// processed before it, which are complete), closes every task, and leaves the group.
func (w *worker) shutdown(clean bool) (err error) {
	ctx := w.stop
	defer func() {
		if w.stop.Err() != nil {
			err = errors.Join(err, fmt.Errorf("eddy: worker %d: the stop took longer than the shutdown timeout (%s); what was not committed is processed again on the next start",
				w.index, w.cfg.ShutdownTimeout))
		}
	}()
	if clean {
		// A commit during a join would carry the ending generation and abort: the
		// join completes without the loop (franz-go's group goroutine joins), so wait
		// for it, as long as the transaction can.
		for w.joiningGroup() && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	w.mu.Lock()
	stopGate := w.openGateAfter(gateTimeout)
	if clean && w.staleLocked() {
		// A revocation since the last commit would abort the final one.
		if cerr := w.clearStaleLocked(nil); cerr != nil {
			w.log.Warn("clearing a revocation before the final commit failed", "err", cerr)
		}
	}
	if clean {
		err = w.guarantee.StopClean(ctx, &work{w: w})
	} else if serr := w.guarantee.StopAfterError(ctx, &work{w: w}); serr != nil {
		w.log.Warn("ending the work after an error failed", "err", serr)
	}
	stopGate()
	w.cl.AllowRebalance() // leaving the group waits for the gate
	for _, t := range w.tasks {
		w.closeTaskLocked(t)
	}
	fatal := w.fatal
	w.mu.Unlock()
	// Leave the group (the other members take the tasks at once) and close the client
	// within the stop's time. franz-go's Close waits for the coordinator's answer however
	// long it takes, and a request stuck on a broker that stopped answering holds the
	// connection behind it: past the deadline the close goes on in the background, and
	// ends when the connections time out.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if err := w.cl.LeaveGroupContext(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("leaving the group failed", "err", err)
		}
		w.cl.Close() // a transactional session's client too: closing it is the session's Close
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		w.log.Warn("the client did not close within the shutdown timeout; leaving it to close in the background")
	}
	if w.restorer != nil {
		w.restorer.Close()
	}
	w.endRebalance()
	if clean {
		return errors.Join(err, fatal)
	}
	return err
}

// overBudgetLocked reports whether the worker's write buffers hold its share of the
// instance's MaxBufferedBytes: then it commits at once instead of at the interval, which
// bounds the memory a long commit interval and large values would take. (Under
// exactly-once the transaction holds everything polled, so a commit comes after the poll's
// records: the buffers stay within the budget plus one poll.) A worker without stores, or
// without a budget, never is.
func (w *worker) overBudgetLocked() bool {
	if w.bufferShare <= 0 {
		return false
	}
	n := 0
	for _, t := range w.ordered {
		for _, kv := range t.kvs {
			if n += kv.Buffer().Bytes(); n >= w.bufferShare {
				return true
			}
		}
	}
	return false
}

func (w *worker) overBudget() bool {
	if w.bufferShare <= 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.overBudgetLocked()
}
