// Command orders is eddy's join example: orders enriched from a customers table and a
// products global table, then joined with their payments within 10 minutes of event time,
// printed once per order — paid, or not paid once the 10 minutes have passed.
//
//	go run ./examples/orders                  # in-process broker, generated data, until Ctrl-C
//	go run ./examples/orders -brokers host:9092
//
// The generator writes five customers to "customers" and four products to "products"
// first, then an order every 100 ms to "orders" (keyed by order id), its event time one
// minute after the previous one's, and to "payments" (keyed by order id) a payment for
// two orders in three, one to eight minutes of event time after the order. The topology:
//
//  1. orders re-keyed by customer (a repartition) and left-joined with the customers table
//     (a stream-table join: both co-partitioned by customer id);
//  2. left-joined with the products global table by the order's product id (a broadcast:
//     every instance holds every product, so no repartition);
//  3. re-keyed by order id (a repartition) and left-joined with the payments stream within
//     10 minutes (a windowed stream-stream join): an order with a payment gives one result
//     as the payment arrives; one without gives one once the watermark has passed its
//     time plus 10 minutes, never earlier.
//
// Results go to "order-status", which the printer reads.
package main

import (
	"context"
	"encoding/json"
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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

const (
	customersTopic = "customers"
	productsTopic  = "products"
	ordersTopic    = "orders"
	paymentsTopic  = "payments"
	statusTopic    = "order-status"
)

// PayWithin is how long after an order its payment may come.
const PayWithin = 10 * time.Minute

// Customer is a row of the customers table, keyed by customer id.
type Customer struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

// Product is a row of the products global table, keyed by product id.
type Product struct {
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// Order is an order, keyed by order id; its record's time is when it was placed.
type Order struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Product  string `json:"product"`
	Quantity int    `json:"quantity"`
}

// Payment is a payment of an order, keyed by order id.
type Payment struct {
	Amount float64 `json:"amount"`
}

// Enriched is an order with its customer and product.
type Enriched struct {
	Order    Order    `json:"order"`
	Customer Customer `json:"customer"`
	Known    bool     `json:"known"` // the customers table had the customer
	Product  Product  `json:"product"`
	Total    float64  `json:"total"`
}

// Status is an order's result: enriched, with its payment if one came in time. Its
// record's time is the payment's for a paid order, the order's for one not paid.
type Status struct {
	Enriched
	Paid   bool    `json:"paid"`
	Amount float64 `json:"amount"`
}

// Build returns the example's topology.
func Build() *topology.Topology {
	t := topology.New()
	s := serde.String()
	customers := topology.TableFrom(t, customersTopic, s, serde.JSON[Customer](), "customers")
	products := topology.GlobalTableFrom(t, productsTopic, s, serde.JSON[Product](), "products")
	orders := topology.From(t, ordersTopic, s, serde.JSON[Order]())

	byCustomer := topology.SelectKey(orders, func(_ string, o Order) string { return o.Customer }, topology.Named("by-customer"))
	withCustomer := topology.LeftJoinTable(byCustomer, customers, s, serde.JSON[Order](),
		func(_ string, o Order, c Customer, found bool) Enriched {
			return Enriched{Order: o, Customer: c, Known: found}
		}, topology.Named("with-customer"))
	withProduct := topology.LeftJoinGlobal(withCustomer, products, func(_ string, e Enriched) string { return e.Order.Product },
		func(_ string, e Enriched, p Product, found bool) Enriched {
			if found {
				e.Product, e.Total = p, p.Price*float64(e.Order.Quantity)
			}
			return e
		}, topology.Named("with-product"))
	byOrder := topology.SelectKey(withProduct, func(_ string, e Enriched) string { return e.Order.ID }, topology.Named("by-order"))
	payments := topology.From(t, paymentsTopic, s, serde.JSON[Payment]())
	status := topology.LeftJoinStreams(byOrder, payments, topology.JoinWindowsOf(0).After(PayWithin).Grace(time.Minute),
		s, serde.JSON[Enriched](), serde.JSON[Payment](),
		func(_ string, e Enriched, p Payment, paid bool) Status {
			return Status{Enriched: e, Paid: paid, Amount: p.Amount}
		}, topology.Named("paid"))
	topology.To(status, statusTopic, s, serde.JSON[Status]())
	return t
}

func main() {
	brokers := flag.String("brokers", os.Getenv("KAFKA_BOOTSTRAP"), "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP, else an in-process broker)")
	duration := flag.Duration("duration", 0, "stop after this long (default: run until Ctrl-C)")
	stateDir := flag.String("state-dir", filepath.Join(os.TempDir(), "eddy-orders"), "directory for local state; each copy running on one machine needs its own")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := run(ctx, *brokers, *stateDir, 0, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "orders:", err)
		os.Exit(1)
	}
}

