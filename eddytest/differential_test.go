package eddytest_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// The differential test: random input through the driver and through an App on the
// embedded broker, the same outputs from both.

const (
	diffInPartitions  = 3
	diffOutPartitions = 2
	// diffBound is every source's out-of-orderness bound. The input never goes further
	// back than that behind the newest record, so no record is late: which records a
	// broker run finds late would depend on how it interleaves its partitions.
	diffBound = 2 * time.Second
	// diffJoinPartitions is the partition count of a join's co-partitioned inputs, and of
	// a foreign-key join's left table; diffFewPartitions that of a global table's topic
	// and of a foreign-key join's right table, which need no co-partitioning.
	diffJoinPartitions = 3
	diffFewPartitions  = 2
)

var (
	diffSeeds = []uint64{1, 2, 3}
	diffT0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// diffRecord is one input record: its topic, key, value (none for a tombstone: a table's
// deletion), partition and event time.
type diffRecord struct {
	// topic is the record's topic: in a case's input a role (diffJoinCase.inputs), in a
	// diffPlan the topic's name.
	topic      string
	key, value string
	tombstone  bool
	partition  int32
	ts         time.Time
}

// diffClock makes an input's event times: rising by up to 120 ms a record, and a quarter
// of the time going back by less than diffBound behind the newest so far — the newest
// over every partition and topic of the input, so each partition stays within the bound
// too — some at the same millisecond.
type diffClock struct {
	rng    *rand.Rand
	newest time.Time
}

func (c *diffClock) next() time.Time {
	c.newest = c.newest.Add(time.Duration(c.rng.Int64N(120)) * time.Millisecond)
	if c.rng.IntN(4) == 0 {
		return c.newest.Add(-time.Duration(c.rng.Int64N(diffBound.Milliseconds())) * time.Millisecond)
	}
	return c.newest
}

// diffKey is one of 20 keys, k00…k19, k00 hotter than the rest.
func diffKey(rng *rand.Rand) string {
	k := rng.IntN(20)
	if rng.IntN(6) == 0 {
		k = 0
	}
	return fmt.Sprintf("k%02d", k)
}

// diffInput makes the input of a seed: a few hundred records over 20 keys (diffKey) on
// diffInPartitions partitions, with event times from a diffClock. Then a record per
// partition an hour later, whose watermark closes every window and session before it.
// Values are "p<partition>-<index>-<n>", with n a random number in [0, 100) that the
// topologies filter and group on.
func diffInput(seed uint64) []diffRecord {
	rng := rand.New(rand.NewPCG(seed, 0x5eed^seed))
	n := 300 + rng.IntN(100)
	clock := diffClock{rng: rng, newest: diffT0}
	out := make([]diffRecord, 0, n+diffInPartitions)
	for i := range n {
		ts := clock.next()
		k := diffKey(rng)
		p := rng.Int32N(diffInPartitions)
		out = append(out, diffRecord{key: k, value: fmt.Sprintf("p%d-%04d-%d", p, i, rng.IntN(100)), partition: p, ts: ts})
	}
	for p := range int32(diffInPartitions) {
		out = append(out, diffRecord{key: "flush", value: fmt.Sprintf("p%d-flush-1", p), partition: p, ts: clock.newest.Add(time.Hour)})
	}
	return out
}

// diffNumber is the trailing number of a value.
func diffNumber(v string) int {
	n, _ := strconv.Atoi(v[strings.LastIndexByte(v, '-')+1:])
	return n
}

// diffPartition is the partition of key in a topic of n partitions as Kafka's default
// partitioner places it (murmur2 of the key), as eddy's sinks and repartitions do: where
// a join needs a key to be — in the same partition of co-partitioned inputs, and for a
// foreign-key join where its subscription and response topics send it.
func diffPartition(key string, n int32) int32 {
	return int32(kgo.StickyKeyPartitioner(nil).ForTopic("").Partition(&kgo.Record{Key: []byte(key)}, int(n)))
}

// diffShare draws, of the keys k00…k19, those in a set with odds num/den each.
func diffShare(rng *rand.Rand, num, den int) map[string]bool {
	out := map[string]bool{}
	for k := range 20 {
		if rng.IntN(den) < num {
			out[fmt.Sprintf("k%02d", k)] = true
		}
	}
	return out
}

// diffOut is one output record, its value formatted.
type diffOut struct {
	key, value string
	partition  int32
	offset     int64
	ts         time.Time
}

// String is the record as the windowed comparisons see it: key, value, event time and
// partition — all of them deterministic for a windowed result.
func (r diffOut) String() string {
	return fmt.Sprintf("%s=%s @%d p%d", r.key, r.value, r.ts.UnixMilli(), r.partition)
}

// diffCase is a topology under test and how its two outputs must agree.
type diffCase struct {
	name string
	// build reads in and writes out.
	build func(in, out string) *topology.Topology
	// int64Values: out's values are serde.Int64 (else serde.String).
	int64Values bool
	compare     func(t *testing.T, driver, broker []diffOut)
}

// plan is the case's run for a seed: diffInput's records to in, before the App starts.
func (c diffCase) plan(id string, seed uint64) diffPlan {
	in, out := id+"-in", id+"-out"
	input := diffInput(seed)
	for i := range input {
		input[i].topic = in
	}
	return diffPlan{appID: id, build: func() *topology.Topology { return c.build(in, out) },
		inputs: []diffTopic{{name: in, partitions: diffInPartitions}}, out: out, int64Values: c.int64Values,
		steps: []diffStep{{records: input, beforeStart: true}}}
}

func diffSource(top *topology.Topology, in string) topology.Stream[string, string] {
	return topology.From(top, in, serde.String(), serde.String(), topology.OutOfOrderness(diffBound))
}

// diffWindowsTo writes windowed counts to out as "key@start-end" = "count" (ms).
func diffWindowsTo(counts topology.Stream[topology.Windowed[string], int64], out string) {
	topology.To(topology.Map(counts, func(k topology.Windowed[string], n int64) (string, string) {
		return fmt.Sprintf("%s@%d-%d", k.Key, k.Start.UnixMilli(), k.End.UnixMilli()), strconv.FormatInt(n, 10)
	}), out, serde.String(), serde.String())
}

func diffWindowed(w topology.Windows) func(in, out string) *topology.Topology {
	return func(in, out string) *topology.Topology {
		top := topology.New()
		g := topology.GroupByKey(diffSource(top, in), serde.String(), serde.String())
		diffWindowsTo(topology.WindowedCount(topology.WindowBy(g, w), "win"), out)
		return top
	}
}

var diffCases = []diffCase{
	{
		name: "stateless",
		build: func(in, out string) *topology.Topology {
			top := topology.New()
			up := topology.MapValues(diffSource(top, in), strings.ToUpper, topology.Named("upper"))
			kept := up.Filter(func(_, v string) bool { return diffNumber(v)%3 != 0 }, topology.Named("keep"))
			topology.To(kept, out, serde.String(), serde.String())
			return top
		},
		compare: compareStateless,
	},
	{
		name: "count-repartitioned",
		build: func(in, out string) *topology.Topology {
			top := topology.New()
			byGroup := topology.GroupBy(diffSource(top, in), func(_, v string) string { return "g" + strconv.Itoa(diffNumber(v)%7) },
				serde.String(), serde.String(), topology.Named("by-group"))
			topology.To(topology.Count(byGroup, "group-counts").ToStream(), out, serde.String(), serde.Int64())
			return top
		},
		int64Values: true,
		compare:     compareCounts,
	},
	{name: "tumbling", build: diffWindowed(topology.TumblingWindows(2 * time.Second)), compare: compareWindows},
	{name: "hopping", build: diffWindowed(topology.HoppingWindows(3*time.Second, time.Second)), compare: compareWindows},
	{name: "sliding", build: diffWindowed(topology.SlidingWindows(2 * time.Second)), compare: compareWindows},
	{
		name: "sessions",
		build: func(in, out string) *topology.Topology {
			top := topology.New()
			g := topology.GroupByKey(diffSource(top, in), serde.String(), serde.String())
			diffWindowsTo(topology.SessionCount(topology.SessionBy(g, topology.Sessions(3*time.Second)), "sessions"), out)
			return top
		},
		compare: compareWindows,
	},
}

// TestDifferentialDriverAndBroker runs each topology over the input of each seed through
// the driver and through an App on one embedded broker, and compares the outputs as a
// user relies on them.
func TestDifferentialDriverAndBroker(t *testing.T) {
	cluster, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close) // after every parallel subtest
	run := func(name string, plan func(id string, seed uint64) diffPlan, compare func(t *testing.T, driver, broker []diffOut)) {
		t.Run(name, func(t *testing.T) {
			for _, seed := range diffSeeds {
				t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
					t.Parallel()
					// Names of their own on the shared broker. (The application ids are no
					// prefix of each other's followed by "-": ends.CaughtUp finds an
					// application's repartition topics by that prefix.)
					p := plan(fmt.Sprintf("diff-%s-seed%d", name, seed), seed)
					driver := runOnDriver(t, p)
					broker := runOnBroker(t, cluster, p, len(driver))
					t.Logf("%d records in, %d out of the driver, %d out of the broker", p.records(), len(driver), len(broker))
					compare(t, driver, broker)
				})
			}
		})
	}
	for _, c := range diffCases {
		run(c.name, c.plan, c.compare)
	}
	for _, c := range diffJoinCases {
		run(c.name, c.plan, c.compare)
	}
}

