package eddy_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// chromium finds the headless browser: EDDY_CHROMIUM, else chromium on the PATH. Without
// one the test skips, unless EDDY_REQUIRE_BROWSER=1 (scripts/test sets it when it has
// one, and CI installs Debian's chromium), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EDDY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("EDDY_REQUIRE_BROWSER") == "1" {
		t.Fatal("EDDY_REQUIRE_BROWSER=1 but no chromium: install Debian's chromium package or set EDDY_CHROMIUM")
	}
	t.Skip("no chromium on the PATH (apt-get install chromium, or set EDDY_CHROMIUM)")
	return ""
}

// The status page in a real browser: it loads with nothing from elsewhere, Mermaid draws
// the topology, and the table of tasks follows the App: the task fed CPU-heavy records
// turns from idle to busy and back, while the task without input stays idle. A
// screenshot is kept in EDDY_ARTIFACTS (default: the system's temporary directory).
func TestStatusPageInABrowser(t *testing.T) {
	browser := chromium(t)
	brokers := startEmbedded(t, map[string]int32{"flow": 1, "flow-out": 1, "empty": 1, "empty-out": 1})
	top := topology.New()
	burn := func(v string) string {
		sum := sha256.Sum256([]byte(v))
		for range 2000 {
			sum = sha256.Sum256(sum[:])
		}
		return fmt.Sprintf("%x", sum[:4])
	}
	topology.To(topology.MapValues(topology.From(top, "flow", serde.String(), serde.String()), burn), "flow-out", serde.String(), serde.String())
	topology.To(topology.From(top, "empty", serde.String(), serde.String()), "empty-out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("page"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	stop := runApp(t, app)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	waitState(t, app, eddy.Running)

	alloc, cancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var (
		mu       sync.Mutex
		requests []string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#diagram[data-rendered="yes"] svg`)),
	); err != nil {
		rendered, _ := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#diagram`)))
		t.Fatalf("the diagram did not render: %v (%q)", err, rendered)
	}
	nodes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#diagram svg .node").length`))
	if err != nil {
		t.Fatal(err)
	}
	source, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#mermaid-source`)))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := top.Mermaid()
	if source != want || nodes < 6 {
		t.Errorf("the page's diagram: %d nodes drawn from\n%s\nwant the topology's description\n%s", nodes, source, want)
	}
	label, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#diagram svg").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(label, "flow-out") || !strings.Contains(label, "empty") {
		t.Errorf("the drawn diagram does not name the topics: %q", label)
	}

	// stateOf waits until the page shows task id in state want.
	stateOf := func(id, want string, within time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(within); ; {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](
				fmt.Sprintf(`(document.querySelector('tr[data-task="%s"]') || {dataset: {}}).dataset.state || ""`, id)))
			if err != nil {
				t.Fatal(err)
			}
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s shows %q on the page after %s, want %q; the App has %+v", id, got, within, want, app.Status().Tasks)
			}
			time.Sleep(100 * time.Millisecond) // the page polls the App each second
		}
	}
	stateOf("0_0", "idle", 15*time.Second)
	stateOf("1_0", "idle", 15*time.Second)

	// Feed the CPU-heavy task until the page shows it busy, keeping its backlog small so
	// that it turns idle soon after the feed stops (on a slow machine as well).
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	backlog := func() int64 {
		for _, tk := range app.Status().Tasks {
			for _, p := range tk.Partitions {
				if p.Topic == "flow" {
					return max(p.Lag, 0) + int64(p.Queued)
				}
			}
		}
		return 0
	}
	feed, stopFeed := context.WithCancel(ctx)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for i := 0; feed.Err() == nil; i++ {
			if backlog() < 200 {
				for j := range 50 {
					cl.Produce(feed, &kgo.Record{Topic: "flow", Value: fmt.Appendf(nil, "v%d-%d", i, j)}, nil)
				}
			}
			select {
			case <-feed.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	stateOf("0_0", "busy", 20*time.Second)
	stateOf("1_0", "idle", time.Second)

	dir := os.Getenv("EDDY_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "eddy-artifacts")
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: a PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "statuspage.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the page with a busy task: %s", shot)

	stopFeed()
	<-fed
	stateOf("0_0", "idle", 20*time.Second)

	mu.Lock()
	defer mu.Unlock()
	if len(requests) < 4 {
		t.Errorf("the browser made %d requests (%v): the page, its script, style and data at least", len(requests), requests)
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, srv.URL) && !strings.HasPrefix(u, "data:") && u != "about:blank" {
			t.Errorf("the page loaded %s, from elsewhere", u)
		}
	}
}
