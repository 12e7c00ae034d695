// Command eddy-failover measures a failover on a real broker: two instances of a keyed
// count share a topic whose every partition holds -keys distinct keys (so every task's
// store, and its changelog partition, holds that many), the instance running task 0_0 is
// killed with SIGKILL, and the harness times how long until the other instance processes
// the killed one's partitions again, and counts what it restored from the changelogs. It
// runs once per -standbys value: without standby replicas the survivor restores the
// changelogs in full, with one it restores what its copies had not tailed.
//
//	go run ./cmd/eddy-failover -brokers host:port                    # 1M keys per task, standbys 0 and 1
//	go run ./cmd/eddy-failover -brokers host:port -keys 100000 -standbys 1
//
// The group notices a SIGKILL only after the session timeout (-session-timeout, 6 s here;
// eddy's default is Kafka's 45 s), so the time to processing again is that plus the
// rebalance plus the restore; the table gives the restore apart.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "instance" {
		err = instance(ctx, os.Args[2:])
	} else {
		err = harness(ctx, os.Args[1:])
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "eddy-failover:", err)
		os.Exit(1)
	}
}

// event is what an instance reports on its standard output, one JSON object a line.
type event struct {
	Event string `json:"event"` // "restore" or "status"
	At    int64  `json:"at"`    // Unix milliseconds
	// restore
	Task     string `json:"task,omitempty"`
	Restored int64  `json:"restored,omitempty"`
	From     int64  `json:"from,omitempty"`
	To       int64  `json:"to,omitempty"`
	Wiped    bool   `json:"wiped,omitempty"`
	Millis   int64  `json:"ms,omitempty"`
	// status
	Running  []string         `json:"running,omitempty"`
	Replicas map[string]int64 `json:"replicas,omitempty"` // task → changelog position
}

// instance is the hidden subcommand the harness starts twice: the keyed count.
func instance(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("instance", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "seed brokers")
	appID := fs.String("app-id", "", "application id")
	in := fs.String("input", "", "input topic")
	out := fs.String("output", "", "output topic")
	dir := fs.String("state-dir", "", "state directory")
	standbys := fs.Int("standbys", 0, "standby replicas")
	session := fs.Duration("session-timeout", 6*time.Second, "group session timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(e event) {
		e.At = time.Now().UnixMilli()
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e)
	}
	t := topology.New()
	s := topology.From(t, *in, serde.String(), serde.Bytes())
	counts := topology.Count(topology.GroupByKey(s, serde.String(), serde.Bytes()), "counts")
	topology.To(counts.ToStream(), *out, serde.String(), serde.Int64())
	app, err := eddy.New(t,
		eddy.ApplicationID(*appID), eddy.Brokers(strings.Split(*brokers, ",")...), eddy.StateDir(*dir),
		eddy.StandbyReplicas(*standbys), eddy.SessionTimeout(*session), eddy.HeartbeatInterval(*session/6),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, nil))),
		eddy.OnRestore(func(ri eddy.RestoreInfo) {
			emit(event{Event: "restore", Task: ri.Task.String(), Restored: ri.Restored, From: ri.From, To: ri.To,
				Wiped: ri.Wiped, Millis: ri.Duration.Milliseconds()})
		}))
	if err != nil {
		return err
	}
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			st := app.Status()
			e := event{Event: "status", Replicas: map[string]int64{}}
			for _, ts := range st.Tasks {
				if ts.State == "running" {
					e.Running = append(e.Running, ts.ID)
				}
			}
			for _, r := range st.Replicas {
				e.Replicas[r.ID] = r.Position
			}
			emit(e)
		}
	}()
	return app.Run(ctx)
}

// proc is a running instance and what it last reported.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	last event   // the last status
	rest []event // restores
	done chan struct{}
}

func (p *proc) read(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		p.mu.Lock()
		if e.Event == "status" {
			p.last = e
		} else {
			p.rest = append(p.rest, e)
		}
		p.mu.Unlock()
	}
}

func (p *proc) status() event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *proc) restoresAfter(t time.Time) []event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []event
	for _, e := range p.rest {
		if e.At >= t.UnixMilli() {
			out = append(out, e)
		}
	}
	return out
}

