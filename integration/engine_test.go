package integration

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func newApp(t *testing.T, top *topology.Topology, appID string, opts ...eddy.Opt) *eddy.App {
	t.Helper()
	return newDefaultApp(t, top, appID, append([]eddy.Opt{eddy.CommitInterval(200 * time.Millisecond)}, opts...)...)
}

// newDefaultApp is an App with eddy's defaults: only the application id, the brokers, a
// state directory of the test's own and the test log, then opts.
func newDefaultApp(t *testing.T, top *topology.Topology, appID string, opts ...eddy.Opt) *eddy.App {
	t.Helper()
	all := append([]eddy.Opt{
		eddy.ApplicationID(appID),
		eddy.Brokers(kafkatest.Bootstrap(t)...),
		eddy.StateDir(t.TempDir()),
		eddy.Logger(testLogger(t)),
	}, opts...)
	app, err := eddy.New(top, all...)
	if err != nil {
		t.Fatalf("eddy.New: %v", err)
	}
	return app
}

// A stateless pipeline with map, filter, flatMap, split and merge: every input record is
// accounted for in the output, exactly as a plain loop over the input computes it.
func TestStatelessPipeline(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out, dropped := kafkatest.Topic(t, "in"), kafkatest.Topic(t, "out"), kafkatest.Topic(t, "dropped")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 3, nil)
	kafkatest.CreateTopic(t, adm, dropped, 1, nil)

	// Input: "user-<i%13>" → "<i> <i+1> <i+2>" for i < 500.
	const n = 500
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "user-%d", i%13),
			Value: fmt.Appendf(nil, "%d %d %d", i, i+1, i+2)})
	}
	produceAll(t, recs)

	// Topology: split the line into numbers (FlatMapValues), parse (MapValues), branch by
	// divisibility (Split): multiples of 3 are tagged "fizz", of 5 "buzz" (Map re-keys them),
	// the rest is filtered to even numbers; the branches merge into one output. Numbers that
	// are odd and neither fizz nor buzz go to `dropped` through FlatMap with a tag.
	top := topology.New()
	lines := topology.From(top, in, serde.String(), serde.String())
	nums := topology.MapValues(topology.FlatMapValues(lines, strings.Fields), func(s string) int64 {
		v, _ := strconv.ParseInt(s, 10, 64)
		return v
	})
	br := nums.Split("kind",
		topology.Branch[string, int64]{Name: "fizz", Predicate: func(_ string, v int64) bool { return v%3 == 0 }},
		topology.Branch[string, int64]{Name: "buzz", Predicate: func(_ string, v int64) bool { return v%5 == 0 }},
		topology.Branch[string, int64]{Name: "rest"},
	)
	fizz := topology.Map(br[0], func(k string, v int64) (string, int64) { return "fizz:" + k, v })
	buzz := topology.Map(br[1], func(k string, v int64) (string, int64) { return "buzz:" + k, v })
	even := br[2].Filter(func(_ string, v int64) bool { return v%2 == 0 })
	odd := br[2].FilterNot(func(_ string, v int64) bool { return v%2 == 0 })
	topology.To(fizz.Merge(buzz, even), out, serde.String(), serde.Int64())
	tagged := topology.FlatMap(odd, func(k string, v int64) []topology.KeyValue[string, string] {
		return []topology.KeyValue[string, string]{{Key: k, Value: "odd"}, {Key: k, Value: strconv.FormatInt(v, 10)}}
	})
	topology.To(tagged, dropped, serde.String(), serde.String())

	// The reference: the same computation as a plain loop.
	var wantOut, wantDropped []string
	for i := range n {
		k := fmt.Sprintf("user-%d", i%13)
		for _, v := range []int{i, i + 1, i + 2} {
			switch {
			case v%3 == 0:
				wantOut = append(wantOut, fmt.Sprintf("fizz:%s=%d", k, v))
			case v%5 == 0:
				wantOut = append(wantOut, fmt.Sprintf("buzz:%s=%d", k, v))
			case v%2 == 0:
				wantOut = append(wantOut, fmt.Sprintf("%s=%d", k, v))
			default:
				wantDropped = append(wantDropped, k+"=odd", fmt.Sprintf("%s=%d", k, v))
			}
		}
	}

	appID := kafkatest.Topic(t, "app")
	start(t, newApp(t, top, appID)).stopCaughtUp(t, appID, in)
	gotOut := decodeAll(t, readCommitted(t, out), serde.Int64())
	gotDropped := decodeAll(t, readCommitted(t, dropped), serde.String())
	slices.Sort(gotOut)
	slices.Sort(wantOut)
	if !slices.Equal(gotOut, wantOut) {
		t.Errorf("%s differs from the reference: got %d records, want %d", out, len(gotOut), len(wantOut))
	}
	slices.Sort(gotDropped)
	slices.Sort(wantDropped)
	if !slices.Equal(gotDropped, wantDropped) {
		t.Errorf("%s differs from the reference: got %d records, want %d", dropped, len(gotDropped), len(wantDropped))
	}
}

