package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The example on the embedded broker: of 40 generated orders, the first 20 are each
// printed once (their 10 minutes and the minute of grace have passed in event time on
// every partition by the end: an order partition's last order may be the 34th), enriched with
// their customer and product, paid with the right amount if the generator paid them and
// "NOT PAID" otherwise.
func TestOrdersExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, "", t.TempDir(), 40, &out) }()
	lineOf := func(text string, i int) []string {
		var found []string
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, fmt.Sprintf("o-%04d ", i)) {
				found = append(found, l)
			}
		}
		return found
	}
	// A paid order prints as its payment arrives; one not paid when the watermark has
	// passed its time plus 10 minutes and a minute of grace, which takes a few more
	// orders' event time (and the markers that carry the watermark across the two
	// repartition topics).
	all := func() bool {
		for i := range 20 {
			if len(lineOf(out.String(), i)) == 0 {
				return false
			}
		}
		return true
	}
	for ctx.Err() == nil && !all() {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // anything printed twice would show by now
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	text := out.String()
	for i := range 20 {
		lines := lineOf(text, i)
		if len(lines) != 1 {
			t.Errorf("order %d printed %d times: %q", i, len(lines), lines)
			continue
		}
		o := orderOf(i)
		c, p := customers[o.Customer], products[o.Product]
		total := p.Price * float64(o.Quantity)
		want := fmt.Sprintf("%s (%s)", c.Name, c.Tier)
		if !strings.Contains(lines[0], want) || !strings.Contains(lines[0], p.Name) || !strings.Contains(lines[0], fmt.Sprintf("%.2f", total)) {
			t.Errorf("order %d: %q lacks %q, %q or %.2f", i, lines[0], want, p.Name, total)
		}
		after, paid := Paid(i)
		if paid {
			at := epoch.Add(time.Duration(i)*time.Minute + after).Format("15:04")
			if !strings.Contains(lines[0], fmt.Sprintf("paid %.2f at %s", total, at)) {
				t.Errorf("order %d: %q, want paid %.2f at %s", i, lines[0], total, at)
			}
		} else if !strings.Contains(lines[0], "NOT PAID") {
			t.Errorf("order %d: %q, want NOT PAID", i, lines[0])
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}

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
