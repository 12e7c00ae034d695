// Package eddy runs stream processing topologies on Kafka, in the style of Kafka Streams:
// a Go service describes a topology (package topology) and runs it with an App; Kafka does
// the rest. The partitions of the input topics become tasks, spread over every running
// instance of the application (same ApplicationID); start more copies to scale out.
//
//	t := topology.New()
//	views := topology.From(t, "page-views", serde.String(), serde.JSON[PageView]())
//	topology.To(views.Filter(isSlow), "slow-page-views", serde.String(), serde.JSON[PageView]())
//
//	app, err := eddy.New(t, eddy.ApplicationID("slow-pages"), eddy.Brokers("localhost:9092"))
//	if err != nil {
//		return err
//	}
//	return app.Run(ctx) // until ctx ends; a clean stop commits what was processed
//
// Processing is at-least-once by default: a record's offset is committed only after
// everything it produced was acknowledged by the brokers. With ExactlyOnce, output, state
// changes and consumed offsets commit atomically in Kafka transactions.
package eddy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-streams/eddy/internal/dirlock"
	"github.com/eddy-streams/eddy/internal/metrics"
	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/topology"
)

// App is one instance of a stream processing application. Make it with New, run it with
// Run, stop it by cancelling Run's context or with Close. Its methods are safe for
// concurrent use.
type App struct {
	cfg     config
	topo    *topology.Topology
	metrics *metrics.Registry
	monitor *runtime.Monitor
	watch   *stateWatch

	collector *collector
	registry  *prometheus.Registry

	mu struct {
		sync.Mutex
		state  int // 0 new, 1 running, 2 done
		cancel context.CancelFunc
		done   chan struct{}
		err    error // what Run returned
	}
}