// diffPlan is what the driver and the App both run: a topology, its input topics and
// output, and the input in steps.
type diffPlan struct {
	appID  string
	build  func() *topology.Topology
	inputs []diffTopic
	out    string
	// int64Values: out's values are serde.Int64 (else serde.String).
	int64Values bool
	steps       []diffStep
}

// diffTopic is an input topic.
type diffTopic struct {
	name       string // in a diffJoinCase its role
	partitions int32
	// global: read by a global table (which reads it outside the application's group).
	global bool
}

// diffStep is input records, in the order they are sent. On the broker a step is written
// once the App has caught up with everything before it (ends.WaitCaughtUp: the App
// committed every input and repartition record), so every record of a step is processed
// after every record of the steps before; within a step the App's tasks interleave their
// partitions as fetching has it. The driver processes each record as it is sent, the
// steps in order.
type diffStep struct {
	records []diffRecord
	// beforeStart: written before the App starts (only steps before every other step): a
	// global table's records, which an App reads in full before it processes a record.
	beforeStart bool
}

// records is the number of input records.
func (p diffPlan) records() int {
	n := 0
	for _, s := range p.steps {
		n += len(s.records)
	}
	return n
}

func runOnDriver(t *testing.T, p diffPlan) []diffOut {
	t.Helper()
	opts := []eddytest.Option{eddytest.Partitions(p.out, diffOutPartitions)}
	for _, in := range p.inputs {
		opts = append(opts, eddytest.Partitions(in.name, in.partitions))
	}
	d := eddytest.New(t, p.build(), opts...)
	srcs := map[string]*eddytest.InputTopic[string, string]{}
	for _, in := range p.inputs {
		srcs[in.name] = eddytest.Input(d, in.name, serde.String(), serde.String())
	}
	for _, s := range p.steps {
		for _, r := range s.records {
			if r.tombstone {
				must(t, srcs[r.topic].Delete(r.key, eddytest.At(r.ts), eddytest.ToPartition(r.partition)))
			} else {
				must(t, srcs[r.topic].Send(r.key, r.value, eddytest.At(r.ts), eddytest.ToPartition(r.partition)))
			}
		}
	}
	var got []diffOut
	if p.int64Values {
		for _, r := range eddytest.Output(d, p.out, serde.String(), serde.Int64()).ReadAll() {
			got = append(got, diffOut{key: r.Key, value: strconv.FormatInt(r.Value, 10), partition: r.Partition, offset: r.Offset, ts: r.Timestamp})
		}
	} else {
		for _, r := range eddytest.Output(d, p.out, serde.String(), serde.String()).ReadAll() {
			o := diffOut{key: r.Key, value: r.Value, partition: r.Partition, offset: r.Offset, ts: r.Timestamp}
			if r.Tombstone {
				o.value = "<tombstone>"
			}
			got = append(got, o)
		}
	}
	return got
}

