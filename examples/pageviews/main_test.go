package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// syncBuffer is a bytes.Buffer safe for the printer goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The example runs end to end on the embedded broker: both outputs receive records, no
// bot view gets through, and each section stays in one partition.
func TestExampleRunsOnEmbeddedBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var out syncBuffer
	if err := run(ctx, "", 200, t.TempDir(), "", &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	text := out.String()
	if !strings.Contains(text, "SLOW ") || !strings.Contains(text, "view  section=") {
		t.Fatalf("expected both slow and section lines, got:\n%s", text)
	}
	if strings.Contains(text, "SLOW ") && strings.Contains(text, "  bot\n") {
		t.Errorf("a bot view got through:\n%s", text)
	}
	// Per-second windows: at least one closed within the run, each (second, browser) once.
	windows := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "WINDOW" {
			windows[f[1]+" "+f[2]]++
		}
	}
	if len(windows) == 0 {
		t.Errorf("no per-second window was emitted:\n%s", text)
	}
	for w, n := range windows {
		if n != 1 {
			t.Errorf("window %s emitted %d times", w, n)
		}
	}
	partitionOf := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "view" {
			continue
		}
		sec, part := f[1], f[2]
		if p, ok := partitionOf[sec]; ok && p != part {
			t.Errorf("%s seen in %s and %s", sec, p, part)
		}
		partitionOf[sec] = part
	}
}

func TestSection(t *testing.T) {
	for in, want := range map[string]string{"/": "home", "": "home", "/shop/cart": "shop", "/blog": "blog"} {
		if got := section(in); got != want {
			t.Errorf("section(%q) = %q, want %q", in, got, want)
		}
	}
}

// The topology in the test driver, on two partitions: views are routed by speed and
// section, and counted per browser in one-second windows by the time in the view (not
// the record's), which close once the watermark (the highest view time less the five
// seconds of out-of-orderness) passes them. Idleness does not: an idle input lets the
// watermark go as far as it got, no further.
func TestPageViewsTopology(t *testing.T) {
	d := eddytest.New(t, Build(), eddytest.DefaultPartitions(2))
	in := eddytest.Input(d, inputTopic, serde.String(), serde.JSON[PageView]())
	start := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	views := []PageView{
		{User: "u1", URL: "/shop/cart", Browser: "firefox", LoadMS: 120, ViewedAt: start.UnixMilli()},
		{User: "u2", URL: "/", Browser: "chrome", LoadMS: 2400, ViewedAt: start.Add(300 * time.Millisecond).UnixMilli()},
		{User: "u3", URL: "/shop", Browser: "bot", LoadMS: 10, ViewedAt: start.Add(600 * time.Millisecond).UnixMilli()},
		{User: "u1", URL: "/blog/x", Browser: "firefox", LoadMS: 90, ViewedAt: start.Add(1500 * time.Millisecond).UnixMilli()},
	}
	for _, v := range views {
		if err := in.Send(v.User, v); err != nil {
			t.Fatal(err)
		}
	}
	slow := eddytest.Output(d, slowTopic, serde.String(), serde.JSON[Enriched]()).ReadValues()
	if len(slow) != 1 || slow[0].User != "u2" || slow[0].Section != "home" {
		t.Fatalf("slow views %+v, want u2's", slow)
	}
	var sections []string
	for _, r := range eddytest.Output(d, sectionTopic, serde.String(), serde.JSON[Enriched]()).ReadAll() {
		sections = append(sections, r.Key+":"+r.Value.User)
	}
	slices.Sort(sections)
	if want := []string{"blog:u1", "shop:u1"}; !slices.Equal(sections, want) {
		t.Fatalf("views by section %v, want %v (bots and slow views dropped)", sections, want)
	}
	perSec := eddytest.Output(d, perSecTopic, topology.WindowedSerde(serde.String()), serde.Int64())
	if got := perSec.ReadAll(); len(got) != 0 {
		t.Fatalf("windows closed while the watermark is behind them: %v", got)
	}
	if err := d.AdvanceTime(time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := perSec.ReadAll(); len(got) != 0 {
		t.Fatalf("windows closed by idleness alone: %v", got)
	}
	// Both partitions' watermarks raised to 3 s: past every window.
	for p := range int32(2) {
		if err := d.SetWatermark(inputTopic, p, start.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	counts := map[string]int64{}
	for _, r := range perSec.ReadAll() {
		counts[r.Key.Key+"@"+r.Key.Start.Format("05.000")] += r.Value
	}
	want := map[string]int64{"firefox@00.000": 1, "chrome@00.000": 1, "bot@00.000": 1, "firefox@01.000": 1}
	if len(counts) != len(want) {
		t.Fatalf("per-second counts %v, want %v", counts, want)
	}
	for k, n := range want {
		if counts[k] != n {
			t.Fatalf("per-second counts %v, want %v", counts, want)
		}
	}
}
