package runtime

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/assign"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
)

// The worker's side of consumer-group rebalances: tasks are built when their partitions
// are assigned and closed when they are revoked or lost. (Under exactly-once the revoke
// and lost callbacks are in eos.go.)

// onAssigned creates the tasks of newly assigned partitions. The balancer hands out whole
// tasks, so all partitions of a task arrive in one call.
func (w *worker) onAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.adoptClientLocked(cl)
	w.assignLocked(assigned)
	w.setReplicasLocked()
	w.endRebalance() // franz-go calls this at the end of every rebalance, assigned or not
}

// setReplicasLocked hands the replicas of the worker's latest assignment to the
// instance's keeper, once the rebalance's revocations are applied: a task revoked here may
// have become a replica.
func (w *worker) setReplicasLocked() {
	if w.replicas != nil {
		w.replicas.set(w.index, w.bal.Replicas(), w.cl.ForceRebalance)
	}
}

// assignLocked creates the tasks of newly assigned partitions and pauses the input of
// those that must restore first. A task's partitions are in the order the topology
// declares its sources, which breaks ties in time synchronization (task.next): the same
// input is processed in the same order on every run.
func (w *worker) assignLocked(assigned map[string][]int32) {
	topics := slices.Collect(maps.Keys(assigned))
	slices.SortFunc(topics, func(a, b string) int { return cmp.Compare(w.plan.rank[a], w.plan.rank[b]) })
	for _, topic := range topics {
		parts := assigned[topic]
		sub, ok := w.plan.subOf[topic]
		if !ok {
			w.setFatalLocked(fmt.Errorf("eddy: assigned partitions of %s, which the topology does not read", topic))
			continue
		}
		for _, part := range parts {
			id := processor.TaskID{Subtopology: sub, Partition: part}
			t, err := w.taskLocked(id)
			if err != nil {
				w.setFatalLocked(err)
				return
			}
			tp := topicPartition{topic, part}
			if old, dup := w.parts[tp]; dup {
				// Assigned again while still held: onAssignedEOS paused it all the same, so
				// undo that unless eddy itself holds it paused.
				if w.pauseOnAssign && !old.paused {
					w.tx.ResumeFetchPartitions(map[string][]int32{topic: {part}})
				}
				continue
			}
			p := &partition{topic: topic, partition: part, handler: t.g.Handlers[topic], next: -1, committed: -1, replayFrom: -1, task: t,
				timing: w.plan.timing[topic], received: w.clock(),
				internal: w.plan.upstreams[topic] > 0, expected: w.plan.upstreams[topic], end: -1,
				needMeta: true, sync: newSyncState()}
			w.initBound(p)
			if p.handler == nil {
				w.setFatalLocked(fmt.Errorf("eddy: task %s has no source for topic %s", id, topic))
				return
			}
			t.parts = append(t.parts, p)
			w.parts[tp] = p
			if t.restoring != 0 {
				// Nothing is processed before the task's stores are restored.
				p.paused = true
				w.tx.PauseFetchPartitions(map[string][]int32{topic: {part}})
			} else if w.pauseOnAssign {
				// onAssignedEOS paused every new partition of a sub-topology with stores;
				// this task has none.
				w.tx.ResumeFetchPartitions(map[string][]int32{topic: {part}})
			}
		}
	}
	w.log.Info("partitions assigned", "tasks", len(w.tasks))
}

// taskLocked returns the task, building it on first use.
func (w *worker) taskLocked(id processor.TaskID) (*task, error) {
	if t, ok := w.tasks[id]; ok {
		return t, nil
	}
	t := &task{id: id, w: w, stores: map[string]*state.KV{}}
	stores, err := w.g.StoresOf(id.Subtopology)
	if err != nil {
		return nil, err
	}
	if w.replicas != nil && len(stores) > 0 {
		w.replicas.take(id) // a replica here stops: its slots are the task's now
	}
	for _, st := range stores {
		open := w.mgr.Open
		if st.InMemory {
			open = w.mgr.OpenInMemory
		}
		kv, err := open(id.Subtopology, id.Partition, st.Name)
		if err != nil {
			return nil, fmt.Errorf("eddy: task %s: opening store %s: %w", id, st.Name, err)
		}
		kv.SetIndex(st.Index)
		t.kvs = append(t.kvs, kv)
		t.stores[st.Name] = kv
		t.changelogs = append(t.changelogs, changelog.Topic(w.cfg.ApplicationID, st.Name))
	}
	if len(t.kvs) > 0 {
		t.restoring = -1
		w.cfg.Monitor.addRestoring(1)
	}
	g, err := buildTask(w.g, id.Subtopology, t)
	if err != nil {
		return nil, err
	}
	t.g = g
	w.addTaskLocked(t)
	w.cfg.Monitor.queryable().add(id.Partition, t.stores)
	return t, nil
}

