package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/joinref"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// produceSides writes the records to topic, partition by partition, in order.
func produceSides(t *testing.T, brokers []string, topic string, in [2][]joinref.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p, part := range in {
		for _, r := range part {
			side := "R:"
			if r.Left {
				side = "L:"
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(r.Key),
				Value: []byte(side + r.Value), Timestamp: time.UnixMilli(r.Time)})
		}
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// splitJoin is the topology of the reference tests: the topic's records split into a left
// and a right stream by their side, joined by kind within w, the results to "out" as
// "l|r" and late records to "late". With self, the join is of the left records with
// themselves.
func splitJoin(kind joinref.Kind, w topology.JoinWindows, self bool) *topology.Topology {
	top := topology.New()
	ev := topology.From(top, "events", serde.String(), serde.String())
	sides := ev.Split("side", topology.Branch[string, string]{Name: "left", Predicate: func(_, v string) bool { return strings.HasPrefix(v, "L:") }},
		topology.Branch[string, string]{Name: "right"})
	strip := func(v string) string { return v[2:] }
	left, right := topology.MapValues(sides[0], strip), topology.MapValues(sides[1], strip)
	if self {
		left = topology.MapValues(ev, strip)
		right = left
	}
	s := serde.String()
	out := joinref.JoinStreams(kind, left, right, w, topology.LateRecordsTo("late"))
	topology.To(out, "out", s, s)
	return top
}

// Stream-stream joins — inner, left, outer and a self-join — against the reference model
// on random out-of-order input with ties and late records: the exact multiset of results
// and of late records, in a run that goes on (only closed windows give results with a
// missing side) and in a bounded one (the end closes every window).
func TestStreamStreamJoinMatchesReference(t *testing.T) {
	for _, c := range []struct {
		name    string
		kind    joinref.Kind
		self    bool
		bounded bool
		w       joinref.Window
	}{
		{"inner", joinref.Inner, false, false, joinref.Window{Before: 30, After: 50, Grace: 20}},
		{"left", joinref.LeftOuter, false, false, joinref.Window{Before: 30, After: 50, Grace: 20}},
		{"outer", joinref.FullOuter, false, false, joinref.Window{Before: 30, After: 50, Grace: 20}},
		{"outer-bounded", joinref.FullOuter, false, true, joinref.Window{Before: 30, After: 50, Grace: 20}},
		{"left-bounded", joinref.LeftOuter, false, true, joinref.Window{Before: 30, After: 50, Grace: 20}},
		{"self-outer", joinref.FullOuter, true, false, joinref.Window{Before: 30, After: 50, Grace: 20}},
		// A window wholly before the left record (after < 0): a left record may be closed
		// already when it arrives, and is then emitted alone at once if it joined nothing.
		{"outer-after-negative", joinref.FullOuter, false, false, joinref.Window{Before: 80, After: -20, Grace: 10}},
		{"inner-no-grace", joinref.Inner, false, false, joinref.Window{Before: 40, After: 40}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.w
			ms := func(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
			jw := topology.JoinWindowsOf(0).Before(ms(w.Before)).After(ms(w.After)).Grace(ms(w.Grace))
			brokers := startEmbedded(t, map[string]int32{"events": 2, "out": 1, "late": 1})
			in := joinref.RandomSides(rand.New(rand.NewPCG(11, uint64(len(c.name)))), 800)
			if c.self {
				for p := range in {
					for i := range in[p] {
						in[p][i].Left = true
					}
				}
			}
			produceSides(t, brokers, "events", in)
			opts := []eddy.Opt{eddy.ApplicationID("ssjoin"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
				eddy.CommitInterval(50 * time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t))}
			if c.bounded {
				opts = append(opts, eddy.Bounded())
			}
			app, err := eddy.New(splitJoin(c.kind, jw, c.self), opts...)
			if err != nil {
				t.Fatal(err)
			}
			if c.bounded {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				if err := app.Run(ctx); err != nil {
					t.Fatalf("bounded Run: %v", err)
				}
			} else {
				stopCaughtUp(t, brokers, "ssjoin", runApp(t, app), "events")
			}
			var want []string
			var wantLate []string
			for _, part := range in {
				out, late := joinref.StreamStream(part, w, c.kind, 0, c.self, c.bounded)
				want = append(want, out...)
				for _, r := range late {
					// Late records go to the topic as the join saw them: side prefix stripped.
					wantLate = append(wantLate, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Time))
				}
			}
			slices.Sort(want)
			slices.Sort(wantLate)
			got, gotLate := joinref.Timed(readAll(t, brokers, "out")), joinref.Timed(readAll(t, brokers, "late"))
			t.Logf("%d results, %d late", len(got), len(gotLate))
			if len(want) == 0 || len(wantLate) == 0 {
				t.Fatalf("the input gives %d results and %d late records: a test that shows nothing", len(want), len(wantLate))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d results, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
			}
			if !slices.Equal(gotLate, wantLate) {
				t.Errorf("late records:\n got %v\nwant %v", gotLate, wantLate)
			}
			// Each late record is counted once, under the store of the side it came to (a
			// self-join's left side).
			counted := map[string]int64{}
			for _, m := range app.Metrics() {
				if m.Name == "eddy_late_records_total" {
					counted[m.Labels["store"]] += m.Value
				}
			}
			var sum int64
			for store, n := range counted {
				sum += n
				if n != app.LateRecords(store) {
					t.Errorf("LateRecords(%s) = %d, the metric says %d", store, app.LateRecords(store), n)
				}
				if c.self && !strings.Contains(store, "THIS") {
					t.Errorf("a self-join counted %d late records under %s, its right side's store", n, store)
				}
			}
			if sum != int64(len(wantLate)) {
				t.Errorf("late records counted: %v, %d in all, want %d", counted, sum, len(wantLate))
			}
		})
	}
}