// run sets up the topics, then runs the generator (n orders, or without end when n is 0),
// the app and the printer until ctx ends.
func run(ctx context.Context, brokerList, stateDir string, n int, out io.Writer) error {
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
		eddy.ApplicationID("orders-example"),
		eddy.Brokers(brokers...),
		eddy.StateDir(stateDir),
		eddy.CommitInterval(time.Second),
		eddy.Logger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
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
		func(ctx context.Context) error { return generate(ctx, brokers, n) },
		func(ctx context.Context) error { return printStatus(ctx, brokers, out) },
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
	adm := kadm.NewClient(cl)
	// The customers table is co-partitioned with the orders re-keyed by customer (eddy
	// sizes that repartition topic like the table); products, a global table, needs no
	// partition count of any kind.
	for topic, partitions := range map[string]int32{customersTopic: 3, productsTopic: 2, ordersTopic: 3, paymentsTopic: 3, statusTopic: 3} {
		resps, err := adm.CreateTopics(ctx, partitions, -1, nil, topic)
		if err != nil {
			return fmt.Errorf("creating topics: %w", err)
		}
		for _, r := range resps.Sorted() {
			if r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS") {
				return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	return nil
}

// The generator's reference data.
var (
	customers = map[string]Customer{
		"c1": {"Ada", "gold"}, "c2": {"Brian", "silver"}, "c3": {"Chen", "gold"}, "c4": {"Dana", "bronze"}, "c5": {"Emeka", "silver"},
	}
	products = map[string]Product{
		"p1": {"espresso beans", 15.5}, "p2": {"grinder", 89}, "p3": {"kettle", 42}, "p4": {"filters", 3.25},
	}
)

// epoch is the event time of the generator's first order.
var epoch = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// Paid says whether the generator pays order i, and how long after it.
func Paid(i int) (time.Duration, bool) { return time.Duration(i%8+1) * time.Minute, i%3 != 2 }

// orderOf is the generator's order i.
func orderOf(i int) Order {
	return Order{ID: fmt.Sprintf("o-%04d", i), Customer: fmt.Sprintf("c%d", i%5+1), Product: fmt.Sprintf("p%d", i%4+1), Quantity: i%3 + 1}
}

// generate writes the tables, then n orders (without end when n is 0) with their
// payments, each record stamped with its event time, in event-time order, then the
// payments still due.
func generate(ctx context.Context, brokers []string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	at := epoch.Add(-time.Hour)
	var recs []*kgo.Record
	for id, c := range customers {
		recs = append(recs, jsonRecord(customersTopic, id, c, at))
	}
	for id, p := range products {
		recs = append(recs, jsonRecord(productsTopic, id, p, at))
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	type pending struct {
		at  time.Time
		rec *kgo.Record
	}
	var due []pending // payments not yet written, in time order
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; n == 0 || i < n; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		o := orderOf(i)
		now := epoch.Add(time.Duration(i) * time.Minute)
		recs = recs[:0]
		for len(due) > 0 && !due[0].at.After(now) {
			recs = append(recs, due[0].rec)
			due = due[1:]
		}
		recs = append(recs, jsonRecord(ordersTopic, o.ID, o, now))
		if after, ok := Paid(i); ok {
			p := Payment{Amount: products[o.Product].Price * float64(o.Quantity)}
			pt := now.Add(after)
			j := len(due)
			for j > 0 && due[j-1].at.After(pt) {
				j--
			}
			due = append(due[:j], append([]pending{{pt, jsonRecord(paymentsTopic, o.ID, p, pt)}}, due[j:]...)...)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return err
		}
	}
	// After the last order, the payments still due (a stream's time moves only with its
	// records: without them, the last orders' 10 minutes would never pass).
	recs = recs[:0]
	for _, d := range due {
		recs = append(recs, d.rec)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func jsonRecord(topic, key string, v any, at time.Time) *kgo.Record {
	b, _ := json.Marshal(v) // the generator's own types: they always encode
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: b, Timestamp: at}
}

// printStatus prints each order's result as it comes.
func printStatus(ctx context.Context, brokers []string, out io.Writer) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(statusTopic),
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
			var s Status
			if err := json.Unmarshal(r.Value, &s); err != nil {
				fmt.Fprintf(out, "undecodable status in %s/%d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
				return
			}
			fmt.Fprintln(out, describe(s, r.Timestamp))
		})
	}
}

// describe is an order's line: id, customer, what was bought and whether it was paid.
func describe(s Status, at time.Time) string {
	who := s.Customer.Name + " (" + s.Customer.Tier + ")"
	if !s.Known {
		who = s.Order.Customer + " (unknown customer)"
	}
	line := fmt.Sprintf("%s  %-16s %d × %-15s %7.2f  ", s.Order.ID, who, s.Order.Quantity, s.Product.Name, s.Total)
	if s.Paid {
		return line + fmt.Sprintf("paid %.2f at %s", s.Amount, at.UTC().Format("15:04"))
	}
	return line + fmt.Sprintf("NOT PAID within %s", PayWithin)
}
