package eddy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eddy-streams/eddy/internal/metrics"
	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/internal/statuspage"
)

// MetricsRegisterer registers the App's metrics (its Collector) with reg, for a service
// that serves its own Prometheus registry; Handler's /metrics serves them either way.
func MetricsRegisterer(reg prometheus.Registerer) Opt {
	return optFunc(func(c *config) { c.registerer = reg })
}

// ServeHTTP makes Run serve Handler on addr (":8080", "127.0.0.1:9090") from its start,
// so the probes answer during restores too, until it returns. Nothing listens without it:
// mount Handler yourself to add authentication or TLS. A failure to listen fails Run.
func ServeHTTP(addr string) Opt { return optFunc(func(c *config) { c.httpAddr = addr }) }

// serve listens on the ServeHTTP address and serves Handler until stop is called.
func (a *App) serve() (stop func(), err error) {
	if a.cfg.httpAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", a.cfg.httpAddr)
	if err != nil {
		return nil, fmt.Errorf("eddy: ServeHTTP(%q): %w", a.cfg.httpAddr, err)
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.cfg.logger.Warn("the status endpoint stopped", "addr", a.cfg.httpAddr, "err", err)
		}
	}()
	a.cfg.logger.Info("serving the status endpoint", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// Collector is the App's Prometheus collector: its counters (Metrics) and, read from its
// tasks at each scrape, its state and the gauges of every task and input partition —
// watermark, watermark lag, consumer lag, queued records, pauses, idleness, restores.
// Register it with a registry of your own, or let MetricsRegisterer or Handler do it.
func (a *App) Collector() prometheus.Collector { return a.collector }

// Handler serves the App's operational endpoints, for the user to mount (nothing listens
// unless a server is given it):
//
//	/          the status page: the topology as a diagram and a live table of the tasks,
//	           coloured by busy, backpressured and idle (all it loads is embedded)
//	/metrics   the Prometheus metrics
//	/healthz   200 while the App is alive (Alive), 503 once it failed or stopped
//	/readyz    200 when it is ready (Ready), 503 while restoring, rebalancing or stopped
//	/status    the state and every task, its partitions and stores, as JSON (Status)
//	/topology  the topology's Mermaid description (topology.Topology.Mermaid)
//
// The page loads its parts relative to its own address: to mount the handler under a
// path, strip the path and end it with a slash (mux.Handle("/eddy/",
// http.StripPrefix("/eddy", app.Handler()))). It is a plain http.Handler: wrap it with
// authentication where the network is not trusted.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	statuspage.Register(mux, a.topo.Mermaid)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	probe := func(ok func() bool) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !ok() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			fmt.Fprintln(w, a.State())
		}
	}
	mux.Handle("GET /healthz", probe(a.Alive))
	mux.Handle("GET /readyz", probe(a.Ready))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(a.Status())
	})
	return mux
}

// Status is a snapshot of an App: its state and every task it runs.
type Status struct {
	Application string       `json:"application"`
	State       string       `json:"state"`
	Ready       bool         `json:"ready"`
	Tasks       []TaskStatus `json:"tasks"`
	// Replicas are the standby and warm-up replicas this instance keeps of tasks that
	// run elsewhere (StandbyReplicas, WarmupReplicas).
	Replicas []ReplicaInfo `json:"replicas,omitempty"`
}

// ReplicaInfo is one replica this instance keeps: a copy of a task's stores, tailing the
// task's changelogs.
type ReplicaInfo struct {
	// ID is the task's id.
	ID string `json:"id"`
	// WarmUp says the replica is to take the task over once caught up; else it is a
	// standby.
	WarmUp bool `json:"warm_up,omitempty"`
	// Tailed counts the changelog records it applied since it started here; Position is
	// the sum over its stores of the changelog offset each has reached (Kafka Streams'
	// task offset sum).
	Tailed   int64 `json:"tailed"`
	Position int64 `json:"position"`
}

