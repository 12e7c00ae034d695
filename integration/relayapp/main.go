// Command relayapp is a minimal eddy application for process-level tests: it copies every
// record of -input to -output, appending "!" to the value. Tests start several copies,
// kill some with SIGKILL, stop others with SIGTERM, and check the output.
//
//	relayapp -brokers 127.0.0.1:9092 -app-id relay -input in -output out -state-dir /tmp/r1
//
// With -dead-letter topic it reads values as JSON {"n": <int>} and writes n×10 instead:
// values that do not decode, and orders with a negative n (on which its map panics), go
// to the dead-letter topic. -guarantee exactly_once runs it with exactly-once.
//
// It exits 0 after SIGTERM or SIGINT (a clean stop: commit, leave the group) and 1 on error.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func main() {
	// First thing: a SIGTERM that arrives while starting must still be a clean stop.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	brokers := flag.String("brokers", "", "bootstrap servers")
	appID := flag.String("app-id", "", "application id")
	input := flag.String("input", "", "input topic")
	output := flag.String("output", "", "output topic")
	stateDir := flag.String("state-dir", "", "state directory")
	session := flag.Duration("session-timeout", 6*time.Second, "consumer group session timeout")
	deadLetter := flag.String("dead-letter", "", "dead-letter topic: read JSON orders, dead-letter the bad ones")
	guarantee := flag.String("guarantee", "at_least_once", "at_least_once or exactly_once")
	flag.Parse()

	t := topology.New()
	var opts []eddy.Opt
	if *deadLetter == "" {
		in := topology.From(t, *input, serde.String(), serde.String())
		topology.To(topology.MapValues(in, func(v string) string { return v + "!" }), *output, serde.String(), serde.String())
	} else {
		type order struct {
			N int `json:"n"`
		}
		in := topology.From(t, *input, serde.String(), serde.JSON[order]())
		tens := topology.MapValues(in, func(o order) string {
			if o.N < 0 {
				panic(fmt.Sprintf("negative n %d", o.N))
			}
			return strconv.Itoa(o.N * 10)
		}, topology.Named("times-ten"))
		topology.To(tens, *output, serde.String(), serde.String())
		opts = append(opts, eddy.OnDeserializationError(eddy.DeadLetter(*deadLetter)), eddy.OnProcessingError(eddy.DeadLetter(*deadLetter)))
	}
	if *guarantee == "exactly_once" {
		opts = append(opts, eddy.ExactlyOnce())
	}
	app, err := eddy.New(t, append(opts,
		eddy.ApplicationID(*appID),
		eddy.Brokers(strings.Split(*brokers, ",")...),
		eddy.StateDir(*stateDir),
		eddy.CommitInterval(200*time.Millisecond),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		eddy.SessionTimeout(*session), eddy.HeartbeatInterval(*session/6),
	)...)
	if err == nil {
		err = app.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "relayapp:", err)
		os.Exit(1)
	}
}
