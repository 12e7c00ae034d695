package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/state"
)

// restoreJob ties a changelog partition being replayed to its task's store.
type restoreJob struct {
	task   *task
	kv     *state.KV
	target *changelog.Target
	wiped  bool
}

// restoreLocked plans the restores of newly assigned tasks and replays changelog records
// for a bounded time, so the loop keeps processing ready tasks and committing meanwhile.
func (w *worker) restoreLocked(ctx context.Context) error {
	var toPlan []*task
	for _, t := range w.ordered {
		if t.restoring < 0 {
			toPlan = append(toPlan, t)
		}
	}
	if len(toPlan) > 0 {
		if err := w.planRestores(ctx, toPlan); err != nil {
			return err
		}
	}
	if w.restorer == nil || w.restorer.Active() == 0 {
		return nil
	}
	done, err := w.restorer.Step(ctx, w.cfg.ProcessBudget)
	if err != nil {
		return err
	}
	for _, t := range done {
		w.finishRestore(w.jobs[topicPartition{t.Topic, t.Partition}])
	}
	return nil
}

// planRestores decides, for each store of each task, where its replay starts: at the local
// checkpoint when it can be trusted, else at the log start after wiping the local slice.
// It ends at the partition's last stable offset.
func (w *worker) planRestores(ctx context.Context, tasks []*task) error {
	var topics []string
	for _, t := range tasks {
		topics = append(topics, t.changelogs...)
	}
	starts, ends, hwms, err := w.listChangelogOffsets(ctx, topics)
	if err != nil {
		// A changelog topic another instance just created may not be in this broker's
		// metadata yet: try again at the next step, for a while.
		now := time.Now()
		for _, t := range tasks {
			if t.planSince.IsZero() {
				t.planSince = now
			}
			if now.Sub(t.planSince) > planTimeout {
				return err
			}
		}
		w.log.Debug("changelog offsets not available yet", "err", err)
		return nil
	}
	if w.restorer == nil {
		r, err := changelog.NewRestorer(w.log, w.clientOpts()...)
		if err != nil {
			return err
		}
		w.restorer = r
	}
	now := time.Now()
	for _, t := range tasks {
		if hwms != nil && w.openTransaction(t, ends, hwms, now) {
			continue // planned again at the next step
		}
		t.restoring = len(t.kvs)
		for i, kv := range t.kvs {
			topic := t.changelogs[i]
			info := w.plan.changelogs[topic]
			start, _ := starts.Lookup(topic, t.id.Partition)
			end, _ := ends.Lookup(topic, t.id.Partition)
			from, wiped, err := restoreFrom(w.mgr, kv, info, start.Offset, end.Offset, now)
			if err != nil {
				return err
			}
			job := &restoreJob{task: t, kv: kv, wiped: wiped}
			id := info.id
			job.target = &changelog.Target{
				Topic: topic, Partition: t.id.Partition, From: from, To: end.Offset,
				Apply: func(keys, values [][]byte, next int64) error {
					return w.mgr.ApplyRestored(kv, keys, values, state.Checkpoint{TopicID: id, Offset: next, Written: time.Now()})
				},
			}
			w.jobs[topicPartition{topic, t.id.Partition}] = job
			if w.restorer.Add(job.target) {
				// Nothing to replay: record that the state is current up to the end.
				if err := w.mgr.ApplyRestored(kv, nil, nil, state.Checkpoint{TopicID: id, Offset: end.Offset, Written: now}); err != nil {
					return err
				}
				w.finishRestore(job)
			}
		}
	}
	return nil
}

// restoreFrom returns where the replay of kv's changelog partition, whose log is [start,
// end), starts: at the slice's checkpoint when it can be trusted, else at the log start
// after wiping the slice (wiped).
func restoreFrom(mgr *state.Manager, kv *state.KV, info *changelogTopic, start, end int64, now time.Time) (from int64, wiped bool, err error) {
	cp, found, err := mgr.Checkpoint(kv)
	if err != nil {
		return 0, false, err
	}
	if found && changelog.Trusted(cp.TopicID, cp.Offset, cp.Written,
		changelog.Log{TopicID: info.id, Start: start, End: end, DeleteRetention: info.deleteRetention}, now) {
		return cp.Offset, false, nil
	}
	if err := mgr.Wipe(kv); err != nil {
		return 0, false, err
	}
	return start, true, nil
}