// result is one failover.
type result struct {
	standbys          int
	keys              int
	detect            time.Duration // session timeout
	processing        time.Duration // kill → the killed instance's partitions processed again
	restore           time.Duration // the survivor's restore of the taken-over tasks (longest store)
	restored, changes int64         // records restored, and the changelog records of those tasks
}

func harness(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eddy-failover", flag.ContinueOnError)
	brokers := fs.String("brokers", os.Getenv("KAFKA_BOOTSTRAP"), "seed brokers (default $KAFKA_BOOTSTRAP)")
	keys := fs.Int("keys", 1_000_000, "distinct keys per partition: the size of each task's store")
	partitions := fs.Int("partitions", 2, "input partitions (tasks)")
	modes := fs.String("standbys", "0,1", "standby replica counts to measure, comma-separated")
	session := fs.Duration("session-timeout", 6*time.Second, "the instances' group session timeout")
	wait := fs.Duration("wait", 10*time.Minute, "how long the instances may take to process the input")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *brokers == "" {
		return errors.New("-brokers (or KAFKA_BOOTSTRAP) is required")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	seeds := strings.Split(*brokers, ",")
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var results []result
	for _, m := range strings.Split(*modes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(m))
		if err != nil {
			return fmt.Errorf("-standbys %q: %w", m, err)
		}
		r, err := failover(ctx, self, *brokers, cl, adm, n, *keys, int32(*partitions), *session, *wait)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	fmt.Printf("\n| standbys | keys per task | session timeout | kill → processing again | restore | restored records | of the changelog |\n")
	fmt.Printf("|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Printf("| %d | %d | %s | %.1f s | %.2f s | %d | %.3f%% |\n", r.standbys, r.keys, r.detect,
			r.processing.Seconds(), r.restore.Seconds(), r.restored, 100*float64(r.restored)/float64(max(r.changes, 1)))
	}
	return nil
}

