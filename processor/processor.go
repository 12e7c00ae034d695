// Package processor is eddy's low-level Processor API: the typed record that flows through
// a topology, the Processor a user writes when the DSL's operators are not enough, and the
// Context through which a processor forwards records, schedules punctuations and learns
// where the current record came from.
//
// A processor is created once per task (sub-topology × partition) by the supplier passed to
// topology.Process, and every call on it comes from that task's single goroutine, so it
// needs no locking of its own:
//
//	type upper struct{ ctx processor.Context[string, string] }
//
//	func (p *upper) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
//	func (p *upper) Process(r processor.Record[string, string]) error {
//		r.Value = strings.ToUpper(r.Value)
//		return p.ctx.Forward(r)
//	}
//	func (p *upper) Close() error { return nil }
//
//	out := topology.Process(in, "upper", func() processor.Processor[string, string, string, string] {
//		return &upper{}
//	})
package processor

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// Record is one record flowing through a topology: a typed key and value, its timestamp
// (the event time; by default the Kafka record's timestamp) and its headers.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []Header
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// WithValue returns a copy of r with a new value of a possibly different type; key,
// timestamp and headers are kept.
func WithValue[K, V, VR any](r Record[K, V], v VR) Record[K, VR] {
	return Record[K, VR]{Key: r.Key, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}
}

// WithKeyValue returns a copy of r with a new key and value of possibly different types;
// timestamp and headers are kept.
func WithKeyValue[K, V, KR, VR any](r Record[K, V], k KR, v VR) Record[KR, VR] {
	return Record[KR, VR]{Key: k, Value: v, Timestamp: r.Timestamp, Headers: r.Headers}
}

// Processor handles the records of one task. KIn and VIn are the types it receives, KOut
// and VOut the types it forwards.
//
// Init is called once before the first record, with the context to keep; Process once per
// record; Close once when the task closes (on shutdown or when its partitions move to
// another instance). An error from any of them fails the task.
type Processor[KIn, VIn, KOut, VOut any] interface {
	Init(ctx Context[KOut, VOut]) error
	Process(r Record[KIn, VIn]) error
	Close() error
}

// EndOfInput is implemented by a processor that reports results when a bounded run
// (eddy.Bounded) has read all of its task's input, as Flink's BoundedOneInput.endInput:
// a batch job's final aggregate, say. EndOfInput is called once then, on the task's
// goroutine, before the operators below it learn of the end, and may forward records
// (stamped with the time it chooses). Outside a bounded run it is never called.
type EndOfInput interface {
	EndOfInput() error
}

// Supplier makes a new Processor. It is called once per task, so each task has its own
// instance and processors share no state across tasks.
type Supplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// Context is a processor's view of its task. It is only valid inside the calls of the
// task's goroutine (Init, Process, Close and punctuators); it is not safe for concurrent use.
type Context[K, V any] interface {
	// Forward hands r to every child of the processor, depth first, and returns the first
	// error one of them returned.
	Forward(r Record[K, V]) error
	// ForwardTo hands r to the child with the given name only. An unknown name is an error.
	ForwardTo(child string, r Record[K, V]) error
	// Schedule calls fn every interval of wall-clock time, from the task's goroutine, between
	// records. The returned function cancels it. An error from fn fails the task.
	Schedule(interval time.Duration, fn Punctuator) (cancel func())
	// ScheduleEventTime calls fn at the task's first watermark, then each time the
	// watermark passes a multiple of interval (Kafka Streams' stream-time punctuation,
	// driven by the watermark), with the watermark as the time. Several multiples passed
	// at once fire once. The returned function cancels it.
	ScheduleEventTime(interval time.Duration, fn Punctuator) (cancel func())
	// Metadata tells where the record being processed came from. ok is false inside a
	// punctuation, where there is no current record.
	Metadata() (m Metadata, ok bool)
	// TaskID is the task this processor instance belongs to.
	TaskID() TaskID
	// Watermark is the task's event-time watermark: no record with an earlier timestamp is
	// expected any more. It is the minimum over the task's input partitions that are not
	// idle of each one's highest event time less its source's allowed out-of-orderness and
	// 1 ms; the zero time until each of them has had a record. It never goes down.
	Watermark() time.Time
	// ApplicationID is the application id the topology runs under.
	ApplicationID() string
	// Store is the task's slice of a state store the processor named in Process (the
	// Stores option), in bytes; topology.KeyValueStore.Open gives the typed view.
	Store(name string) (store.Bytes, error)
}

// Punctuator is a function called on a schedule; now is the wall-clock time of the call.
type Punctuator func(now time.Time) error

// Metadata is where a record came from.
type Metadata struct {
	Topic     string
	Partition int32
	Offset    int64
}

// String formats m as topic/partition@offset, the form eddy's errors use.
func (m Metadata) String() string {
	return fmt.Sprintf("%s/%d@%d", m.Topic, m.Partition, m.Offset)
}

// TaskID names a task: a sub-topology and a partition number. Task 1_3 processes partition 3
// of every input topic of sub-topology 1.
type TaskID struct {
	Subtopology int
	Partition   int32
}

// String formats the id as Kafka Streams does: "<sub-topology>_<partition>".
func (id TaskID) String() string {
	return fmt.Sprintf("%d_%d", id.Subtopology, id.Partition)
}
