package main

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
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
	if err := run(ctx, "", t.TempDir(), "", strings.NewReader(input), &out); err != nil {
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

// The topology in the test driver: no broker, no sleeps. Lines spread over four
// partitions; the words meet again by key behind the repartition topic, so each word's
// count is its number of occurrences in all of them.
func TestWordCountTopology(t *testing.T) {
	d := eddytest.New(t, Build(), eddytest.Partitions(linesTopic, 4))
	lines := eddytest.Input(d, linesTopic, serde.String(), serde.String())
	counts := eddytest.Output(d, countsTopic, serde.String(), serde.Int64())
	for i, line := range []string{"the cat and the hat", "The end, the END", "a cat"} {
		if err := lines.Send("", line, eddytest.ToPartition(int32(i))); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int64{}
	for _, kv := range counts.Latest() {
		got[kv.Key] = kv.Value
	}
	want := map[string]int64{"the": 4, "cat": 2, "and": 1, "hat": 1, "end": 2, "a": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	// The table's store holds the same counts.
	n, found, err := eddytest.Store(d, "word-counts", serde.String(), serde.Int64()).Get("the")
	if err != nil || !found || n != 4 {
		t.Fatalf("store: the = %d (found %v, err %v), want 4", n, found, err)
	}
}

// The topology on a broker, with the fixture: the real one when KAFKA_BOOTSTRAP names it
// (make test and CI), else a container where Docker answers, else the embedded one.
func TestWordCountOnABroker(t *testing.T) {
	b := eddytest.Kafka(t, eddytest.AllowEmbedded())
	lines, counts := b.Topic("lines"), b.Topic("counts")
	b.CreateTopic(lines, 4)
	b.CreateTopic(counts, 1)
	eddytest.Produce(b, lines, serde.String(), serde.String(), []eddytest.KeyValue[string, string]{
		{Key: "1", Value: "the cat and the hat"}, {Key: "2", Value: "The end, the END"}, {Key: "3", Value: "a cat"}})
	appID := b.Topic("wordcount")
	app, err := eddy.New(BuildOn(lines, counts), eddy.ApplicationID(appID), eddy.Brokers(b.Bootstrap()...),
		eddy.StateDir(t.TempDir()), eddy.CommitInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	b.WaitCaughtUp(appID, time.Minute, lines)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range eddytest.ReadToEnd(b, counts, serde.String(), serde.Int64(), 30*time.Second) {
		got[r.Key] = r.Value
	}
	if want := map[string]int64{"the": 4, "cat": 2, "and": 1, "hat": 1, "end": 2, "a": 1}; !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}
