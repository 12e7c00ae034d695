package topology

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
)

// To writes every record of s to topic, encoding keys with ks and values with vs. The
// partition is the one Kafka's default partitioner gives the key bytes (murmur2), so Java
// clients and eddy agree on where a key lives.
func To[K, V any](s Stream[K, V], topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) {
	if topic == "" {
		s.t.g.Errorf("To: empty topic name")
	}
	n := &graph.Node{Name: s.t.nameFor(configure(opts), "KSTREAM-SINK"), Kind: graph.Sink, Topics: []string{topic}}
	sink(s, n, ks, vs, func(processor.Record[K, V]) string { return topic })
}

// ToTopic writes each record of s to the topic that choose returns for it.
func ToTopic[K, V any](s Stream[K, V], choose func(processor.Record[K, V]) string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) {
	n := &graph.Node{Name: s.t.nameFor(configure(opts), "KSTREAM-SINK"), Kind: graph.Sink}
	sink(s, n, ks, vs, choose)
}

func sink[K, V any](s Stream[K, V], n *graph.Node, ks serde.Serde[K], vs serde.Serde[V], choose func(processor.Record[K, V]) string) {
	if ks == nil || vs == nil {
		s.t.g.Errorf("sink %s: key and value serdes are required", n.Name)
	}
	attach([]Stream[K, V]{s}, n, func(tb *graph.TaskBuild, _ *outlets[K, V]) (next[K, V], error) {
		static := ""
		if len(n.Topics) == 1 {
			static = tb.TopicName(n, n.Topics[0])
		}
		env := tb.Env
		return func(r processor.Record[K, V]) error {
			topic := static
			if topic == "" {
				if topic = choose(r); topic == "" {
					return fmt.Errorf("sink %s: the topic chooser returned an empty topic name", n.Name)
				}
			}
			// Each record gets its own key and value slices: the producer holds them until
			// the broker acknowledges the batch, so they cannot be reused buffers.
			key, err := ks.AppendEncode(nil, r.Key)
			if err != nil {
				return &graph.RecordError{Kind: graph.Production, Node: n.Name, Err: fmt.Errorf("encode key for %s: %w", topic, err)}
			}
			value, err := vs.AppendEncode(nil, r.Value)
			if err != nil {
				return &graph.RecordError{Kind: graph.Production, Node: n.Name, Err: fmt.Errorf("encode value for %s: %w", topic, err)}
			}
			rec := &kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: r.Timestamp}
			if len(r.Headers) > 0 {
				rec.Headers = make([]kgo.RecordHeader, len(r.Headers))
				for i, h := range r.Headers {
					rec.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
				}
			}
			return env.Send(rec)
		}, nil
	})
}