// Stream-stream joins of two topics against the reference model, with late records: each
// task reads a partition of each, in timestamp order across the two (time
// synchronization), and its watermark is the lower of theirs, so which records are late
// and when windows close follows the merge (joinref.StreamStreamTask). The exact multiset
// of results and of late records, for each kind.
func TestStreamStreamJoinOfTwoTopicsMatchesReference(t *testing.T) {
	for name, kind := range map[string]joinref.Kind{"inner": joinref.Inner, "left": joinref.LeftOuter, "outer": joinref.FullOuter} {
		t.Run(name, func(t *testing.T) {
			w := joinref.Window{Before: 30, After: 50, Grace: 20}
			jw := topology.JoinWindowsOf(0).Before(30 * time.Millisecond).After(50 * time.Millisecond).Grace(20 * time.Millisecond)
			brokers := startEmbedded(t, map[string]int32{"lefts": 2, "rights": 2, "out": 1, "late": 1})
			in := joinref.RandomSides(rand.New(rand.NewPCG(17, uint64(kind))), 800)
			var recs []*kgo.Record
			var want, wantLate []string
			for p, part := range in {
				var lefts, rights []joinref.Record
				for _, r := range part {
					topic := "rights"
					if r.Left {
						topic, lefts = "lefts", append(lefts, r)
					} else {
						rights = append(rights, r)
					}
					recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(r.Key), Value: []byte(r.Value),
						Timestamp: time.UnixMilli(r.Time)})
				}
				out, late := joinref.StreamStreamTask([][]joinref.Record{lefts, rights}, w, kind, 0, false)
				want = append(want, out...)
				for _, r := range late {
					wantLate = append(wantLate, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Time))
				}
			}
			slices.Sort(want)
			slices.Sort(wantLate)
			if len(want) == 0 || len(wantLate) == 0 {
				t.Fatalf("the input gives %d results and %d late records: a test that shows nothing", len(want), len(wantLate))
			}
			producePartitioned(t, brokers, recs...)
			s := serde.String()
			top := topology.New()
			lefts, rights := topology.From(top, "lefts", s, s), topology.From(top, "rights", s, s)
			topology.To(joinref.JoinStreams(kind, lefts, rights, jw, topology.LateRecordsTo("late")), "out", s, s)
			app, err := eddy.New(top, eddy.ApplicationID("two"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
				eddy.CommitInterval(50*time.Millisecond), eddy.Logger(testLogger(t)))
			if err != nil {
				t.Fatal(err)
			}
			stopCaughtUp(t, brokers, "two", runApp(t, app), "lefts", "rights")
			got, gotLate := joinref.Timed(readAll(t, brokers, "out")), joinref.Timed(readAll(t, brokers, "late"))
			t.Logf("%d results, %d late", len(got), len(gotLate))
			if !slices.Equal(got, want) {
				t.Errorf("%d results, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
			}
			if !slices.Equal(gotLate, wantLate) {
				t.Errorf("late records:\n got %v\nwant %v", gotLate, wantLate)
			}
		})
	}
}

