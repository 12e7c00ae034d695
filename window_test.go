package eddy_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

type timed struct {
	key string
	ts  int64 // event time, ms
}

func produceTimed(t *testing.T, brokers []string, topic string, partition int32, recs ...timed) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for _, r := range recs {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: partition, Key: []byte(r.key), Value: []byte("v"), Timestamp: time.UnixMilli(r.ts)})
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// windowedCounts builds: count per key in 1 s tumbling windows (or the windows given),
// results to "counts" as "key@start=count".
func windowedCounts(w topology.Windows, in string, opts ...topology.Option) *topology.Topology {
	top := topology.New()
	s := topology.From(top, in, serde.String(), serde.String(), topology.OutOfOrderness(2*time.Second))
	counts := topology.WindowedCount(topology.WindowBy(topology.GroupByKey(s, serde.String(), serde.String()), w), "win", opts...)
	labelled := topology.Map(counts, func(k topology.Windowed[string], n int64) (string, string) {
		return fmt.Sprintf("%s@%d", k.Key, k.Start.UnixMilli()), fmt.Sprint(n)
	})
	topology.To(labelled, "counts", serde.String(), serde.String())
	return top
}

// countsTo writes windowed counts to topic as "key@start-end" = "count".
func countsTo(counts topology.Stream[topology.Windowed[string], int64], topic string) {
	topology.To(topology.Map(counts, func(k topology.Windowed[string], n int64) (string, string) {
		return fmt.Sprintf("%s@%d-%d", k.Key, k.Start.UnixMilli(), k.End.UnixMilli()), fmt.Sprint(n)
	}), topic, serde.String(), serde.String())
}

// readCounts returns every record of "counts" as "key=value", sorted (see readAll).
func readCounts(t *testing.T, brokers []string) []string {
	t.Helper()
	return keyValues(readAll(t, brokers, "counts"))
}

// keyValues lists records as "key=value", sorted.
func keyValues(recs []*kgo.Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, string(r.Key)+"="+string(r.Value))
	}
	slices.Sort(out)
	return out
}