// runOnBroker creates the topics, writes the steps before the start, starts an App,
// writes each other step (each record to its partition, with its timestamp) once the App
// has caught up with the ones before, runs the App until its output has want records — or
// a deadline passes — and it has caught up with its input and repartition topics, stops
// it, and returns everything it wrote to out.
func runOnBroker(t *testing.T, cluster *embedded.Cluster, p diffPlan, want int) []diffOut {
	t.Helper()
	brokers := cluster.Brokers()
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	var consumed []string // the inputs the App's group reads: all but global tables'
	for _, in := range p.inputs {
		must(t, cluster.CreateTopic(ctx, in.name, in.partitions))
		if !in.global {
			consumed = append(consumed, in.name)
		}
	}
	must(t, cluster.CreateTopic(ctx, p.out, diffOutPartitions))

	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	must(t, err)
	defer producer.Close()
	produce := func(s diffStep) {
		recs := make([]*kgo.Record, len(s.records))
		for i, r := range s.records {
			recs[i] = &kgo.Record{Topic: r.topic, Partition: r.partition, Key: []byte(r.key), Timestamp: r.ts}
			if !r.tombstone {
				recs[i].Value = []byte(r.value)
			}
		}
		must(t, producer.ProduceSync(ctx, recs...).FirstErr())
	}
	steps := p.steps
	for len(steps) > 0 && steps[0].beforeStart {
		produce(steps[0])
		steps = steps[1:]
	}

	app, err := eddy.New(p.build(), eddy.ApplicationID(p.appID), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState())
	must(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(runCtx) }()
	stopped := false
	stopApp := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30 s of its cancel")
		}
	}
	defer stopApp()

	for _, s := range steps {
		ends.WaitCaughtUp(t, brokers, p.appID, 30*time.Second, consumed...)
		produce(s)
	}

	// Poll the output until the driver's number of records came (or the deadline: the
	// comparison below then says what is missing).
	pollCtx, pollCancel := context.WithTimeout(ctx, 20*time.Second)
	defer pollCancel()
	consumer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(p.out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond)) // kfake answers a waiting fetch only at its deadline
	must(t, err)
	for n := 0; n < want && pollCtx.Err() == nil; {
		fs := consumer.PollFetches(pollCtx)
		n += len(fs.Records())
		select {
		case err := <-done:
			consumer.Close()
			stopped = true
			t.Fatalf("Run returned before its output was complete: %v", err)
		default:
		}
	}
	consumer.Close()
	// Then prove that no more is coming: the App has committed all its input, and what it
	// wrote for it is below the end offsets read after that.
	ends.WaitCaughtUp(t, brokers, p.appID, 30*time.Second, consumed...)
	stopApp()
	var got []diffOut
	for _, r := range ends.Read(t, brokers, p.out, kgo.ReadCommitted()) {
		o := diffOut{key: string(r.Key), partition: r.Partition, offset: r.Offset, ts: r.Timestamp}
		switch {
		case r.Value == nil:
			o.value = "<tombstone>"
		case p.int64Values:
			n, err := serde.Int64().Decode(r.Value)
			if err != nil {
				t.Fatalf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			o.value = strconv.FormatInt(n, 10)
		default:
			o.value = string(r.Value)
		}
		got = append(got, o)
	}
	return got
}