// TaskStatus is one task: its input partitions, stores and watermark.
type TaskStatus struct {
	// ID is the task's id, "<sub-topology>_<partition>".
	ID     string `json:"id"`
	Worker int    `json:"worker"`
	// State is "restoring" (its stores restore; it processes nothing) or "running".
	State string `json:"state"`
	// Watermark is the task's watermark (nil before it has one); WatermarkLag the wall
	// clock's lead on it.
	Watermark    *time.Time      `json:"watermark,omitempty"`
	WatermarkLag *Duration       `json:"watermark_lag,omitempty"`
	Partitions   []PartitionInfo `json:"partitions"`
	Stores       []StoreInfo     `json:"stores,omitempty"`
	// Restores are the restores of its stores still under way (State "restoring").
	Restores []RestoreProgress `json:"restores,omitempty"`
	// Busy, Backpressured and Idle are the milliseconds per second the task spent
	// processing, processing while its output could not be handed on (the producer's
	// buffer full), and waiting, over the last seconds: they add up to about 1000.
	Busy          float64 `json:"busy_ms_per_s"`
	Backpressured float64 `json:"backpressured_ms_per_s"`
	Idle          float64 `json:"idle_ms_per_s"`
	// RecordsPerSecond and ProcessLatency (the time a record took, on average) are over
	// the same seconds; Processed counts the records since the task came to this instance.
	RecordsPerSecond float64  `json:"records_per_s"`
	ProcessLatency   Duration `json:"process_latency"`
	Processed        int64    `json:"processed"`
}

// PartitionInfo is one input partition of a task.
type PartitionInfo struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Internal  bool   `json:"internal,omitempty"`
	// Committed is the last offset committed by this instance (-1: none yet); End the
	// end the broker reported last (the last stable offset under exactly-once); Lag the
	// records from the next to process to End, fetched ones included (-1: not known).
	Committed int64 `json:"committed"`
	End       int64 `json:"end"`
	Lag       int64 `json:"lag"`
	// LagTime is how far the next record to process is behind the wall clock: the age of
	// the oldest fetched record not processed, else of the last one processed (nil: not
	// known; zero without lag).
	LagTime *Duration `json:"lag_time,omitempty"`
	// Queued are fetched records waiting; Paused says fetching is paused (backpressure,
	// or a restore); Idle that the partition does not hold the watermark back.
	Queued    int        `json:"queued"`
	Paused    bool       `json:"paused,omitempty"`
	Idle      bool       `json:"idle,omitempty"`
	Watermark *time.Time `json:"watermark,omitempty"`
}

// StoreInfo is a task's slice of a store.
type StoreInfo struct {
	Name string `json:"name"`
	// Bytes estimates its size: its committed state as the database estimates it (Badger
	// counts what reached its tables, not its memtables) and its write buffer.
	Bytes int64 `json:"bytes"`
	// CacheHits count the point reads its write buffer or cache of committed values
	// answered, CacheMisses those that read the database; HitRatio is hits over both (0
	// before any read).
	CacheHits   int64   `json:"cache_hits"`
	CacheMisses int64   `json:"cache_misses"`
	HitRatio    float64 `json:"cache_hit_ratio"`
}

