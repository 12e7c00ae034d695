package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/assign"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
)

// standbys keeps the instance's replicas: copies of the state of tasks that run on other
// instances (standbys, and warm-ups that are to take a task over), each kept up to date by
// tailing the task's changelog partitions into the task's own slots of the instance's
// database, with checkpoints, exactly as a restore writes them. If the task comes here,
// its restore starts at those checkpoints and replays only what the replica had not
// tailed yet. The balancer places replicas in each member's assignment (assign.Replica);
// every worker hands the ones of its assignment over (set), and one goroutine serves the
// instance's replicas together, reading with a consumer of its own, outside the group.
//
// A slot is written by one owner at a time: a worker about to open a task's stores takes
// the task (take), which stops its replica here first, and gives it back when the task
// closes (untake), when the replica may start again if the assignment still holds it.
// Stores kept in memory have no replica: they restore in full wherever the task goes.
type standbys struct {
	cfg  *Config
	g    *graph.Graph
	plan *topicPlan
	mgr  *state.Manager
	log  *slog.Logger

	mu struct {
		sync.Mutex
		want    map[int][]assign.Replica // by worker
		rejoin  map[int]func()           // by worker: rejoin the group (a probe)
		active  map[processor.TaskID]int // workers holding the task open here
		gen     int                      // assignments handed over so far
		running map[processor.TaskID]*replica
	}
	wake chan struct{}
	// stepMu guards the restorer (not safe for concurrent use), and so serialises its
	// steps with take: no record is applied to a slot after its task took it. It is
	// taken before mu.
	stepMu   sync.Mutex
	restorer *changelog.Restorer
	adm      *kadm.Client
	admCl    *kgo.Client
	// probedAt is when the last probing rebalance was asked for; retryAt when a failed
	// start may be tried again (both used by run's goroutine only).
	probedAt, retryAt time.Time
}

// replica is one task's replica on this instance.
type replica struct {
	id      processor.TaskID
	worker  int
	warmUp  bool
	kvs     []*state.KV
	targets []*changelog.Target
	// caughtUp is set once a warm-up is within the acceptable lag and its worker was
	// asked to rejoin, so that it asks once per assignment (gen: the one it last saw).
	caughtUp bool
	gen      int
}

// newStandbys returns the instance's replica keeper, or nil when no sub-topology has
// state on disk (nothing to replicate). It serves whatever replicas the group leader
// places here, whatever this instance's own settings: the leader's decide.
func newStandbys(cfg *Config, g *graph.Graph, plan *topicPlan, mgr *state.Manager) (*standbys, error) {
	if !slices.ContainsFunc(plan.subs, func(s assign.Subtopology) bool { return s.Stateful }) {
		return nil, nil
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	r, err := changelog.NewRestorer(cfg.Logger.With("component", "standby"), opts...)
	if err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		r.Close()
		return nil, err
	}
	s := &standbys{cfg: cfg, g: g, plan: plan, mgr: mgr, log: cfg.Logger.With("component", "standby"),
		wake: make(chan struct{}, 1), restorer: r, admCl: admCl, adm: kadm.NewClient(admCl), probedAt: time.Now()}
	s.mu.want, s.mu.rejoin = map[int][]assign.Replica{}, map[int]func(){}
	s.mu.active, s.mu.running = map[processor.TaskID]int{}, map[processor.TaskID]*replica{}
	return s, nil
}

// set records the replicas of worker's latest assignment; rejoin makes the worker rejoin
// the group (to probe for a move once a warm-up caught up).
func (s *standbys) set(worker int, reps []assign.Replica, rejoin func()) {
	s.mu.Lock()
	s.mu.want[worker], s.mu.rejoin[worker] = reps, rejoin
	s.mu.gen++
	s.mu.Unlock()
	s.poke()
}

// take stops task's replica, if one runs here, before the task opens its stores: from
// now the task's worker owns its slots.
func (s *standbys) take(id processor.TaskID) {
	s.stepMu.Lock() // no step is applying records to the replica meanwhile
	defer s.stepMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.active[id]++
	if r := s.mu.running[id]; r != nil {
		s.stopLocked(r, true) // the task opens the slots next: they stay its
		s.log.Info("standby replica handed over to its task", "task", id.String())
	}
}

// untake gives a closed task's slots back: its replica may run again.
func (s *standbys) untake(id processor.TaskID) {
	s.mu.Lock()
	if s.mu.active[id]--; s.mu.active[id] <= 0 {
		delete(s.mu.active, id)
	}
	s.mu.Unlock()
	s.poke()
}

