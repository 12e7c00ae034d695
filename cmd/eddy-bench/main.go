// Command eddy-bench is eddy's load harness: on a real Kafka broker it preloads an input
// topic and runs the same pipelines with a raw franz-go pipe (the ceiling), eddy and Apache
// Kafka Streams (the incumbent), each in its own process, and prints a markdown table of
// throughput, latency, peak RSS and CPU per record, with the ratios eddy/Kafka Streams and
// eddy/raw pipe.
//
//	make bench                                   # a broker of its own, the whole comparison and the sweep
//	KAFKA_BOOTSTRAP=host:port go run ./cmd/eddy-bench -records 100000
//	go run ./cmd/eddy-bench -brokers host:port -pipelines count -engines eddy,kstreams -guarantees eos
//	go run ./cmd/eddy-bench -brokers host:port -sweep-only
//	go run ./cmd/eddy-bench -brokers host:port -pipelines join,windowed-join -records 100000 -live 0
//
// Run it from the repository root (it builds bench/kstreams with Maven when its jar is
// stale). What each number means is printed under the table; see package bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "child" {
		err = child(ctx, os.Args[2:])
	} else {
		err = harness(ctx, os.Args[1:])
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "eddy-bench:", err)
		os.Exit(1)
	}
}

// child is the hidden subcommand the harness re-executes: one raw or eddy pipeline.
func child(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eddy-bench child", flag.ContinueOnError)
	var c bench.ChildConfig
	engine := fs.String("engine", "", "franz-go or eddy")
	pipeline := fs.String("pipeline", "", "raw, stateless, count, count-avro, windowed, join or windowed-join")
	guarantee := fs.String("guarantee", "alos", "alos or eos")
	brokers := fs.String("brokers", "", "seed brokers, comma-separated")
	fs.StringVar(&c.Input, "input", "", "input topic")
	fs.StringVar(&c.Side, "side", "", "the joins' second topic: join's table, windowed-join's right stream")
	fs.StringVar(&c.Output, "output", "", "output topic")
	fs.DurationVar(&c.JoinWindow, "join-window", 100*time.Millisecond, "windowed-join's time difference, either way")
	fs.StringVar(&c.AppID, "app", "", "application id / group")
	fs.IntVar(&c.Workers, "workers", 1, "workers")
	fs.DurationVar(&c.Commit, "commit", time.Second, "commit interval")
	fs.StringVar(&c.StateDir, "state-dir", "", "state directory")
	fs.StringVar(&c.Compression, "compression", "none", "producer compression")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelWarn, "eddy's log level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.Engine, c.Pipeline, c.Guarantee = bench.Engine(*engine), bench.Pipeline(*pipeline), bench.Guarantee(*guarantee)
	c.Brokers = strings.Split(*brokers, ",")
	// EDDY_BENCH_PROFILE=<dir> writes each child's CPU profile, its heap allocations at the
	// end and its heap when the live heap was largest to
	// <dir>/<engine>-<pipeline>-<guarantee>.{cpu,alloc,peak}.pprof.
	if dir := os.Getenv("EDDY_BENCH_PROFILE"); dir != "" {
		name := filepath.Join(dir, fmt.Sprintf("%s-%s-%s", *engine, *pipeline, *guarantee))
		f, err := os.Create(name + ".cpu.pprof")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		stopPeak := watchPeakHeap(name + ".peak.pprof")
		defer func() {
			stopPeak()
			pprof.StopCPUProfile()
			f.Close()
			if h, err := os.Create(name + ".alloc.pprof"); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(h, 0)
				h.Close()
			}
		}()
	}
	return bench.RunChild(ctx, c, os.Stdout)
}