// Out-of-order records within the bound: 1 s tumbling counts equal the reference, each
// window is emitted once, when the watermark passes its end; a window still open is not.
func TestTumblingWindowsOutOfOrder(t *testing.T) {
	input := []timed{{"a", 1000}, {"a", 1500}, {"b", 2100}, {"a", 900}, {"a", 2999}, {"b", 1999}, {"a", 3000}, {"b", 2500},
		{"a", 4100}, {"b", 3900}}
	ref := map[string]int{}
	for _, r := range input {
		ref[fmt.Sprintf("%s@%d", r.key, r.ts/1000*1000)]++
	}
	var want []string
	for k, n := range ref {
		want = append(want, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(want)
	d := eddytest.New(t, windowedCounts(topology.TumblingWindows(time.Second), "events"))
	sendTimed(t, d, "events", input...)
	// The watermark is 4100 − 2000 − 1: the windows that end by 2099 are final.
	if got, closed := driverCounts(t, d, "counts"), []string{"a@0=1", "a@1000=2", "b@1000=1"}; !slices.Equal(got, closed) {
		t.Fatalf("windows emitted at watermark 2099: %v, want %v", got, closed)
	}
	// Far enough ahead to close every window above (watermark 9999 − 2000 − 1), itself
	// in a window that stays open.
	sendTimed(t, d, "events", timed{"z", 9999})
	if got := driverCounts(t, d, "counts"); !slices.Equal(got, want) {
		t.Errorf("windows:\n got %v\nwant %v", got, want)
	}
}

// Hopping windows: a record counts in every window that contains it.
func TestHoppingWindows(t *testing.T) {
	d := eddytest.New(t, windowedCounts(topology.HoppingWindows(2*time.Second, time.Second), "events"))
	sendTimed(t, d, "events", timed{"a", 1100}, timed{"a", 1600}, timed{"a", 2200}, timed{"z", 20000})
	// 2 s windows every 1 s: [0,2000) has 1100, 1600; [1000,3000) has all three;
	// [2000,4000) has 2200.
	want := []string{"a@0=2", "a@1000=3", "a@2000=1"}
	if got := driverCounts(t, d, "counts"); !slices.Equal(got, want) {
		t.Errorf("hopping windows = %v, want %v", got, want)
	}
}

// A record whose window is already final goes to the late-records topic with its key,
// value and time, and is not counted; a record late but within grace still counts.
func TestLateRecordsGoToTheLateTopic(t *testing.T) {
	top := windowedCounts(topology.TumblingWindows(time.Second).Grace(500*time.Millisecond), "events", topology.LateRecordsTo("late"))
	d := eddytest.New(t, top)
	// Bound 2 s. After 6000 the watermark is 3999: window [1000,2000) is final, and with
	// 500 ms grace [3000,4000) is not (3999 − 1 + 500 > 3999).
	sendTimed(t, d, "events", timed{"a", 1000}, timed{"a", 6000}, timed{"late", 1500}, timed{"a", 3500}, timed{"z", 30000})
	if got, want := driverCounts(t, d, "counts"), []string{"a@1000=1", "a@3000=1", "a@6000=1"}; !slices.Equal(got, want) {
		t.Errorf("windows = %v, want %v", got, want)
	}
	late := eddytest.Output(d, "late", serde.String(), serde.String()).ReadAll()
	if len(late) != 1 || late[0].Key != "late" || late[0].Value != "v" || late[0].Timestamp.UnixMilli() != 1500 {
		t.Errorf("late records = %v", late)
	}
	if n, other := d.LateRecords("win"), d.LateRecords("nope"); n != 1 || other != 0 {
		t.Errorf("LateRecords(win) = %d, LateRecords(nope) = %d; want 1 and 0", n, other)
	}
}

// An App counts late records in its metrics, by store, and LateRecords reads them.
func TestLateRecordsInTheAppsMetrics(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"events": 1, "counts": 1, "late": 1})
	produceTimed(t, brokers, "events", 0, timed{"a", 1000}, timed{"a", 6000}, timed{"late", 1500}, timed{"z", 30000})
	app, err := eddy.New(windowedCounts(topology.TumblingWindows(time.Second), "events", topology.LateRecordsTo("late")),
		eddy.ApplicationID("late"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()), eddy.CommitInterval(50*time.Millisecond),
		eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "late", runApp(t, app), "events")
	var text strings.Builder
	if err := app.WriteMetrics(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "eddy_late_records_total{store=\"win\"} 1\n") {
		t.Errorf("metrics do not count the late record once:\n%s", text.String())
	}
	if n, other := app.LateRecords("win"), app.LateRecords("nope"); n != 1 || other != 0 {
		t.Errorf("LateRecords(win) = %d, LateRecords(nope) = %d; want 1 and 0", n, other)
	}
}

