package eddy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metricSum is the sum of the family's counters or gauges (a histogram's sum) whose label
// name has value (every one when name is "").
func metricSum(fams []*dto.MetricFamily, family, name, value string) float64 {
	total := 0.0
	for _, m := range familyMetrics(fams, family, name, value) {
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += m.Histogram.GetSampleSum()
		}
	}
	return total
}

// histogramCount is the count of the family's histograms whose label name has value.
func histogramCount(fams []*dto.MetricFamily, family, name, value string) uint64 {
	var n uint64
	for _, m := range familyMetrics(fams, family, name, value) {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}

func familyMetrics(fams []*dto.MetricFamily, family, name, value string) []*dto.Metric {
	var out []*dto.Metric
	for _, f := range fams {
		if f.GetName() != family {
			continue
		}
		for _, m := range f.Metric {
			if name == "" || slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == name && l.GetValue() == value }) {
				out = append(out, m)
			}
		}
	}
	return out
}

// partitionKeys are the distinct keys of input that Kafka's partitioner puts in partition p
// of a topic of two partitions.
func partitionKeys(input [][2]string, p int32) []string {
	var keys []string
	for _, kv := range input {
		part := kgo.StickyKeyPartitioner(nil).ForTopic("in").Partition(&kgo.Record{Key: []byte(kv[0])}, 2) // murmur2, as Kafka's
		if int32(part) == p && !slices.Contains(keys, kv[0]) {
			keys = append(keys, kv[0])
		}
	}
	return keys
}

// waitState waits until the App is in state s.
func waitState(t *testing.T, app *eddy.App, s eddy.State) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); app.State() != s; {
		if time.Now().After(deadline) {
			t.Fatalf("state %s after 30 s, want %s", app.State(), s)
		}
		time.Sleep(10 * time.Millisecond) // polling the App's state, which it changes on its own
	}
}

