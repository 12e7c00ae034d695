// Package runtime runs a topology against Kafka: it checks and creates topics, starts the
// workers (one consumer-group member and one goroutine each), and drives their tasks.
// The root package eddy is its public face; nothing here is part of the API.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/metrics"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

var errTopicExists = kerr.TopicAlreadyExists

// Config is the validated configuration of one application instance.
type Config struct {
	ApplicationID  string
	Brokers        []string
	Workers        int
	CommitInterval time.Duration
	ProcessID      string
	Logger         *slog.Logger
	ClientOpts     []kgo.Opt
	// ReplicationFactor of the internal topics; -1 takes the broker's default.
	ReplicationFactor int16
	// MaxQueuedPerTask is how many records a task's partitions may hold together before
	// fetching a partition that receives more pauses.
	MaxQueuedPerTask int
	// MaxPollRecords bounds one poll.
	MaxPollRecords int
	// ProcessBudget bounds the processing between two polls.
	ProcessBudget time.Duration
	// StateDir is this application's directory of local state (already including the
	// application id).
	StateDir string
	// LowMemoryState opens the database with small memtables and caches (tests).
	LowMemoryState bool
	// StateCacheBytes bounds each task's cache of committed values, per store.
	StateCacheBytes int
	// StateCleanupDelay is how long a task's local state is kept after the task left this
	// instance, in case it comes back.
	StateCleanupDelay time.Duration
	// ExactlyOnce runs each worker's commits as transactions (see package eos).
	ExactlyOnce bool
	// TransactionTimeout is the transaction timeout under exactly-once.
	TransactionTimeout time.Duration
	// MaxBufferedBytes bounds the instance's write buffers: a worker whose buffers hold its
	// share commits at once (0: no bound).
	MaxBufferedBytes int
	// ShutdownTimeout bounds a stop: once Run's context ends, the final commit, aborts and
	// the clients' closing get this long in all.
	ShutdownTimeout time.Duration
	// PurgeInterval is how often consumed records of repartition topics are deleted (0:
	// never).
	PurgeInterval time.Duration
	// SessionTimeout and HeartbeatInterval are the consumer group's.
	SessionTimeout, HeartbeatInterval time.Duration
	// AdvertisedAddress is where this instance serves interactive queries (host:port, ""
	// for nowhere), told to the group so every instance knows who holds which task.
	AdvertisedAddress string
	// InstanceID makes the workers static members of the group, "<InstanceID>-<worker>"
	// ("": dynamic members).
	InstanceID string
	// StandbyReplicas is how many standby replicas each task with state on disk has on
	// other instances; MaxWarmupReplicas bounds the warm-up replicas of one rebalance,
	// AcceptableRecoveryLag is how far behind (in changelog records) a replica may be and
	// still take its task over at once, and ProbingRebalanceInterval how often the
	// holders of warm-ups rejoin the group while they have not caught up (standby.go).
	StandbyReplicas          int
	MaxWarmupReplicas        int
	AcceptableRecoveryLag    int64
	ProbingRebalanceInterval time.Duration
	// Bounded processes the inputs up to their ends at start, then returns.
	Bounded bool
	// MaxTaskIdle is how long a task with several input partitions waits for an empty one
	// that is caught up before it processes the others (sync.go); negative: it never
	// waits, not even for records known to be on the broker.
	MaxTaskIdle time.Duration
	// OnRestore, if set, is called from a worker's goroutine when a store finishes restoring.
	OnRestore func(RestoreInfo)
	// OnDeserialization, OnProcessing and OnProduction handle records that failed in a
	// source (undecodable, no valid time), in user code, or on the way out.
	OnDeserialization, OnProcessing, OnProduction ErrorPolicy
	// Metrics receives the instance's counters (nil: none kept).
	Metrics *metrics.Registry
	// Monitor, if set, follows the instance for its App (monitor.go).
	Monitor *Monitor
}