// New checks the topology and the options and returns an App ready to Run. Nothing is
// contacted yet: topics are checked when Run starts.
func New(t *topology.Topology, opts ...Opt) (*App, error) {
	if t == nil {
		return nil, errors.New("eddy: nil topology")
	}
	if err := t.Err(); err != nil {
		return nil, err
	}
	if _, err := t.Describe(); err != nil {
		return nil, err
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cycle := t.Graph().Cycle(); cfg.bounded && cycle != nil {
		return nil, fmt.Errorf("eddy: Bounded: the topology's sub-topologies feed each other through %s (as a foreign-key "+
			"join's subscription and response topics do); a bounded run ends a task once the tasks upstream of it have "+
			"ended, which in a cycle none can: run it without Bounded", strings.Join(cycle, ", "))
	}
	a := &App{cfg: cfg, topo: t, metrics: metrics.NewRegistry(), monitor: runtime.NewMonitor(), watch: &stateWatch{f: cfg.onState}}
	a.monitor.OnChange = func() { a.watch.update(a.State) }
	if err := a.initMetrics(); err != nil {
		return nil, err
	}
	return a, nil
}

// Run runs the application until ctx ends, Close is called, or a fatal error occurs. On a
// clean stop it commits what was processed, closes its tasks, leaves the group (so the
// other instances take over at once) and returns nil. Errors name what went wrong: a
// missing topic, a co-partitioning mismatch, or a record (topic, partition, offset) that
// failed. Run can be called once.
func (a *App) Run(ctx context.Context) (err error) {
	a.mu.Lock()
	if a.mu.state != 0 {
		a.mu.Unlock()
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	a.mu.state, a.mu.cancel, a.mu.done = 1, cancel, make(chan struct{})
	a.mu.Unlock()
	a.watch.update(a.State)
	defer func() {
		cancel()
		a.mu.Lock()
		a.mu.state, a.mu.err = 2, err
		close(a.mu.done)
		a.mu.Unlock()
		a.watch.update(a.State)
	}()

	dir := filepath.Join(a.cfg.stateDir, a.cfg.appID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("eddy: state directory: %w", err)
	}
	lock, err := dirlock.Acquire(dir)
	if errors.Is(err, dirlock.ErrLocked) {
		return fmt.Errorf("%w: another instance of %s uses StateDir %s; give each instance its own StateDir (eddy.StateDir, or the examples' -state-dir)",
			ErrStateDirInUse, a.cfg.appID, a.cfg.stateDir)
	}
	if err != nil {
		return fmt.Errorf("eddy: locking the state directory: %w", err)
	}
	defer lock.Release()
	pid, err := processID(dir)
	if err != nil {
		return err
	}
	stopServing, err := a.serve()
	if err != nil {
		return err
	}
	defer stopServing()
	rc := a.cfg.runtime(pid, dir, a.metrics)
	rc.Monitor = a.monitor
	return publicError(runtime.NotAuthorized(runtime.Run(ctx, rc, a.topo.Graph()), a.cfg.appID))
}

// runtime is the runtime's configuration of an instance with process id pid and state
// directory dir.
func (c *config) runtime(pid, dir string, m *metrics.Registry) *runtime.Config {
	var onRestore func(runtime.RestoreInfo)
	if f := c.onRestore; f != nil {
		onRestore = func(r runtime.RestoreInfo) { f(RestoreInfo(r)) }
	}
	return &runtime.Config{
		ApplicationID:            c.appID,
		Brokers:                  c.brokers,
		Workers:                  c.workers,
		CommitInterval:           c.commitInterval,
		ProcessID:                pid,
		Logger:                   c.logger,
		ClientOpts:               c.clientOpts,
		ReplicationFactor:        c.replication,
		MaxQueuedPerTask:         c.maxQueued,
		MaxPollRecords:           10000,
		ProcessBudget:            50 * time.Millisecond,
		StateDir:                 dir,
		LowMemoryState:           c.lowMemory,
		StateCacheBytes:          c.stateCache,
		StateCleanupDelay:        c.cleanupDelay,
		OnRestore:                onRestore,
		ExactlyOnce:              c.exactlyOnce,
		TransactionTimeout:       c.txnTimeout,
		SessionTimeout:           c.sessionTimeout,
		InstanceID:               c.instanceID,
		StandbyReplicas:          c.replicas.standbys,
		MaxWarmupReplicas:        c.replicas.maxWarmups,
		AcceptableRecoveryLag:    c.replicas.acceptableLag,
		ProbingRebalanceInterval: c.replicas.probing,
		AdvertisedAddress:        c.advertised,
		PurgeInterval:            c.purgeInterval,
		ShutdownTimeout:          c.shutdown,
		MaxBufferedBytes:         c.maxBuffered,
		HeartbeatInterval:        c.heartbeat,
		Bounded:                  c.bounded,
		MaxTaskIdle:              c.maxTaskIdle,
		OnDeserialization:        c.onDeserialization.runtime(),
		OnProcessing:             c.onProcessing.runtime(),
		OnProduction:             c.onProduction.runtime(),
		Metrics:                  m,
	}
}

// Close stops a running App and waits until Run has returned, at most ShutdownTimeout
// and a moment to close the local state. It returns what Run returned: nil after a clean
// stop, else the error that stopped it (a final commit that failed or ran out of time, a
// failed record). It is idempotent (later calls return the same), and on an App that
// never ran it only prevents a later Run.
func (a *App) Close() error {
	a.mu.Lock()
	switch a.mu.state {
	case 0:
		a.mu.state = 2
		a.mu.Unlock()
		a.watch.update(a.State)
		return nil
	case 1:
		cancel, done := a.mu.cancel, a.mu.done
		a.mu.Unlock()
		cancel()
		<-done
		a.mu.Lock()
	}
	defer a.mu.Unlock()
	return a.mu.err
}

// processID reads this instance's process id from dir, creating the id on first use. The id names the instance to the group balancer (and later its transactional ids),
// so it survives restarts.
func processID(dir string) (string, error) {
	path := filepath.Join(dir, "process-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("eddy: reading process id: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("eddy: new process id: %w", err)
	}
	id := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("eddy: writing process id: %w", err)
	}
	return id, nil
}
