package topology

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// From reads a topic as a stream, decoding keys with ks and values with vs. A record whose
// key or value bytes are null gets the zero key or value without calling the serde.
//
// Options: Named, and the event-time options Timestamps, OutOfOrderness and IdleTimeout.
func From[K, V any](t *Topology, topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Stream[K, V] {
	return fromTopics(t, opFrom, []string{topic}, ks, vs, opts)
}

// FromTopics reads several topics as one stream. They are processed by the same tasks, so
// they must have the same partition count; eddy checks that at start. Options as for From.
func FromTopics[K, V any](t *Topology, topics []string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Stream[K, V] {
	return fromTopics(t, opFromTopics, topics, ks, vs, opts)
}

func fromTopics[K, V any](t *Topology, op operator, topics []string, ks serde.Serde[K], vs serde.Serde[V], opts []Option) Stream[K, V] {
	c := t.configure(op, opts)
	n := &graph.Node{Name: t.nameFor(c, "KSTREAM-SOURCE"), Kind: graph.Source, Topics: topics,
		OutOfOrderness: c.outOfOrderness, IdleTimeout: c.idleTimeout}
	return sourceWithTime(t, n, ks, vs, extractorOf[K, V](t, n, c))
}

// extractorOf returns the source's event-time extractor, checking its types.
func extractorOf[K, V any](t *Topology, n *graph.Node, c opConfig) func(K, V, time.Time) (time.Time, error) {
	if c.extractor == nil {
		return nil
	}
	f, ok := c.extractor.(func(K, V, time.Time) (time.Time, error))
	if !ok {
		var k K
		var v V
		t.g.Errorf("source %s: Timestamps extractor is a %T, want a func(%T, %T, time.Time) (time.Time, error)", n.Name, c.extractor, k, v)
	}
	return f
}

func source[K, V any](t *Topology, n *graph.Node, ks serde.Serde[K], vs serde.Serde[V]) Stream[K, V] {
	return sourceWithTime(t, n, ks, vs, nil)
}

func sourceWithTime[K, V any](t *Topology, n *graph.Node, ks serde.Serde[K], vs serde.Serde[V], extract func(K, V, time.Time) (time.Time, error)) Stream[K, V] {
	s := Stream[K, V]{t: t, node: n, out: &outlets[K, V]{}}
	if ks == nil || vs == nil {
		t.g.Errorf("source %s: key and value serdes are required", n.Name)
	}
	n.Build = func(tb *graph.TaskBuild) (graph.Handler, error) {
		next, err := s.out.compile(tb)
		if err != nil {
			return nil, err
		}
		d := newDecoder(tb, n, ks, vs, extract)
		return func(rec *kgo.Record) error {
			var r processor.Record[K, V]
			if err := d.decodeInto(rec, &r); err != nil {
				return err
			}
			return next(r)
		}, nil
	}
	t.g.Add(n)
	return s
}

// decoder is the one decode path of every source, stream or table: it turns a consumed
// record into a typed one. Key and value go through their serdes (null bytes give the zero
// value without calling them; zero bytes are decoded like any others), the event time is
// the extractor's or the record's and must not be negative, and the headers are copied.
// Any failure, a panic of a serde or of the extractor included, is a deserialization error
// of the source, which the bad-input policy handles (TableFrom once decoded on its own,
// and its bad input stopped the application whatever the policy).
//
// Serdes that depend on their topic (serde.TopicSerde) are bound to it when the task is
// built: to the source's one topic, or, for a source of several topics, to each, chosen by
// the record's topic.
type decoder[K, V any] struct {
	node    string
	ks      serde.Serde[K]
	vs      serde.Serde[V]
	byTopic map[string]boundSerdes[K, V] // nil unless several topics have serdes of their own
	extract func(K, V, time.Time) (time.Time, error)
	env     graph.Env
	op      *graph.Op
	slot    **graph.Op
}

// boundSerdes are a topic's key and value serdes.
type boundSerdes[K, V any] struct {
	ks serde.Serde[K]
	vs serde.Serde[V]
}

func newDecoder[K, V any](tb *graph.TaskBuild, n *graph.Node, ks serde.Serde[K], vs serde.Serde[V], extract func(K, V, time.Time) (time.Time, error)) *decoder[K, V] {
	d := &decoder[K, V]{node: n.Name, ks: ks, vs: vs, extract: extract, env: tb.Env, op: graph.OpFor(n), slot: tb.Env.OpSlot()}
	_, kt := ks.(serde.TopicSerde[K])
	_, vt := vs.(serde.TopicSerde[V])
	if !kt && !vt || len(n.Topics) == 0 {
		return d
	}
	for _, topic := range n.Topics {
		full := tb.TopicName(n, topic)
		b := boundSerdes[K, V]{serde.ForTopic(ks, full, true), serde.ForTopic(vs, full, false)}
		if d.byTopic == nil {
			d.ks, d.vs = b.ks, b.vs
			if len(n.Topics) == 1 {
				break
			}
			d.byTopic = map[string]boundSerdes[K, V]{}
		}
		d.byTopic[full] = b
	}
	return d
}

func (d *decoder[K, V]) bad(format string, args ...any) error {
	return serdeFailure(graph.Deserialization, d.node, fmt.Errorf(format, args...))
}

// serdeFailure is the error of a serde that failed on a record: a failure of the record,
// for its bad-input policy, unless the serde could not reach its schema registry
// (serde.ErrRegistryUnavailable), which is no fault of the record and stops the
// application instead of skipping or dead-lettering every record until it is back.
func serdeFailure(kind graph.ErrorKind, node string, err error) error {
	if errors.Is(err, serde.ErrRegistryUnavailable) {
		return fmt.Errorf("%s: %w", node, err)
	}
	return &graph.RecordError{Kind: kind, Node: node, Err: err}
}

// decodeInto decodes rec into *r (no copy of the record on return: it is on every
// record's path).
func (d *decoder[K, V]) decodeInto(rec *kgo.Record, r *processor.Record[K, V]) (err error) {
	*d.slot = d.op // a panic in a serde or the extractor is bad input
	ks, vs := d.ks, d.vs
	if d.byTopic != nil {
		b := d.byTopic[rec.Topic]
		ks, vs = b.ks, b.vs
	}
	if rec.Key != nil {
		if r.Key, err = ks.Decode(rec.Key); err != nil {
			return d.bad("decode key: %w", err)
		}
	}
	if rec.Value != nil {
		if r.Value, err = vs.Decode(rec.Value); err != nil {
			return d.bad("decode value: %w", err)
		}
	}
	r.Timestamp = rec.Timestamp
	if d.extract != nil {
		if r.Timestamp, err = d.extract(r.Key, r.Value, rec.Timestamp); err != nil {
			return d.bad("extract event time: %w", err)
		}
	}
	if ms := r.Timestamp.UnixMilli(); ms < 0 || r.Timestamp.IsZero() {
		return d.bad("invalid event time %d ms (a record needs a timestamp ≥ 0)", ms)
	}
	if d.extract != nil {
		d.env.ObserveEventTime(r.Timestamp)
	}
	if len(rec.Headers) > 0 {
		r.Headers = make([]processor.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			r.Headers[i] = processor.Header{Key: h.Key, Value: h.Value}
		}
	}
	return nil
}