// An App's life as its state, its listener, its probes, its status and its metrics show
// it: created; restoring while its stores restore; running, ready, every partition caught
// up with its lag 0; stopping, stopped.
func TestStateProbesStatusAndMetrics(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 2, "out": 1})
	var input [][2]string
	for _, k := range strings.Split("a b c d e f g h", " ") { // keys on both partitions
		input = append(input, [2]string{k, "x"}, [2]string{k, "y"})
	}
	produce(t, brokers, "in", input...)
	top := topology.New()
	counts := topology.Count(topology.GroupByKey(topology.From(top, "in", serde.String(), serde.String()), serde.String(), serde.String()), "counts")
	topology.To(counts.ToStream(), "out", serde.String(), serde.Int64())
	var (
		mu          sync.Mutex
		transitions []string
	)
	reg := prometheus.NewRegistry()
	app, err := eddy.New(top, eddy.ApplicationID("states"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)), eddy.MetricsRegisterer(reg),
		eddy.OnStateChange(func(from, to eddy.State) {
			mu.Lock()
			transitions = append(transitions, from.String()+">"+to.String())
			mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	if code, body := get(t, srv, "/healthz"); code != 200 || strings.TrimSpace(body) != "created" {
		t.Errorf("healthz of a created App: %d %q", code, body)
	}
	if code, _ := get(t, srv, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz of a created App: %d", code)
	}

	stop := runApp(t, app)
	waitState(t, app, eddy.Running)
	stopCaughtUp(t, brokers, "states", func() error { return nil }, "in")
	if code, body := get(t, srv, "/readyz"); code != 200 || strings.TrimSpace(body) != "running" {
		t.Errorf("readyz of a running App: %d %q", code, body)
	}
	code, body := get(t, srv, "/status")
	var st eddy.Status
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("status: %d %v\n%s", code, err, body)
	}
	if st.Application != "states" || st.State != "running" || !st.Ready || len(st.Tasks) != 2 {
		t.Fatalf("status %+v", st)
	}
	for _, task := range st.Tasks {
		if task.State != "running" || len(task.Stores) != 1 || task.Stores[0].Name != "counts" || len(task.Partitions) != 1 {
			t.Errorf("task %+v", task)
			continue
		}
		p := task.Partitions[0]
		if p.Topic != "in" || p.Lag != 0 || p.Committed != p.End || p.LagTime == nil || *p.LagTime != 0 {
			t.Errorf("task %s's partition %+v: not caught up (lag 0 records and 0 s, committed at the end)", task.ID, p)
		}
		// Each key is read twice: the first read goes to the database, the second finds
		// the first's update in the write buffer or the cache.
		keys := int64(len(partitionKeys(input, p.Partition)))
		if s := task.Stores[0]; s.CacheMisses != keys || s.CacheHits != keys || s.HitRatio != 0.5 || s.Bytes <= 0 {
			t.Errorf("task %s's store %+v: want %d misses, %d hits, a ratio of 0.5, a size", task.ID, s, keys, keys)
		}
	}
	out := readAll(t, brokers, "out")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := metricSum(fams, "eddy_records_produced_total", "topic", "out"); got != float64(len(out)) {
		t.Errorf("eddy_records_produced_total{topic=out} = %v, the topic has %d records", got, len(out))
	}
	if got := metricSum(fams, "eddy_commit_records", "", ""); got != float64(len(input)) {
		t.Errorf("eddy_commit_records sums to %v over the commits, want the %d records processed", got, len(input))
	}
	if got := metricSum(fams, "eddy_commits_total", "", ""); got < 1 {
		t.Errorf("eddy_commits_total = %v, want a commit at least", got)
	}
	if got := histogramCount(fams, "eddy_end_to_end_latency_seconds", "topic", "out"); got < 1 || got > uint64(len(out)) {
		t.Errorf("%d end-to-end latencies sampled of %d outputs", got, len(out))
	}
	_, text := get(t, srv, "/metrics")
	for _, want := range []string{`eddy_app_state{state="running"} 1`, `eddy_app_state{state="restoring"} 0`,
		`eddy_partition_lag_records{partition="0",task="0_0",topic="in"} 0`, `eddy_task_restoring{task="0_1"} 0`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s:\n%s", want, text)
		}
	}
	fams, err = reg.Gather()
	found := false
	for _, f := range fams {
		found = found || f.GetName() == "eddy_app_state"
	}
	if err != nil || !found {
		t.Errorf("the user's registry: %v, %d families without eddy_app_state", err, len(fams))
	}

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if app.State() != eddy.Stopped || app.Alive() {
		t.Errorf("after the stop: %s, alive %v", app.State(), app.Alive())
	}
	if code, body := get(t, srv, "/healthz"); code != http.StatusServiceUnavailable || strings.TrimSpace(body) != "stopped" {
		t.Errorf("healthz of a stopped App: %d %q", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("transitions %v", transitions)
	// Rebalancing may come before or between the restores; the rest is in order.
	var seen []string
	for _, tr := range transitions {
		seen = append(seen, strings.Split(tr, ">")[1])
	}
	if !slices.Contains(seen, "restoring") || seen[len(seen)-1] != "stopped" || seen[len(seen)-2] != "stopping" ||
		!slices.Contains(seen, "running") || !strings.HasPrefix(transitions[0], "created>") {
		t.Errorf("transitions %v", transitions)
	}
	for i := 1; i < len(transitions); i++ {
		if strings.Split(transitions[i-1], ">")[1] != strings.Split(transitions[i], ">")[0] {
			t.Errorf("transitions out of order: %v", transitions)
		}
	}
}

// A failed App is not alive, and says failed.
func TestFailedAppIsNotAlive(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 1, "out": 1})
	produce(t, brokers, "in", [2]string{"a", "not a number"})
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.Int64()), "out", serde.String(), serde.Int64())
	app, err := eddy.New(top, eddy.ApplicationID("fails"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var re *eddy.RecordError
	if err := app.Run(ctx); !errors.As(err, &re) {
		t.Fatalf("Run = %v, want a RecordError", err)
	}
	if app.State() != eddy.Failed || app.Alive() || app.Ready() {
		t.Errorf("state %s, alive %v, ready %v", app.State(), app.Alive(), app.Ready())
	}
}

// ServeHTTP serves the endpoints while Run runs, and stops with it; an address that cannot
// be listened on fails Run and says which.
func TestServeHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	brokers := startEmbedded(t, map[string]int32{"in": 1, "out": 1})
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("serve"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.Logger(testLogger(t)), eddy.ServeHTTP(addr))
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	waitState(t, app, eddy.Running)
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("readyz on %s: %d", addr, resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/readyz"); err == nil {
		t.Error("still serving after Run returned")
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	app, err = eddy.New(top, eddy.ApplicationID("serve"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.ServeHTTP(busy.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Run(context.Background()); err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("Run on a taken address: %v", err)
	}
}

// A restore under way shows in the status and the metrics: its changelog partition, the
// offsets it has replayed and has left, its rate; when it is done, it is gone and the task
// runs. The changelog is fetched slowly (each fetch of it waits, and returns one batch)
// so the restore is seen half way.
func TestRestoreProgress(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	top := topology.New()
	counts := topology.Count(topology.GroupByKey(topology.From(top, "in", serde.String(), serde.String()), serde.String(), serde.String()), "counts")
	topology.To(counts.ToStream(), "out", serde.String(), serde.Int64())
	opts := func(extra ...eddy.Opt) []eddy.Opt {
		return append([]eddy.Opt{eddy.ApplicationID("restores"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
			eddy.CommitInterval(10 * time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t))}, extra...)
	}

	// The first run writes the changelog in a batch per round of records.
	app, err := eddy.New(top, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	waitState(t, app, eddy.Running)
	const rounds, perRound = 20, 25
	for r := range rounds {
		var kvs [][2]string
		for k := range perRound {
			kvs = append(kvs, [2]string{fmt.Sprintf("k%d-%d", r, k), "x"})
		}
		produce(t, brokers, "in", kvs...)
		for deadline := time.Now().Add(10 * time.Second); ; {
			if p := app.Status().Tasks[0].Partitions[0]; p.Committed == int64((r+1)*perRound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d not committed after 10 s", r)
			}
			time.Sleep(5 * time.Millisecond) // polling the App's commits, which it makes on its own
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	changelog := "restores-counts-changelog"
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	details, err := kadm.NewClient(admCl).ListTopics(t.Context(), changelog)
	admCl.Close()
	if err != nil || details[changelog].Err != nil {
		t.Fatalf("the changelog: %v %v", err, details[changelog].Err)
	}
	id := details[changelog].ID
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, tp := range req.(*kmsg.FetchRequest).Topics {
			if tp.Topic == changelog || tp.TopicID == id {
				c.SleepControl(func() { time.Sleep(50 * time.Millisecond) })
			}
		}
		return nil, nil, false
	})

	// A second instance, with an empty state dir, restores the store.
	reg := prometheus.NewRegistry()
	app, err = eddy.New(top, opts(eddy.MetricsRegisterer(reg), eddy.ClientOpts(kgo.FetchMaxPartitionBytes(1)))...)
	if err != nil {
		t.Fatal(err)
	}
	stop = runApp(t, app)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	var seen eddy.RestoreProgress
	for deadline := time.Now().Add(30 * time.Second); seen.Store == ""; {
		if time.Now().After(deadline) {
			t.Fatalf("no restore half way after 30 s; state %s", app.State())
		}
		for _, task := range app.Status().Tasks {
			for _, r := range task.Restores {
				if r.Position > r.From && r.Remaining > 0 && task.State == "restoring" {
					seen = r
				}
			}
		}
		time.Sleep(5 * time.Millisecond) // polling the restore, which goes on its own
	}
	t.Logf("half way: %+v", seen)
	if seen.Store != "counts" || seen.Topic != changelog || seen.Partition != 0 || seen.From != 0 || seen.To < rounds*perRound ||
		seen.Remaining != seen.To-seen.Position || seen.Progress <= 0 || seen.Progress >= 1 || seen.Restored <= 0 || seen.Rate <= 0 {
		t.Errorf("restore %+v", seen)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := metricSum(fams, "eddy_restore_remaining_records", "store", "counts"); got <= 0 {
		t.Errorf("eddy_restore_remaining_records = %v during the restore", got)
	}
	if got := metricSum(fams, "eddy_restore_progress_ratio", "store", "counts"); got <= 0 || got >= 1 {
		t.Errorf("eddy_restore_progress_ratio = %v during the restore", got)
	}
	waitState(t, app, eddy.Running)
	task := app.Status().Tasks[0]
	if len(task.Restores) != 0 || task.State != "running" {
		t.Errorf("after the restore: %+v", task)
	}
}
