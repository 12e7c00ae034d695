package main

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
)

// The topology in the test driver, with the orders spread over three partitions: a paid
// order comes out as its payment arrives, enriched from both tables; an unpaid one only
// once the watermark of every path to the join has passed its time plus PayWithin and
// the grace — which SetWatermark moves here without waiting for more orders.
func TestOrdersTopology(t *testing.T) {
	d := eddytest.New(t, Build(), eddytest.DefaultPartitions(3))
	s := serde.String()
	for id, c := range customers {
		if err := eddytest.Input(d, customersTopic, s, serde.JSON[Customer]()).Send(id, c, eddytest.At(epoch.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	for id, p := range products {
		if err := eddytest.Input(d, productsTopic, s, serde.JSON[Product]()).Send(id, p, eddytest.At(epoch.Add(-time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	orders := eddytest.Input(d, ordersTopic, s, serde.JSON[Order]())
	payments := eddytest.Input(d, paymentsTopic, s, serde.JSON[Payment]())
	status := eddytest.Output(d, statusTopic, s, serde.JSON[Status]())

	paid, unpaid := orderOf(0), orderOf(2) // Paid(2) is false
	for _, o := range []Order{paid, unpaid} {
		if err := orders.Send(o.ID, o, eddytest.At(epoch)); err != nil {
			t.Fatal(err)
		}
	}
	if err := payments.Send(paid.ID, Payment{Amount: 15.5}, eddytest.At(epoch.Add(3*time.Minute))); err != nil {
		t.Fatal(err)
	}
	got := status.ReadValues()
	if len(got) != 1 || got[0].Order.ID != paid.ID || !got[0].Paid || !got[0].Known ||
		got[0].Customer != customers[paid.Customer] || got[0].Total != products[paid.Product].Price*float64(paid.Quantity) {
		t.Fatalf("after the payment: %+v, want the paid order %s, enriched", got, paid.ID)
	}
	// The unpaid order's window ends PayWithin and a minute of grace after it; the
	// watermark must pass that on every input partition of the tasks on the way.
	end := epoch.Add(PayWithin + time.Minute + time.Second)
	for _, topic := range []string{ordersTopic, paymentsTopic} {
		for p := range int32(3) {
			if err := d.SetWatermark(topic, p, end); err != nil {
				t.Fatal(err)
			}
		}
	}
	got = status.ReadValues()
	if len(got) != 1 || got[0].Order.ID != unpaid.ID || got[0].Paid {
		t.Fatalf("after the window closed: %+v, want the unpaid order %s, once", got, unpaid.ID)
	}
}
