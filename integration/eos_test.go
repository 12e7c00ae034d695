package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/joinref"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
)

// smoke is a running verification: the input topic, the smokeapp binary and its copies.
type smoke struct {
	t         *testing.T
	bin       string
	brokers   string
	appID     string
	input     string
	guarantee string
	dirs      map[string]string
	procs     map[string]*proc
	all       []*proc  // every process started, restarted ones too
	extra     []string // arguments every copy starts with
	starts    int      // processes started, for unique log names
	gen       int      // records generated
}

func newSmoke(t *testing.T, guarantee string, partitions int32) *smoke {
	s := &smoke{
		t:         t,
		bin:       buildBinary(t, "github.com/eddy-streams/eddy/integration/smokeapp"),
		brokers:   strings.Join(kafkatest.Bootstrap(t), ","),
		appID:     kafkatest.Topic(t, "app"),
		input:     kafkatest.Topic(t, "in"),
		guarantee: guarantee,
		dirs:      map[string]string{},
		procs:     map[string]*proc{},
	}
	kafkatest.CreateTopic(t, kafkatest.Admin(t), s.input, partitions, nil)
	// The profiles table the input is enriched from: keys k00…k29 have one, k30…k39 not.
	kafkatest.CreateTopic(t, kafkatest.Admin(t), s.input+"-profiles", partitions, nil)
	var profiles []*kgo.Record
	for i := range 30 {
		profiles = append(profiles, &kgo.Record{Topic: s.input + "-profiles", Key: fmt.Appendf(nil, "k%02d", i), Value: fmt.Appendf(nil, "p%02d", i)})
	}
	if err := kafkatest.Client(t).ProduceSync(t.Context(), profiles...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return s
}

// start starts (or restarts, with the same state directory and so the same process id)
// the copy called name.
func (s *smoke) start(name string, extra ...string) *proc {
	if s.dirs[name] == "" {
		s.dirs[name] = filepath.Join(s.t.TempDir(), name)
	}
	args := append([]string{"-brokers", s.brokers, "-app-id", s.appID, "-input", s.input,
		"-state-dir", s.dirs[name], "-guarantee", s.guarantee}, append(slices.Clone(s.extra), extra...)...)
	p := startProc(s.t, fmt.Sprintf("%s-%d", name, s.starts), s.bin, args...)
	s.starts++
	s.procs[name] = p
	s.all = append(s.all, p)
	return p
}

// generate writes n records, keys from 40, values the record's sequence number, in
// batches of per every pause. It returns when done.
func (s *smoke) generate(n, per int, pause time.Duration) {
	cl := kafkatest.Client(s.t)
	for s.gen < n {
		var recs []*kgo.Record
		for range min(per, n-s.gen) {
			recs = append(recs, &kgo.Record{Topic: s.input, Key: fmt.Appendf(nil, "k%02d", rand.IntN(40)), Value: fmt.Appendf(nil, "%d", s.gen)})
			s.gen++
		}
		if err := cl.ProduceSync(s.t.Context(), recs...).FirstErr(); err != nil {
			s.t.Errorf("generator: %v", err)
			return
		}
		time.Sleep(pause)
	}
}

// settle waits until the group has consumed the whole input and no output partition has an
// open transaction.
func (s *smoke) settle(timeout time.Duration) {
	s.t.Helper()
	adm := kafkatest.Admin(s.t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	outputs := []string{s.input + "-echo", s.input + "-sum", s.input + "-count", s.input + "-windows", s.input + "-enriched", s.input + "-paired"}
	for {
		if s.settled(ctx, adm, outputs) {
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("not settled after %s: %s", timeout, s.lag(adm, outputs))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lag describes what keeps a run from settling: committed offsets behind the ends, and
// partitions with an open transaction.
func (s *smoke) lag(adm *kadm.Client, outputs []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	internal := s.appID + "-digits-repartition"
	ends, _ := adm.ListEndOffsets(ctx, s.input, internal)
	offs, _ := adm.FetchOffsets(ctx, s.appID)
	ends.Each(func(e kadm.ListedOffset) {
		o, _ := offs.Lookup(e.Topic, e.Partition)
		if o.At < e.Offset-1 {
			fmt.Fprintf(&b, "%s/%d committed %d of %d; ", e.Topic, e.Partition, o.At, e.Offset)
		}
	})
	lsos, _ := adm.ListCommittedOffsets(ctx, append(outputs, internal)...)
	hwms, _ := adm.ListEndOffsets(ctx, append(outputs, internal)...)
	hwms.Each(func(h kadm.ListedOffset) {
		if l, _ := lsos.Lookup(h.Topic, h.Partition); l.Offset < h.Offset {
			fmt.Fprintf(&b, "%s/%d open transaction (LSO %d, end %d); ", h.Topic, h.Partition, l.Offset, h.Offset)
		}
	})
	if groups, err := adm.DescribeGroups(ctx, s.appID); err == nil {
		for _, g := range groups {
			fmt.Fprintf(&b, "group %s: %d members; ", g.State, len(g.Members))
			for _, m := range g.Members {
				if a, ok := m.Assigned.AsConsumer(); ok {
					fmt.Fprintf(&b, "%s has %v; ", m.ClientID, a.Topics)
				}
			}
		}
	}
	return b.String()
}

func (s *smoke) settled(ctx context.Context, adm *kadm.Client, outputs []string) bool {
	// The input and the internal repartition topic, whose tail holds commit markers and,
	// after a kill, aborted records.
	if ok, _, err := ends.CaughtUp(ctx, kafkatest.Bootstrap(s.t), s.appID, s.input); err != nil || !ok {
		return false
	}
	internal := s.appID + "-digits-repartition"
	lsos, err1 := adm.ListCommittedOffsets(ctx, append(outputs, internal)...)
	hwms, err2 := adm.ListEndOffsets(ctx, append(outputs, internal)...)
	if err1 != nil || err2 != nil {
		return false
	}
	done := true
	hwms.Each(func(h kadm.ListedOffset) {
		if l, ok := lsos.Lookup(h.Topic, h.Partition); !ok || l.Offset < h.Offset {
			done = false
		}
	})
	return done
}

// verify replays the input through a reference model and compares the committed outputs.
// exact demands zero duplicates and losses; otherwise only losses fail, and duplicates
// are reported.
func (s *smoke) verify(exact bool) {
	t := s.t
	t.Helper()
	input := readAll(t, s.input, kgo.ReadUncommitted())
	echo := readAll(t, s.input+"-echo", kgo.ReadCommitted())
	sums := readAll(t, s.input+"-sum", kgo.ReadCommitted())
	counts := readAll(t, s.input+"-count", kgo.ReadCommitted())
	windows := readAll(t, s.input+"-windows", kgo.ReadCommitted())

	total := 0
	var wantSums = map[string][]string{}
	var sum = map[string]int64{}
	var digits = map[string]int{}
	for _, recs := range input {
		total += len(recs)
		for _, r := range recs {
			v, _ := strconv.ParseInt(string(r.Value), 10, 64)
			sum[string(r.Key)] += v
			wantSums[string(r.Key)] = append(wantSums[string(r.Key)], strconv.FormatInt(sum[string(r.Key)], 10))
			digits[strconv.FormatInt(v%10, 10)]++
		}
	}
	if total != s.gen {
		t.Fatalf("input has %d records, the generator wrote %d", total, s.gen)
	}

	// echo: partition p is input partition p, record for record.
	dups := 0
	for p, in := range input {
		got := echo[p]
		dups += len(got) - len(in)
		if exact {
			if len(got) != len(in) {
				t.Errorf("echo partition %d has %d records, input has %d", p, len(got), len(in))
			}
			for i := range min(len(got), len(in)) {
				if string(got[i].Key) != string(in[i].Key) || string(got[i].Value) != string(in[i].Value) {
					t.Errorf("echo partition %d record %d is %s=%s, input has %s=%s", p, i, got[i].Key, got[i].Value, in[i].Key, in[i].Value)
					break
				}
			}
			continue
		}
		seen := map[string]int{}
		for _, r := range got {
			seen[string(r.Value)]++
		}
		for _, r := range in {
			if seen[string(r.Value)] == 0 {
				t.Errorf("input record %s=%s (partition %d) is missing from the echo", r.Key, r.Value, p)
			}
		}
	}

	// sum: per key, exactly the running sums.
	gotSums := valuesByKey(sums)
	for k, want := range wantSums {
		got := gotSums[k]
		if exact && !slices.Equal(got, want) {
			t.Errorf("sums of %s: %d records, want %d; first difference at %d", k, len(got), len(want), firstDiff(got, want))
		}
		// At-least-once may apply a record twice to the sum: no loss means the sums
		// reach at least the true total (values are not negative).
		if final, _ := strconv.ParseInt(want[len(want)-1], 10, 64); !exact && maxOf(got) < final {
			t.Errorf("sums of %s reach %d, below the true sum %d: input lost", k, maxOf(got), final)
		}
	}

	// count: per digit, 1, 2, … n.
	gotCounts := valuesByKey(counts)
	for d, n := range digits {
		got := gotCounts[d]
		if exact {
			for i, c := range got {
				if c != strconv.Itoa(i+1) {
					t.Errorf("counts of %s: record %d is %s, want %d", d, i, c, i+1)
					break
				}
			}
			if len(got) != n {
				t.Errorf("counts of %s: %d records, want %d", d, len(got), n)
			}
		} else if maxOf(got) < int64(n) {
			t.Errorf("counts of %s reach %d, below %d: input lost", d, maxOf(got), n)
		}
	}
	// windows: each 1 s window of each key that the partition's watermark has passed
	// (end ≤ the partition's highest timestamp) is emitted once, with the exact count;
	// none other is.
	if exact {
		s.verifyWindows(input, windows)
	}
	s.verifyJoins(input, exact)

	countDups := 0
	for d, n := range digits {
		countDups += len(gotCounts[d]) - n
	}
	t.Logf("%s: %d input records verified; extra records: %d in the echo, %d in the counts", s.guarantee, total, dups, countDups)
	if exact && (dups != 0 || countDups != 0) {
		t.Errorf("duplicates under exactly-once: %d in the echo, %d in the counts", dups, countDups)
	}
}

// valuesByKey lists the values of each key, in partition order (a key lives in one
// partition).
func valuesByKey(parts map[int32][]*kgo.Record) map[string][]string {
	out := map[string][]string{}
	for _, recs := range parts {
		for _, r := range recs {
			out[string(r.Key)] = append(out[string(r.Key)], string(r.Value))
		}
	}
	return out
}

// without is the multiset a less the multiset b.
func without(a, b []string) []string {
	n := map[string]int{}
	for _, x := range b {
		n[x]++
	}
	var out []string
	for _, x := range a {
		if n[x] > 0 {
			n[x]--
			continue
		}
		out = append(out, x)
	}
	return out
}

func firstOf(xs []string, n int) []string { return xs[:min(n, len(xs))] }

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func maxOf(xs []string) int64 {
	var m int64
	for _, x := range xs {
		n, _ := strconv.ParseInt(x, 10, 64)
		m = max(m, n)
	}
	return m
}

// chaos kills a random copy with SIGKILL every interval and restarts it shortly after,
// kills times, while the generator runs.
func (s *smoke) chaos(names []string, kills int, interval time.Duration) {
	for i := range kills {
		time.Sleep(interval)
		name := names[rand.IntN(len(names))]
		s.procs[name].kill(s.t)
		s.t.Logf("kill %d: %s", i+1, name)
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		s.start(name)
	}
}

func (s *smoke) stopAll() {
	for _, p := range s.procs {
		p.terminate(s.t)
	}
}

// runSmoke is the verification modelled on Kafka's EOS system test: three copies of the
// smoke application process a 5-partition input while copies are killed with SIGKILL at
// random moments and restarted; then the committed output is checked against the input.
func runSmoke(t *testing.T, guarantee string, exact bool, extra ...string) {
	s := newSmoke(t, guarantee, 5)
	s.extra = extra
	names := []string{"a", "b", "c"}
	for _, n := range names {
		s.start(n)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// A continuous flow (about 2,500 records/s), so every kill lands in the middle of
		// work that is processed but not yet committed.
		s.generate(30000, 50, 20*time.Millisecond)
	}()
	s.chaos(names, 10, 1200*time.Millisecond)
	wg.Wait()
	s.settle(3 * time.Minute)
	s.stopAll()
	s.verify(exact)
}

func TestExactlyOnceUnderKill9(t *testing.T) { runSmoke(t, "exactly_once", true) }

func TestAtLeastOnceUnderKill9(t *testing.T) { runSmoke(t, "at_least_once", false) }

// With a standby replica of every task, the tasks of a killed copy fail over to the copy
// that kept their state warm: the handover between a replica and its task must not lose
// or repeat anything either.
func TestExactlyOnceUnderKill9WithStandbys(t *testing.T) {
	runSmoke(t, "exactly_once", true, "-standbys", "1")
}

// A copy stopped with SIGSTOP until the group has given its tasks to another copy, then
// resumed, is fenced: none of its writes become visible to read_committed readers.
func TestFencedZombieCommitsNothing(t *testing.T) {
	s := newSmoke(t, "exactly_once", 4)
	a, _ := s.start("a"), s.start("b")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.generate(6000, 100, 200*time.Millisecond)
	}()
	// Stopped while it owns tasks, and resumed once the group has dropped it (after the
	// 6 s session timeout) and b owns every task.
	s.waitGroup(func(members map[string][]string) bool { return len(members["a"]) > 0 && len(members["b"]) > 0 })
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	s.waitGroup(func(members map[string][]string) bool { return len(members["a"]) == 0 && len(members["b"]) > 0 })
	resumed := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s.settle(2 * time.Minute)
	s.stopAll()
	s.verify(true)
	// The zombie was fenced out: after it resumed, it lost its partitions, either through a
	// refused transaction (if it had one open when stopped) or through the group telling
	// it it is no longer a member; and none of its work is in the output (checked above).
	log, err := os.ReadFile(a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	fenced := false
	for _, line := range strings.Split(string(log), "\n") {
		at, ok := logTime(line)
		if ok && !at.Before(resumed) && (strings.Contains(line, "transaction aborted") ||
			strings.Contains(line, "transaction outcome unknown") || strings.Contains(line, "partitions revoked")) {
			fenced = true
		}
	}
	if !fenced {
		t.Errorf("the resumed zombie was never fenced out; its log:\n%s", log)
	}
}

// waitGroup waits until the group is stable with an assignment that done accepts: the
// partitions assigned to each copy, by name ("topic/partition"). A copy's members are known
// by their client ids, which begin with the application id and the copy's process id.
func (s *smoke) waitGroup(done func(members map[string][]string) bool) {
	s.t.Helper()
	adm := kafkatest.Admin(s.t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var last string
	for {
		members := map[string][]string{}
		if groups, err := adm.DescribeGroups(ctx, s.appID); err == nil {
			g := groups[s.appID]
			last = fmt.Sprintf("%s with %d members", g.State, len(g.Members))
			for name, dir := range s.dirs {
				id, err := os.ReadFile(filepath.Join(dir, s.appID, "process-id"))
				if err != nil {
					continue
				}
				prefix := s.appID + "-" + strings.TrimSpace(string(id)) + "-"
				for _, m := range g.Members {
					if a, ok := m.Assigned.AsConsumer(); ok && strings.HasPrefix(m.ClientID, prefix) {
						for _, tp := range a.Topics {
							for _, p := range tp.Partitions {
								members[name] = append(members[name], fmt.Sprintf("%s/%d", tp.Topic, p))
							}
						}
					}
				}
			}
			if g.State == "Stable" && done(members) {
				return
			}
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("group %s: no such assignment after a minute; last %s: %v", s.appID, last, members)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// logTime reads the time= field of a slog text line.
func logTime(line string) (time.Time, bool) {
	f, _, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "time="), " ")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, f)
	return t, err == nil
}

// After a SIGKILL under exactly-once, the restarted copy keeps its local state: it
// restores every store kept on disk from its checkpoint, replaying only the changelog
// records written after it, never the whole changelog. The windowed join's two stores are
// kept in memory (the default): they restore in full, every time. A clean restart
// follows; the output — final windows included — stays exactly-once.
func TestKill9RestoresOnlyFromCheckpoint(t *testing.T) {
	s := newSmoke(t, "exactly_once", 2)
	logs := []string{filepath.Join(t.TempDir(), "restores-1.jsonl"), filepath.Join(t.TempDir(), "restores-2.jsonl"),
		filepath.Join(t.TempDir(), "restores-3.jsonl")}
	s.start("a", "-restore-log", logs[0])
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.generate(8000, 50, 20*time.Millisecond)
	}()
	// A clean restart in the middle, then a SIGKILL: the windows and counts must not
	// notice either.
	time.Sleep(2 * time.Second)
	s.procs["a"].terminate(t)
	s.start("a", "-restore-log", logs[1])
	time.Sleep(3 * time.Second)
	s.procs["a"].kill(t)
	s.start("a", "-restore-log", logs[2])
	wg.Wait()
	// The restarted copy gets its tasks once the group drops the killed member (the 6 s
	// session timeout); wait for its restores before stopping it.
	deadline := time.Now().Add(time.Minute)
	const restores = 12 // six stores (sum, count, windows, profiles, the join's two) × two partitions
	for len(readRestores(t, logs[2])) < restores && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	s.settle(2 * time.Minute)
	s.stopAll()
	s.verify(true)

	for i, path := range logs[1:] {
		if infos := readRestores(t, path); len(infos) != restores {
			t.Fatalf("%d restores after restart %d, want %d: %+v", len(infos), i+1, restores, infos)
		}
	}
	infos := readRestores(t, logs[2]) // after the SIGKILL
	var restored, changelog int64
	for _, i := range infos {
		inMemory := strings.HasSuffix(i.Store, "-join-store")
		if i.InMemory != inMemory {
			t.Errorf("store %s of task %s: InMemory is %v", i.Store, i.Task, i.InMemory)
		}
		switch {
		case inMemory && (!i.Wiped || i.From != 0): // a compacted changelog starts at 0
			t.Errorf("store %s of task %s (in memory) was not restored in full after a SIGKILL: %+v", i.Store, i.Task, i)
		case !inMemory && (i.Wiped || i.From == 0):
			t.Errorf("store %s of task %s was restored from scratch after a SIGKILL: %+v", i.Store, i.Task, i)
		}
		if i.Restored > i.To-i.From {
			t.Errorf("task %s store %s restored %d records from [%d, %d)", i.Task, i.Store, i.Restored, i.From, i.To)
		}
		restored += i.Restored
		changelog += i.To
	}
	t.Logf("after the SIGKILL: restored %d changelog records of %d", restored, changelog)
}

func readRestores(t *testing.T, path string) []eddy.RestoreInfo {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []eddy.RestoreInfo
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var i eddy.RestoreInfo
		if err := json.Unmarshal([]byte(line), &i); err != nil {
			t.Fatalf("restore log line %q: %v", line, err)
		}
		out = append(out, i)
	}
	return out
}

func (s *smoke) verifyWindows(input, windows map[int32][]*kgo.Record) {
	t := s.t
	want := map[string]int{}
	for _, recs := range input {
		var maxTS int64
		for _, r := range recs {
			maxTS = max(maxTS, r.Timestamp.UnixMilli())
		}
		for _, r := range recs {
			start := r.Timestamp.UnixMilli() / 1000 * 1000
			if start+1000 <= maxTS {
				want[fmt.Sprintf("%s@%d", r.Key, start)]++
			}
		}
	}
	got := map[string][]string{}
	for _, recs := range windows {
		for _, r := range recs {
			got[string(r.Key)] = append(got[string(r.Key)], string(r.Value))
		}
	}
	bad := 0
	for w, n := range want {
		if g := got[w]; len(g) != 1 || g[0] != strconv.Itoa(n) {
			if bad++; bad <= 5 {
				t.Errorf("window %s: emitted %v, want once with %d", w, g, n)
			}
		}
	}
	for w, g := range got {
		if _, ok := want[w]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("window %s emitted %v but its end was not passed", w, g)
			}
		}
	}
	t.Logf("%d final windows verified (%d wrong)", len(want), bad)
}

// verifyJoins checks the two joins against the reference: the enrichment gives each input
// record once with its key's profile (k00…k29 have one); the windowed join gives, per
// partition, exactly the results the model computes from the partition's records in
// offset order. Without exact, each expected result must be there at least once.
func (s *smoke) verifyJoins(input map[int32][]*kgo.Record, exact bool) {
	t := s.t
	check := func(name string, want, got []string) {
		slices.Sort(want)
		slices.Sort(got)
		if exact {
			if !slices.Equal(got, want) {
				t.Errorf("%s: %d records, want %d; first difference at %d; missing %v; extra %v", name, len(got), len(want),
					firstDiff(got, want), firstOf(without(want, got), 5), firstOf(without(got, want), 60))
			}
		} else {
			have := map[string]int{}
			for _, g := range got {
				have[g]++
			}
			lost := 0
			for _, w := range want {
				if have[w] == 0 {
					if lost++; lost <= 5 {
						t.Errorf("%s: %s is missing", name, w)
					}
				}
			}
		}
		t.Logf("%s: %d results verified (%d written)", name, len(want), len(got))
	}
	var wantEnriched, wantPaired []string
	for _, recs := range input {
		var sides []joinref.Record
		for _, r := range recs {
			k := string(r.Key)
			profile := "-"
			if n, _ := strconv.Atoi(k[1:]); n < 30 {
				profile = "p" + k[1:]
			}
			wantEnriched = append(wantEnriched, fmt.Sprintf("%s=%s|%s", k, r.Value, profile))
			v, _ := strconv.ParseInt(string(r.Value), 10, 64)
			sides = append(sides, joinref.Record{Left: v%2 == 0, Key: k, Value: string(r.Value), Time: r.Timestamp.UnixMilli()})
		}
		paired, _ := joinref.StreamStream(sides, joinref.Window{Before: 100, After: 100}, joinref.LeftOuter, 0, false, false)
		wantPaired = append(wantPaired, paired...)
	}
	var gotEnriched, gotPaired []string
	for _, recs := range readAll(t, s.input+"-enriched", kgo.ReadCommitted()) {
		for _, r := range recs {
			gotEnriched = append(gotEnriched, fmt.Sprintf("%s=%s", r.Key, r.Value))
		}
	}
	for _, recs := range readAll(t, s.input+"-paired", kgo.ReadCommitted()) {
		for _, r := range recs {
			gotPaired = append(gotPaired, fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp.UnixMilli()))
		}
	}
	check("enriched", wantEnriched, gotEnriched)
	check("paired", wantPaired, gotPaired)
}