func (s *standbys) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// status lists the replicas running here, in id order.
func (s *standbys) status() []ReplicaStatus {
	s.stepMu.Lock() // counts move in steps
	defer s.stepMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ReplicaStatus, 0, len(s.mu.running))
	for _, r := range s.mu.running {
		rs := ReplicaStatus{ID: r.id, WarmUp: r.warmUp}
		for _, tg := range r.targets {
			rs.Tailed += tg.Restored
			rs.Position += tg.Position()
		}
		out = append(out, rs)
	}
	slices.SortFunc(out, func(a, b ReplicaStatus) int { return compareTaskIDs(a.ID, b.ID) })
	return out
}

// run serves the replicas until ctx ends. A replica that fails (its changelog cannot be
// read, the database refuses a write) is dropped with a warning: it only saves a restore.
func (s *standbys) run(ctx context.Context) {
	defer s.close()
	check := time.NewTicker(2 * time.Second)
	defer check.Stop()
	for ctx.Err() == nil {
		s.reconcile(ctx)
		s.stepMu.Lock()
		active := s.restorer.Active()
		s.stepMu.Unlock()
		if active == 0 {
			select {
			case <-ctx.Done():
			case <-s.wake:
			case <-check.C:
			}
			continue
		}
		s.stepMu.Lock()
		_, err := s.restorer.Step(ctx, 50*time.Millisecond)
		s.stepMu.Unlock()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("standby replicas: tailing a changelog failed; restarting the replicas", "err", err)
			s.stopAll()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		select {
		case <-check.C:
			s.checkWarmUps(ctx)
		default:
		}
	}
}

// reconcile starts the replicas the assignments hold that are not running (nor active
// here) and stops those they no longer hold. A failed start is tried again after a
// second.
func (s *standbys) reconcile(ctx context.Context) {
	s.stepMu.Lock() // the restorer is used under stepMu
	s.mu.Lock()
	want := s.wantedLocked()
	var start []processor.TaskID
	for id, r := range s.mu.running {
		w, ok := want[id]
		if !ok {
			s.stopLocked(r, true)
			continue
		}
		r.warmUp, r.worker = w.rep.WarmUp, w.worker
		if r.gen != s.mu.gen {
			// A new assignment: a warm-up it still holds did not move yet, so it asks
			// again once caught up.
			r.gen, r.caughtUp = s.mu.gen, false
		}
	}
	for id := range want {
		if s.mu.running[id] == nil {
			start = append(start, id)
		}
	}
	s.mu.Unlock()
	s.stepMu.Unlock()
	if len(start) == 0 || time.Now().Before(s.retryAt) {
		return
	}
	slices.SortFunc(start, compareTaskIDs)
	if err := s.start(ctx, start); err != nil && ctx.Err() == nil {
		s.retryAt = time.Now().Add(time.Second)
		s.log.Warn("standby replicas: starting failed; trying again shortly", "err", err)
	}
}

// wanted is a replica the assignments hold, with the worker whose assignment it is.
type wanted struct {
	rep    assign.Replica
	worker int
}

// wantedLocked is the replicas the workers' assignments hold, but for tasks active here;
// a task in two workers' assignments (one of them stale) goes with the lower worker.
func (s *standbys) wantedLocked() map[processor.TaskID]wanted {
	want := map[processor.TaskID]wanted{}
	for _, worker := range slices.Sorted(maps.Keys(s.mu.want)) {
		for _, r := range s.mu.want[worker] {
			id := processor.TaskID{Subtopology: r.Task.Subtopology, Partition: r.Task.Partition}
			if _, dup := want[id]; !dup && s.mu.active[id] == 0 {
				want[id] = wanted{r, worker}
			}
		}
	}
	return want
}

