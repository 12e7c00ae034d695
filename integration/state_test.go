package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func wordCountTopology(in, out string) *topology.Topology {
	t := topology.New()
	lines := topology.From(t, in, serde.String(), serde.String())
	words := topology.FlatMapValues(lines, func(v string) []string { return strings.Fields(strings.ToLower(v)) })
	counts := topology.Count(topology.GroupBy(words, func(_, w string) string { return w }, serde.String(), serde.String(),
		topology.Named("words")), "counts")
	topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
	return t
}

// corpus makes n lines over a vocabulary of 50 words and returns them with the exact count
// of every word.
func corpus(n, seed int) ([]string, map[string]int64) {
	counts := map[string]int64{}
	lines := make([]string, n)
	for i := range n {
		var ws []string
		for j := range 1 + (i+seed)%5 {
			w := fmt.Sprintf("w%02d", (i*7+j*13+seed)%50)
			ws = append(ws, w)
			counts[w]++
		}
		lines[i] = strings.Join(ws, " ")
	}
	return lines, counts
}

func produceLines(t *testing.T, topic string, lines []string, offset int) {
	t.Helper()
	recs := make([]*kgo.Record, len(lines))
	for i, l := range lines {
		recs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "line-%d", offset+i), Value: []byte(l)}
	}
	produceAll(t, recs)
}

// latestCounts reads the count updates until every word has reached its expected count,
// and fails on any count above it.
func latestCounts(t *testing.T, topic string, want map[string]int64) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	reached := 0
	consumeUntil(t, topic, 90*time.Second, func(r *kgo.Record) {
		n, err := serde.Int64().Decode(r.Value)
		if err != nil {
			t.Fatalf("decode %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		w := string(r.Key)
		if n > want[w] {
			t.Fatalf("count of %s reached %d, want %d", w, n, want[w])
		}
		if n > got[w] {
			if n == want[w] {
				reached++
			}
			got[w] = n
		}
	}, func() bool { return reached == len(want) })
	return got
}

type restores struct {
	mu    sync.Mutex
	infos []eddy.RestoreInfo
}

func (r *restores) add(i eddy.RestoreInfo) {
	r.mu.Lock()
	r.infos = append(r.infos, i)
	r.mu.Unlock()
}

func (r *restores) total() (n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, i := range r.infos {
		n += i.Restored
	}
	return n
}

func (r *restores) list() []eddy.RestoreInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]eddy.RestoreInfo(nil), r.infos...)
}

// Word count over a known corpus gives exact counts, and the store's changelog topic is
// created compacted with one partition per task.
func TestWordCountExact(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 3, nil)
	kafkatest.CreateTopic(t, adm, out, 3, nil)
	lines, want := corpus(2000, 1)
	produceLines(t, in, lines, 0)
	appID := kafkatest.Topic(t, "app")
	run := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.LowMemoryState()))
	got := latestCounts(t, out, want)
	if err := run.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("count(%s) = %d, want %d", w, got[w], n)
		}
	}

	changelog := appID + "-counts-changelog"
	rcs, err := adm.DescribeTopicConfigs(t.Context(), changelog)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(changelog, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			policy = c.MaybeValue()
		}
	}
	if policy != "compact" {
		t.Errorf("%s: cleanup.policy = %q, want compact", changelog, policy)
	}
	details, err := adm.ListTopics(t.Context(), changelog)
	if err != nil || len(details[changelog].Partitions) != 3 {
		t.Errorf("%s has %d partitions (err %v), want 3", changelog, len(details[changelog].Partitions), err)
	}
}

