package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/savepoint"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// upgradeV1 counts records by key after regrouping them (GroupBy: a repartition topic
// between the source and the count), into store "counts".
func upgradeV1(in, out string) *topology.Topology {
	t := topology.New()
	s := topology.From(t, in, serde.String(), serde.String())
	g := topology.GroupBy(s, func(k, _ string) string { return k }, serde.String(), serde.String(), topology.Named("regroup"))
	topology.To(topology.Count(g, "counts").ToStream(), out, serde.String(), serde.Int64())
	return t
}

// upgradeV2 is the next version: the same regrouping, but "counts" now holds decimal
// text (its value type changed from int64 to string), and a new store, "by-length",
// counts records by their key's length.
func upgradeV2(in, out, outLen string) *topology.Topology {
	t := topology.New()
	s := topology.From(t, in, serde.String(), serde.String())
	g := topology.GroupBy(s, func(k, _ string) string { return k }, serde.String(), serde.String(), topology.Named("regroup"))
	counts := topology.Aggregate(g, func() string { return "0" }, func(_, _ string, agg string) string {
		n, _ := strconv.ParseInt(agg, 10, 64)
		return strconv.FormatInt(n+1, 10)
	}, serde.String(), "counts")
	topology.To(counts.ToStream(), out, serde.String(), serde.String())
	byLen := topology.GroupBy(s, func(k, _ string) string { return fmt.Sprintf("len%d", len(k)) }, serde.String(), serde.String(), topology.Named("by-length"))
	topology.To(topology.Count(byLen, "by-length").ToStream(), outLen, serde.String(), serde.Int64())
	return t
}

