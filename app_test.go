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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/processor"
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
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
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

// consume reads topic from the start until it has n records or the timeout passes. It
// proves that records came, never that no more did: for that, readAll.
func consume(t *testing.T, brokers []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	// A short fetch wait: the embedded broker answers a waiting fetch only at its end.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
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
		out = append(out, fs.Records()...)
	}
	return out
}

// readAll returns every record of topic up to its end offsets as they are now, as a
// read_committed reader sees them. After stopCaughtUp, or after a Run that returned, that
// is all the application wrote.
func readAll(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	return ends.Read(t, brokers, topic, kgo.ReadCommitted())
}

// readData is readAll without eddy's watermark-only markers (on repartition topics).
func readData(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	return ends.WithoutMarkers(readAll(t, brokers, topic))
}

// stopCaughtUp stops the application appID once it has processed everything in inputs and
// in its repartition topics (its committed offsets say so, see ends.WaitCaughtUp), so that
// what it wrote is final and readAll shows all of it.
func stopCaughtUp(t *testing.T, brokers []string, appID string, stop func() error, inputs ...string) {
	t.Helper()
	ends.WaitCaughtUp(t, brokers, appID, 30*time.Second, inputs...)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
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
	stopCaughtUp(t, brokers, "stateless", runApp(t, app), "in")
	var got []string
	for _, r := range append(readAll(t, brokers, "small"), readAll(t, brokers, "large")...) {
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

// A punctuator scheduled by a processor fires on wall-clock time, without a current
// record, and what it forwards reaches the sink.
func TestScheduleForwardsFromPunctuation(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 1, "ticks": 1})
	produce(t, brokers, "in", [2]string{"k", "start"})
	top := topology.New()
	ticks := topology.Process(topology.From(top, "in", serde.String(), serde.String()), "ticker",
		func() processor.Processor[string, string, string, string] { return &ticker{} })
	topology.To(ticks, "ticks", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("ticker"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	recs := consume(t, brokers, "ticks", 3, 20*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if string(r.Value) != "tick without metadata in 0_0" {
			t.Errorf("tick record %q", r.Value)
		}
	}
}

type ticker struct {
	ctx     processor.Context[string, string]
	started bool
}

func (p *ticker) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *ticker) Close() error                                     { return nil }
func (p *ticker) Process(processor.Record[string, string]) error {
	if p.started {
		return nil
	}
	p.started = true
	p.ctx.Schedule(20*time.Millisecond, func(now time.Time) error {
		_, ok := p.ctx.Metadata()
		v := "tick with metadata"
		if !ok {
			v = "tick without metadata"
		}
		return p.ctx.Forward(processor.Record[string, string]{Key: "t", Value: v + " in " + p.ctx.TaskID().String(), Timestamp: now})
	})
	return nil
}

// Rebalance spreads records round-robin over the internal topic's partitions even when
// every record has the same key.
func TestRebalanceSpreadsOneKey(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 1, "out": 1})
	var input [][2]string
	for i := range 60 {
		input = append(input, [2]string{"hot-key", strconv.Itoa(i)})
	}
	produce(t, brokers, "in", input...)
	top := topology.New()
	spread := topology.Rebalance(topology.From(top, "in", serde.String(), serde.String()), serde.String(), serde.String(),
		topology.Named("spread"), topology.Partitions(4))
	topology.To(spread, "out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("rr"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "rr", runApp(t, app), "in")
	internal := readData(t, brokers, "rr-spread-repartition")
	out := readAll(t, brokers, "out")
	if len(internal) != 60 {
		t.Errorf("%d records in the repartition topic, want 60", len(internal))
	}
	perPartition := map[int32]int{}
	for _, r := range internal {
		perPartition[r.Partition]++
	}
	if len(perPartition) != 4 {
		t.Errorf("one key spread over %d partitions, want 4: %v", len(perPartition), perPartition)
	}
	if len(out) != 60 {
		t.Errorf("%d records out, want 60", len(out))
	}
}