func failover(ctx context.Context, self, brokers string, cl *kgo.Client, adm *kadm.Client, standbys, keys int, partitions int32, session, wait time.Duration) (res result, err error) {
	res = result{standbys: standbys, keys: keys, detect: session}
	appID := fmt.Sprintf("eddy-failover-%d-%d", standbys, time.Now().UnixNano())
	in, out := appID+"-in", appID+"-out"
	if _, err := adm.CreateTopics(ctx, partitions, -1, nil, in, out); err != nil {
		return res, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, in, out, appID+"-counts-changelog")
	}()
	fmt.Fprintf(os.Stderr, "standbys=%d: writing %d keys into each of %d partitions\n", standbys, keys, partitions)
	value := []byte("12345678")
	var perr error
	var pmu sync.Mutex
	for p := range partitions {
		for i := range keys {
			cl.Produce(ctx, &kgo.Record{Topic: in, Partition: p, Key: fmt.Appendf(nil, "k%d-%d", p, i), Value: value},
				func(_ *kgo.Record, err error) {
					if err != nil {
						pmu.Lock()
						perr = err
						pmu.Unlock()
					}
				})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return res, err
	}
	if perr != nil {
		return res, perr
	}

	dirs, err := os.MkdirTemp("", "eddy-failover-")
	if err != nil {
		return res, err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(dirs)
		}
	}()
	start := func(name string) (*proc, error) {
		cmd := exec.CommandContext(ctx, self, "instance", "-brokers", brokers, "-app-id", appID, "-input", in, "-output", out,
			"-state-dir", filepath.Join(dirs, name), "-standbys", strconv.Itoa(standbys), "-session-timeout", session.String())
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		logf, err := os.Create(filepath.Join(dirs, name+".log"))
		if err != nil {
			return nil, err
		}
		cmd.Stderr = logf
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
		go p.read(stdout)
		return p, nil
	}
	a, err := start("a")
	if err != nil {
		return res, err
	}
	b, err := start("b")
	if err != nil {
		return res, err
	}
	procs := []*proc{a, b}
	defer func() {
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
			<-p.done
			_ = p.cmd.Wait()
		}
	}()

	// Wait until the input is consumed (committed to its end) with both instances
	// running a task each, and every standby has tailed its task's changelog.
	fmt.Fprintf(os.Stderr, "standbys=%d: waiting for the instances to process the input\n", standbys)
	deadline := time.Now().Add(wait)
	for {
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the instances did not process the input within %s (a: %+v, b: %+v; logs in %s)",
				wait, a.status(), b.status(), dirs)
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		time.Sleep(500 * time.Millisecond)
		lags, err := adm.Lag(ctx, appID)
		if err != nil {
			continue
		}
		caughtUp, seen := true, 0
		lags.Each(func(l kadm.DescribedGroupLag) {
			for _, ml := range l.Lag.Sorted() {
				if ml.Topic == in {
					seen++
					caughtUp = caughtUp && ml.Err == nil && ml.Lag == 0
				}
			}
		})
		caughtUp = caughtUp && seen == int(partitions)
		sa, sb := a.status(), b.status()
		if !caughtUp || len(sa.Running) == 0 || len(sb.Running) == 0 {
			continue
		}
		tailed := true
		changelogEnds, err := adm.ListEndOffsets(ctx, appID+"-counts-changelog")
		if err != nil {
			continue
		}
		for _, st := range []event{sa, sb} {
			if standbys > 0 && len(st.Replicas) == 0 {
				tailed = false
			}
			for task, pos := range st.Replicas {
				p, _ := strconv.Atoi(task[strings.IndexByte(task, '_')+1:])
				if e, ok := changelogEnds.Lookup(appID+"-counts-changelog", int32(p)); !ok || pos < e.Offset {
					tailed = false
				}
			}
		}
		if tailed {
			break
		}
	}

	victim, survivor := a, b
	if !slices.Contains(a.status().Running, "0_0") {
		victim, survivor = b, a
	}
	lost := victim.status().Running
	ends, err := adm.ListEndOffsets(ctx, out)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "standbys=%d: kill -9 %s (tasks %v)\n", standbys, victim.name, lost)
	killed := time.Now()
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return res, err
	}
	// One record more for each of the killed instance's partitions: processing again means
	// its count reaches the output.
	var probes []*kgo.Record
	for _, task := range lost {
		p, _ := strconv.Atoi(task[strings.IndexByte(task, '_')+1:])
		probes = append(probes, &kgo.Record{Topic: in, Partition: int32(p), Key: fmt.Appendf(nil, "probe-%d", p), Value: value})
	}
	if err := cl.ProduceSync(ctx, probes...).FirstErr(); err != nil {
		return res, err
	}
	if res.processing, err = waitProbes(ctx, brokers, out, ends, len(probes), killed); err != nil {
		return res, err
	}
	// The survivor's restores of the tasks it took over.
	time.Sleep(200 * time.Millisecond)
	for _, e := range survivor.restoresAfter(killed) {
		if slices.Contains(lost, e.Task) {
			res.restored += e.Restored
			res.changes += e.To
			res.restore = max(res.restore, time.Duration(e.Millis)*time.Millisecond)
		}
	}
	fmt.Fprintf(os.Stderr, "standbys=%d: processing again after %s; restored %d of %d changelog records in %s\n",
		standbys, res.processing.Round(time.Millisecond), res.restored, res.changes, res.restore)
	return res, nil
}

// waitProbes reads out from ends until n records keyed "probe-…" arrived, and returns
// how long after since the last one did.
func waitProbes(ctx context.Context, brokers, out string, ends kadm.ListedOffsets, n int, since time.Time) (time.Duration, error) {
	from := map[string]map[int32]kgo.Offset{out: {}}
	ends.Each(func(o kadm.ListedOffset) { from[out][o.Partition] = kgo.NewOffset().At(o.Offset) })
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumePartitions(from))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	seen := map[string]bool{}
	for len(seen) < n {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("waiting for the killed instance's partitions to be processed again: %w", err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if strings.HasPrefix(string(r.Key), "probe-") {
				seen[string(r.Key)] = true
			}
		})
	}
	return time.Since(since), nil
}
