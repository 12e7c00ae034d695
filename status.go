package eddy

import (
	"sync"

	"github.com/eddy-streams/eddy/internal/runtime"
)

// State is where an App is in its life, as Kafka Streams' KafkaStreams.State.
type State int

// The states, in the order an App goes through them. Running and Rebalancing alternate
// while it runs; Restoring comes back when it is given tasks whose stores must restore.
const (
	// Created: made by New, Run not called.
	Created State = iota
	// Restoring: starting (checking topics, reading global tables) or restoring the
	// stores of tasks it was given; those tasks process nothing yet.
	Restoring
	// Rebalancing: a worker is joining the group or waits for its assignment.
	Rebalancing
	// Running: every assigned task restored and processing.
	Running
	// Stopping: Run's context ended (or Close was called); final commits under way.
	Stopping
	// Stopped: Run returned nil, or Close was called on an App that never ran.
	Stopped
	// Failed: Run returned an error.
	Failed
)

func (s State) String() string {
	switch s {
	case Created:
		return "created"
	case Restoring:
		return "restoring"
	case Rebalancing:
		return "rebalancing"
	case Running:
		return "running"
	case Stopping:
		return "stopping"
	case Stopped:
		return "stopped"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// OnStateChange calls f at each change of the App's State, with the old and the new one,
// in order. It is called from the goroutine that made the change (a worker's, or Run's):
// it must return quickly, and may call State and Ready.
func OnStateChange(f func(from, to State)) Opt {
	return optFunc(func(c *config) { c.onState = f })
}

// State is the App's state now.
func (a *App) State() State {
	a.mu.Lock()
	phase, err := a.mu.state, a.mu.err
	a.mu.Unlock()
	switch phase {
	case 0:
		return Created
	case 2:
		if err != nil {
			return Failed
		}
		return Stopped
	}
	return stateOf(a.monitor)
}

// stateOf is a running App's state from its monitor.
func stateOf(m *runtime.Monitor) State {
	switch {
	case m.Phase() >= runtime.PhaseStopping:
		return Stopping
	case m.Phase() <= runtime.PhaseStarting || m.Restoring() > 0:
		return Restoring
	case m.Rebalancing():
		return Rebalancing
	}
	return Running
}

// Ready reports whether the App is running with every task it was assigned restored and
// processing (State is Running): the readiness an orchestrator probes. An App that runs
// but is restoring or rebalancing is alive, not ready.
func (a *App) Ready() bool { return a.State() == Running }

// Alive reports whether the App has not failed or stopped: Run is starting or running
// (restoring and rebalancing included), or was not called yet. It is the liveness an
// orchestrator probes; a failed App stays not alive, for a restart.
func (a *App) Alive() bool {
	s := a.State()
	return s != Failed && s != Stopped
}

// stateWatch calls the listener of state changes, each change once and in order.
type stateWatch struct {
	mu   sync.Mutex
	last State
	f    func(from, to State)
}

// update reads the state under the watch's lock, so two changes made at once are told in
// the order they were read.
func (w *stateWatch) update(state func() State) {
	if w == nil || w.f == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := state()
	if s == w.last {
		return
	}
	from := w.last
	w.last = s
	w.f(from, s)
}
