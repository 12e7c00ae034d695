package main

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// The example counts a known input on the embedded broker: the last printed count of each
// word is its number of occurrences, and each word's counts go up one by one.
func TestWordCountExample(t *testing.T) {
	input := "the cat and the hat\nThe end, the END\n"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out syncBuffer
	if err := run(ctx, "", t.TempDir(), strings.NewReader(input), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	seen := map[string][]int{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		seen[f[0]] = append(seen[f[0]], n)
	}
	want := map[string]int{"the": 4, "cat": 1, "and": 1, "hat": 1, "end": 2}
	for w, n := range want {
		counts := seen[w]
		slices.Sort(counts)
		var expect []int
		for i := 1; i <= n; i++ {
			expect = append(expect, i)
		}
		if !slices.Equal(counts, expect) {
			t.Errorf("%s: printed counts %v, want %v", w, counts, expect)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("words printed: %v, want %v", seen, want)
	}
}

func TestSplitWords(t *testing.T) {
	got := splitWords("It's the END, isn't it? 42 times")
	want := []string{"it's", "the", "end", "isn't", "it", "42", "times"}
	if !slices.Equal(got, want) {
		t.Errorf("splitWords = %v, want %v", got, want)
	}
}
