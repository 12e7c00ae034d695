package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
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