// RestoreProgress is a store's restore under way.
type RestoreProgress struct {
	Store     string `json:"store"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// From, To and Position are changelog offsets: the replay goes from From to To and
	// has reached Position; Remaining is To less Position, Progress the part done (0–1).
	From      int64   `json:"from"`
	To        int64   `json:"to"`
	Position  int64   `json:"position"`
	Remaining int64   `json:"remaining"`
	Progress  float64 `json:"progress"`
	// Restored counts the records applied, at Rate records a second since it began.
	Restored int64   `json:"restored"`
	Rate     float64 `json:"rate"`
}

// Duration is a time.Duration that is written as its String in JSON ("1.5s").
type Duration time.Duration

// MarshalJSON writes the duration as its String.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("eddy: duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Status takes a snapshot of the App: its state and every task its workers run, each
// read between two of its worker's steps.
func (a *App) Status() Status {
	st := Status{Application: a.cfg.appID, State: a.State().String(), Ready: a.Ready(), Tasks: []TaskStatus{}}
	if a.State() == Created || a.State() == Stopped || a.State() == Failed {
		return st
	}
	now := time.Now()
	ms := a.monitor.Status()
	for _, r := range ms.Replicas {
		st.Replicas = append(st.Replicas, ReplicaInfo{ID: r.ID.String(), WarmUp: r.WarmUp, Tailed: r.Tailed, Position: r.Position})
	}
	for _, t := range ms.Tasks {
		ts := TaskStatus{ID: t.ID.String(), Worker: t.Worker, State: "running", Partitions: []PartitionInfo{},
			Busy: t.Rates.BusyMsPerSecond, Backpressured: t.Rates.BackpressuredMsPerSecond, Idle: t.Rates.IdleMsPerSecond,
			RecordsPerSecond: t.Rates.RecordsPerSecond, ProcessLatency: Duration(t.Rates.ProcessLatency), Processed: t.Processed}
		if t.Restoring {
			ts.State = "restoring"
		}
		for _, s := range t.Stores {
			ts.Stores = append(ts.Stores, StoreInfo{Name: s.Name, Bytes: s.Bytes, CacheHits: s.CacheHits, CacheMisses: s.CacheMisses,
				HitRatio: hitRatio(s)})
		}
		for _, r := range t.Restores {
			ts.Restores = append(ts.Restores, RestoreProgress{Store: r.Store, Topic: r.Topic, Partition: r.Partition,
				From: r.From, To: r.To, Position: r.Position, Remaining: r.Remaining(), Progress: progress(r),
				Restored: r.Restored, Rate: r.Rate})
		}
		if !t.Watermark.IsZero() {
			wm, lag := t.Watermark, Duration(now.Sub(t.Watermark))
			ts.Watermark, ts.WatermarkLag = &wm, &lag
		}
		for _, p := range t.Partitions {
			pi := PartitionInfo{Topic: p.Topic, Partition: p.Partition, Internal: p.Internal, Committed: p.Committed, End: p.End,
				Lag: p.Lag, Queued: p.Queued, Paused: p.Paused, Idle: p.Idle}
			if !p.Watermark.IsZero() {
				wm := p.Watermark
				pi.Watermark = &wm
			}
			if p.LagTime >= 0 {
				lt := Duration(p.LagTime)
				pi.LagTime = &lt
			}
			ts.Partitions = append(ts.Partitions, pi)
		}
		st.Tasks = append(st.Tasks, ts)
	}
	return st
}

// collector is the App's prometheus.Collector.
type collector struct {
	a *App
}

var (
	descState     = prometheus.NewDesc("eddy_app_state", "1 for the App's current state, 0 for the others.", []string{"state"}, nil)
	descRestoring = prometheus.NewDesc("eddy_task_restoring", "1 while the task restores its stores.", []string{"task"}, nil)
	descTaskWM    = prometheus.NewDesc("eddy_task_watermark_seconds", "The task's watermark, as Unix time.", []string{"task"}, nil)
	descTaskWMLag = prometheus.NewDesc("eddy_task_watermark_lag_seconds", "The wall clock's lead on the task's watermark.", []string{"task"}, nil)
	descTaskTime  = prometheus.NewDesc("eddy_task_time_ms_per_second", "Milliseconds per second the task spent busy, backpressured (its output blocked) and idle, over the last seconds.", []string{"task", "state"}, nil)
	descProcessed = prometheus.NewDesc("eddy_task_records_processed_total", "Records the task processed on this instance.", []string{"task"}, nil)
	descLatency   = prometheus.NewDesc("eddy_task_process_latency_seconds", "The time a record took to process, on average over the last seconds.", []string{"task"}, nil)
	descLag       = prometheus.NewDesc("eddy_partition_lag_records", "Records from the next to process to the end the broker reported.", []string{"task", "topic", "partition"}, nil)
	descPartWM    = prometheus.NewDesc("eddy_partition_watermark_seconds", "The input partition's watermark, as Unix time.", []string{"task", "topic", "partition"}, nil)
	descIdle      = prometheus.NewDesc("eddy_partition_idle", "1 while the input partition does not hold its task's watermark back.", []string{"task", "topic", "partition"}, nil)
	descQueued    = prometheus.NewDesc("eddy_partition_queued_records", "Fetched records of the input partition waiting to be processed.", []string{"task", "topic", "partition"}, nil)
	descPaused    = prometheus.NewDesc("eddy_partition_paused", "1 while fetching the input partition is paused (backpressure or a restore).", []string{"task", "topic", "partition"}, nil)
	descLagTime   = prometheus.NewDesc("eddy_partition_lag_seconds", "How far behind the wall clock the next record to process is: the age of the oldest fetched record not processed, else of the last processed; 0 without lag.", []string{"task", "topic", "partition"}, nil)
	descBytes     = prometheus.NewDesc("eddy_store_size_bytes", "The estimated size of the task's slice of the store (Badger: what reached its tables), its write buffer included.", []string{"task", "store"}, nil)
	descHits      = prometheus.NewDesc("eddy_store_cache_hits_total", "Point reads of the store the task's write buffer or cache of committed values answered.", []string{"task", "store"}, nil)
	descMisses    = prometheus.NewDesc("eddy_store_cache_misses_total", "Point reads of the store that went to the database.", []string{"task", "store"}, nil)
	descHitRatio  = prometheus.NewDesc("eddy_store_cache_hit_ratio", "Cache hits over point reads of the task's slice of the store, since the task came to this instance.", []string{"task", "store"}, nil)
	descRestored  = prometheus.NewDesc("eddy_restore_records_total", "Records a store's restore under way applied.", []string{"task", "store"}, nil)
	descRemaining = prometheus.NewDesc("eddy_restore_remaining_records", "Changelog offsets a store's restore under way has left to replay.", []string{"task", "store"}, nil)
	descProgress  = prometheus.NewDesc("eddy_restore_progress_ratio", "The part of a store's restore under way done, 0 to 1.", []string{"task", "store"}, nil)
	descRate      = prometheus.NewDesc("eddy_restore_rate_records_per_second", "Records a second a store's restore under way applies, since it began.", []string{"task", "store"}, nil)
	allStates     = []State{Created, Restoring, Rebalancing, Running, Stopping, Stopped, Failed}
)

// Describe sends nothing: the counters' label sets appear as they are counted, so the
// collector is unchecked.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads the counters and a status of the tasks.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	state := a.State()
	for _, s := range allStates {
		v := 0.0
		if s == state {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, s.String())
	}
	for _, s := range a.metrics.Snapshot() {
		ch <- counterMetric(s)
	}
	for _, h := range a.metrics.Histograms() {
		ch <- histogramMetric(h)
	}
	if state == Created || state == Stopped || state == Failed {
		return
	}
	now := time.Now()
	for _, t := range a.monitor.Status().Tasks {
		id := t.ID.String()
		ch <- prometheus.MustNewConstMetric(descRestoring, prometheus.GaugeValue, bool01(t.Restoring), id)
		ch <- prometheus.MustNewConstMetric(descTaskTime, prometheus.GaugeValue, t.Rates.BusyMsPerSecond, id, "busy")
		ch <- prometheus.MustNewConstMetric(descTaskTime, prometheus.GaugeValue, t.Rates.BackpressuredMsPerSecond, id, "backpressured")
		ch <- prometheus.MustNewConstMetric(descTaskTime, prometheus.GaugeValue, t.Rates.IdleMsPerSecond, id, "idle")
		ch <- prometheus.MustNewConstMetric(descProcessed, prometheus.CounterValue, float64(t.Processed), id)
		ch <- prometheus.MustNewConstMetric(descLatency, prometheus.GaugeValue, t.Rates.ProcessLatency.Seconds(), id)
		if !t.Watermark.IsZero() {
			ch <- prometheus.MustNewConstMetric(descTaskWM, prometheus.GaugeValue, unixSeconds(t.Watermark), id)
			ch <- prometheus.MustNewConstMetric(descTaskWMLag, prometheus.GaugeValue, now.Sub(t.Watermark).Seconds(), id)
		}
		for _, s := range t.Stores {
			ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(s.Bytes), id, s.Name)
			ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(s.CacheHits), id, s.Name)
			ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(s.CacheMisses), id, s.Name)
			ch <- prometheus.MustNewConstMetric(descHitRatio, prometheus.GaugeValue, hitRatio(s), id, s.Name)
		}
		for _, r := range t.Restores {
			ch <- prometheus.MustNewConstMetric(descRestored, prometheus.CounterValue, float64(r.Restored), id, r.Store)
			ch <- prometheus.MustNewConstMetric(descRemaining, prometheus.GaugeValue, float64(r.Remaining()), id, r.Store)
			ch <- prometheus.MustNewConstMetric(descProgress, prometheus.GaugeValue, progress(r), id, r.Store)
			ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, r.Rate, id, r.Store)
		}
		for _, p := range t.Partitions {
			part := strconv.Itoa(int(p.Partition))
			if p.Lag >= 0 {
				ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(p.Lag), id, p.Topic, part)
			}
			if p.LagTime >= 0 {
				ch <- prometheus.MustNewConstMetric(descLagTime, prometheus.GaugeValue, p.LagTime.Seconds(), id, p.Topic, part)
			}
			if !p.Watermark.IsZero() {
				ch <- prometheus.MustNewConstMetric(descPartWM, prometheus.GaugeValue, unixSeconds(p.Watermark), id, p.Topic, part)
			}
			ch <- prometheus.MustNewConstMetric(descIdle, prometheus.GaugeValue, bool01(p.Idle), id, p.Topic, part)
			ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(p.Queued), id, p.Topic, part)
			ch <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, bool01(p.Paused), id, p.Topic, part)
		}
	}
}

// histogramMetric is one of the App's histograms as a Prometheus histogram.
func histogramMetric(h metrics.HistogramSample) prometheus.Metric {
	names, values := splitLabels(h.Labels)
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Buckets[i]
	}
	desc := prometheus.NewDesc(h.Name, h.Help, names, nil)
	return prometheus.MustNewConstHistogram(desc, h.Count, h.Sum, buckets, values...)
}

// counterMetric is one of the App's counters as a Prometheus counter.
func counterMetric(s metrics.Sample) prometheus.Metric {
	names, values := splitLabels(s.Labels)
	desc := prometheus.NewDesc(s.Name, s.Help, names, nil)
	return prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(s.Value), values...)
}

// splitLabels returns the labels' names and values.
func splitLabels(ls []metrics.Label) (names, values []string) {
	names, values = make([]string, len(ls)), make([]string, len(ls))
	for i, l := range ls {
		names[i], values[i] = l.Name, l.Value
	}
	return names, values
}

// hitRatio is a store's cache hits over its point reads (0 before any).
func hitRatio(s runtime.StoreStatus) float64 {
	if n := s.CacheHits + s.CacheMisses; n > 0 {
		return float64(s.CacheHits) / float64(n)
	}
	return 0
}

// progress is the part of a restore done, 0 to 1.
func progress(r runtime.RestoreStatus) float64 {
	if r.To <= r.From {
		return 1
	}
	return min(1, float64(r.Position-r.From)/float64(r.To-r.From))
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// initMetrics makes the App's collector and its own registry, which Handler serves, and
// registers the collector with the user's registerer too.
func (a *App) initMetrics() error {
	a.collector = &collector{a: a}
	a.registry = prometheus.NewRegistry()
	if err := a.registry.Register(a.collector); err != nil {
		return fmt.Errorf("eddy: registering the metrics: %w", err)
	}
	if a.cfg.registerer != nil {
		if err := a.cfg.registerer.Register(a.collector); err != nil {
			return fmt.Errorf("eddy: MetricsRegisterer: %w", err)
		}
	}
	return nil
}