// openTransaction reports whether to wait before restoring t: under exactly-once, only
// the task's owner writes its changelog partitions, so a transaction still open there
// (last stable offset below the high watermark) is a predecessor's that its coordinator is
// about to abort, or a fenced producer's. Waiting for it, at most the transaction timeout,
// lets the restore end at the true end instead of stopping short.
func (w *worker) openTransaction(t *task, lsos, hwms kadm.ListedOffsets, now time.Time) bool {
	if t.planSince.IsZero() {
		t.planSince = now
	}
	if now.Sub(t.planSince) > w.cfg.TransactionTimeout+5*time.Second {
		w.log.Warn("changelog still has an open transaction after the transaction timeout; restoring to the last stable offset",
			"task", t.id.String())
		return false
	}
	for _, topic := range t.changelogs {
		lso, _ := lsos.Lookup(topic, t.id.Partition)
		hwm, _ := hwms.Lookup(topic, t.id.Partition)
		if lso.Offset < hwm.Offset {
			return true
		}
	}
	return false
}

// finishRestore counts one store of a task as restored; the last one lets the task run.
func (w *worker) finishRestore(job *restoreJob) {
	if job == nil {
		return
	}
	tg := job.target
	delete(w.jobs, topicPartition{tg.Topic, tg.Partition})
	info := RestoreInfo{
		Task: job.task.id, Store: job.kv.Name(), Topic: tg.Topic, Partition: tg.Partition,
		From: tg.From, To: tg.To, Restored: tg.Restored, Wiped: job.wiped, InMemory: job.kv.InMemory(),
		Duration: time.Since(tg.Started),
	}
	w.log.Info("store restored", "task", info.Task.String(), "store", info.Store, "records", info.Restored,
		"from", info.From, "to", info.To, "wiped", info.Wiped, "in_memory", info.InMemory, "duration", info.Duration,
		"rate", changelog.Rate(tg))
	if w.cfg.OnRestore != nil {
		w.cfg.OnRestore(info)
	}
	job.task.restoring--
	if job.task.restoring == 0 {
		w.cfg.Monitor.queryable().ready(job.task.id.Partition, job.task.stores)
		w.cfg.Monitor.addRestoring(-1)
		w.resumeTaskLocked(job.task)
	}
}

// resumeTaskLocked resumes fetching a restored task's partitions.
func (w *worker) resumeTaskLocked(t *task) {
	resume := map[string][]int32{}
	for _, p := range t.parts {
		if p.paused && (p.queued() == 0 || t.queued() < w.cfg.MaxQueuedPerTask) {
			p.paused = false
			resume[p.topic] = append(resume[p.topic], p.partition)
		}
	}
	if len(resume) > 0 {
		w.tx.ResumeFetchPartitions(resume)
	}
}

// planTimeout bounds how long a restore plan may fail to list its changelog offsets.
const planTimeout = 2 * time.Minute

// listChangelogOffsets lists the log start, last stable offset and (under exactly-once)
// the high watermark of the changelog topics' partitions.
func (w *worker) listChangelogOffsets(ctx context.Context, topics []string) (starts, lsos, hwms kadm.ListedOffsets, err error) {
	adm := kadm.NewClient(w.cl)
	if starts, err = adm.ListStartOffsets(ctx, topics...); err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eddy: start offsets of changelog topics: %w", err)
	}
	// The last stable offset: with transactions, offsets beyond it may still be aborted.
	if lsos, err = adm.ListCommittedOffsets(ctx, topics...); err == nil {
		err = lsos.Error()
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("eddy: end offsets of changelog topics: %w", err)
	}
	if w.cfg.ExactlyOnce {
		if hwms, err = adm.ListEndOffsets(ctx, topics...); err == nil {
			err = hwms.Error()
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("eddy: high watermarks of changelog topics: %w", err)
		}
	}
	return starts, lsos, hwms, nil
}
