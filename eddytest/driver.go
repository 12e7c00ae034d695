package eddytest

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/bridge"
	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/topology"
)

// Driver runs one topology in memory: every task of every sub-topology on one worker of
// eddy's runtime, over in-memory topics, on a virtual clock. Calls do their work before
// they return; nothing runs in the background. Not safe for concurrent use.
type Driver struct {
	tb   testing.TB
	d    *runtime.Driver
	opts settings
	top  *topology.Topology
}

// Option configures a Driver.
type Option interface{ apply(*settings) }

type settings struct {
	eddy       []any
	partitions map[string]int32
	defaults   int32
	start      time.Time
	from       *Snapshot
}

type optFunc func(*settings)

func (f optFunc) apply(s *settings) { f(s) }

// With passes eddy's own options to the runtime the driver runs: ExactlyOnce,
// CommitInterval, the error policies, MaxTaskIdle, ApplicationID (default "eddytest"),
// MaxQueuedRecords, StateCacheBytes, MaxBufferedBytes… Options about brokers, clients,
// workers and local directories have nothing to act on and change nothing.
func With(opts ...eddy.Opt) Option {
	return optFunc(func(s *settings) {
		for _, o := range opts {
			s.eddy = append(s.eddy, o)
		}
	})
}

// Partitions gives a topic the driver holds (an input, an output, a dead-letter topic, a
// topic a sink picks per record — which must be named here to exist) n partitions. Inputs processed together must have the
// same count, as on a broker; repartition and changelog topics get theirs as eddy
// decides on a broker.
func Partitions(topic string, n int32) Option {
	return optFunc(func(s *settings) { s.partitions[topic] = n })
}

// DefaultPartitions is the partition count of the topology's inputs and outputs that
// Partitions does not name (default 1).
func DefaultPartitions(n int32) Option { return optFunc(func(s *settings) { s.defaults = n }) }

// StartTime sets the virtual wall clock's start (default 2026-01-01T00:00:00Z). Records
// sent without an event time (At) carry the clock's time.
func StartTime(t time.Time) Option { return optFunc(func(s *settings) { s.start = t }) }

// FromSnapshot restarts from a snapshot of an earlier driver of the same topology: its
// topics and committed offsets. Stores restore from their changelogs and partitions
// resume at their committed offsets with their committed watermarks, as an instance
// restarting on a broker does.
func FromSnapshot(s *Snapshot) Option { return optFunc(func(st *settings) { st.from = s }) }

// Snapshot is what a restart of a driver finds (Driver.Snapshot).
type Snapshot struct {
	s        *runtime.DriverState
	settings settings
}

