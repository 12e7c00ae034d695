// Package embedded runs a Kafka-compatible cluster inside the process, so eddy programs can
// run with nothing installed: examples use it when no brokers are given.
//
//	c, err := embedded.Start()
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	if err := c.CreateTopic(ctx, "page-views", 6); err != nil {
//		return err
//	}
//	app, err := eddy.New(t, eddy.ApplicationID("demo"), eddy.Brokers(c.Brokers()...))
//
// It is franz-go's kfake: it speaks the Kafka protocol (produce, fetch, consumer groups,
// transactions) and keeps everything in memory. It does not compact on its own and accepts
// any topic config, so it is for trying things out and for fast tests, not a substitute for
// a real broker where compaction, configs or durability matter.
package embedded

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a running in-process cluster. Its methods are safe for concurrent use.
type Cluster struct {
	c *kfake.Cluster
}

// Start starts a one-broker in-process cluster on a free port of 127.0.0.1.
func Start() (*Cluster, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("embedded: start: %w", err)
	}
	return &Cluster{c: c}, nil
}

// Brokers are the cluster's bootstrap addresses.
func (c *Cluster) Brokers() []string { return c.c.ListenAddrs() }

// CreateTopic creates a topic with the given partition count.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...))
	if err != nil {
		return fmt.Errorf("embedded: client: %w", err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("embedded: create topic %s: %w", topic, err)
	}
	return nil
}

// Close stops the cluster; its data is gone.
func (c *Cluster) Close() { c.c.Close() }