// Upgrade through a savepoint, under each guarantee with eddy's defaults: version 1 counts
// while records flow; a savepoint is taken while they still flow — of the running
// application (Take pauses it), or of it stopped, with records in flight in its
// repartition topic; version 2 — a new application id, the count store's value type
// changed (converted by ConvertStore), a store added — starts from it. Every key's count
// equals the reference over all input, and the new store counts exactly the records the
// savepoint had not.
func TestUpgradeThroughASavepoint(t *testing.T) {
	for _, c := range []struct{ guarantee, taken string }{
		{"at-least-once", "running"}, {"exactly-once", "running"}, {"at-least-once", "stopped"}, {"exactly-once", "stopped"},
	} {
		t.Run(c.guarantee+"/"+c.taken, func(t *testing.T) {
			guarantee := c.guarantee
			adm := kafkatest.Admin(t)
			in, out1, out2, outLen := kafkatest.Topic(t, "keys"), kafkatest.Topic(t, "v1"), kafkatest.Topic(t, "v2"), kafkatest.Topic(t, "lens")
			for _, topic := range []string{in, out1, out2, outLen} {
				kafkatest.CreateTopic(t, adm, topic, 4, nil)
			}
			v1, v2 := kafkatest.Topic(t, "v1app"), kafkatest.Topic(t, "v2app")
			const keys = 2000
			run := start(t, newDefaultApp(t, upgradeV1(in, out1), v1, guaranteeOpts(guarantee)...))
			countRound(t, in, out1, keys, 1)

			// Records flow while the savepoint is taken (and version 1 stops).
			ctx, cancel := context.WithCancel(t.Context())
			flowed := make(chan int, 1)
			go func() { flowed <- produceWhile(ctx, t, in, keys) }()
			time.Sleep(2 * time.Second)
			// Records in the repartition topic that the regrouping did not write: a stopped
			// application has not counted them, and the savepoint must carry them.
			repartition := v1 + "-regroup-repartition"
			var inflight []*kgo.Record
			for i := range 100 {
				inflight = append(inflight, &kgo.Record{Topic: repartition, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("x")})
			}
			dir := t.TempDir()
			brokers := kgo.SeedBrokers(kafkatest.Bootstrap(t)...)
			var m savepoint.Manifest
			var err error
			if c.taken == "running" {
				produceAll(t, inflight)
				m, err = savepoint.Take(t.Context(), v1, savepoint.DirFS(dir), brokers)
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Second) // version 1 goes on after the savepoint
				if err := run.stop(); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := run.stop(); err != nil {
					t.Fatal(err)
				}
				produceAll(t, inflight)
				if m, err = savepoint.Take(t.Context(), v1, savepoint.DirFS(dir), brokers); err != nil {
					t.Fatal(err)
				}
				if len(m.Pending) != 1 || m.Pending[0].Name != "regroup-repartition" || pendingCount(m) < 100 {
					t.Fatalf("the savepoint's pending records: %+v, want at least the 100 put in flight in regroup-repartition", m.Pending)
				}
			}
			time.Sleep(time.Second)
			cancel()
			produced := <-flowed

			// The reference: every record produced, and the 100 in flight.
			want := map[string]int64{}
			for i := range keys {
				want[fmt.Sprintf("k%d", i)] = 1
			}
			for i := range produced {
				want[fmt.Sprintf("k%d", i%keys)]++
			}
			for i := range 100 {
				want[fmt.Sprintf("k%d", i)]++
			}
			var total, saved int64
			for _, n := range want {
				total += n
			}
			sp, err := savepoint.Open(os.DirFS(dir))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := sp.Store("counts")
			for _, f := range st.Slices {
				if err := sp.Entries("counts", f.Partition, func(_, v []byte) error {
					n, err := serde.Int64().Decode(v)
					saved += n
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}

			app2 := newDefaultApp(t, upgradeV2(in, out2, outLen), v2, guaranteeOpts(guarantee)...)
			rep, err := app2.RestoreSavepoint(t.Context(), os.DirFS(dir),
				eddy.ConvertStore("counts", serde.String(), serde.Int64(), serde.String(), func(_ string, n int64) (string, error) {
					return strconv.FormatInt(n, 10), nil
				}))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("restored: %+v (%d records produced while stopping, %d counted in the savepoint)", rep, produced, saved)
			if len(rep.Stores) != 1 || rep.Stores[0].Name != "counts" || !rep.Stores[0].Converted || len(rep.Empty) != 1 || rep.Empty[0] != "by-length" {
				t.Errorf("the restore's report: %+v, want counts converted and by-length new", rep)
			}
			if rep.Pending != pendingCount(m) {
				t.Errorf("%d pending records restored, the savepoint has %d", rep.Pending, pendingCount(m))
			}
			start(t, app2)
			got := latestTexts(t, out2, want)
			for k, n := range want {
				if got[k] != n {
					t.Errorf("count(%s) = %d after the upgrade, want %d", k, got[k], n)
					break
				}
			}
			// The new store, which reads the input only, counted exactly the input the
			// savepoint had not: neither what it had counted nor what was in flight.
			after := total - saved - pendingCount(m)
			if lens := sumOfLatest(t, outLen, after); lens != after {
				t.Errorf("by-length counted %d records, want %d (%d in all, %d counted in the savepoint, %d in flight)", lens, after, total, saved, pendingCount(m))
			}
		})
	}
}

// Rescaling through a savepoint: the input grows from 4 partitions to 8, and each key's
// count moves to the task of its murmur2 partition: the counts stay exact. Before that, a
// truncated copy of the savepoint is refused and changes nothing, and a topology that
// lacks one of the savepoint's stores is refused unless AllowNonRestoredState.
func TestRescaleThroughASavepoint(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "keys"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 8, nil)
	v1, v2 := kafkatest.Topic(t, "app4"), kafkatest.Topic(t, "app8")
	const keys = 4000
	run := start(t, newDefaultApp(t, countByKey(in, out), v1, eddy.ExactlyOnce()))
	countRound(t, in, out, keys, 1)
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if m, err := savepoint.TakeStopped(t.Context(), v1, savepoint.DirFS(dir), kgo.SeedBrokers(kafkatest.Bootstrap(t)...)); err != nil {
		t.Fatal(err)
	} else if st := m.Stores; len(st) != 1 || len(st[0].Slices) != 4 {
		t.Fatalf("the savepoint's stores: %+v, want counts with 4 slices", st)
	}
	if _, err := adm.UpdatePartitions(t.Context(), 8, in); err != nil {
		t.Fatal(err)
	}

	// A truncated savepoint is refused before anything is written.
	broken := t.TempDir()
	copyDir(t, dir, broken)
	slice := filepath.Join(broken, "stores", "counts", "0.kv")
	b, err := os.ReadFile(slice)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(slice, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	app := newDefaultApp(t, countByKey(in, out), v2, eddy.ExactlyOnce())
	if _, err := app.RestoreSavepoint(t.Context(), os.DirFS(broken)); !errors.Is(err, savepoint.ErrInvalid) || !strings.Contains(err.Error(), "stores/counts/0.kv") {
		t.Fatalf("restoring a truncated savepoint: %v, want ErrInvalid naming stores/counts/0.kv", err)
	}
	if topics, err := adm.ListTopics(t.Context(), v2+"-counts-changelog"); err != nil || topics[v2+"-counts-changelog"].Err == nil {
		t.Errorf("after a refused restore, the changelog exists (%v)", err)
	}
	if offs, err := adm.FetchOffsets(t.Context(), v2); err != nil || len(offs.Sorted()) != 0 {
		t.Errorf("after a refused restore, the group has offsets (%v, %v)", offs.Sorted(), err)
	}

	// A topology without the store "counts" is refused, unless the state may be left out.
	other := topology.New()
	s := topology.From(other, in, serde.String(), serde.String())
	topology.To(topology.Count(topology.GroupByKey(s, serde.String(), serde.String()), "tallies").ToStream(), out, serde.String(), serde.Int64())
	lacking := newDefaultApp(t, other, kafkatest.Topic(t, "other"), eddy.ExactlyOnce())
	if _, err := lacking.RestoreSavepoint(t.Context(), os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "counts") ||
		!strings.Contains(err.Error(), "AllowNonRestoredState") {
		t.Errorf("restoring into a topology without the store: %v, want an error naming counts and AllowNonRestoredState", err)
	}
	lacking = newDefaultApp(t, other, kafkatest.Topic(t, "other2"), eddy.ExactlyOnce())
	if rep, err := lacking.RestoreSavepoint(t.Context(), os.DirFS(dir), eddy.AllowNonRestoredState()); err != nil ||
		len(rep.Dropped) != 1 || rep.Dropped[0] != "counts" || len(rep.Empty) != 1 {
		t.Errorf("restoring with AllowNonRestoredState: %+v, %v; want counts dropped, tallies empty", rep, err)
	}

	rep, err := app.RestoreSavepoint(t.Context(), os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stores) != 1 || rep.Stores[0].From != 4 || rep.Stores[0].To != 8 || rep.Stores[0].Entries != keys {
		t.Fatalf("the restore's report: %+v, want counts with %d entries from 4 tasks to 8", rep, keys)
	}
	start(t, app)
	countRound(t, in, out, keys, 2)
}

// A savepoint taken on one cluster restores on another: the same application id, whose
// copy of the input holds the same records at the same offsets; the counts there go on
// from the savepoint's. Offsets the other cluster does not have are refused, naming them.
func TestRestoreOnAnotherCluster(t *testing.T) {
	second := kafkatest.SecondCluster(t)
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "keys"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	const keys = 3000
	run := start(t, newDefaultApp(t, countByKey(in, out), appID, eddy.ExactlyOnce()))
	countRound(t, in, out, keys, 1)
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := savepoint.TakeStopped(t.Context(), appID, savepoint.DirFS(dir), kgo.SeedBrokers(kafkatest.Bootstrap(t)...)); err != nil {
		t.Fatal(err)
	}

	cl2 := kafkatest.Client(t, kgo.SeedBrokers(second...))
	adm2 := kadm.NewClient(cl2)
	for _, topic := range []string{in, out} {
		if _, err := adm2.CreateTopic(t.Context(), 4, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	onSecond := func() *eddy.App {
		app, err := eddy.New(countByKey(in, out), eddy.ApplicationID(appID), eddy.Brokers(second...),
			eddy.StateDir(t.TempDir()), eddy.Logger(testLogger(t)), eddy.ExactlyOnce())
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	// The input is not there yet: its offsets are beyond the partitions' ends.
	if _, err := onSecond().RestoreSavepoint(t.Context(), os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), in) ||
		!strings.Contains(err.Error(), "InputOffsets") {
		t.Fatalf("restoring where the input is empty: %v, want an error naming %s and InputOffsets", err, in)
	}
	// The copy of the input: the first round as on the first cluster, then a second.
	for round := range 2 {
		recs := make([]*kgo.Record, keys)
		for i := range keys {
			recs[i] = &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%d", i), Value: []byte("x")}
		}
		if err := cl2.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	app := onSecond()
	if _, err := app.RestoreSavepoint(t.Context(), os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	start(t, app)
	got := map[string]int64{}
	reached := 0
	consumeFrom(t, second, out, func(r *kgo.Record) {
		n, err := serde.Int64().Decode(r.Value)
		if err != nil || n > 2 {
			t.Fatalf("count of %s on the second cluster: %d, %v; want at most 2", r.Key, n, err)
		}
		if n > got[string(r.Key)] {
			got[string(r.Key)] = n
			if n == 2 {
				reached++
			}
		}
	}, func() bool { return reached == keys })
	for k, n := range got {
		if n == 1 {
			t.Errorf("count(%s) = 1 on the second cluster: the savepoint's count was not restored", k)
			break
		}
	}
}

// produceWhile writes records k0, k1, … (cycling over keys) into topic until ctx ends
// and returns how many it wrote.
func produceWhile(ctx context.Context, t *testing.T, topic string, keys int) int {
	cl := kafkatest.Client(t)
	n := 0
	for ctx.Err() == nil {
		recs := make([]*kgo.Record, 100)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", (n+i)%keys), Value: []byte("x")}
		}
		pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cl.ProduceSync(pctx, recs...).FirstErr()
		cancel()
		if err != nil {
			t.Errorf("produce: %v", err)
			return n
		}
		n += len(recs)
		time.Sleep(20 * time.Millisecond)
	}
	return n
}

func pendingCount(m savepoint.Manifest) int64 {
	var n int64
	for _, p := range m.Pending {
		for _, f := range p.Slices {
			n += f.Entries
		}
	}
	return n
}

// latestTexts reads counts written as decimal text until every key reaches its count in
// want; a count above it fails the test.
func latestTexts(t *testing.T, topic string, want map[string]int64) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	reached := 0
	consumeUntil(t, topic, 90*time.Second, func(r *kgo.Record) {
		n, err := strconv.ParseInt(string(r.Value), 10, 64)
		if err != nil {
			t.Fatalf("%s/%d@%d: %q is not a count", r.Topic, r.Partition, r.Offset, r.Value)
		}
		k := string(r.Key)
		if n > want[k] {
			t.Fatalf("count of %s reached %d, want %d", k, n, want[k])
		}
		if n > got[k] {
			if n == want[k] {
				reached++
			}
			got[k] = n
		}
	}, func() bool { return reached == len(want) })
	return got
}

// sumOfLatest reads int64 counts until the sum of every key's latest reaches want.
func sumOfLatest(t *testing.T, topic string, want int64) int64 {
	t.Helper()
	latest := map[string]int64{}
	var sum int64
	consumeUntil(t, topic, 90*time.Second, func(r *kgo.Record) {
		n, err := serde.Int64().Decode(r.Value)
		if err != nil {
			t.Fatalf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		if n > latest[string(r.Key)] {
			sum += n - latest[string(r.Key)]
			latest[string(r.Key)] = n
		}
		if sum > want {
			t.Fatalf("%s counts %d records, more than %d", topic, sum, want)
		}
	}, func() bool { return sum >= want })
	return sum
}

// consumeFrom is consumeUntil on the cluster of brokers.
func consumeFrom(t *testing.T, brokers []string, topic string, keep func(*kgo.Record), done func() bool) {
	t.Helper()
	cl := kafkatest.Client(t, kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: not done after 90 s", topic)
		}
		fs.EachRecord(keep)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Going back in time on the same application: a savepoint taken after one round (of the
// application running on two instances), two more rounds, then a restore into the same application id (ReplaceState; refused
// without it) on the same instance and state directory. The instance's local state of
// the replaced changelogs is discarded, and the input after the savepoint is processed
// again from its state: every count ends at the three rounds, exactly.
func TestRestoreIntoTheSameApplication(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "keys"), kafkatest.Topic(t, "counts")
	kafkatest.CreateTopic(t, adm, in, 4, nil)
	kafkatest.CreateTopic(t, adm, out, 4, nil)
	appID := kafkatest.Topic(t, "app")
	stateDir, otherDir := t.TempDir(), t.TempDir()
	const keys = 2000
	newAppIn := func(dir string) *eddy.App {
		app, err := eddy.New(countByKey(in, out), eddy.ApplicationID(appID), eddy.Brokers(kafkatest.Bootstrap(t)...),
			eddy.StateDir(dir), eddy.Logger(testLogger(t)), eddy.ExactlyOnce())
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	newApp := func() *eddy.App { return newAppIn(stateDir) }
	// Two instances while the savepoint is taken: both pause.
	run, run2 := start(t, newApp()), start(t, newAppIn(otherDir))
	countRound(t, in, out, keys, 1)
	dir := t.TempDir()
	if _, err := savepoint.Take(t.Context(), appID, savepoint.DirFS(dir), kgo.SeedBrokers(kafkatest.Bootstrap(t)...)); err != nil {
		t.Fatal(err)
	}
	countRound(t, in, out, keys, 2)
	if err := run2.stop(); err != nil {
		t.Fatal(err)
	}
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := newApp().RestoreSavepoint(t.Context(), os.DirFS(dir)); err == nil || !strings.Contains(err.Error(), "ReplaceState") {
		t.Fatalf("restoring into the application with state: %v, want a refusal naming ReplaceState", err)
	}
	produceKeys(t, in, keys) // a third round, while it is stopped
	app := newApp()
	rep, err := app.RestoreSavepoint(t.Context(), os.DirFS(dir), eddy.ReplaceState())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stores) != 1 || rep.Stores[0].Entries != keys {
		t.Fatalf("the restore's report: %+v, want counts with %d entries", rep, keys)
	}
	start(t, app)
	want := map[string]int64{}
	for i := range keys {
		want[fmt.Sprintf("k%d", i)] = 3
	}
	got := latestCounts(t, out, want)
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("count(%s) = %d, want %d", k, got[k], n)
		}
	}
}