// Bounded mode: a run over N records returns by itself; its counts total N, and the last
// windows, which no later record would ever close, are emitted too — with one worker or
// several, at-least-once or exactly-once. The end of the input crosses a repartition.
func TestBoundedRunReturnsWithAllWindows(t *testing.T) {
	for _, c := range []struct {
		name    string
		workers int
		eos     bool
	}{{"one-worker", 1, false}, {"three-workers", 3, false}, {"exactly-once-two-workers", 2, true}} {
		t.Run(c.name, func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"events": 3, "counts": 1})
			const n = 300
			ref := map[string]int{}
			for p := range int32(3) {
				var recs []timed
				for i := range n / 3 {
					r := timed{fmt.Sprintf("k%d", i%4), int64(1000 + i*50 + int(p)*7)}
					recs = append(recs, r)
					ref[fmt.Sprintf("%s@%d", r.key, r.ts/1000*1000)]++
				}
				produceTimed(t, brokers, "events", p, recs...)
			}
			var want []string
			for k, v := range ref {
				want = append(want, fmt.Sprintf("%s=%d", k, v))
			}
			slices.Sort(want)
			top := topology.New()
			s := topology.From(top, "events", serde.String(), serde.String())
			byKey := topology.GroupBy(s, func(k, _ string) string { return k }, serde.String(), serde.String(), topology.Named("by-key"))
			counts := topology.WindowedCount(topology.WindowBy(byKey, topology.TumblingWindows(time.Second)), "win")
			topology.To(topology.Map(counts, func(k topology.Windowed[string], c int64) (string, string) {
				return fmt.Sprintf("%s@%d", k.Key, k.Start.UnixMilli()), fmt.Sprint(c)
			}), "counts", serde.String(), serde.String())
			opts := []eddy.Opt{eddy.ApplicationID("bounded"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
				eddy.Bounded(), eddy.Workers(c.workers), eddy.LowMemoryState(), eddy.Logger(testLogger(t))}
			if c.eos {
				opts = append(opts, eddy.ExactlyOnce())
			}
			app, err := eddy.New(top, opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := app.Run(ctx); err != nil {
				t.Fatalf("bounded Run: %v", err)
			}
			if ctx.Err() != nil {
				t.Fatal("bounded Run did not return by itself")
			}
			// Run has returned: the output is final, each window in it once.
			if got := readCounts(t, brokers); !slices.Equal(got, want) {
				t.Errorf("windowed counts:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// Session windows: records of a key at most the gap apart form one session; a record
// between two sessions merges them; each session's count is emitted once, when final.
func TestSessionWindows(t *testing.T) {
	top := topology.New()
	s := topology.From(top, "events", serde.String(), serde.String(), topology.OutOfOrderness(2*time.Second))
	counts := topology.SessionCount(topology.SessionBy(topology.GroupByKey(s, serde.String(), serde.String()), topology.Sessions(time.Second)), "sessions")
	countsTo(counts, "counts")
	d := eddytest.New(t, top)
	// Gap 1 s. a: 1000, 1500 | 4000 → then 2400 joins the first, 3200 bridges both.
	sendTimed(t, d, "events", timed{"a", 1000}, timed{"a", 1500}, timed{"b", 1200}, timed{"a", 4000},
		timed{"a", 2400}, timed{"a", 3200}, timed{"b", 9000})
	// The watermark is 6999: b's first session is final, a's (ending at 4001 + 1 s gap) too.
	if got, want := driverCounts(t, d, "counts"), []string{"a@1000-4001=5", "b@1200-1201=1"}; !slices.Equal(got, want) {
		t.Errorf("sessions = %v, want %v", got, want)
	}
	sendTimed(t, d, "events", timed{"z", 30000})
	if got, want := driverCounts(t, d, "counts"), []string{"a@1000-4001=5", "b@1200-1201=1", "b@9000-9001=1"}; !slices.Equal(got, want) {
		t.Errorf("sessions = %v, want %v", got, want)
	}
}

// A record whose own session would be final already, and that joins no open session, is
// late: sent to the late topic and not counted.
func TestSessionLateRecord(t *testing.T) {
	// Bound 0: after 10000 the watermark is 9999; a@1000 (gap 1 s) is late.
	got, late := runLateCase(t, []timed{{"a", 5000}, {"a", 10000}, {"a", 1000}, {"z", 60000}},
		func(g topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64] {
			return topology.SessionCount(topology.SessionBy(g, topology.Sessions(time.Second)), "sessions", topology.LateRecordsTo("late"))
		})
	if want := []string{"a@10000-10001=1", "a@5000-5001=1"}; !slices.Equal(got, want) {
		t.Errorf("sessions = %v, want %v", got, want)
	}
	if len(late) != 1 || late[0].Timestamp.UnixMilli() != 1000 {
		t.Errorf("late = %v", late)
	}
}

// runLateCase runs a windowed count (made by count from the stream grouped by key, its
// late records to "late") over input with no out-of-orderness in the test driver, and
// returns all the counts (see driverCounts) and all the late records.
func runLateCase(t *testing.T, input []timed,
	count func(topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64]) ([]string, []eddytest.Record[string, string]) {
	t.Helper()
	top := topology.New()
	s := topology.From(top, "events", serde.String(), serde.String())
	countsTo(count(topology.GroupByKey(s, serde.String(), serde.String())), "counts")
	d := eddytest.New(t, top)
	sendTimed(t, d, "events", input...)
	return driverCounts(t, d, "counts"), eddytest.Output(d, "late", serde.String(), serde.String()).ReadAll()
}

// sendTimed sends records to partition 0 of topic in the driver, each at its event time
// with the value "v".
func sendTimed(t *testing.T, d *eddytest.Driver, topic string, recs ...timed) {
	t.Helper()
	in := eddytest.Input(d, topic, serde.String(), serde.String())
	for _, r := range recs {
		if err := in.Send(r.key, "v", eddytest.At(time.UnixMilli(r.ts)), eddytest.ToPartition(0)); err != nil {
			t.Fatal(err)
		}
	}
}

// driverCounts returns every record written to topic so far, as "key=value", sorted.
func driverCounts(t *testing.T, d *eddytest.Driver, topic string) []string {
	t.Helper()
	var out []string
	for _, kv := range eddytest.Output(d, topic, serde.String(), serde.String()).ReadKeyValues() {
		out = append(out, kv.Key+"="+kv.Value)
	}
	slices.Sort(out)
	return out
}

// Partition watermarks ride in the committed offsets' metadata: a restarted instance, even
// with fresh local state, resumes with the watermark its predecessor had.
func TestWatermarkSurvivesRestartInOffsetMetadata(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"events": 1, "seen": 1})
	build := func() *topology.Topology {
		top := topology.New()
		s := topology.From(top, "events", serde.String(), serde.String())
		wm := topology.Process(s, "show-watermark", func() processor.Processor[string, string, string, string] { return &watermarkShower{} })
		topology.To(wm, "seen", serde.String(), serde.String())
		return top
	}
	run := func(recs ...timed) {
		t.Helper()
		app, err := eddy.New(build(), eddy.ApplicationID("wm-meta"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
			eddy.CommitInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		produceTimed(t, brokers, "events", 0, recs...)
		stopCaughtUp(t, brokers, "wm-meta", runApp(t, app), "events")
	}
	run(timed{"a", 1000}, timed{"a", 5000})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(t.Context(), "wm-meta")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("events", 0); o.At != 2 || o.Metadata != "eddy1:5000" {
		t.Fatalf("committed offset %d with metadata %q, want 2 with eddy1:5000", o.At, o.Metadata)
	}
	run(timed{"a", 2000})
	var got []string
	for _, r := range readAll(t, brokers, "seen") {
		got = append(got, string(r.Value))
	}
	// Before 1000 there was no watermark; before 5000 it was 999; after the restart, before
	// 2000, it is 4999 again, not unknown.
	if want := []string{"-", "999", "4999"}; !slices.Equal(got, want) {
		t.Errorf("watermarks seen = %v, want %v", got, want)
	}
}

type watermarkShower struct {
	ctx processor.Context[string, string]
}

func (p *watermarkShower) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *watermarkShower) Close() error                                     { return nil }
func (p *watermarkShower) Process(r processor.Record[string, string]) error {
	v := "-"
	if wm := p.ctx.Watermark(); !wm.IsZero() {
		v = fmt.Sprint(wm.UnixMilli())
	}
	return p.ctx.Forward(processor.WithValue(r, v))
}

// An internal partition's watermark rides in its committed offset's metadata too: after a
// restart, a reader whose upstream tasks do not all write again (one has no new input, so
// no new marker) starts from the committed watermark instead of waiting for all of them.
func TestInternalWatermarkSurvivesRestart(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"events": 2, "seen": 1})
	build := func() *topology.Topology {
		top := topology.New()
		s := topology.From(top, "events", serde.String(), serde.String())
		mid := topology.Repartition(s, serde.String(), serde.String(), topology.Named("mid"), topology.Partitions(1))
		wm := topology.Process(mid, "show-watermark", func() processor.Processor[string, string, string, string] { return &watermarkShower{} })
		topology.To(wm, "seen", serde.String(), serde.String())
		return top
	}
	// run runs the application over recs until it has processed them and, first, until the
	// repartition topic carries the watermarks given for its upstream tasks (a task writes a
	// marker at most once a second after its watermark moves).
	run := func(marks map[string]int64, part int32, recs ...timed) {
		t.Helper()
		app, err := eddy.New(build(), eddy.ApplicationID("wm-internal"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
			eddy.CommitInterval(50*time.Millisecond), eddy.Logger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		produceTimed(t, brokers, "events", part, recs...)
		stop := runApp(t, app)
		ends.WaitMarks(t, brokers, "wm-internal-mid-repartition", 30*time.Second, func(m map[int32]map[string]ends.Mark) bool {
			for task, wm := range marks {
				if m[0][task].Watermark != wm {
					return false
				}
			}
			return true
		})
		stopCaughtUp(t, brokers, "wm-internal", stop, "events")
	}
	produceTimed(t, brokers, "events", 1, timed{"b", 3000})
	run(map[string]int64{"0_0": 4999, "0_1": 2999}, 0, timed{"a", 1000}, timed{"a", 5000})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(t.Context(), "wm-internal")
	if err != nil {
		t.Fatal(err)
	}
	// The upstream tasks' watermarks are 4999 and 2999: the partition's is the lower.
	if o, _ := offs.Lookup("wm-internal-mid-repartition", 0); o.Metadata != "eddy1:2999" {
		t.Fatalf("repartition topic committed with metadata %q, want eddy1:2999", o.Metadata)
	}
	// Only partition 0 has new input: upstream task 1 writes nothing, yet the reader has a
	// watermark at once.
	run(nil, 0, timed{"a", 6000})
	var got []string
	for _, r := range readAll(t, brokers, "seen") {
		got = append(got, string(r.Value))
	}
	if len(got) != 4 {
		t.Fatalf("watermarks seen = %v, want one for each of the 4 records", got)
	}
	if last := got[len(got)-1]; last != "2999" {
		t.Errorf("watermarks seen = %v: after the restart the reader saw %s, want the committed 2999", got, last)
	}
}

// A record whose event time cannot be extracted is bad input: with DeadLetter it goes to
// the dead-letter topic, byte for byte, and the windows count only the others.
func TestInvalidEventTimeIsBadInput(t *testing.T) {
	top := topology.New()
	s := topology.From(top, "events", serde.String(), serde.String(), topology.Timestamps(func(_, v string, _ time.Time) (time.Time, error) {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("value %q is not a time: %w", v, err)
		}
		return time.UnixMilli(ms), nil
	}))
	counts := topology.WindowedCount(topology.WindowBy(topology.GroupByKey(s, serde.String(), serde.String()), topology.TumblingWindows(time.Second)), "win")
	topology.To(topology.Map(counts, func(k topology.Windowed[string], n int64) (string, string) {
		return fmt.Sprintf("%s@%d", k.Key, k.Start.UnixMilli()), fmt.Sprint(n)
	}), "counts", serde.String(), serde.String())
	d := eddytest.New(t, top, eddytest.With(eddy.OnDeserializationError(eddy.DeadLetter("dlq"))))
	in := eddytest.Input(d, "events", serde.String(), serde.String())
	for _, kv := range [][2]string{{"a", "1000"}, {"a", "noon"}, {"a", "1500"}, {"a", "-5"}, {"z", "60000"}} {
		if err := in.Send(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := driverCounts(t, d, "counts"), []string{"a@1000=2"}; !slices.Equal(got, want) {
		t.Errorf("windows = %v, want %v", got, want)
	}
	dead, err := d.DeadLetters("dlq")
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	for i, want := range []string{"noon", "-5"} {
		if string(dead[i].Value) != want || dead[i].Kind != "deserialization" || dead[i].Offset != int64(2*i+1) {
			t.Errorf("dead letter %d = %q (kind %q, offset %d), want %q (deserialization, %d)", i, dead[i].Value, dead[i].Kind,
				dead[i].Offset, want, 2*i+1)
		}
	}
}
