// Command avroorders reads Avro orders from a topic backed by a Schema Registry, sums them
// per customer in a state store, and writes the totals in Avro, registering their schema.
//
//	go run ./examples/avroorders                       # in-process broker and registry
//	go run ./examples/avroorders -brokers host:9092 -registry http://registry:8081
//
// The writer half of the program plays two producers: one still on v1 of the order schema
// (an int quantity and a note), one on v2 (a long quantity, no note, a currency with a
// default). eddy's reader is v2; it reads both, fetching each writer's schema once by its
// id and resolving it into v2 (v1 orders get the currency's default). It prints each total
// as it changes and stops after -orders orders have been summed.
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
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

const (
	ordersTopic = "avro-orders"
	totalsTopic = "avro-order-totals"
)

// OrderV1 is the first version of the order schema, still written by an old producer.
type OrderV1 struct {
	Customer string `avro:"customer"`
	Qty      int32  `avro:"qty"`
	Cents    int64  `avro:"cents"`
	Note     string `avro:"note"`
}

// Order is the current version, the one eddy reads.
type Order struct {
	Customer string `avro:"customer"`
	Qty      int64  `avro:"qty"`
	Cents    int64  `avro:"cents"`
	Currency string `avro:"currency"`
}

// Total is a customer's running total.
type Total struct {
	Orders int64 `avro:"orders"`
	Qty    int64 `avro:"qty"`
	Cents  int64 `avro:"cents"`
}

const (
	orderV1Schema = `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[
 {"name":"customer","type":"string"},{"name":"qty","type":"int"},{"name":"cents","type":"long"},
 {"name":"note","type":"string","default":""}]}`
	orderSchema = `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[
 {"name":"customer","type":"string"},{"name":"qty","type":"long"},{"name":"cents","type":"long"},
 {"name":"currency","type":"string","default":"EUR"}]}`
)

// Build returns the topology: orders in, totals per customer out, both in Avro.
func Build(orders serde.Serde[Order], totals serde.Serde[Total]) *topology.Topology {
	t := topology.New()
	in := topology.From(t, ordersTopic, serde.String(), orders)
	sums := topology.Aggregate(topology.GroupByKey(in, serde.String(), orders),
		func() Total { return Total{} },
		func(_ string, o Order, t Total) Total {
			return Total{Orders: t.Orders + 1, Qty: t.Qty + o.Qty, Cents: t.Cents + o.Cents}
		}, totals, "order-totals")
	topology.To(sums.ToStream(), totalsTopic, serde.String(), totals)
	return t
}

func main() {
	brokers := flag.String("brokers", os.Getenv("KAFKA_BOOTSTRAP"), "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP, else an in-process broker)")
	registry := flag.String("registry", os.Getenv("EDDY_REGISTRY_URL"), "Schema Registry URL (default: $EDDY_REGISTRY_URL, else an in-process fake registry)")
	orders := flag.Int("orders", 20, "how many orders to write and sum")
	stateDir := flag.String("state-dir", filepath.Join(os.TempDir(), "eddy-avroorders"), "directory for local state")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *brokers, *registry, *stateDir, *orders, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "avroorders:", err)
		os.Exit(1)
	}
}

// run writes n orders, runs the app until their totals are out, and prints them.
func run(ctx context.Context, brokerList, registryURL, stateDir string, n int, out io.Writer) error {
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
	if registryURL == "" {
		fake := srfake.New()
		defer fake.Close()
		registryURL = fake.URL()
		fmt.Fprintf(out, "no registry given: running on an in-process registry at %s\n", registryURL)
	}
	reg, err := serde.NewRegistry(serde.RegistryURLs(registryURL))
	if err != nil {
		return err
	}
	// The producers register their schemas; so does eddy for its totals (the store's
	// changelog subject and the output topic's).
	v1, err := serde.AvroConfluent[OrderV1](reg, serde.AvroSchema(orderV1Schema), serde.AutoRegister())
	if err != nil {
		return err
	}
	v2, err := serde.AvroConfluent[Order](reg, serde.AvroSchema(orderSchema), serde.AutoRegister())
	if err != nil {
		return err
	}
	totals, err := serde.AvroConfluent[Total](reg, serde.AvroNamespace("com.example.shop"), serde.AutoRegister())
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := createTopics(ctx, cl); err != nil {
		return err
	}
	if err := writeOrders(ctx, cl, n, serde.ForTopic(v1, ordersTopic, false), serde.ForTopic(v2, ordersTopic, false)); err != nil {
		return err
	}
	app, err := eddy.New(Build(v2, totals),
		eddy.ApplicationID("avroorders-example"),
		eddy.Brokers(brokers...),
		eddy.StateDir(stateDir),
		eddy.CommitInterval(200*time.Millisecond),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	printErr := printTotals(ctx, brokers, n, serde.ForTopic(totals, totalsTopic, false), out)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return printErr
}

func createTopics(ctx context.Context, cl *kgo.Client) error {
	resps, err := kadm.NewClient(cl).CreateTopics(ctx, 2, -1, nil, ordersTopic, totalsTopic)
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

// writeOrders writes n orders of three customers, the first half with v1 of the schema.
func writeOrders(ctx context.Context, cl *kgo.Client, n int, v1 serde.Serde[OrderV1], v2 serde.Serde[Order]) error {
	for i := range n {
		customer := fmt.Sprintf("customer-%d", i%3)
		var value []byte
		var err error
		if i < n/2 {
			value, err = v1.AppendEncode(nil, OrderV1{Customer: customer, Qty: int32(1 + i%5), Cents: int64(1000 + 10*i), Note: "v1 producer"})
		} else {
			value, err = v2.AppendEncode(nil, Order{Customer: customer, Qty: int64(1 + i%5), Cents: int64(1000 + 10*i), Currency: "EUR"})
		}
		if err != nil {
			return err
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: ordersTopic, Key: []byte(customer), Value: value}).FirstErr(); err != nil {
			return err
		}
	}
	return nil
}

// printTotals prints the totals as they change until they account for all n orders.
func printTotals(ctx context.Context, brokers []string, n int, totals serde.Serde[Total], out io.Writer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(totalsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	last := map[string]Total{}
	for {
		var sum int64
		for _, t := range last {
			sum += t.Orders
		}
		if sum >= int64(n) {
			return nil
		}
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachRecord(func(r *kgo.Record) {
			t, err := totals.Decode(r.Value)
			if err != nil {
				ferr = fmt.Errorf("total in %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			last[string(r.Key)] = t
			fmt.Fprintf(out, "%-12s orders=%d qty=%d cents=%d\n", r.Key, t.Orders, t.Qty, t.Cents)
		})
		if ferr != nil {
			return ferr
		}
	}
}
