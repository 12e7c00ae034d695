package store

import "sync/atomic"

// gate admits operations until it is closed, and lets Close wait for the
// operations still in flight.
//
// It is an atomic counter rather than a sync.RWMutex so that an operation
// started inside another one (a Write from Get's fn) fails with ErrClosed
// while Close waits, instead of deadlocking behind the waiting writer as a
// nested RLock would.
type gate struct {
	// state is closedBit once closed, plus the number of operations inside.
	state atomic.Int64
	// drained receives a token when the count drops to zero after close.
	// It is buffered so that leave never blocks; a stray token from an
	// enter that failed after the drain is harmless because only the first
	// close ever waits.
	drained chan struct{}
}

const closedBit = 1 << 62

func newGate() *gate {
	return &gate{drained: make(chan struct{}, 1)}
}

// enter reports whether the gate is open; if it is, the caller must call
// leave when done.
func (g *gate) enter() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.leave()
		return false
	}
	return true
}

func (g *gate) leave() {
	if g.state.Add(-1) == closedBit {
		select {
		case g.drained <- struct{}{}:
		default:
		}
	}
}

// close shuts the gate and waits until no operation is inside. It reports
// false if the gate was already closed (and then does not wait).
func (g *gate) close() bool {
	old := g.state.Or(closedBit)
	if old&closedBit != 0 {
		return false
	}
	if old != 0 {
		<-g.drained
	}
	return true
}