// compareStateless compares the sequences in which the records reach each output
// partition — as written by each input partition's task. Records of several input
// partitions meet in an output partition (keys are placed by their hash), and how the
// tasks' writes interleave there is up to the broker's timing; each task's own order is
// not. The values begin with their input partition ("p1-…", "P1-…" once upper-cased).
func compareStateless(t *testing.T, driver, broker []diffOut) {
	t.Helper()
	seqs := func(recs []diffOut) map[string][]string {
		out := map[string][]string{}
		for _, r := range recs {
			from, _, _ := strings.Cut(r.value, "-")
			k := fmt.Sprintf("out p%d from %s", r.partition, strings.ToLower(from))
			out[k] = append(out[k], fmt.Sprintf("%s=%s @%d", r.key, r.value, r.ts.UnixMilli()))
		}
		return out
	}
	if len(driver) < 100 {
		t.Fatalf("the driver wrote only %d records: the input is too small to tell anything", len(driver))
	}
	d, b := seqs(driver), seqs(broker)
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(d, b))) {
		if !slices.Equal(d[k], b[k]) {
			t.Errorf("%s:\ndriver %v\nbroker %v", k, d[k], b[k])
		}
	}
	if len(driver) != len(broker) {
		t.Errorf("the driver wrote %d records, the broker %d", len(driver), len(broker))
	}
}

// compareCounts compares a table's update stream. The order in which a count task reads
// its repartition partition — written by every input task — depends on the broker's
// timing, so which record of a key comes when, and the partition-wide order, are not
// deterministic. Per key they are: every update of a key comes from the one task that owns
// it and adds one, in order, to one output partition. So: the same number of records, the
// same final count per key, and per key the same sequence of updates (1, 2, … n) on the
// same partition.
func compareCounts(t *testing.T, driver, broker []diffOut) {
	t.Helper()
	// The records' times are the input records', which reach a count task in an order
	// the broker decides: only the values are compared in sequence.
	comparePerKey(t, driver, broker, 5, func(r diffOut) string { return fmt.Sprintf("%s p%d", r.value, r.partition) })
}

