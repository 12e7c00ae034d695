package runtime

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/processor"
)

// Monitor is an instance's live view, for its App: the phase of Run, which workers are
// in a rebalance, how many tasks are restoring, and a status of every task on demand.
// The counters are atomics the workers move as things happen, so the state can be read
// (and a listener told of a change) without waiting for a worker; Status takes each
// worker's lock in turn, between two of its steps.
type Monitor struct {
	phase atomic.Int32 // a Phase
	// rebalancing counts workers that have joined no generation yet, or lost partitions
	// in one whose assignment has not come; restoring counts tasks restoring their stores.
	rebalancing, restoring atomic.Int64

	mu       sync.Mutex
	workers  []*worker
	globals  *globalReader
	replicas *standbys

	// queries are the store slices interactive queries may read (query.go).
	queries queries

	// OnChange, if set, is called after any of the above changed, from the goroutine that
	// changed it (a worker's or Run's): it must return quickly and not call Status.
	OnChange func()
}

// Phase is where Run is.
type Phase int32

// The phases.
const (
	// PhaseCreated: Run has not started.
	PhaseCreated Phase = iota
	// PhaseStarting: checking topics, opening state, reading global tables.
	PhaseStarting
	// PhaseRunning: the workers run.
	PhaseRunning
	// PhaseStopping: Run's context ended; the final commits and the leave are under way.
	PhaseStopping
	// PhaseStopped: Run returned.
	PhaseStopped
)

// NewMonitor returns a monitor for one Run.
func NewMonitor() *Monitor { return &Monitor{} }

// Phase is where Run is.
func (m *Monitor) Phase() Phase { return Phase(m.phase.Load()) }

// Rebalancing reports whether a worker is joining the group or waits for its assignment.
func (m *Monitor) Rebalancing() bool { return m.rebalancing.Load() > 0 }

// Restoring is the number of tasks restoring their stores.
func (m *Monitor) Restoring() int { return int(m.restoring.Load()) }

func (m *Monitor) setPhase(p Phase) {
	if m == nil {
		return
	}
	if Phase(m.phase.Swap(int32(p))) != p {
		m.changed()
	}
}

func (m *Monitor) addRebalancing(n int64) {
	if m != nil {
		m.rebalancing.Add(n)
		m.changed()
	}
}

func (m *Monitor) addRestoring(n int64) {
	if m != nil {
		m.restoring.Add(n)
		m.changed()
	}
}

func (m *Monitor) changed() {
	if m.OnChange != nil {
		m.OnChange()
	}
}

func (m *Monitor) setWorkers(ws []*worker, globals *globalReader, replicas *standbys) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.workers, m.globals, m.replicas = ws, globals, replicas
	m.mu.Unlock()
}

// Status is a snapshot of an instance's tasks.
type Status struct {
	Phase       Phase
	Rebalancing bool
	Tasks       []TaskStatus
	// Replicas are the standby and warm-up replicas the instance keeps, in id order.
	Replicas []ReplicaStatus
}

// ReplicaStatus is one replica of a task that runs elsewhere (standby.go).
type ReplicaStatus struct {
	ID processor.TaskID
	// WarmUp says it is to take the task over once caught up.
	WarmUp bool
	// Tailed counts the changelog records it applied since it started here; Position is
	// the sum over its stores of the changelog offset each has reached.
	Tailed, Position int64
}

// TaskStatus is one task as its worker has it.
type TaskStatus struct {
	ID     processor.TaskID
	Worker int
	// Restoring says the task restores its stores and processes nothing yet.
	Restoring bool
	// Watermark is the task's (zero before it has one).
	Watermark  time.Time
	Partitions []PartitionStatus
	Stores     []StoreStatus
	// Restores are its stores' restores under way.
	Restores []RestoreStatus
	// Rates are its time and throughput over the last seconds; Processed the records it
	// processed since it was made.
	Rates     TaskRates
	Processed int64
}

