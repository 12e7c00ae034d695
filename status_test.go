package eddy_test

import (
	"context"
	"encoding/json"
	"errors"
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
		if task.State != "running" || !slices.Equal(task.Stores, []string{"counts"}) || len(task.Partitions) != 1 {
			t.Errorf("task %+v", task)
			continue
		}
		p := task.Partitions[0]
		if p.Topic != "in" || p.Lag != 0 || p.Committed != p.End {
			t.Errorf("task %s's partition %+v: not caught up (lag 0, committed at the end)", task.ID, p)
		}
	}
	_, text := get(t, srv, "/metrics")
	for _, want := range []string{`eddy_app_state{state="running"} 1`, `eddy_app_state{state="restoring"} 0`,
		`eddy_partition_lag_records{partition="0",task="0_0",topic="in"} 0`, `eddy_task_restoring{task="0_1"} 0`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s:\n%s", want, text)
		}
	}
	fams, err := reg.Gather()
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
