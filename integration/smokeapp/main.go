// Command smokeapp is the application eddy's exactly-once verification drives, after Kafka's
// own EOS system test. Any verifier can use it through this contract:
//
//	smokeapp -brokers host:port -app-id ID -input TOPIC -state-dir DIR -guarantee exactly_once|at_least_once
//
// Input: key = string, value = a decimal integer as a string. Outputs (created with the
// input's partition count when missing):
//
//   - <input>-echo: every input record unchanged (same key and value, so the same
//     partition under Kafka's default partitioner);
//   - <input>-sum: per key, the running sum after each record (decimal), keyed by the key;
//   - <input>-count: records re-keyed by value mod 10 (a repartition), then counted; one
//     record per input record: key = the new key, value = its running count (decimal);
//   - <input>-windows: per key, the number of records in each 1 s tumbling window of their
//     timestamps, once per window when the watermark passes its end: key = "<key>@<start
//     ms>", value = the count (decimal);
//   - <input>-enriched: every input record joined with its key's latest value in the table
//     <input>-profiles (which the application reads, and creates empty when missing):
//     value = "<value>|<profile>", or "<value>|-" for a key without one;
//   - <input>-paired: every record with an even value joined with each record of its key
//     with an odd value at most 100 ms away (a left join within windows, by the
//     partition's watermark, no grace): value = "<even>|<odd>", stamped with the later
//     time, or "<even>|-" once its window has closed without a match.
//
// It runs until SIGTERM or SIGINT (a clean stop: commit, leave the group; exit 0) or
// SIGKILL. -restore-log appends one JSON line per finished store restore.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/integration/smoke"
)

func main() {
	// First thing: a SIGTERM that arrives while starting must still be a clean stop.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	brokers := flag.String("brokers", "", "bootstrap servers")
	appID := flag.String("app-id", "", "application id")
	input := flag.String("input", "", "input topic")
	stateDir := flag.String("state-dir", "", "state directory")
	guarantee := flag.String("guarantee", "exactly_once", "exactly_once or at_least_once")
	session := flag.Duration("session-timeout", 6*time.Second, "consumer group session timeout")
	restoreLog := flag.String("restore-log", "", "append a JSON line per finished restore to this file")
	standbys := flag.Int("standbys", 0, "standby replicas per task (eddy.StandbyReplicas)")
	flag.Parse()

	if err := run(ctx, *brokers, *appID, *input, *stateDir, *guarantee, *session, *restoreLog, *standbys); err != nil {
		fmt.Fprintln(os.Stderr, "smokeapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers, appID, input, stateDir, guarantee string, session time.Duration, restoreLog string, standbys int) error {
	seeds := strings.Split(brokers, ",")
	if err := createOutputs(ctx, seeds, input); err != nil {
		return err
	}
	opts := []eddy.Opt{
		eddy.ApplicationID(appID),
		eddy.Brokers(seeds...),
		eddy.StateDir(stateDir),
		eddy.LowMemoryState(),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))),
		eddy.SessionTimeout(session), eddy.HeartbeatInterval(session / 6),
		eddy.StandbyReplicas(standbys),
	}
	if level := os.Getenv("EDDY_SMOKE_KGO_LOG"); level != "" { // franz-go's own log, when debugging a run
		l := kgo.LogLevelInfo
		if level == "debug" {
			l = kgo.LogLevelDebug
		}
		opts = append(opts, eddy.ClientOpts(kgo.WithLogger(kgo.BasicLogger(os.Stderr, l, nil))))
	}
	switch guarantee {
	case "exactly_once":
		opts = append(opts, eddy.ExactlyOnce())
	case "at_least_once":
		opts = append(opts, eddy.CommitInterval(200*time.Millisecond))
	default:
		return fmt.Errorf("-guarantee %q: want exactly_once or at_least_once", guarantee)
	}
	if restoreLog != "" {
		f, err := os.OpenFile(restoreLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		var mu sync.Mutex
		enc := json.NewEncoder(f)
		opts = append(opts, eddy.OnRestore(func(i eddy.RestoreInfo) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(i)
		}))
	}
	app, err := eddy.New(smoke.Build(input), opts...)
	if err != nil {
		return err
	}
	return app.Run(ctx)
}

// createOutputs creates the output topics with the input's partition count if missing.
func createOutputs(ctx context.Context, brokers []string, input string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, input)
	if err != nil {
		return err
	}
	d, ok := details[input]
	if !ok || d.Err != nil {
		return fmt.Errorf("input topic %s: missing", input)
	}
	var topics []string
	for _, o := range smoke.Outputs {
		topics = append(topics, input+o)
	}
	resps, err := adm.CreateTopics(ctx, int32(len(d.Partitions)), -1, nil, topics...)
	if err != nil {
		return err
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("creating %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