// addTaskLocked adds a built task to the worker's tasks, in id order.
func (w *worker) addTaskLocked(t *task) {
	w.tasks[t.id] = t
	i, _ := slices.BinarySearchFunc(w.ordered, t.id, func(t *task, id processor.TaskID) int { return compareTaskIDs(t.id, id) })
	w.ordered = slices.Insert(w.ordered, i, t)
}

// onRevoked commits what was processed, then closes the tasks that lose partitions, so the
// next owner starts after the last record this one processed.
func (w *worker) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.adoptClientLocked(cl)
	gone := w.tasksOfLocked(revoked)
	if len(gone) == 0 {
		return
	}
	w.startRebalance()
	if err := w.commitLocked(ctx); err != nil {
		w.setFatalLocked(err)
	}
	for _, t := range gone {
		w.closeTaskLocked(t)
	}
	w.log.Info("partitions revoked", "closed tasks", len(gone), "tasks", len(w.tasks))
}

// onLost closes the tasks of partitions lost without a clean revoke (session timeout,
// fencing). Nothing is committed: another member may own them already.
func (w *worker) onLost(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.adoptClientLocked(cl)
	gone := w.tasksOfLocked(lost)
	w.startRebalance()
	for _, t := range gone {
		w.closeTaskLocked(t)
	}
	w.log.Warn("partitions lost", "closed tasks", len(gone))
}

func (w *worker) tasksOfLocked(parts map[string][]int32) []*task {
	var ts []*task
	seen := map[processor.TaskID]bool{}
	for topic, ps := range parts {
		sub, ok := w.plan.subOf[topic]
		if !ok {
			continue
		}
		for _, p := range ps {
			id := processor.TaskID{Subtopology: sub, Partition: p}
			if t, ok := w.tasks[id]; ok && !seen[id] {
				seen[id] = true
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// closeTaskLocked closes a task's processors and forgets its partitions; queued records
// are dropped (they were not committed, so the next owner reads them again).
func (w *worker) closeTaskLocked(t *task) {
	w.cfg.Monitor.queryable().remove(t.id.Partition, t.stores) // waits for reads under way
	if err := protect("closing task "+t.id.String(), t.g.Close); err != nil {
		w.setFatalLocked(err)
	}
	if t.restoring != 0 {
		w.cfg.Monitor.addRestoring(-1)
	}
	for i, kv := range t.kvs {
		if w.restorer != nil {
			w.restorer.Remove(t.changelogs[i], t.id.Partition)
		}
		delete(w.jobs, topicPartition{t.changelogs[i], t.id.Partition})
		// What was not committed is dropped: the database holds the last commit.
		kv.Buffer().Reset()
		w.mgr.Release(kv)
	}
	if w.replicas != nil && len(t.kvs) > 0 {
		w.replicas.untake(t.id)
	}
	var paused map[string][]int32
	for _, p := range t.parts {
		delete(w.parts, topicPartition{p.topic, p.partition})
		w.forgetPoisonedLocked(p)
		if p.paused {
			if paused == nil {
				paused = map[string][]int32{}
			}
			paused[p.topic] = append(paused[p.topic], p.partition)
		}
	}
	if paused != nil {
		w.tx.ResumeFetchPartitions(paused)
	}
	delete(w.tasks, t.id)
	w.ordered = slices.DeleteFunc(w.ordered, func(o *task) bool { return o == t })
}

// compareTaskIDs orders tasks by sub-topology, then partition.
func compareTaskIDs(a, b processor.TaskID) int {
	return cmp.Or(cmp.Compare(a.Subtopology, b.Subtopology), cmp.Compare(a.Partition, b.Partition))
}

// localState is the instance's checkpointed state by task, which the worker reports to
// the group leader at each join (the balancer gives a task nobody owns to the process
// that holds most of its state). An unreadable database reports nothing: the plan is
// then only less sticky.
func (w *worker) localState() []assign.TaskOffsets {
	if w.mgr == nil {
		return nil
	}
	sums, err := w.mgr.OffsetSums()
	if err != nil {
		w.log.Warn("eddy: reading the local state's checkpoints for the group leader", "err", err)
		return nil
	}
	out := make([]assign.TaskOffsets, len(sums))
	for i, s := range sums {
		out[i] = assign.TaskOffsets{Task: assign.TaskID{Subtopology: s.Sub, Partition: s.Partition}, Sum: s.Sum}
	}
	return out
}