// RestoreInfo describes one finished restore of one task's store, or of one partition of
// a global table (Global; Task is then zero and Topic is the table's topic).
type RestoreInfo struct {
	Task      processor.TaskID
	Global    bool
	Store     string
	Topic     string
	Partition int32
	// From and To are the changelog offsets replayed: [From, To).
	From, To int64
	// Restored is the number of records applied.
	Restored int64
	// Wiped reports whether local state was discarded first (no valid checkpoint).
	Wiped bool
	// InMemory says the store keeps its state in memory (a stream-stream join's by
	// default, topology.OnDisk): it has no local checkpoint, so it always restores in full.
	InMemory bool
	Duration time.Duration
}

// Run plans the topics and runs cfg.Workers workers until ctx ends or one fails; a failure
// stops the others. It returns nil after a clean stop.
func Run(ctx context.Context, cfg *Config, g *graph.Graph) (err error) {
	cfg.Monitor.setPhase(PhaseStarting)
	defer cfg.Monitor.setPhase(PhaseStopped)
	plan, err := prepare(ctx, cfg, g)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop, not a failure
		}
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Commits that started finish even when Run is stopped (cancelling one half way would
	// leave output unacknowledged and offsets uncommitted for no gain), but no longer than
	// the shutdown timeout after the stop.
	stop, stopCancel := stopContext(ctx, cfg.ShutdownTimeout)
	defer stopCancel()
	var mgr *state.Manager
	if len(g.Stores()) > 0 || len(g.Globals()) > 0 {
		if mgr, err = openState(cfg, g); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, mgr.Close()) }()
		stopCleaner := startCleaner(ctx, cfg, mgr)
		defer stopCleaner()
	}
	// The global tables are complete before any worker starts, so before any task of this
	// instance processes a record (a worker's client joins the group as it is made).
	globals, err := newGlobalReader(cfg, plan, mgr)
	if err != nil {
		return err
	}
	if globals != nil {
		defer globals.close()
		if err := globals.restore(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopped while restoring
			}
			return err
		}
		if ctx.Err() != nil {
			return nil // stopped while restoring
		}
	}
	stopFollow := func() error { return nil }
	if globals != nil && !cfg.Bounded {
		// A bounded run keeps the global tables as of its start, as it reads its inputs
		// up to their ends at start.
		stopFollow = follow(ctx, cancel, globals)
		defer stopFollow()
	}
	if cfg.Monitor != nil {
		queryable, subOf, byName := map[string]int32{}, map[string]int{}, map[string]*graph.Store{}
		for _, sub := range plan.subs {
			stores, err := g.StoresOf(sub.ID)
			if err != nil {
				return err
			}
			for _, st := range stores {
				ct := plan.changelogs[changelog.Topic(cfg.ApplicationID, st.Name)]
				switch {
				case ct == nil:
				case st.Kind == graph.KeyValueStore, (st.Kind == graph.WindowStore || st.Kind == graph.SessionStore) && st.View != nil:
					queryable[st.Name], subOf[st.Name], byName[st.Name] = ct.partitions, sub.ID, st
				}
			}
		}
		cfg.Monitor.queries.setStores(queryable, subOf, byName)
		defer cfg.Monitor.queries.setStores(nil, nil, nil)
	}
	// The replicas of tasks that run elsewhere are served before any worker joins: the
	// first assignment may hold some.
	var replicas *standbys
	if mgr != nil && !cfg.Bounded {
		if replicas, err = newStandbys(cfg, g, plan, mgr); err != nil {
			return err
		}
	}
	if replicas != nil {
		rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); replicas.run(rctx) }()
		// After the workers stopped (deferred calls run last first): a task closing
		// hands its slots back.
		defer func() { rcancel(); <-done }()
	}
	var ctl *controller
	if !cfg.Bounded {
		if ctl, err = newController(cfg); err != nil {
			return err
		}
		cctx, ccancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); ctl.run(cctx, cfg.Logger) }()
		defer func() { ccancel(); <-done }()
	}
	workers := make([]*worker, cfg.Workers)
	for i := range workers {
		w, err := newWorker(stop, cfg, g, plan, mgr, globals, replicas, ctl, i)
		if err != nil {
			for _, w := range workers[:i] {
				w.cl.Close()
			}
			return err
		}
		workers[i] = w
	}
	cfg.Monitor.setWorkers(workers, globals, replicas)
	cfg.Monitor.setPhase(PhaseRunning)
	defer context.AfterFunc(ctx, func() { cfg.Monitor.setPhase(PhaseStopping) })()
	cfg.Logger.Info("running", "application", cfg.ApplicationID, "workers", cfg.Workers, "process", cfg.ProcessID)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel() // one failed worker stops the instance
			}
		}()
	}
	wg.Wait()
	// The global reader stops after the workers: they read its stores to the end.
	return errors.Join(append(errs, stopFollow())...)
}