// start starts tailing the replicas' changelogs, each store from its checkpoint when it
// can be trusted, else from the log start after a wipe. The offsets are listed first,
// without locks; the slots are opened after, under them, and only for replicas still
// wanted and not taken by a task meanwhile, so a slot a task holds is never touched.
func (s *standbys) start(ctx context.Context, ids []processor.TaskID) error {
	var topics []string
	stores := map[processor.TaskID][]*graph.Store{}
	for _, id := range ids {
		all, err := s.g.StoresOf(id.Subtopology)
		if err != nil {
			return err
		}
		for _, st := range all {
			if !st.InMemory {
				stores[id] = append(stores[id], st)
				topics = append(topics, changelog.Topic(s.cfg.ApplicationID, st.Name))
			}
		}
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	starts, err := s.adm.ListStartOffsets(lctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	var ends kadm.ListedOffsets
	if err == nil {
		if ends, err = s.adm.ListCommittedOffsets(lctx, topics...); err == nil {
			err = ends.Error()
		}
	}
	if err != nil {
		return err
	}
	now := time.Now()
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.wantedLocked()
	var errs []error
	for _, id := range ids {
		w, ok := want[id]
		if !ok || s.mu.running[id] != nil {
			continue // no longer wanted, taken by a task meanwhile, or running
		}
		r := &replica{id: id, worker: w.worker, warmUp: w.rep.WarmUp, gen: s.mu.gen}
		if err := s.openLocked(r, stores[id], starts, ends, now); err != nil {
			for _, tg := range r.targets {
				s.restorer.Remove(tg.Topic, tg.Partition)
			}
			s.releaseAll(r)
			errs = append(errs, fmt.Errorf("task %s: %w", id, err))
			continue
		}
		s.mu.running[id] = r
	}
	return errors.Join(errs...)
}

// openLocked opens r's slots and adds their changelogs to the restorer.
func (s *standbys) openLocked(r *replica, stores []*graph.Store, starts, ends kadm.ListedOffsets, now time.Time) error {
	for _, st := range stores {
		kv, err := s.mgr.Open(r.id.Subtopology, r.id.Partition, st.Name)
		if err != nil {
			return err
		}
		kv.SetIndex(st.Index)
		r.kvs = append(r.kvs, kv)
		topic := changelog.Topic(s.cfg.ApplicationID, st.Name)
		info := s.plan.changelogs[topic]
		first, _ := starts.Lookup(topic, r.id.Partition)
		end, _ := ends.Lookup(topic, r.id.Partition)
		from, wiped, err := restoreFrom(s.mgr, kv, info, first.Offset, end.Offset, now)
		if err != nil {
			return err
		}
		id := info.id
		tg := &changelog.Target{
			Topic: topic, Partition: r.id.Partition, From: from, To: math.MaxInt64, Tail: true,
			Apply: func(keys, values [][]byte, next int64) error {
				return s.mgr.ApplyRestored(kv, keys, values, state.Checkpoint{TopicID: id, Offset: next, Written: time.Now()})
			},
		}
		s.restorer.Add(tg)
		r.targets = append(r.targets, tg)
		s.log.Info("standby replica started", "task", r.id.String(), "store", kv.Name(), "from", from,
			"end", end.Offset, "wiped", wiped, "warm_up", r.warmUp)
	}
	return nil
}

// stopLocked stops tailing r's changelogs; release hands its slots to the state cleaner
// (the replica is no longer wanted here), which keeps them for the cleanup delay.
func (s *standbys) stopLocked(r *replica, release bool) {
	for _, tg := range r.targets {
		s.restorer.Remove(tg.Topic, tg.Partition)
	}
	delete(s.mu.running, r.id)
	if release {
		s.releaseAll(r)
	}
}

func (s *standbys) releaseAll(r *replica) {
	for _, kv := range r.kvs {
		s.mgr.Release(kv)
	}
}

func (s *standbys) stopAll() {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.mu.running {
		s.stopLocked(r, true) // reconcile opens those still wanted again
	}
}

// checkWarmUps asks the worker holding a warm-up to rejoin the group once the warm-up is
// within the acceptable lag of its changelogs' ends, so that the leader moves the task
// (its join reports the warm-up's checkpoints); and, every ProbingRebalanceInterval while
// warm-ups remain, asks anyway (a probing rebalance, KIP-441: the owner's state may have
// moved on, or the leader may place the task elsewhere by now).
func (s *standbys) checkWarmUps(ctx context.Context) {
	s.mu.Lock()
	var warm []*replica
	var topics []string
	for _, r := range s.mu.running {
		if r.warmUp {
			warm = append(warm, r)
			for _, tg := range r.targets {
				topics = append(topics, tg.Topic)
			}
		}
	}
	s.mu.Unlock()
	if len(warm) == 0 {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := s.adm.ListCommittedOffsets(lctx, topics...)
	if err != nil {
		return // asked again at the next check
	}
	probe := time.Since(s.probedAt) >= s.cfg.ProbingRebalanceInterval
	rejoin := map[int]bool{}
	s.stepMu.Lock() // positions move in steps
	for _, r := range warm {
		var lag int64
		for _, tg := range r.targets {
			if e, ok := ends.Lookup(tg.Topic, tg.Partition); ok && e.Err == nil {
				lag += max(e.Offset-tg.Position(), 0)
			}
		}
		if lag <= s.cfg.AcceptableRecoveryLag && !r.caughtUp {
			r.caughtUp = true
			rejoin[r.worker] = true
			s.log.Info("warm-up replica caught up; rejoining the group to take its task over", "task", r.id.String(), "lag", lag)
		} else if probe {
			rejoin[r.worker] = true
		}
	}
	s.stepMu.Unlock()
	if probe {
		s.probedAt = time.Now()
	}
	s.mu.Lock()
	fns := make([]func(), 0, len(rejoin))
	for w := range rejoin {
		if fn := s.mu.rejoin[w]; fn != nil {
			fns = append(fns, fn)
		}
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func (s *standbys) close() {
	s.stopAll()
	s.restorer.Close()
	s.admCl.Close()
}
