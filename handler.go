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
//	/metrics  the Prometheus metrics
//	/healthz  200 while the App is alive (Alive), 503 once it failed or stopped
//	/readyz   200 when it is ready (Ready), 503 while restoring, rebalancing or stopped
//	/status   the state and every task, its partitions and stores, as JSON (Status)
//
// It is a plain http.Handler: wrap it with authentication where the network is not
// trusted.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
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
	Stores       []string        `json:"stores,omitempty"`
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
	// Queued are fetched records waiting; Paused says fetching is paused (backpressure,
	// or a restore); Idle that the partition does not hold the watermark back.
	Queued    int        `json:"queued"`
	Paused    bool       `json:"paused,omitempty"`
	Idle      bool       `json:"idle,omitempty"`
	Watermark *time.Time `json:"watermark,omitempty"`
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
	for _, t := range a.monitor.Status().Tasks {
		ts := TaskStatus{ID: t.ID.String(), Worker: t.Worker, State: "running", Stores: t.Stores, Partitions: []PartitionInfo{},
			Busy: t.Rates.BusyMsPerSecond, Backpressured: t.Rates.BackpressuredMsPerSecond, Idle: t.Rates.IdleMsPerSecond,
			RecordsPerSecond: t.Rates.RecordsPerSecond, ProcessLatency: Duration(t.Rates.ProcessLatency), Processed: t.Processed}
		if t.Restoring {
			ts.State = "restoring"
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
		for _, p := range t.Partitions {
			part := strconv.Itoa(int(p.Partition))
			if p.Lag >= 0 {
				ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(p.Lag), id, p.Topic, part)
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

// counterMetric is one of the App's counters as a Prometheus counter.
func counterMetric(s metrics.Sample) prometheus.Metric {
	names := make([]string, len(s.Labels))
	values := make([]string, len(s.Labels))
	for i, l := range s.Labels {
		names[i], values[i] = l.Name, l.Value
	}
	desc := prometheus.NewDesc(s.Name, s.Help, names, nil)
	return prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(s.Value), values...)
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
