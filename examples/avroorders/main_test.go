package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
)

// The example on the embedded broker and the in-process registry: each customer's last
// printed total is the sum of its orders, v1 and v2 alike.
func TestAvroOrdersExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	const n = 12
	if err := run(ctx, "", "", t.TempDir(), n, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := map[string]Total{}
	for i := range n {
		c := fmt.Sprintf("customer-%d", i%3)
		w := want[c]
		w.Orders++
		w.Qty += int64(1 + i%5)
		w.Cents += int64(1000 + 10*i)
		want[c] = w
	}
	last := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 4 && strings.HasPrefix(f[0], "customer-") {
			last[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for c, w := range want {
		if got, exp := last[c], fmt.Sprintf("orders=%d qty=%d cents=%d", w.Orders, w.Qty, w.Cents); got != exp {
			t.Errorf("%s: last total %q, want %q\n%s", c, got, exp, out.String())
		}
	}
}

// The topology in the test driver, with plain Avro (no registry: the driver has none):
// the running total per customer, and the same totals in the aggregation's store.
func TestAvroOrdersTopology(t *testing.T) {
	orders, err := serde.Avro[Order](serde.AvroSchema(orderSchema))
	if err != nil {
		t.Fatal(err)
	}
	totals, err := serde.Avro[Total]()
	if err != nil {
		t.Fatal(err)
	}
	d := eddytest.New(t, Build(orders, totals), eddytest.Partitions(ordersTopic, 2))
	in := eddytest.Input(d, ordersTopic, serde.String(), orders)
	for _, o := range []Order{{"ada", 1, 500, "EUR"}, {"bo", 2, 300, "EUR"}, {"ada", 3, 250, "EUR"}} {
		if err := in.Send(o.Customer, o); err != nil {
			t.Fatal(err)
		}
	}
	latest := map[string]Total{}
	for _, kv := range eddytest.Output(d, totalsTopic, serde.String(), totals).Latest() {
		latest[kv.Key] = kv.Value
	}
	if want := (Total{Orders: 2, Qty: 4, Cents: 750}); latest["ada"] != want {
		t.Fatalf("ada's total %+v, want %+v", latest["ada"], want)
	}
	got, found, err := eddytest.Store(d, "order-totals", serde.String(), totals).Get("bo")
	if err != nil || !found || got != (Total{Orders: 1, Qty: 2, Cents: 300}) {
		t.Fatalf("store: bo = %+v (found %v, err %v)", got, found, err)
	}
}