// defaultStart is the virtual clock's default start.
var defaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// New starts a driver for the topology: the topics are laid out, every task is built
// and its stores restored (empty unless FromSnapshot). A topology or option error fails
// the test. The driver is closed when the test ends.
func New(tb testing.TB, t *topology.Topology, opts ...Option) *Driver {
	tb.Helper()
	d, err := Start(tb, t, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// Start is New returning its error instead of failing the test: for a test of what a
// topology or option error says.
func Start(tb testing.TB, t *topology.Topology, opts ...Option) (*Driver, error) {
	s := settings{partitions: map[string]int32{}, start: defaultStart}
	for _, o := range opts {
		if o != nil {
			o.apply(&s)
		}
	}
	if t == nil {
		return nil, errors.New("eddytest: nil topology")
	}
	if err := t.Err(); err != nil {
		return nil, err
	}
	if s.from != nil {
		// A restart keeps the layout of the run it continues; its own options say the rest.
		for topic, n := range s.from.settings.partitions {
			if _, set := s.partitions[topic]; !set {
				s.partitions[topic] = n
			}
		}
		if s.defaults == 0 {
			s.defaults = s.from.settings.defaults
		}
	}
	cfg, err := bridge.Config(s.eddy)
	if err != nil {
		return nil, err
	}
	ro := runtime.DriverOptions{Partitions: s.partitions, DefaultPartitions: s.defaults, Start: s.start}
	if s.from != nil {
		ro.From = s.from.s
	}
	rd, err := runtime.NewDriver(cfg, t.Graph(), ro)
	if err != nil {
		return nil, bridge.PublicError(err)
	}
	d := &Driver{tb: tb, d: rd, opts: s, top: t}
	tb.Cleanup(func() { _ = rd.Close() })
	return d, nil
}

// public is the error eddy's Run would return for err.
func public(err error) error { return bridge.PublicError(err) }

// Now is the virtual wall clock.
func (d *Driver) Now() time.Time { return d.d.Now() }

// AdvanceTime moves the virtual wall clock forward by dt. On the way it stops at every
// moment something is due and does it then: wall-clock punctuators (processor.Context's
// Schedule), commits at the commit interval (which make exactly-once output visible),
// partitions going idle after their source's idle timeout (which moves watermarks and
// closes windows), and the end of a task's wait for an empty partition (MaxTaskIdle).
func (d *Driver) AdvanceTime(dt time.Duration) error { return public(d.d.AdvanceTime(dt)) }

// SetWatermark raises the watermark of an input partition to wm, as a record at wm plus
// the source's out-of-orderness bound would, and runs what follows: the task watermark
// (the minimum over its partitions) moves, windows close and event-time punctuators run.
// Watermarks never go down; a lower wm changes nothing. A table's and a repartition
// topic's partitions have no watermark of their own to set. Under exactly-once it then
// commits (Commit): the watermark set is no record's, and an abort could not replay it.
func (d *Driver) SetWatermark(topic string, partition int32, wm time.Time) error {
	return public(d.d.SetWatermark(topic, partition, wm))
}

// SetIdle marks an input partition idle, as its idle timeout would: it stops holding its
// task's watermark back until its next record. Under exactly-once it then commits, as
// SetWatermark does.
func (d *Driver) SetIdle(topic string, partition int32) error {
	return public(d.d.SetIdle(topic, partition))
}

// Watermark is the watermark of the task that reads the partition of the input topic
// (the zero time before it has one).
func (d *Driver) Watermark(topic string, partition int32) (time.Time, error) {
	id, err := d.d.TaskOf(topic, partition)
	if err != nil {
		return time.Time{}, err
	}
	wm, _ := d.d.Watermark(id)
	return wm, nil
}

// Commit commits at once and goes on processing what the commit makes visible until
// nothing is left: under exactly-once, output (and records on their way through
// repartition topics) becomes visible only at a commit. It processes every record
// fetched first, those a task holds back for MaxTaskIdle too, as a worker does when a
// commit cannot wait longer; AdvanceTime's commits at the interval wait as a worker's do.
func (d *Driver) Commit() error { return public(d.d.Commit()) }

// Close stops the driver as a clean stop of an App does: a final commit, then every task
// closed. New's driver is closed when its test ends.
func (d *Driver) Close() error { return public(d.d.Close()) }

// Snapshot is what a restart finds now: every topic as written and the committed
// offsets. Taken after Close it is a clean stop's; before, a crash's — output of
// at-least-once not yet committed stays (and its input is processed again), an open
// transaction is aborted. Start another driver from it with FromSnapshot.
func (d *Driver) Snapshot() *Snapshot { return &Snapshot{s: d.d.Snapshot(), settings: d.opts} }

// Tasks lists the driver's tasks, in id order.
func (d *Driver) Tasks() []processor.TaskID { return d.d.Tasks() }

// LateRecords is how many records the windowed aggregation with the given store rejected
// as late, as eddy.App's LateRecords counts them.
func (d *Driver) LateRecords(store string) int64 {
	for _, s := range d.d.Metrics().Snapshot() {
		if s.Name != "eddy_late_records_total" {
			continue
		}
		for _, l := range s.Labels {
			if l.Name == "store" && l.Value == store {
				return s.Value
			}
		}
	}
	return 0
}

// Skipped lists the records the Skip policy skipped, each once, in the order met, with
// the error a Fail policy would have stopped on.
func (d *Driver) Skipped() []FailedRecord {
	var out []FailedRecord
	for _, s := range d.d.Skipped() {
		var re *eddy.RecordError
		errors.As(public(s.Failure), &re)
		out = append(out, FailedRecord{Key: s.Record.Key, Value: s.Record.Value, Err: re})
	}
	return out
}

// FailedRecord is a record skipped after a failure: its key and value as they were, and
// the error (its coordinates, kind, operator and cause).
type FailedRecord struct {
	Key, Value []byte
	Err        *eddy.RecordError
}

// DeadLetter is a record a DeadLetter policy wrote: the original key, value and headers,
// and what the dead-letter headers say of the failure.
type DeadLetter struct {
	Key, Value []byte
	Timestamp  time.Time
	Headers    []Header
	// Kind ("deserialization", "processing", "production"), Message and Operator are the
	// failure's; Topic, Partition and Offset the failed record's coordinates.
	Kind, Message, Operator string
	Topic                   string
	Partition               int32
	Offset                  int64
}

// DeadLetters lists every record written to a dead-letter topic so far, in order.
func (d *Driver) DeadLetters(topic string) ([]DeadLetter, error) {
	recs, _, err := d.d.Records(topic, nil)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(recs))
	for _, r := range recs {
		dl := DeadLetter{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
		for _, h := range r.Headers {
			switch h.Key {
			case runtime.HeaderErrorKind:
				dl.Kind = string(h.Value)
			case runtime.HeaderErrorMessage:
				dl.Message = string(h.Value)
			case runtime.HeaderErrorOperator:
				dl.Operator = string(h.Value)
			case runtime.HeaderSourceTopic:
				dl.Topic = string(h.Value)
			case runtime.HeaderSourcePart:
				n, err := strconv.ParseInt(string(h.Value), 10, 32)
				if err != nil {
					return nil, fmt.Errorf("eddytest: dead letter %s/%d@%d: header %s: %w", r.Topic, r.Partition, r.Offset, h.Key, err)
				}
				dl.Partition = int32(n)
			case runtime.HeaderSourceOffset:
				n, err := strconv.ParseInt(string(h.Value), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("eddytest: dead letter %s/%d@%d: header %s: %w", r.Topic, r.Partition, r.Offset, h.Key, err)
				}
				dl.Offset = n
			case runtime.HeaderSourceTimeMS:
			default:
				dl.Headers = append(dl.Headers, Header{Key: h.Key, Value: h.Value})
			}
		}
		out = append(out, dl)
	}
	return out, nil
}

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

func headersOf(hs []kgo.RecordHeader) []Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]Header, len(hs))
	for i, h := range hs {
		out[i] = Header{Key: h.Key, Value: h.Value}
	}
	return out
}
