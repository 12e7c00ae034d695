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
//
// The topic must exist before Run: eddy creates only its internal topics (repartition and
// changelog topics), never an output topic, so its partition count and configuration stay
// the operator's choice. Otherwise Run fails at start, before processing anything, with
// "eddy: output topic(s) missing: <topics> (create them first; …)", naming every missing
// output topic at once.
//
// Options: Named, and SpreadRoundRobin or PartitionByTask to place records otherwise than
// by key (all of a topic's sinks must place them alike).
func To[K, V any](s Stream[K, V], topic string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) {
	if topic == "" {
		s.t.g.Errorf("To: empty topic name")
	}
	c := s.t.configure(opTo, opts)
	n := &graph.Node{Name: s.t.nameFor(c, "KSTREAM-SINK"), Kind: graph.Sink, Topics: []string{topic}, Spread: c.spread}
	sink(s, n, ks, vs, func(processor.Record[K, V]) string { return topic })
}

// ToTopic writes each record of s to the topic that choose returns for it. Those topics
// must exist too, but eddy cannot check them at start: a record whose topic does not exist
// fails as a production error of this sink (see eddy.OnProductionError: Run stops with the
// record's coordinates by default, or the input record is dead-lettered).
func ToTopic[K, V any](s Stream[K, V], choose func(processor.Record[K, V]) string, ks serde.Serde[K], vs serde.Serde[V], opts ...Option) {
	n := &graph.Node{Name: s.t.nodeName(opToTopic, "KSTREAM-SINK", opts), Kind: graph.Sink}
	sink(s, n, ks, vs, choose)
}

func sink[K, V any](s Stream[K, V], n *graph.Node, ks serde.Serde[K], vs serde.Serde[V], choose func(processor.Record[K, V]) string) {
	if ks == nil || vs == nil {
		s.t.g.Errorf("sink %s: key and value serdes are required", n.Name)
	}
	attach([]Stream[K, V]{s}, n, func(tb *graph.TaskBuild, _ *outlets[K, V]) (next[K, V], error) {
		static := ""
		bound := boundSerdes[K, V]{ks, vs}
		if len(n.Topics) == 1 {
			static = tb.TopicName(n, n.Topics[0])
			bound = boundSerdes[K, V]{serde.ForTopic(ks, static, true), serde.ForTopic(vs, static, false)}
		}
		// A chosen topic's serdes, when they depend on it (serde.TopicSerde), are bound
		// once per topic and kept.
		var byTopic map[string]boundSerdes[K, V]
		_, kt := ks.(serde.TopicSerde[K])
		_, vt := vs.(serde.TopicSerde[V])
		if static == "" && (kt || vt) {
			byTopic = map[string]boundSerdes[K, V]{}
		}
		env := tb.Env
		var buf outBuf
		keyNull, valueNull := nullOf(ks), nullOf(vs)
		return func(r processor.Record[K, V]) error {
			topic := static
			ks, vs := bound.ks, bound.vs
			if topic == "" {
				if topic = choose(r); topic == "" {
					return fmt.Errorf("sink %s: the topic chooser returned an empty topic name", n.Name)
				}
				if byTopic != nil {
					b, ok := byTopic[topic]
					if !ok {
						b = boundSerdes[K, V]{serde.ForTopic(ks, topic, true), serde.ForTopic(vs, topic, false)}
						byTopic[topic] = b
					}
					ks, vs = b.ks, b.vs
				}
			}
			key, err := encodeInto(&buf, ks, keyNull, r.Key)
			if err != nil {
				return serdeFailure(graph.Production, n.Name, fmt.Errorf("encode key for %s: %w", topic, err))
			}
			value, err := encodeInto(&buf, vs, valueNull, r.Value)
			if err != nil {
				return serdeFailure(graph.Production, n.Name, fmt.Errorf("encode value for %s: %w", topic, err))
			}
			rec := buf.record()
			rec.Topic, rec.Key, rec.Value, rec.Timestamp = topic, key, value, r.Timestamp
			if n.Spread == graph.ByTask {
				rec.Partition = env.TaskID().Partition // the partitioner takes it modulo the count
			}
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

// outBuf is where a sink carves its output records from. The producer holds a record,
// its key and its value until the broker acknowledges them, so none can be reused; but
// they need not be allocated one by one: keys and values are encoded into 64 KiB slabs and
// records taken from chunks of 256, and a slab or chunk is collected once all its records
// are acknowledged. Three allocations per record become about one per hundred.
type outBuf struct {
	slab []byte
	recs []kgo.Record
}

const (
	slabSize  = 64 << 10
	slabSlack = 512 // a slab with less room left is replaced before encoding into it
	recChunk  = 256
)

func (b *outBuf) record() *kgo.Record {
	if len(b.recs) == cap(b.recs) {
		b.recs = make([]kgo.Record, 0, recChunk)
	}
	b.recs = b.recs[:len(b.recs)+1]
	return &b.recs[len(b.recs)-1]
}

// encodeInto encodes v at the end of the slab and returns its bytes, capped so nothing
// appended later can reach into them. Zero bytes are returned as an empty slice, never
// nil: Kafka's serializers write "" as an empty value, and a null value is a tombstone
// that deletes the key on a compacted topic. Only a value isNull reports (serde.Nullable)
// is written as null.
func encodeInto[T any](b *outBuf, s serde.Serde[T], isNull func(T) bool, v T) ([]byte, error) {
	if isNull != nil && isNull(v) {
		return nil, nil
	}
	if cap(b.slab)-len(b.slab) < slabSlack {
		b.slab = make([]byte, 0, slabSize)
	}
	start := len(b.slab)
	out, err := s.AppendEncode(b.slab, v)
	if err != nil {
		return nil, err
	}
	b.slab = out // a value larger than the room left moved the slab; later ones follow
	// Never nil: the slab is not, so neither is an empty slice of it.
	return out[start:len(out):len(out)], nil
}

// nullOf returns s's test for the values written as null (serde.Nullable), or nil when
// its type has none.
func nullOf[T any](s serde.Serde[T]) func(T) bool {
	if n, ok := s.(serde.Nullable[T]); ok {
		return n.IsNull
	}
	return nil
}

// recordBytes encodes v as the key or value of a record of its own (not carved from a
// slab), with encodeInto's rule: null only for a serde.Nullable's null, zero bytes
// otherwise.
func recordBytes[T any](s serde.Serde[T], v T) ([]byte, error) {
	if isNull := nullOf(s); isNull != nil && isNull(v) {
		return nil, nil
	}
	return s.AppendEncode([]byte{}, v) // appending to an empty slice keeps it non-nil
}