// A left join of two topics, one side re-keyed first (so repartitioned), run in two
// parts, the second bounded, so its end closes every window. Records of the first part
// join records of the second; the results equal the model's (grace covers the whole
// input: no record is late however the topics interleave). By default the join keeps its
// records in memory, so the second part restores both sides in full from their
// changelogs; with OnDisk the second part runs on the first part's state directory and
// restores from its checkpoints. Either way a left record that joined nothing is emitted
// when the end closes it, which takes its closing entry: the changelogs do not carry
// those (only the records and the frontier), so the restore derives them. Each runs in
// three configurations (restartMode), eddy's defaults under either guarantee among them.
func TestStreamStreamJoinAcrossTopicsAndRestart(t *testing.T) {
	for _, onDisk := range []bool{false, true} {
		for _, mode := range []restartMode{quickCommits, exactlyOnceDefaults, atLeastOnceDefaults} {
			t.Run(fmt.Sprintf("onDisk=%v/%s", onDisk, mode), func(t *testing.T) { testJoinAcrossRestart(t, onDisk, mode) })
		}
	}
}

// restartMode is how testJoinAcrossRestart configures its two runs.
type restartMode int

const (
	// quickCommits: at-least-once with 50 ms commits and the low-memory Badger profile.
	quickCommits restartMode = iota
	// exactlyOnceDefaults: exactly-once with eddy's defaults otherwise (its 100 ms commit
	// interval and the production Badger profile).
	exactlyOnceDefaults
	// atLeastOnceDefaults: eddy's defaults, so at-least-once with 30 s commits: the first
	// run's only commit before its stop is the interval's.
	atLeastOnceDefaults
)

func (m restartMode) String() string {
	return [...]string{"alos-50ms-lowmem", "eos-defaults", "alos-defaults"}[m]
}

