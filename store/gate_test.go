package store

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestGate closes a gate under load: close must return only once no
// operation is inside, and nothing may enter after it.
func TestGate(t *testing.T) {
	for range 50 {
		g := newGate()
		var inside atomic.Int64
		var closed atomic.Bool
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for g.enter() {
					inside.Add(1)
					if closed.Load() {
						t.Error("entered after close returned")
					}
					inside.Add(-1)
					g.leave()
				}
			}()
		}
		if !g.close() {
			t.Fatal("first close reported the gate already closed")
		}
		closed.Store(true)
		if n := inside.Load(); n != 0 {
			t.Fatalf("close returned with %d operations inside", n)
		}
		if g.close() {
			t.Fatal("second close reported success")
		}
		wg.Wait()
	}
}