func decodeAll[V any](t *testing.T, recs []*kgo.Record, vs serde.Serde[V]) []string {
	t.Helper()
	out := make([]string, len(recs))
	for i, r := range recs {
		v, err := vs.Decode(r.Value)
		if err != nil {
			t.Fatalf("decode %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		out[i] = fmt.Sprintf("%s=%v", r.Key, v)
	}
	return out
}

// After SelectKey and Repartition, every record sits in the partition Kafka's default
// partitioner gives its new key, and the downstream sub-topology sees all records of a
// key on one task: the task whose partition is the key's.
func TestRepartitionByKey(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "in"), kafkatest.Topic(t, "out")
	kafkatest.CreateTopic(t, adm, in, 3, nil)
	kafkatest.CreateTopic(t, adm, out, 5, nil)
	const n, keys = 600, 37
	var recs []*kgo.Record
	for i := range n {
		// The input key is random-ish; the new key is derived from the value.
		recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "in-%d", i), Value: fmt.Appendf(nil, "%d", i)})
	}
	produceAll(t, recs)

	appID := kafkatest.Topic(t, "app")
	top := topology.New()
	byKey := topology.SelectKey(topology.From(top, in, serde.String(), serde.String()),
		func(_ string, v string) string { i, _ := strconv.Atoi(v); return fmt.Sprintf("key-%d", i%keys) })
	re := topology.Repartition(byKey, serde.String(), serde.String(), topology.Named("by-key"), topology.Partitions(5))
	// A processor that tags each record with the task that processed it.
	tagged := topology.Process(re, "tag-task", func() processor.Processor[string, string, string, string] {
		return &taskTagger{}
	})
	topology.To(tagged, out, serde.String(), serde.String())
	start(t, newApp(t, top, appID, eddy.Workers(2))).stopCaughtUp(t, appID, in)

	repTopic := appID + "-by-key-repartition"
	// The repartition topic also carries eddy's watermark markers (no key): skip them.
	var reps []*kgo.Record
	for _, r := range readCommitted(t, repTopic) {
		if r.Key != nil {
			reps = append(reps, r)
		}
	}
	outs := readCommitted(t, out)
	if len(reps) != n || len(outs) != n {
		t.Errorf("%d records in %s and %d in %s, want %d in each", len(reps), repTopic, len(outs), out, n)
	}
	for _, r := range reps {
		if want := kafkaPartition(r.Key, 5); r.Partition != want {
			t.Fatalf("%s: key %s in partition %d, Kafka's partitioner says %d", repTopic, r.Key, r.Partition, want)
		}
	}
	taskOf := map[string]string{}
	for _, r := range outs {
		k, task := string(r.Key), strings.SplitN(string(r.Value), "|", 2)[0]
		if prev, ok := taskOf[k]; ok && prev != task {
			t.Fatalf("key %s processed by tasks %s and %s", k, prev, task)
		}
		taskOf[k] = task
		if want := fmt.Sprintf("1_%d", kafkaPartition(r.Key, 5)); task != want {
			t.Fatalf("key %s processed by task %s, want %s", k, task, want)
		}
	}
	if len(taskOf) != keys {
		t.Errorf("saw %d keys downstream, want %d", len(taskOf), keys)
	}
	details, err := adm.ListTopics(t.Context(), repTopic)
	if err != nil || len(details[repTopic].Partitions) != 5 {
		t.Errorf("%s: %v partitions (err %v), want 5", repTopic, len(details[repTopic].Partitions), err)
	}
}