// testJoinAcrossRestart runs the join in two parts, configured by mode.
func testJoinAcrossRestart(t *testing.T, onDisk bool, mode restartMode) {
	brokers := startEmbedded(t, map[string]int32{"orders": 2, "payments": 3, "out": 1})
	rng := rand.New(rand.NewPCG(3, 4))
	var all []joinref.Record
	var orders, payments [2][]*kgo.Record
	for i := range 600 {
		key := fmt.Sprintf("o%d", rng.IntN(40))
		ts := int64(50_000 + i*10 - rng.IntN(200))
		half := i * 2 / 600
		if rng.IntN(2) == 0 {
			all = append(all, joinref.Record{Left: true, Key: key, Value: fmt.Sprintf("order%d", i), Time: ts})
			orders[half] = append(orders[half], &kgo.Record{Topic: "orders", Key: []byte(key),
				Value: fmt.Appendf(nil, "order%d", i), Timestamp: time.UnixMilli(ts)})
			continue
		}
		all = append(all, joinref.Record{Key: key, Value: fmt.Sprintf("pay%d", i), Time: ts})
		payments[half] = append(payments[half], &kgo.Record{Topic: "payments", Key: fmt.Appendf(nil, "p%d", i),
			Value: fmt.Appendf(nil, "%s:pay%d", key, i), Timestamp: time.UnixMilli(ts)})
	}
	top := topology.New()
	s := serde.String()
	byOrder := topology.Map(topology.From(top, "payments", s, s), func(_, v string) (string, string) {
		order, pay, _ := strings.Cut(v, ":")
		return order, pay
	})
	w := topology.JoinWindowsOf(100 * time.Millisecond).Grace(time.Minute)
	joinOpts := []topology.Option{topology.Named("paid")}
	if onDisk {
		joinOpts = append(joinOpts, topology.OnDisk())
	}
	topology.To(topology.LeftJoinStreams(topology.From(top, "orders", s, s), byOrder, w, s, s, s,
		func(_, o, p string, found bool) string { return joinref.Format(o, true, p, found) }, joinOpts...), "out", s, s)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dir := t.TempDir()
	for half := range 2 {
		if err := cl.ProduceSync(t.Context(), append(orders[half], payments[half]...)...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if !onDisk {
			dir = t.TempDir() // nothing on disk to reuse anyway: make sure of it
		}
		opts := []eddy.Opt{eddy.ApplicationID("paid"), eddy.Brokers(brokers...), eddy.StateDir(dir), eddy.Logger(testLogger(t))}
		switch mode {
		case quickCommits:
			opts = append(opts, eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState())
		case exactlyOnceDefaults:
			opts = append(opts, eddy.ExactlyOnce())
		}
		if half == 1 {
			opts = append(opts, eddy.Bounded())
		}
		app, err := eddy.New(top, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if half == 0 {
			stop := runApp(t, app)
			// The first commit at-least-once comes 30 s after the start.
			ends.WaitCaughtUp(t, brokers, "paid", 45*time.Second, "orders", "payments")
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = app.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("bounded Run: %v", err)
		}
	}
	want, late := joinref.StreamStream(all, joinref.Window{Before: 100, After: 100, Grace: 60_000}, joinref.LeftOuter, 0, false, true)
	if len(late) != 0 {
		t.Fatalf("the model finds late records: %v", late)
	}
	got := joinref.Timed(readAll(t, brokers, "out"))
	if !slices.Equal(got, want) {
		t.Errorf("%d results, want %d:\n got %v\nwant %v", len(got), len(want), got, want)
	}
	for _, side := range []string{"this", "other"} {
		topic := "paid-paid-" + side + "-join-store-changelog"
		recs := readAll(t, brokers, topic)
		if len(recs) == 0 {
			t.Errorf("%s is empty", topic)
		}
		for _, r := range recs {
			if len(r.Key) == 0 || r.Key[0] > 0x01 {
				t.Fatalf("%s/%d at %d has the key %x: the changelog carries only records and the frontier", topic, r.Partition, r.Offset, r.Key)
			}
		}
	}
	d, err := top.Describe()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"paid-right-repartition", "Processor: paid-this-join (stores: [paid-this-join-store, paid-other-join-store])",
		"Processor: paid-other-join (stores: [paid-this-join-store, paid-other-join-store])", "Processor: paid-merge"} {
		if !strings.Contains(d, want) {
			t.Errorf("the description lacks %q:\n%s", want, d)
		}
	}
}

// The two sides of a stream-stream join must be co-partitioned, and the join's options
// and windows are checked when the topology is built. A side after Rebalance (its keys
// spread over every partition) is repartitioned by key first.
func TestStreamStreamJoinChecks(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"a": 3, "b": 2, "out": 1})
	s := serde.String()
	build := func(w topology.JoinWindows, opts ...topology.Option) *topology.Topology {
		top := topology.New()
		topology.To(topology.JoinStreams(topology.From(top, "a", s, s), topology.From(top, "b", s, s), w, s, s, s,
			func(_, l, r string) string { return l + r }, opts...), "out", s, s)
		return top
	}
	err := runOnce(t, build(topology.JoinWindowsOf(time.Second)), brokers)
	if !errors.Is(err, eddy.ErrCoPartitioning) || !strings.Contains(err.Error(), "a (3 partitions)") ||
		!strings.Contains(err.Error(), "b (2 partitions)") {
		t.Fatalf("Run = %v, want ErrCoPartitioning naming both topics and counts", err)
	}
	top := topology.New()
	spread := topology.Rebalance(topology.From(top, "a", s, s), s, s, topology.Named("spread"))
	topology.To(topology.JoinStreams(spread, topology.From(top, "b", s, s), topology.JoinWindowsOf(time.Second), s, s, s,
		func(_, l, r string) string { return l + r }, topology.Named("j")), "out", s, s)
	if d, err := top.Describe(); err != nil || !strings.Contains(d, "Source: j-left-repartition-source") {
		t.Errorf("a join after Rebalance: %v\n%s", err, d)
	}
	for _, c := range []struct {
		w    topology.JoinWindows
		opts []topology.Option
		want string
	}{
		{topology.JoinWindowsOf(time.Second).Before(-2 * time.Second), nil, "before + after ≥ 0"},
		{topology.JoinWindowsOf(time.Second).Grace(-time.Second), nil, "grace ≥ 0"},
		{topology.JoinWindowsOf(time.Microsecond), nil, "whole milliseconds"},
		{topology.JoinWindowsOf(time.Second), []topology.Option{topology.EmitUpdates()}, "EmitUpdates"},
	} {
		if err := build(c.w, c.opts...).Err(); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "JoinStreams") {
			t.Errorf("Err() = %v, want one naming JoinStreams and %q", err, c.want)
		}
	}
}
