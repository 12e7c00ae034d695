package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func startEmbedded(t *testing.T, topics map[string]int32) []string {
	t.Helper()
	c, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for topic, n := range topics {
		if err := c.CreateTopic(ctx, topic, n); err != nil {
			t.Fatal(err)
		}
	}
	return c.Brokers()
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("EDDY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

func produce(t *testing.T, brokers []string, topic string, kvs ...[2]string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, len(kvs))
	for i, kv := range kvs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(kv[0]), Value: []byte(kv[1])}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consume reads topic from the start until it has n records or the timeout passes.
func consume(t *testing.T, brokers []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: got %d records of %d before the timeout", topic, len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func runApp(t *testing.T, app *eddy.App) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Run did not return within 30 s of cancel")
		}
	}
}

func TestStatelessPipelineEmbedded(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 3, "small": 2, "large": 2})
	var input [][2]string
	for i := range 100 {
		input = append(input, [2]string{fmt.Sprintf("k%d", i%7), strconv.Itoa(i)})
	}
	produce(t, brokers, "in", input...)

	top := topology.New()
	nums := topology.MapValues(topology.From(top, "in", serde.String(), serde.String()),
		func(v string) int64 { n, _ := strconv.ParseInt(v, 10, 64); return n })
	odd := nums.Filter(func(_ string, v int64) bool { return v%2 == 1 })
	branches := odd.Split("size",
		topology.Branch[string, int64]{Name: "small", Predicate: func(_ string, v int64) bool { return v < 50 }},
		topology.Branch[string, int64]{Name: "large"})
	topology.To(branches[0], "small", serde.String(), serde.Int64())
	topology.To(branches[1], "large", serde.String(), serde.Int64())

	app, err := eddy.New(top, eddy.ApplicationID("stateless"), eddy.Brokers(brokers...),
		eddy.StateDir(t.TempDir()), eddy.CommitInterval(100*time.Millisecond), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	small := consume(t, brokers, "small", 25, 20*time.Second)
	large := consume(t, brokers, "large", 25, 20*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range append(small, large...) {
		v, err := serde.Int64().Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%d", r.Key, v))
	}
	var want []string
	for i := 1; i < 100; i += 2 {
		want = append(want, fmt.Sprintf("k%d=%d", i%7, i))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("output:\n got %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
}