// With a queue of one record per partition, fetching is paused and resumed all the time;
// every record still comes through exactly once.
func TestBackpressureLosesNothing(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 2, "out": 1})
	var input [][2]string
	for i := range 400 {
		input = append(input, [2]string{strconv.Itoa(i % 5), strconv.Itoa(i)})
	}
	produce(t, brokers, "in", input...)
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("bp"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.MaxQueuedRecords(1), eddy.CommitInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "bp", runApp(t, app), "in")
	checkEachOnce(t, readAll(t, brokers, "out"), 400)
}

// checkEachOnce checks that out has n records, no value twice.
func checkEachOnce(t *testing.T, out []*kgo.Record, n int) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range out {
		if seen[string(r.Value)] {
			t.Errorf("duplicate %s", r.Value)
		}
		seen[string(r.Value)] = true
	}
	if len(seen) != n || len(out) != n {
		t.Errorf("%d records, %d distinct, want %d", len(out), len(seen), n)
	}
}

// The queue bound is the task's, shared by its partitions: a task of two topics (a merge)
// with a bound of one record pauses and resumes both all the time, and a partition whose
// queue is empty always resumes, so time synchronization, which waits for it, never waits
// on its pause. Every record comes through exactly once.
func TestBackpressureSharedByATasksPartitions(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"a": 2, "b": 2, "out": 1})
	var as, bs [][2]string
	for i := range 300 {
		as = append(as, [2]string{strconv.Itoa(i % 7), "a" + strconv.Itoa(i)})
		bs = append(bs, [2]string{strconv.Itoa(i % 7), "b" + strconv.Itoa(i)})
	}
	produce(t, brokers, "a", as...)
	produce(t, brokers, "b", bs...)
	top := topology.New()
	s := serde.String()
	topology.To(topology.From(top, "a", s, s).Merge(topology.From(top, "b", s, s)), "out", s, s)
	app, err := eddy.New(top, eddy.ApplicationID("bp2"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.MaxQueuedRecords(1), eddy.CommitInterval(50*time.Millisecond), eddy.MaxTaskIdle(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "bp2", runApp(t, app), "a", "b")
	checkEachOnce(t, readAll(t, brokers, "out"), 600)
}

// A record that fails stops Run with the task, the record's coordinates and the cause; the
// records before it were committed, the failing one was not.
func TestProcessingErrorNamesRecord(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 1, "out": 1})
	produce(t, brokers, "in", [2]string{"a", "1"}, [2]string{"b", "2"}, [2]string{"c", "boom"}, [2]string{"d", "4"})
	top := topology.New()
	nums := topology.Process(topology.From(top, "in", serde.String(), serde.String()), "parse",
		func() processor.Processor[string, string, string, int64] { return &parser{} })
	topology.To(nums, "out", serde.String(), serde.Int64())
	app, err := eddy.New(top, eddy.ApplicationID("fail"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = app.Run(ctx)
	if err == nil {
		t.Fatal("Run returned nil after a failing record")
	}
	for _, want := range []string{"task 0_0", "in/0@2", "processing error in parse", `"boom"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offsets, err := kadm.NewClient(cl).FetchOffsets(ctx, "fail")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offsets.Lookup("in", 0); !ok || o.At != 2 {
		t.Errorf("committed offset = %+v, want 2 (after the records before the failing one)", o)
	}
	// Run has returned: the output is final.
	var got []string
	for _, r := range readAll(t, brokers, "out") {
		n, _ := serde.Int64().Decode(r.Value)
		got = append(got, fmt.Sprintf("%s=%d", r.Key, n))
	}
	if want := []string{"a=1", "b=2"}; !slices.Equal(got, want) {
		t.Errorf("output %v, want %v", got, want)
	}
}

type parser struct {
	ctx processor.Context[string, int64]
}

func (p *parser) Init(ctx processor.Context[string, int64]) error { p.ctx = ctx; return nil }
func (p *parser) Close() error                                    { return nil }
func (p *parser) Process(r processor.Record[string, string]) error {
	n, err := strconv.ParseInt(r.Value, 10, 64)
	if err != nil {
		return err
	}
	return p.ctx.Forward(processor.WithValue(r, n))
}

func TestNewRejectsBadOptions(t *testing.T) {
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	for _, tc := range []struct {
		opts []eddy.Opt
		want string
	}{
		{[]eddy.Opt{eddy.Brokers("x:1")}, "ApplicationID is required"},
		{[]eddy.Opt{eddy.ApplicationID("a b"), eddy.Brokers("x:1")}, `ApplicationID "a b"`},
		{[]eddy.Opt{eddy.ApplicationID("a")}, "Brokers is required"},
		{[]eddy.Opt{eddy.ApplicationID("a"), eddy.Brokers("x:1"), eddy.Workers(0)}, "Workers(0)"},
		{[]eddy.Opt{eddy.ApplicationID("a"), eddy.Brokers("x:1"), eddy.CommitInterval(0)}, "CommitInterval(0s)"},
		{[]eddy.Opt{eddy.ApplicationID("a"), eddy.Brokers("x:1"), eddy.ReplicationFactor(0)}, "ReplicationFactor(0)"},
		{[]eddy.Opt{eddy.ApplicationID("a"), eddy.Brokers("x:1"), eddy.MaxQueuedRecords(0)}, "MaxQueuedRecords(0)"},
		{[]eddy.Opt{eddy.ApplicationID("a"), eddy.Brokers("x:1"), eddy.OnProcessingError(eddy.DeadLetter(""))}, `OnProcessingError(DeadLetter("")): name the dead-letter topic`},
		{[]eddy.Opt{eddy.ApplicationID("a"), eddy.Brokers("x:1"), eddy.OnProductionError(eddy.Skip())}, "OnProductionError(Skip()): skipping output"},
	} {
		_, err := eddy.New(top, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New error = %v, want one containing %q", err, tc.want)
		}
	}
	if _, err := eddy.New(topology.New(), eddy.ApplicationID("a"), eddy.Brokers("x:1")); err == nil {
		t.Error("New accepted an empty topology")
	}
}

// An option given to an operator it does not apply to is New's error, naming both.
func TestNewRejectsOptionsThatDoNotApply(t *testing.T) {
	top := topology.New()
	in := topology.From(top, "in", serde.String(), serde.String())
	topology.To(in.Filter(func(string, string) bool { return true }, topology.Partitions(3)), "out", serde.String(), serde.String())
	_, err := eddy.New(top, eddy.ApplicationID("a"), eddy.Brokers("x:1"))
	if want := "topology: Filter: option Partitions does not apply to Filter"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("New = %v, want an error containing %q", err, want)
	}
}

func TestCloseIsIdempotentAndRunOnce(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 1, "out": 1})
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("close"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background()) }()
	// Close a Run that is running: once a record has come through, it is.
	produce(t, brokers, "in", [2]string{"k", "v"})
	consume(t, brokers, "out", 1, 20*time.Second)
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close = %v, want nil", err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if err := app.Run(context.Background()); !errors.Is(err, eddy.ErrClosed) {
		t.Fatalf("second Run = %v, want ErrClosed", err)
	}
}

// eddy never creates an output topic: Run fails at start naming every missing one (what
// To's doc promises).
func TestMissingOutputTopicFailsRun(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"in": 1, "out": 1})
	top := topology.New()
	in := topology.From(top, "in", serde.String(), serde.String())
	topology.To(in, "out", serde.String(), serde.String())
	topology.To(in, "nowhere", serde.String(), serde.String())
	topology.To(in, "nowhere-else", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("no-out"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Run(ctx); err == nil || !strings.Contains(err.Error(), "eddy: output topic(s) missing: nowhere, nowhere-else (create them first") {
		t.Fatalf("Run = %v, want the missing output topics named", err)
	}
}