func harness(ctx context.Context, args []string) error {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("eddy-bench", flag.ContinueOnError)
	brokers := fs.String("brokers", os.Getenv("KAFKA_BOOTSTRAP"), "seed brokers, comma-separated (default $KAFKA_BOOTSTRAP)")
	fs.IntVar(&cfg.Records, "records", cfg.Records, "input records")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "key cardinality")
	fs.IntVar(&cfg.ValueSize, "value-size", cfg.ValueSize, "value bytes (at least 10)")
	partitions := fs.Int("partitions", int(cfg.Partitions), "partitions of the input and output topics")
	fs.IntVar(&cfg.Workers, "workers", runtime.NumCPU(), "eddy workers = Kafka Streams threads = raw pipe consumers")
	pipelines := fs.String("pipelines", "all", "pipelines: raw,stateless,count,count-avro,windowed,join,windowed-join or all")
	engines := fs.String("engines", "all", "engines: franz-go,eddy,kstreams or all")
	guarantees := fs.String("guarantees", "all", "guarantees: alos,eos or all")
	fs.DurationVar(&cfg.CommitALOS, "commit-alos", cfg.CommitALOS, "commit interval under at-least-once (every engine)")
	fs.DurationVar(&cfg.CommitEOS, "commit-eos", cfg.CommitEOS, "commit interval under exactly-once (every engine)")
	fs.Int64Var(&cfg.KSCacheBytes, "ks-cache-bytes", cfg.KSCacheBytes, "Kafka Streams statestore.cache.max.bytes")
	fs.StringVar(&cfg.KSHeap, "ks-heap", cfg.KSHeap, "Kafka Streams JVM -Xmx")
	fs.StringVar(&cfg.Java, "java", cfg.Java, "java executable")
	ksDir := fs.String("kstreams-dir", "bench/kstreams", "the Kafka Streams Maven project")
	fs.StringVar(&cfg.Compression, "compression", cfg.Compression, "producer compression of every engine: none, snappy, lz4, zstd, gzip")
	fs.IntVar(&cfg.EventRate, "event-rate", cfg.EventRate, "preloaded records per second of event time")
	fs.DurationVar(&cfg.JoinWindow, "join-window", cfg.JoinWindow, "windowed-join: the join window's time difference, either way (grace 0)")
	fs.IntVar(&cfg.LiveRate, "live-rate", cfg.LiveRate, "latency phase: records per second")
	fs.DurationVar(&cfg.LiveWarmup, "live-warmup", cfg.LiveWarmup, "latency phase: warm-up after the first output")
	fs.DurationVar(&cfg.LiveDuration, "live", cfg.LiveDuration, "latency phase: measured time (0 skips latency)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "limit of one run")
	fs.BoolVar(&cfg.Verify, "verify", cfg.Verify, "read each run's output back and check it")
	fs.TextVar(&cfg.ChildLogLevel, "child-log-level", cfg.ChildLogLevel, "eddy's log level in the children's logs (kept in -work-dir)")
	fs.StringVar(&cfg.LatencyDump, "latency-dump", "", "write each latency phase's samples to <dir>/<run>.tsv")
	sweep := fs.Bool("sweep", false, "also run the growth table: count by key over key cardinalities and value sizes")
	sweepOnly := fs.Bool("sweep-only", false, "run the growth table only")
	sweepKeys := fs.String("sweep-keys", "10000,100000,1000000", "growth table: key cardinalities (with the first value size)")
	sweepValues := fs.String("sweep-values", "100,1000", "growth table: value sizes (with the first key cardinality)")
	sweepGuarantees := fs.String("sweep-guarantees", "alos", "growth table: guarantees")
	outFile := fs.String("out", "", "also write the report to this file")
	workDir := fs.String("work-dir", "", "children's state and logs (default: a temporary directory, removed unless a run failed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	var err error
	if cfg.Pipelines, err = bench.ParsePipelines(*pipelines); err != nil {
		return err
	}
	if cfg.Engines, err = bench.ParseEngines(*engines); err != nil {
		return err
	}
	if cfg.Guarantees, err = bench.ParseGuarantees(*guarantees); err != nil {
		return err
	}
	sg, err := bench.ParseGuarantees(*sweepGuarantees)
	if err != nil {
		return err
	}
	sk, err := ints(*sweepKeys)
	if err != nil {
		return fmt.Errorf("-sweep-keys: %w", err)
	}
	sv, err := ints(*sweepValues)
	if err != nil {
		return fmt.Errorf("-sweep-values: %w", err)
	}
	if *brokers != "" {
		cfg.Brokers = strings.Split(*brokers, ",")
	}
	cfg.Partitions = int32(*partitions)
	cfg.Pom = filepath.Join(*ksDir, "pom.xml")
	cfg.Jar = filepath.Join(*ksDir, "target", "eddy-bench-kstreams.jar")
	cfg.Command = command(args)
	if cfg.Self, err = os.Executable(); err != nil {
		return fmt.Errorf("finding the harness executable: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	progress := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	for _, e := range cfg.Engines {
		if e == bench.KStreams {
			if err := bench.EnsureJar(ctx, cfg.Pom, cfg.Jar, progress); err != nil {
				return err
			}
		}
	}
	keep := *workDir != ""
	if cfg.WorkDir = *workDir; cfg.WorkDir == "" {
		if cfg.WorkDir, err = os.MkdirTemp("", "eddy-bench-"); err != nil {
			return err
		}
	}
	h, err := bench.New(cfg, os.Stderr)
	if err != nil {
		return err
	}
	defer h.Close()

	began := time.Now()
	rep := &bench.Report{Title: "eddy load harness", Context: h.Context(ctx), Notes: bench.Notes()}
	if !*sweepOnly {
		in, err := h.Preload(ctx, cfg.Records, cfg.Keys, cfg.ValueSize)
		if err != nil {
			return err
		}
		rep.Results = h.Compare(ctx, in)
		h.DropInput(in)
	}
	if *sweep || *sweepOnly {
		rep.Sweep = h.Sweep(ctx, sk, sv, sg)
	}
	rep.Context = append(rep.Context, fmt.Sprintf("wall time: %s", time.Since(began).Round(time.Second)))

	var failed []string
	for _, r := range append(rep.Results, rep.Sweep...) {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("%s/%s/%s", r.Pipeline, r.Engine, r.Guarantee))
		}
	}
	if len(failed) == 0 && !keep {
		_ = os.RemoveAll(cfg.WorkDir)
	}
	w := io.Writer(os.Stdout)
	if *outFile != "" {
		f, err := os.Create(*outFile)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.MultiWriter(os.Stdout, f)
	}
	if err := rep.Render(w); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d runs failed (%s); their logs are in %s", len(failed), strings.Join(failed, ", "), cfg.WorkDir)
	}
	return nil
}

// command is the command line as the user typed it, or as bench/run names it.
func command(args []string) string {
	if c := os.Getenv("EDDY_BENCH_COMMAND"); c != "" {
		return c
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if strings.ContainsAny(a, " \t'\"$") {
			quoted[i] = strconv.Quote(a)
		}
	}
	return strings.TrimSpace("go run ./cmd/eddy-bench " + strings.Join(quoted, " "))
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, errors.New("want positive integers, comma-separated")
		}
		out = append(out, n)
	}
	return out, nil
}

// watchPeakHeap writes a heap profile to file whenever the heap's live objects, sampled
// every 100 ms, exceed the largest seen by a tenth, until stop is called.
func watchPeakHeap(file string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak+peak/10 {
				peak = v
				if h, err := os.Create(file); err == nil {
					_ = pprof.Lookup("heap").WriteTo(h, 0)
					h.Close()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