type taskTagger struct {
	ctx processor.Context[string, string]
}

func (p *taskTagger) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *taskTagger) Close() error                                     { return nil }
func (p *taskTagger) Process(r processor.Record[string, string]) error {
	md, ok := p.ctx.Metadata()
	if !ok {
		return fmt.Errorf("no metadata while processing %s", r.Key)
	}
	r.Value = fmt.Sprintf("%s|%s|%s", p.ctx.TaskID(), md, r.Value)
	return p.ctx.Forward(r)
}

// Three instances share a 6-partition input; a fourth joins and one leaves mid-stream.
// Afterwards every input record is in the output (at-least-once); duplicates are counted
// and reported.
func TestScaleOut(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "in"), kafkatest.Topic(t, "out")
	kafkatest.CreateTopic(t, adm, in, 6, nil)
	kafkatest.CreateTopic(t, adm, out, 6, nil)
	appID := kafkatest.Topic(t, "app")

	var mu sync.Mutex
	processed := map[string]int{} // instance → records it processed
	newInstance := func(name string) *eddy.App {
		top := topology.New()
		s := topology.From(top, in, serde.String(), serde.String()).Peek(func(string, string) {
			mu.Lock()
			processed[name]++
			mu.Unlock()
		})
		topology.To(topology.MapValues(s, func(v string) string { return v + "!" }), out, serde.String(), serde.String())
		return newApp(t, top, appID)
	}

	// The generator: 20 batches of 500 records, one every 300 ms.
	const batches, per = 20, 500
	genDone := generateBatches(t, in, batches, per, 101, 300*time.Millisecond)

	a, b, c := start(t, newInstance("a")), start(t, newInstance("b")), start(t, newInstance("c"))
	time.Sleep(2 * time.Second)
	d := start(t, newInstance("d"))
	time.Sleep(2 * time.Second)
	if err := b.stop(); err != nil {
		t.Fatalf("instance b: %v", err)
	}
	<-genDone

	seen := map[string]int{}
	total := 0
	consumeUntil(t, out, 90*time.Second, func(r *kgo.Record) {
		seen[strings.TrimSuffix(string(r.Value), "!")]++
		total++
	}, func() bool { return len(seen) == batches*per })
	for _, r := range []*running{a, c, d} {
		if err := r.stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	for id := range batches * per {
		if seen[strconv.Itoa(id)] == 0 {
			t.Fatalf("input record %d is missing from the output", id)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("all %d input records in the output; %d duplicates; processed per instance: %v",
		batches*per, total-batches*per, processed)
	if processed["d"] == 0 {
		t.Errorf("the instance that joined mid-stream processed nothing: %v", processed)
	}
}

// Topics processed by one task must be co-partitioned; Run says which and how.
func TestCopartitionMismatch(t *testing.T) {
	adm := kafkatest.Admin(t)
	left, right, out := kafkatest.Topic(t, "left"), kafkatest.Topic(t, "right"), kafkatest.Topic(t, "out")
	kafkatest.CreateTopic(t, adm, left, 2, nil)
	kafkatest.CreateTopic(t, adm, right, 3, nil)
	kafkatest.CreateTopic(t, adm, out, 1, nil)
	top := topology.New()
	l := topology.From(top, left, serde.String(), serde.String())
	r := topology.From(top, right, serde.String(), serde.String())
	topology.To(l.Merge(r), out, serde.String(), serde.String())
	err := newApp(t, top, kafkatest.Topic(t, "app")).Run(t.Context())
	if err == nil {
		t.Fatal("Run succeeded on topics that are not co-partitioned")
	}
	for _, want := range []string{left + " (2 partitions)", right + " (3 partitions)", "co-partitioned"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A missing input topic fails Run with its name.
func TestMissingInputTopic(t *testing.T) {
	missing, out := kafkatest.Topic(t, "missing"), kafkatest.Topic(t, "out")
	kafkatest.CreateTopic(t, kafkatest.Admin(t), out, 1, nil)
	top := topology.New()
	topology.To(topology.From(top, missing, serde.String(), serde.String()), out, serde.String(), serde.String())
	err := newApp(t, top, kafkatest.Topic(t, "app")).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "input topic") {
		t.Fatalf("Run error = %v, want one naming the missing input topic %s", err, missing)
	}
}
