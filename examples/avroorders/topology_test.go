package main

import (
	"testing"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
)

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
