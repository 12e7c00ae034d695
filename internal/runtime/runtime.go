// Package runtime runs a topology against Kafka: it checks and creates topics, starts the
// workers (one consumer-group member and one goroutine each), and drives their tasks.
// The root package eddy is its public face; nothing here is part of the API.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
)

var errTopicExists = kerr.TopicAlreadyExists

// Config is the validated configuration of one application instance.
type Config struct {
	ApplicationID  string
	Brokers        []string
	Workers        int
	CommitInterval time.Duration
	ProcessID      string
	Logger         *slog.Logger
	ClientOpts     []kgo.Opt
	// ReplicationFactor of the internal topics; -1 takes the broker's default.
	ReplicationFactor int16
	// MaxQueuedPerPartition is the queue length at which a partition's fetching pauses.
	MaxQueuedPerPartition int
	// MaxPollRecords bounds one poll.
	MaxPollRecords int
	// ProcessBudget bounds the processing between two polls.
	ProcessBudget time.Duration
}

// Run plans the topics and runs cfg.Workers workers until ctx ends or one fails; a failure
// stops the others. It returns nil after a clean stop.
func Run(ctx context.Context, cfg *Config, g *graph.Graph) error {
	plan, err := prepare(ctx, cfg, g)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := make([]*worker, cfg.Workers)
	for i := range workers {
		w, err := newWorker(cfg, g, plan, i)
		if err != nil {
			for _, w := range workers[:i] {
				w.cl.Close()
			}
			return err
		}
		workers[i] = w
	}
	cfg.Logger.Info("running", "application", cfg.ApplicationID, "workers", cfg.Workers, "process", cfg.ProcessID)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel() // one failed worker stops the instance
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// prepare checks the topics and creates the internal ones with a short-lived admin client.
func prepare(ctx context.Context, cfg *Config, g *graph.Graph) (*topicPlan, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("eddy: admin client: %w", err)
	}
	defer cl.Close()
	actx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return planTopics(actx, kadm.NewClient(cl), cfg.ApplicationID, g, cfg.ReplicationFactor)
}