// follow runs the global reader's follow on a goroutine of its own until ctx ends; an
// error stops the instance (cancel). stop ends it, waits, and returns its error; it may
// be called again, returning the same.
func follow(ctx context.Context, cancel context.CancelFunc, r *globalReader) (stop func() error) {
	fctx, fcancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	var err error
	go func() {
		defer close(done)
		if err = r.follow(fctx); err != nil {
			cancel()
		}
	}()
	// The reader follows while the workers stop (they may still look keys up), not only
	// while Run's context lasts: stop ends it.
	return func() error { fcancel(); <-done; return err }
}

// prepare checks the topics and creates the internal ones with a short-lived admin client.
func prepare(ctx context.Context, cfg *Config, g *graph.Graph) (*topicPlan, error) {
	// Metadata answers are cached for MetadataMinAge; topics are created and then looked
	// at again here, so the cache must not answer "missing" for five seconds.
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.MetadataMinAge(10 * time.Millisecond)}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("eddy: admin client: %w", err)
	}
	defer cl.Close()
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	plan, err := planTopics(actx, adm, cfg.ApplicationID, g, cfg.ReplicationFactor, cfg.DeadLetterTopics())
	if err == nil {
		err = plan.planGlobals(actx, adm, g)
	}
	if err == nil && !cfg.Bounded {
		err = createControl(actx, adm, cfg.ApplicationID, cfg.ReplicationFactor)
	}
	if err != nil || !cfg.Bounded {
		return plan, err
	}
	return plan, planBounds(actx, adm, cfg.ApplicationID, plan)
}

// openState opens the instance's database under the state directory. When every store
// keeps its slices in memory and there is no global table, nothing needs the disk: the
// store ids live in memory too, and no Badger database is opened (it costs tens of MiB).
func openState(cfg *Config, g *graph.Graph) (*state.Manager, error) {
	if len(g.Globals()) == 0 && !slices.ContainsFunc(g.Stores(), func(s *graph.Store) bool { return !s.InMemory }) {
		return state.NewManager(store.NewMemory()), nil
	}
	db, err := store.OpenBadger(filepath.Join(cfg.StateDir, "state"), store.BadgerOptions{
		LowMemory: cfg.LowMemoryState,
		Logger:    cfg.Logger.With("component", "badger"),
	})
	if err != nil {
		return nil, fmt.Errorf("eddy: opening local state: %w", err)
	}
	mgr := state.NewManager(db)
	mgr.CacheBytes = cfg.StateCacheBytes
	if err := mgr.ReleaseAll(time.Now()); err != nil {
		return nil, errors.Join(err, mgr.Close())
	}
	return mgr, nil
}

// startCleaner drops, once a minute, the local state of tasks that left this instance more
// than StateCleanupDelay ago (and of tasks found on disk at start that did not come back).
func startCleaner(ctx context.Context, cfg *Config, mgr *state.Manager) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(min(time.Minute, max(cfg.StateCleanupDelay/2, 10*time.Millisecond)))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				n, err := mgr.Cleanup(now.Add(-cfg.StateCleanupDelay))
				if err != nil {
					cfg.Logger.Warn("state cleanup failed", "err", err)
				} else if n > 0 {
					cfg.Logger.Info("dropped the local state of tasks no longer here", "stores", n)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// stopContext returns a context that outlives ctx by timeout: it ends that long after ctx
// ends (or when cancel is called). Work that must finish after a stop runs under it.
func stopContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	stop, cancel := context.WithCancel(context.WithoutCancel(ctx))
	unregister := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(timeout, cancel)
		context.AfterFunc(stop, func() { t.Stop() })
	})
	return stop, func() { unregister(); cancel() }
}
