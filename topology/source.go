package topology

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// From reads a topic as a stream, decoding keys with ks and values with vs. A record whose
// key or value bytes are null gets the zero key or value without calling the serde.
func From[K, V any](t *Topology, topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Stream[K, V] {
	return FromTopics(t, []string{topic}, ks, vs, opts...)
}

// FromTopics reads several topics as one stream. They are processed by the same tasks, so
// they must have the same partition count; eddy checks that at start.
func FromTopics[K, V any](t *Topology, topics []string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Stream[K, V] {
	n := &graph.Node{Name: t.nameFor(configure(opts), "KSTREAM-SOURCE"), Kind: graph.Source, Topics: topics}
	return source(t, n, ks, vs)
}

func source[K, V any](t *Topology, n *graph.Node, ks serde.Serde[K], vs serde.Serde[V]) Stream[K, V] {
	s := Stream[K, V]{t: t, node: n, out: &outlets[K, V]{}}
	if ks == nil || vs == nil {
		t.g.Errorf("source %s: key and value serdes are required", n.Name)
	}
	n.Build = func(tb *graph.TaskBuild) (graph.Handler, error) {
		next, err := s.out.compile(tb)
		if err != nil {
			return nil, err
		}
		return func(rec *kgo.Record) error {
			var r processor.Record[K, V]
			var err error
			if rec.Key != nil {
				if r.Key, err = ks.Decode(rec.Key); err != nil {
					return fmt.Errorf("source %s: decode key: %w", n.Name, err)
				}
			}
			if rec.Value != nil {
				if r.Value, err = vs.Decode(rec.Value); err != nil {
					return fmt.Errorf("source %s: decode value: %w", n.Name, err)
				}
			}
			r.Timestamp = rec.Timestamp
			if len(rec.Headers) > 0 {
				r.Headers = make([]processor.Header, len(rec.Headers))
				for i, h := range rec.Headers {
					r.Headers[i] = processor.Header{Key: h.Key, Value: h.Value}
				}
			}
			return next(r)
		}, nil
	}
	t.g.Add(n)
	return s
}
