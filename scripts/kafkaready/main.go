// Command kafkaready waits until a Kafka broker answers a metadata request.
//
// scripts/kafka runs it after starting the broker, so that tests begin only once the
// broker is really serving: an open port is not enough (the controller may still be
// electing itself, and the first metadata answers may carry no brokers).
//
//	kafkaready -brokers 127.0.0.1:9092 -timeout 60s
//
// It exits 0 once the broker lists itself in a metadata response, 1 on timeout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	brokers := flag.String("brokers", "", "comma-separated bootstrap addresses")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for the broker")
	flag.Parse()
	if *brokers == "" {
		fmt.Fprintln(os.Stderr, "kafkaready: -brokers is required")
		os.Exit(2)
	}
	if err := wait(strings.Split(*brokers, ","), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "kafkaready:", err)
		os.Exit(1)
	}
}

// wait polls with metadata requests until one names at least one broker and the
// cluster has a controller, or the timeout passes.
func wait(brokers []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if err := ping(ctx, brokers); err == nil {
			return nil
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("broker at %s did not answer a metadata request within %s: %v",
				strings.Join(brokers, ","), timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(reqCtx, cl)
	if err != nil {
		return err
	}
	if len(resp.Brokers) == 0 || resp.ControllerID < 0 {
		return fmt.Errorf("metadata response has %d brokers, controller %d", len(resp.Brokers), resp.ControllerID)
	}
	return nil
}