// Instance A counts part of the input and stops cleanly; instance B, with its own empty
// state directory, takes over every task, restores the stores from the changelog, counts
// the rest, and the final counts are exact.
func TestStateMigratesThroughChangelog(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 2, nil)
	kafkatest.CreateTopic(t, adm, out, 2, nil)
	appID := kafkatest.Topic(t, "app")
	first, wantFirst := corpus(800, 3)
	second, wantSecond := corpus(700, 11)
	want := map[string]int64{}
	for w, n := range wantFirst {
		want[w] += n
	}
	for w, n := range wantSecond {
		want[w] += n
	}

	produceLines(t, in, first, 0)
	a := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.LowMemoryState()))
	latestCounts(t, out, wantFirst)
	if err := a.stop(); err != nil {
		t.Fatalf("instance A: %v", err)
	}

	var rs restores
	b := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.LowMemoryState(), eddy.OnRestore(rs.add)))
	produceLines(t, in, second, len(first))
	got := latestCounts(t, out, want)
	if err := b.stop(); err != nil {
		t.Fatalf("instance B: %v", err)
	}
	for w, n := range want {
		if got[w] != n {
			t.Errorf("count(%s) = %d, want %d", w, got[w], n)
		}
	}
	// B restored every word counted by A: one changelog record per word at least.
	if n := rs.total(); n < int64(len(wantFirst)) {
		t.Errorf("B restored %d records, want at least %d (the words A counted): %+v", n, len(wantFirst), rs.list())
	}
	for _, i := range rs.list() {
		if i.From != 0 || !i.Wiped {
			t.Errorf("B had no local state, so it must restore from the start after a wipe: %+v", i)
		}
	}
}

// An instance restarted with its local state restores only what was written to the
// changelog after its checkpoint: here, by another instance that ran in between.
func TestRestartRestoresOnlyTheDelta(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 2, nil)
	kafkatest.CreateTopic(t, adm, out, 2, nil)
	appID := kafkatest.Topic(t, "app")
	dirA := t.TempDir()
	batch1, want1 := corpus(600, 5)
	batch2, want2 := corpus(300, 17)
	want := map[string]int64{}
	for w, n := range want1 {
		want[w] += n
	}
	for w, n := range want2 {
		want[w] += n
	}
	changelog := appID + "-counts-changelog"

	// A counts batch 1 and stops: its checkpoints are at the changelog's end.
	produceLines(t, in, batch1, 0)
	a := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.StateDir(dirA), eddy.LowMemoryState()))
	latestCounts(t, out, want1)
	if err := a.stop(); err != nil {
		t.Fatalf("A: %v", err)
	}
	afterA := endOffsets(t, changelog)

	// B counts batch 2 with its own state, writing the delta to the changelog.
	b := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.LowMemoryState()))
	produceLines(t, in, batch2, len(batch1))
	latestCounts(t, out, want)
	if err := b.stop(); err != nil {
		t.Fatalf("B: %v", err)
	}
	afterB := endOffsets(t, changelog)

	// A comes back with its state: it replays only [its checkpoint, end).
	var rs restores
	a2 := start(t, newApp(t, wordCountTopology(in, out), appID, eddy.StateDir(dirA), eddy.LowMemoryState(), eddy.OnRestore(rs.add)))
	deadline := time.Now().Add(60 * time.Second)
	for len(rs.list()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// One more record proves the restored counts are right: the next update of its words
	// continues from the full count.
	produceLines(t, in, []string{"w00 w01"}, len(batch1)+len(batch2))
	want["w00"]++
	want["w01"]++
	latestCounts(t, out, want)
	if err := a2.stop(); err != nil {
		t.Fatalf("A again: %v", err)
	}
	infos := rs.list()
	if len(infos) != 2 {
		t.Fatalf("%d restores, want 2 (one per task): %+v", len(infos), infos)
	}
	var delta, full int64
	for _, i := range infos {
		if i.Wiped {
			t.Errorf("restarted instance wiped its state: %+v", i)
		}
		if i.From != afterA[i.Partition] || i.To != afterB[i.Partition] {
			t.Errorf("task %s replayed [%d, %d), want [%d, %d) (A's checkpoint to the end)", i.Task, i.From, i.To, afterA[i.Partition], afterB[i.Partition])
		}
		if i.Restored != i.To-i.From {
			t.Errorf("task %s restored %d records, want %d", i.Task, i.Restored, i.To-i.From)
		}
		delta += i.Restored
		full += afterB[i.Partition]
	}
	t.Logf("restored %d changelog records of %d", delta, full)
	if delta >= full {
		t.Errorf("restored %d records: the whole changelog (%d), not the delta", delta, full)
	}
}

func endOffsets(t *testing.T, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kafkatest.Admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}