// compareUpdates compares a join's table updates key by key: each key's updates come
// from the one task that owns it, to one output partition, and the cases' steps make
// them deterministic (see each case); the order across keys is not. So: the same number
// of updates, the same final value per key (a deletion "<tombstone>"), and per key the
// same sequence of updates, with their times, on the same partition.
func compareUpdates(t *testing.T, driver, broker []diffOut) {
	t.Helper()
	comparePerKey(t, driver, broker, 10, func(r diffOut) string {
		return fmt.Sprintf("%s @%d p%d", r.value, r.ts.UnixMilli(), r.partition)
	})
}

// comparePerKey compares updates per key: their number, each key's last value, and each
// key's sequence of updates as update describes them; the driver must have updated at
// least minKeys keys.
func comparePerKey(t *testing.T, driver, broker []diffOut, minKeys int, update func(diffOut) string) {
	t.Helper()
	if len(driver) != len(broker) {
		t.Errorf("the driver wrote %d updates, the broker %d", len(driver), len(broker))
	}
	perKey := func(recs []diffOut) (map[string][]string, map[string]string) {
		seq, last := map[string][]string{}, map[string]string{}
		for _, r := range recs {
			// Records are in offset order per partition, and a key has one partition.
			seq[r.key] = append(seq[r.key], update(r))
			last[r.key] = r.value
		}
		return seq, last
	}
	dSeq, dLast := perKey(driver)
	bSeq, bLast := perKey(broker)
	if len(dLast) < minKeys {
		t.Fatalf("the driver updated only %d keys: %v", len(dLast), dLast)
	}
	if !maps.Equal(dLast, bLast) {
		t.Errorf("final values:\ndriver %v\nbroker %v", dLast, bLast)
	}
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(dSeq, bSeq))) {
		if !slices.Equal(dSeq[k], bSeq[k]) {
			t.Errorf("updates of %s:\ndriver %v\nbroker %v", k, dSeq[k], bSeq[k])
		}
	}
}

// compareWindows compares windowed results as a multiset: each window is emitted once, when
// the watermark of its task closes it, with its count, its time and its key's partition —
// all deterministic, since no record is late. The order across tasks is not.
func compareWindows(t *testing.T, driver, broker []diffOut) {
	t.Helper()
	compareMultisets(t, "windows", driver, broker)
}

// compareMultisets compares results as a multiset of key, value, time and partition.
func compareMultisets(t *testing.T, what string, driver, broker []diffOut) {
	t.Helper()
	sorted := func(recs []diffOut) []string {
		out := make([]string, len(recs))
		for i, r := range recs {
			out[i] = r.String()
		}
		slices.Sort(out)
		return out
	}
	d, b := sorted(driver), sorted(broker)
	if len(d) < 50 {
		t.Fatalf("the driver emitted only %d %s: %v", len(d), what, d)
	}
	if slices.Equal(d, b) {
		return
	}
	onlyD, onlyB := multisetDiff(d, b)
	t.Errorf("%s differ: %d from the driver, %d from the broker\nonly from the driver: %v\nonly from the broker: %v",
		what, len(d), len(b), onlyD, onlyB)
}

// diffShows fails the test unless at least least records of the driver's output match:
// an input that gives fewer would show too little of what the case is for.
func diffShows(t *testing.T, driver []diffOut, least int, what string, match func(diffOut) bool) {
	t.Helper()
	n := 0
	for _, r := range driver {
		if match(r) {
			n++
		}
	}
	if n < least {
		t.Errorf("the driver's output has %d %s, want at least %d: the input shows too little", n, what, least)
	}
}

// diffShowsRowsPerKey fails the test unless at least 3 keys of the driver's output met
// several rows of a table (the part of the values after sep, "-" for none): stream
// records that met the table as a later step updated it.
func diffShowsRowsPerKey(t *testing.T, driver []diffOut, sep string) {
	t.Helper()
	rows := map[string]map[string]bool{}
	for _, r := range driver {
		if _, row, ok := strings.Cut(r.value, sep); ok {
			if rows[r.key] == nil {
				rows[r.key] = map[string]bool{}
			}
			rows[r.key][row] = true
		}
	}
	n := 0
	for _, rs := range rows {
		if len(rs) > 1 {
			n++
		}
	}
	if n < 3 {
		t.Errorf("only %d keys of the driver's output met more than one row: the input shows too little", n)
	}
}

// multisetDiff returns what a has more of than b, and b more than a; both sorted.
func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

func mergeKeys[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
