package graph

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// EndOfTime is the watermark of a task that has reached the end of its input in bounded
// mode: every window closes. It is never persisted.
var EndOfTime = time.UnixMilli(math.MaxInt64 / 2)

// Handler processes one consumed record of a source topic through the task's graph.
type Handler func(rec *kgo.Record) error

// Env is what the runtime provides to one task's nodes.
type Env interface {
	ApplicationID() string
	TaskID() processor.TaskID
	// Metadata is the record being processed; ok is false in a punctuation.
	Metadata() (m processor.Metadata, ok bool)
	// Watermark is the task's watermark (the zero time before there is one).
	Watermark() time.Time
	// Send hands a sink's output record to the producer. The runtime chooses its partition:
	// by the key's murmur2 hash (Kafka's default partitioner), or round-robin for topics
	// written by Rebalance.
	Send(rec *kgo.Record) error
	// Schedule runs fn every interval of wall-clock time on the task's goroutine.
	Schedule(interval time.Duration, fn processor.Punctuator) (cancel func())
	// Store is the task's slice of the named store.
	Store(name string) (store.Bytes, error)
	// GlobalStore is the instance's copy of the named global table's store, shared by
	// every task and read-only to them (AddGlobal).
	GlobalStore(name string) (GlobalReader, error)
	// ScheduleEventTime runs fn as the watermark passes multiples of interval.
	ScheduleEventTime(interval time.Duration, fn processor.Punctuator) (cancel func())
	// ObserveEventTime reports the event time a source extracted from the current record:
	// it advances the partition's watermark instead of the Kafka timestamp.
	ObserveEventTime(t time.Time)
	// OnWatermark registers fn to run each time the task's watermark advances, after the
	// record that advanced it (window operators close windows there).
	OnWatermark(fn func(watermark time.Time) error)
	// LateRecord counts a record that the windowed aggregation with the named store
	// rejected as late.
	LateRecord(store string)
	// OpSlot is where the running operator keeps its Op (see Call).
	OpSlot() **Op
	// Bounded reports whether the run is bounded (eddy.Bounded): its input ends, and the
	// task's end-of-input functions (TaskBuild.OnEndOfInput) run when it does. Operators
	// that report a result at the end of a batch job (a table's ToStream) ask it at build.
	Bounded() bool
}

// TaskBuild is the state of compiling one task: the runtime's Env, the nodes compiled so
// far (a node with two parents, such as a merge, is compiled once and shared), and what to
// close when the task closes.
type TaskBuild struct {
	Env     Env
	built   map[*Node]any
	closers []func() error
	ends    []func() error
}

// Memo compiles n once per task: the first call runs build, later calls return its result.
// The stored value is boxed, but only at build time; the record path calls F directly.
func Memo[F any](tb *TaskBuild, n *Node, build func() (F, error)) (F, error) {
	if v, ok := tb.built[n]; ok {
		f, ok := v.(F)
		if !ok {
			var zero F
			return zero, fmt.Errorf("topology: node %s compiled as %T, wanted %T", n.Name, v, zero)
		}
		return f, nil
	}
	f, err := build()
	if err != nil {
		return f, err
	}
	tb.built[n] = f
	return f, nil
}

// OnClose registers f to run when the task closes; closers run in reverse order.
func (tb *TaskBuild) OnClose(f func() error) { tb.closers = append(tb.closers, f) }

// OnEndOfInput registers f to run once the task has reached the end of its input in a
// bounded run, before the task's own end moves its watermark to EndOfTime, and before it
// tells the tasks downstream that it has ended: what f emits reaches them as ordinary
// records. (A task that reads a repartition topic has its watermark at EndOfTime already
// when the last upstream end arrives, since upstream ends carry it: windows below f in
// such a task have closed.) There is no current record; an error, or a panic, stops the
// application. The functions run in reverse order of registration: an operator registers
// after its children compile, so every operator's end comes before its descendants',
// which then see what it emitted.
func (tb *TaskBuild) OnEndOfInput(f func() error) { tb.ends = append(tb.ends, f) }

// TopicName is the topic a node reads or writes under the task's application: internal
// topics get the application id prefix.
func (tb *TaskBuild) TopicName(n *Node, topic string) string {
	if n.Internal != nil {
		return n.Internal.Topic(tb.Env.ApplicationID())
	}
	return topic
}

// Task is one compiled task: a handler per source topic (full names), its closers and its
// end-of-input functions.
type Task struct {
	Handlers map[string]Handler
	closers  []func() error
	ends     []func() error
}

// EndOfInput runs the functions registered with TaskBuild.OnEndOfInput, latest first, and
// returns the first error. The runtime calls it once per build of the task: a task built
// again (a revival after an aborted transaction, a restart) reaches its end again.
func (t *Task) EndOfInput() error {
	for i := len(t.ends) - 1; i >= 0; i-- {
		if err := t.ends[i](); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the task's processors, latest first, and returns every error joined.
func (t *Task) Close() error {
	var errs []error
	for i := len(t.closers) - 1; i >= 0; i-- {
		if err := t.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// BuildTask compiles sub-topology sub for one task. On error, whatever was initialised is
// closed again.
func (g *Graph) BuildTask(sub int, env Env) (*Task, error) {
	subs, err := g.Subtopologies()
	if err != nil {
		return nil, err
	}
	if sub < 0 || sub >= len(subs) {
		return nil, fmt.Errorf("topology: no sub-topology %d (there are %d)", sub, len(subs))
	}
	tb := &TaskBuild{Env: env, built: map[*Node]any{}}
	t := &Task{Handlers: map[string]Handler{}}
	for _, src := range subs[sub].Sources {
		h, err := src.Build(tb)
		if err != nil {
			t.closers = tb.closers
			return nil, errors.Join(fmt.Errorf("topology: task %s: %w", env.TaskID(), err), t.Close())
		}
		for _, topic := range src.Topics {
			t.Handlers[tb.TopicName(src, topic)] = h
		}
	}
	t.closers, t.ends = tb.closers, tb.ends
	return t, nil
}
