// Command wordcount is eddy's main example: it counts words in a stream of lines, keeping
// the counts in a state store backed by a compacted changelog topic, and prints each count
// as it changes.
//
//	go run ./examples/wordcount                  # in-process broker, built-in text, until Ctrl-C
//	go run ./examples/wordcount -stdin < book.txt
//	go run ./examples/wordcount -brokers host:9092
//	go run ./examples/wordcount -http :8080        # and /metrics, /healthz, /readyz, /status on :8080
//
// Lines go to "text-lines"; the topology splits them into words, re-keys by word (through a
// repartition topic, so each word is counted by one task), counts, and writes every new
// count to "word-counts". Stop it with Ctrl-C: it commits and exits cleanly; started again
// against the same brokers and state directory, it carries on from its counts.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

const (
	linesTopic  = "text-lines"
	countsTopic = "word-counts"
)

// Build returns the word-count topology.
func Build() *topology.Topology { return BuildOn(linesTopic, countsTopic) }

// BuildOn is the topology reading lines from one topic and writing counts to another:
// tests on a shared broker give it topics of their own.
func BuildOn(linesTopic, countsTopic string) *topology.Topology {
	t := topology.New()
	lines := topology.From(t, linesTopic, serde.String(), serde.String())
	words := topology.FlatMapValues(lines, splitWords, topology.Named("split-words"))
	byWord := topology.GroupBy(words, func(_, w string) string { return w }, serde.String(), serde.String(), topology.Named("by-word"))
	counts := topology.Count(byWord, "word-counts")
	topology.To(counts.ToStream(), countsTopic, serde.String(), serde.Int64())
	return t
}

// splitWords lower-cases a line and splits it into words of letters and digits.
func splitWords(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

func main() {
	brokers := flag.String("brokers", os.Getenv("KAFKA_BOOTSTRAP"), "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP, else an in-process broker)")
	stdin := flag.Bool("stdin", false, "read lines from standard input instead of the built-in text")
	duration := flag.Duration("duration", 0, "stop after this long (default: run until Ctrl-C)")
	stateDir := flag.String("state-dir", filepath.Join(os.TempDir(), "eddy-wordcount"), "directory for local state; each copy running on one machine needs its own")
	httpAddr := flag.String("http", "", "serve the status page and endpoints (/, /metrics, /healthz, /readyz, /status) on this address, e.g. :8080")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	var src io.Reader
	if *stdin {
		src = os.Stdin
	}
	if err := run(ctx, *brokers, *stateDir, *httpAddr, src, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
		os.Exit(1)
	}
}

// run sets up the topics, then runs the line writer, the app and the printer until ctx
// ends. Lines come from src, or from the built-in text when src is nil.
func run(ctx context.Context, brokerList, stateDir, httpAddr string, src io.Reader, out io.Writer) error {
	var brokers []string
	if brokerList == "" {
		c, err := embedded.Start()
		if err != nil {
			return err
		}
		defer c.Close()
		brokers = c.Brokers()
		fmt.Fprintf(out, "no brokers given: running on an in-process broker at %s\n", brokers[0])
	} else {
		brokers = strings.Split(brokerList, ",")
	}
	if err := createTopics(ctx, brokers); err != nil {
		return err
	}
	app, err := eddy.New(Build(),
		eddy.ApplicationID("wordcount-example"),
		eddy.Brokers(brokers...),
		eddy.StateDir(stateDir),
		eddy.CommitInterval(time.Second),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		eddy.ServeHTTP(httpAddr),
	)
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, f := range []func(context.Context) error{
		app.Run,
		func(ctx context.Context) error { return writeLines(ctx, brokers, src) },
		func(ctx context.Context) error { return printCounts(ctx, brokers, out) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func createTopics(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).CreateTopics(ctx, 3, -1, nil, linesTopic, countsTopic)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// text is the built-in input, written out again and again, a line every 200 ms.
var text = []string{
	"It was the best of streams, it was the worst of streams",
	"a record arrives late and the window is already closed",
	"the watermark moves on, the window closes, the count is final",
	"a partition idles and the watermark waits for it",
	"state lives in a local store and in a compacted changelog",
	"when a task moves the new owner restores the store before it counts",
}

func writeLines(ctx context.Context, brokers []string, src io.Reader) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(linesTopic))
	if err != nil {
		return err
	}
	defer cl.Close()
	if src != nil {
		sc := bufio.NewScanner(src)
		for sc.Scan() {
			if err := cl.ProduceSync(ctx, kgo.StringRecord(sc.Text())).FirstErr(); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			cl.Produce(ctx, kgo.StringRecord(text[i%len(text)]), nil)
		}
	}
}

func printCounts(ctx context.Context, brokers []string, out io.Writer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(countsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachRecord(func(r *kgo.Record) {
			n, err := serde.Int64().Decode(r.Value)
			if err != nil {
				fmt.Fprintf(out, "undecodable count in %s/%d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
				return
			}
			fmt.Fprintf(out, "%-12s %d\n", r.Key, n)
		})
	}
}