// PartitionStatus is one input partition of a task.
type PartitionStatus struct {
	Topic     string
	Partition int32
	// Internal marks a repartition topic's partition.
	Internal bool
	// Committed is the last committed offset (-1: none yet); Position the offset after
	// the last record received; End the end the broker reported last (the last stable
	// offset under exactly-once, else the high watermark); -1 where not known.
	Committed, Position, End int64
	// Lag is End less the next offset to process, records fetched but not processed
	// included (-1: not known); LagTime is how far behind the wall clock that next
	// record is: the age of the oldest record fetched and not processed, else (the
	// record not fetched yet) of the last one processed; 0 without lag, -1 not known.
	Lag     int64
	LagTime time.Duration
	// Queued is how many fetched records wait; Paused says fetching is paused
	// (backpressure or a restore); Idle that the partition does not hold the watermark.
	Queued int
	Paused bool
	Idle   bool
	// Watermark is the partition's (zero before it has one).
	Watermark time.Time
}

// StoreStatus is a task's slice of a store.
type StoreStatus struct {
	Name string
	// Bytes estimates its size; CacheHits and CacheMisses count the point reads its
	// buffer or cache answered, and those that went to the database.
	Bytes                  int64
	CacheHits, CacheMisses int64
}

// RestoreStatus is a store's restore under way: its changelog partition replays from
// From to To (offsets) and has reached Position, Restored records applied at Rate records
// a second.
type RestoreStatus struct {
	Store, Topic       string
	Partition          int32
	From, To, Position int64
	Restored           int64
	Rate               float64
}

// Remaining is the offsets left to replay.
func (r RestoreStatus) Remaining() int64 { return max(r.To-r.Position, 0) }

// Status takes a snapshot of every task of the instance, in id order.
func (m *Monitor) Status() Status {
	st := Status{Phase: m.Phase(), Rebalancing: m.Rebalancing()}
	m.mu.Lock()
	ws, replicas := m.workers, m.replicas
	m.mu.Unlock()
	if replicas != nil {
		st.Replicas = replicas.status()
	}
	for _, w := range ws {
		w.mu.Lock()
		for _, t := range w.ordered {
			st.Tasks = append(st.Tasks, t.status())
		}
		w.mu.Unlock()
	}
	slices.SortFunc(st.Tasks, func(a, b TaskStatus) int { return compareTaskIDs(a.ID, b.ID) })
	return st
}

// status is the task's snapshot; its worker's lock is held.
func (t *task) status() TaskStatus {
	ts := TaskStatus{ID: t.id, Worker: t.w.index, Restoring: t.restoring != 0, Watermark: t.watermark,
		Rates: t.time.rates, Processed: t.time.processed}
	if len(t.time.samples) == 0 {
		ts.Rates.IdleMsPerSecond = 1000 // not sampled yet: a task just made has done nothing
	}
	for i, kv := range t.kvs {
		hits, misses := kv.Reads()
		ts.Stores = append(ts.Stores, StoreStatus{Name: kv.Name(), Bytes: kv.SizeEstimate(), CacheHits: hits, CacheMisses: misses})
		if t.restoring == 0 || i >= len(t.changelogs) {
			continue
		}
		if job := t.w.jobs[topicPartition{t.changelogs[i], t.id.Partition}]; job != nil && job.task == t {
			tg := job.target
			ts.Restores = append(ts.Restores, RestoreStatus{Store: kv.Name(), Topic: tg.Topic, Partition: tg.Partition,
				From: tg.From, To: tg.To, Position: max(tg.Position(), tg.From), Restored: tg.Restored, Rate: changelog.Rate(tg)})
		}
	}
	now := t.w.clock()
	for _, p := range t.parts {
		ps := PartitionStatus{Topic: p.topic, Partition: p.partition, Internal: p.internal, Committed: p.committed,
			Position: p.sync.pos, End: p.sync.end, Lag: -1, Queued: p.queued(), Paused: p.paused, Idle: p.clock.idle}
		if p.clock.seen {
			ps.Watermark = p.watermark()
		}
		next := p.next
		if next < 0 {
			// Nothing processed since the assignment: the next record is the first queued,
			// else the position.
			next = p.sync.pos
			if p.queued() > 0 {
				next = p.queue[p.head].Offset
			}
		}
		if p.sync.end >= 0 && next >= 0 {
			ps.Lag = max(p.sync.end-next, 0)
		}
		switch {
		case ps.Lag == 0:
			ps.LagTime = 0
		case p.queued() > 0:
			ps.LagTime = max(now.Sub(p.queue[p.head].Timestamp), 0)
		case ps.Lag > 0 && p.lastTime != 0:
			ps.LagTime = max(now.Sub(time.Unix(0, p.lastTime)), 0)
		default:
			ps.LagTime = -1
		}
		ts.Partitions = append(ts.Partitions, ps)
	}
	return ts
}
