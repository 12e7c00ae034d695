package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
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
	if err := run(ctx, "", 200, t.TempDir(), &out); err != nil {
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
