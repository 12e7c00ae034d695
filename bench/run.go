package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stopGrace is how long a child has to exit after SIGTERM before it is killed. The
// measurement is over by then; the grace only lets it leave its group politely.
const stopGrace = 5 * time.Second

// pollEvery is how often the harness checks whether a run has completed: the resolution
// of the measured duration.
const pollEvery = 20 * time.Millisecond

// Harness runs pipelines against one broker. It is not safe for concurrent use.
type Harness struct {
	cfg   Config
	out   io.Writer
	cl    *kgo.Client
	adm   *kadm.Client
	runID string
	seq   int
}

// New connects to cfg's brokers. Progress lines go to progress.
func New(cfg Config, progress io.Writer) (*Harness, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return nil, fmt.Errorf("bench: admin client: %w", err)
	}
	h := &Harness{cfg: cfg, out: progress, cl: cl, adm: kadm.NewClient(cl), runID: fmt.Sprintf("%x", time.Now().Unix()&0xffffff)}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := h.adm.BrokerMetadata(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("bench: no broker answers at %v: %w", cfg.Brokers, err)
	}
	return h, nil
}

// Close deletes whatever this harness's runs left on the broker (every topic named
// eddy-bench-<run id>-…), with a fresh client, and closes the admin client. A run's own
// cleanup sometimes sees UNKNOWN_TOPIC_OR_PARTITION for a topic its child created (an
// internal topic) though the topic exists; a new client deletes it.
func (h *Harness) Close() {
	defer h.cl.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Brokers...))
	if err != nil {
		h.logf("warning: cleanup client: %v", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := deleteTopicsWithPrefix(ctx, kadm.NewClient(cl), "eddy-bench-"+h.runID+"-"); err != nil {
		h.logf("warning: final cleanup: %v", err)
	}
}

func (h *Harness) logf(format string, args ...any) {
	fmt.Fprintf(h.out, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// BrokerVersion is franz-go's guess of the broker's Kafka version.
func (h *Harness) BrokerVersion(ctx context.Context) string {
	vs, err := h.adm.ApiVersions(ctx)
	if err != nil {
		return "unknown"
	}
	for _, v := range vs.Sorted() {
		if v.Err == nil {
			return v.VersionGuess()
		}
	}
	return "unknown"
}

// Preload creates a fresh input topic and writes n records with the given key cardinality
// and value size to it.
func (h *Harness) Preload(ctx context.Context, n, keys, size int) (Input, error) {
	h.seq++
	topic := fmt.Sprintf("eddy-bench-%s-%02d-in-%d-%d-%d", h.runID, h.seq, n, keys, size)
	start := time.Now()
	in, err := preload(ctx, &h.cfg, h.adm, topic, n, keys, size)
	if err != nil {
		h.DropInput(in)
		return in, err
	}
	h.logf("preloaded %s: %d records, %.1f MB in %.1f s", topic, n, float64(in.Bytes)/1e6, time.Since(start).Seconds())
	return in, nil
}

// PreloadTable creates a fresh table topic for the join over in, co-partitioned with it,
// and writes one record per key to it (AppendTableValue), stamped a second before in's
// first record. It returns in with the table as its side.
func (h *Harness) PreloadTable(ctx context.Context, in Input) (Input, error) {
	h.seq++
	topic := fmt.Sprintf("eddy-bench-%s-%02d-table-%d", h.runID, h.seq, in.Keys)
	start := time.Now()
	if err := preloadTable(ctx, &h.cfg, h.adm, topic, in.Keys, in.Base.Add(-tableLead)); err != nil {
		h.dropTopics(topic)
		return in, err
	}
	h.logf("preloaded %s: %d records in %.1f s", topic, in.Keys, time.Since(start).Seconds())
	in.Side = topic
	return in, nil
}

// PreloadJoinStreams creates the windowed join's two fresh topics and writes n records
// with the given key cardinality and value size to them in pairs (JoinStreamRecord).
func (h *Harness) PreloadJoinStreams(ctx context.Context, n, keys, size int) (Input, error) {
	h.seq++
	left := fmt.Sprintf("eddy-bench-%s-%02d-left-%d-%d-%d", h.runID, h.seq, n, keys, size)
	right := fmt.Sprintf("eddy-bench-%s-%02d-right-%d-%d-%d", h.runID, h.seq, n, keys, size)
	start := time.Now()
	in, err := preloadJoinStreams(ctx, &h.cfg, h.adm, left, right, n, keys, size)
	if err != nil {
		h.DropInput(in)
		return in, err
	}
	h.logf("preloaded %s and %s: %d records, %.1f MB in %.1f s; the join within %s gives %d results",
		left, right, n, float64(in.Bytes)/1e6, time.Since(start).Seconds(), h.cfg.JoinWindow, in.Pairs)
	return in, nil
}

// DropInput deletes a preloaded input's topics.
func (h *Harness) DropInput(in Input) {
	h.dropTopics(in.Topic, in.Side)
}

func (h *Harness) dropTopics(topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var prefixes []string
	for _, t := range topics {
		if t != "" {
			prefixes = append(prefixes, t)
		}
	}
	if err := deleteTopicsWithPrefix(ctx, h.adm, prefixes...); err != nil {
		h.logf("warning: %v", err)
	}
}

// inputFor preloads what pipeline p reads besides the main input in: the join's table,
// the windowed join's two topics, count-avro's input with Avro values. drop deletes what it preloaded (a failed preload has
// deleted its own).
func (h *Harness) inputFor(ctx context.Context, in Input, p Pipeline) (_ Input, drop func(), err error) {
	var j Input
	switch p {
	case Join:
		if j, err = h.PreloadTable(ctx, in); err == nil {
			return j, func() { h.dropTopics(j.Side) }, nil
		}
	case WindowedJoin:
		if j, err = h.PreloadJoinStreams(ctx, in.Records, in.Keys, in.ValueSize); err == nil {
			return j, func() { h.DropInput(j) }, nil
		}
	case CountAvro:
		h.seq++
		topic := fmt.Sprintf("eddy-bench-%s-%02d-avro-%d-%d-%d", h.runID, h.seq, in.Records, in.Keys, in.ValueSize)
		start := time.Now()
		if j, err = preloadAvro(ctx, &h.cfg, h.adm, topic, in); err == nil {
			h.logf("preloaded %s: %d Avro records, %.1f MB in %.1f s", topic, j.Records, float64(j.Bytes)/1e6, time.Since(start).Seconds())
			return j, func() { h.dropTopics(topic) }, nil
		}
		h.dropTopics(topic)
	default:
		return in, func() {}, nil
	}
	return in, func() {}, err
}

// Compare runs every configured pipeline, engine and guarantee over in, each followed by
// its latency phase.
func (h *Harness) Compare(ctx context.Context, in Input) []Result {
	// A fresh broker is a cold JVM: whichever run came first was measured against a slower
	// broker. One unmeasured raw pipe over the input warms it up.
	if w := h.Run(ctx, in, Raw, FranzGo, ALOS); w.Err == nil {
		h.logf("warm-up run done (%.0f rec/s, not reported)", w.RecPerSec())
	}
	var rs []Result
	for _, p := range h.cfg.Pipelines {
		if ctx.Err() != nil {
			break
		}
		pin, drop, err := h.inputFor(ctx, in, p)
		for _, g := range h.cfg.Guarantees {
			for _, e := range h.cfg.Engines {
				if !Runs(e, p) || ctx.Err() != nil {
					continue
				}
				if err != nil {
					rs = append(rs, Result{Pipeline: p, Engine: e, Guarantee: g, Keys: in.Keys, ValueSize: in.ValueSize, Err: err})
					continue
				}
				r := h.Run(ctx, pin, p, e, g)
				if r.Err == nil && h.cfg.LiveDuration > 0 {
					if err := h.Live(ctx, &r); err != nil {
						h.logf("%s %s %s: latency phase: %v", p, e, g, err)
					}
				}
				rs = append(rs, r)
			}
		}
		drop()
	}
	return rs
}

// Sweep runs the count-by-key pipeline (eddy and Kafka Streams, when configured) under
// guarantees over inputs of cfg.Records records at every key cardinality in keys (with the
// first value size) and every value size in sizes (with the first key cardinality). It
// has no latency phase.
func (h *Harness) Sweep(ctx context.Context, keys, sizes []int, guarantees []Guarantee) []Result {
	if len(keys) == 0 || len(sizes) == 0 {
		return nil
	}
	type point struct{ keys, size int }
	var points []point
	for _, k := range keys {
		points = append(points, point{k, sizes[0]})
	}
	for _, s := range sizes[1:] {
		points = append(points, point{keys[0], s})
	}
	var rs []Result
	for _, pt := range points {
		if ctx.Err() != nil {
			break
		}
		in, err := h.Preload(ctx, h.cfg.Records, pt.keys, pt.size)
		if err != nil {
			rs = append(rs, Result{Pipeline: Count, Engine: Eddy, Keys: pt.keys, ValueSize: pt.size, Err: err})
			continue
		}
		for _, g := range guarantees {
			for _, e := range h.cfg.Engines {
				if Runs(e, Count) && ctx.Err() == nil {
					rs = append(rs, h.Run(ctx, in, Count, e, g))
				}
			}
		}
		h.DropInput(in)
	}
	return rs
}

// name is a fresh prefix for one run's topics, group and state.
func (h *Harness) name(p Pipeline, e Engine, g Guarantee, suffix string) string {
	h.seq++
	return fmt.Sprintf("eddy-bench-%s-%02d-%s-%s-%s%s", h.runID, h.seq, p, e, g, suffix)
}

func (h *Harness) childConfig(p Pipeline, e Engine, g Guarantee, input, side, output, name string) ChildConfig {
	return ChildConfig{Engine: e, Pipeline: p, Guarantee: g, Brokers: h.cfg.Brokers, Input: input, Side: side, Output: output,
		JoinWindow: h.cfg.JoinWindow, AppID: name + "-app", Workers: h.cfg.Workers, Commit: h.cfg.CommitInterval(g),
		StateDir: filepath.Join(h.cfg.WorkDir, name), Compression: h.cfg.Compression,
		LogLevel: h.cfg.ChildLogLevel}
}

func (h *Harness) start(c ChildConfig, name string) (*proc, error) {
	argv := childArgs(h.cfg.Self, c)
	if c.Engine == KStreams {
		argv = ksArgs(&h.cfg, c, h.cfg.KSCacheBytes)
	}
	if err := os.MkdirAll(c.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: state dir: %w", err)
	}
	return startProc(argv, filepath.Join(h.cfg.WorkDir, name+".log"))
}

// cleanup deletes a run's topics (its output and its application's internal topics), its
// consumer group and its state directory.
func (h *Harness) cleanup(name string, c ChildConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An error here is retried by Close.
	_ = deleteTopicsWithPrefix(ctx, h.adm, name)
	_, _ = h.adm.DeleteGroups(ctx, c.AppID)
	_ = os.RemoveAll(c.StateDir)
}

// Run runs pipeline p on engine e under g over in, from the start of the input until all
// of it is processed, in a child process.
func (h *Harness) Run(ctx context.Context, in Input, p Pipeline, e Engine, g Guarantee) Result {
	r := Result{Pipeline: p, Engine: e, Guarantee: g, Keys: in.Keys, ValueSize: in.ValueSize,
		Records: in.Records, InBytes: in.Bytes, OutRecords: -1}
	name := h.name(p, e, g, "")
	out := name + "-out"
	c := h.childConfig(p, e, g, in.Topic, in.Side, out, name)
	defer h.cleanup(name, c)
	if err := createTopics(ctx, h.adm, h.cfg.Partitions, out); err != nil {
		r.Err = err
		return r
	}
	pr, err := h.start(c, name)
	if err != nil {
		r.Err = err
		return r
	}
	started, done, err := h.waitDone(ctx, pr, func(ctx context.Context) (bool, error) {
		return h.complete(ctx, p, g, in, out, c.AppID)
	})
	u := pr.stop(stopGrace)
	r.RSSKiB, r.CPU = u.maxRSSKiB, u.cpu
	if err != nil {
		r.Err = err
		h.logf("%s %s %s: FAILED: %v", p, e, g, err)
		return r
	}
	r.Startup, r.Elapsed = started.Sub(pr.execAt), done.Sub(started)
	if h.cfg.Verify {
		r.OutRecords, r.Check = h.verify(ctx, p, e, g, in, out)
	}
	h.logf("%-13s %-8s %-4s %9.0f rec/s %6.1f MB/s  RSS %4d MiB  CPU %5.1f s  startup %.1f s  output %d (%s)",
		p, e, g, r.RecPerSec(), r.MBPerSec(), r.RSSKiB/1024, r.CPU.Seconds(), r.Startup.Seconds(), r.OutRecords, r.Check)
	return r
}

// waitDone waits for the child's first record, then until complete reports true. It
// returns both moments; done is the time of the check that first saw completion, so the
// measured duration is late by at most one poll interval and one check's round trip.
func (h *Harness) waitDone(ctx context.Context, pr *proc, complete func(context.Context) (bool, error)) (started, done time.Time, err error) {
	deadline := time.NewTimer(h.cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return started, done, ctx.Err()
		case <-deadline.C:
			return started, done, fmt.Errorf("not complete within %s (log %s)", h.cfg.Timeout, pr.log.Name())
		case <-pr.exited:
			return started, done, pr.exitError()
		case started = <-pr.started:
		case <-tick.C:
			if started.IsZero() {
				continue
			}
			at := time.Now()
			ok, err := complete(ctx)
			if err != nil {
				h.logf("warning: completion check: %v", err) // transient; the deadline bounds it
				continue
			}
			if ok {
				return started, at, nil
			}
		}
	}
}

// complete reports whether a run has processed all of its input:
//
//   - raw pipe, stateless and the join under at-least-once: the output holds every
//     expected record (its end offsets sum to the count; nothing is transactional);
//   - those under exactly-once, windowed and the windowed join: the group has committed
//     the input's end (both topics' for the windowed join; under exactly-once the output
//     is committed in the same transaction);
//   - count: that, and the output holds at least one record per distinct key.
func (h *Harness) complete(ctx context.Context, p Pipeline, g Guarantee, in Input, out, group string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if (p == Raw || p == Stateless || p == Join) && g == ALOS {
		want := int64(in.Records)
		if p == Stateless {
			want = int64(in.Kept)
		}
		n, err := sumEnds(ctx, h.adm, out)
		return n >= want, err
	}
	ok, err := committedAtEnd(ctx, h.adm, group, in.Ends)
	if !ok || err != nil || p != Count {
		return ok, err
	}
	n, err := sumEnds(ctx, h.adm, out)
	return n >= int64(DistinctKeys(in.Records, in.Keys)), err
}

// verify reads the output back (read_committed) and checks it against the input.
func (h *Harness) verify(ctx context.Context, p Pipeline, e Engine, g Guarantee, in Input, out string) (int64, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	c := newOutputCheck(p, e, in, h.cfg.EventRate, h.cfg.JoinWindow)
	if err := readAll(ctx, h.cfg.Brokers, h.adm, out, g == EOS, 3*time.Second+h.cfg.CommitInterval(g), c.add); err != nil {
		return c.n, "read failed: " + err.Error()
	}
	return c.n, c.verdict()
}
