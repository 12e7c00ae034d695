package eddytest

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
)

// InputTopic sends typed records to one of the topology's input topics.
type InputTopic[K, V any] struct {
	d     *Driver
	topic string
	ks    serde.Serde[K]
	vs    serde.Serde[V]
}

// Input returns a handle that sends records to topic, encoded with the serdes (bound to
// the topic, as eddy binds a registry serde's subject).
func Input[K, V any](d *Driver, topic string, ks serde.Serde[K], vs serde.Serde[V]) *InputTopic[K, V] {
	return &InputTopic[K, V]{d: d, topic: topic, ks: serde.ForTopic(ks, topic, true), vs: serde.ForTopic(vs, topic, false)}
}

// SendOption sets something of a record sent.
type SendOption func(*sendSettings)

type sendSettings struct {
	at        time.Time
	partition int32
	headers   []kgo.RecordHeader
}

// At sets the record's timestamp: its event time, unless the source extracts another
// (default: the virtual clock's now).
func At(t time.Time) SendOption { return func(s *sendSettings) { s.at = t } }

// ToPartition sends the record to a partition of the topic (default: the partition of
// its key's murmur2 hash, as Kafka's default partitioner places it; a record without a
// key goes round-robin).
func ToPartition(p int32) SendOption { return func(s *sendSettings) { s.partition = p } }

// WithHeader adds a header.
func WithHeader(key string, value []byte) SendOption {
	return func(s *sendSettings) { s.headers = append(s.headers, kgo.RecordHeader{Key: key, Value: value}) }
}

// Send sends one record and processes until nothing is left to do: the record, and
// whatever it sets off through repartition topics. An error is what eddy's Run would
// stop with (a *eddy.RecordError for a record whose policy is Fail); the driver then
// stays stopped, and every later call returns it.
func (in *InputTopic[K, V]) Send(k K, v V, opts ...SendOption) error {
	key, err := in.ks.AppendEncode(nil, k)
	if err != nil {
		return fmt.Errorf("eddytest: encoding a key for %s: %w", in.topic, err)
	}
	value, err := in.vs.AppendEncode(nil, v)
	if err != nil {
		return fmt.Errorf("eddytest: encoding a value for %s: %w", in.topic, err)
	}
	return in.d.send(in.topic, key, value, opts)
}

// Delete sends a tombstone for k: a record with no value (a table's delete).
func (in *InputTopic[K, V]) Delete(k K, opts ...SendOption) error {
	key, err := in.ks.AppendEncode(nil, k)
	if err != nil {
		return fmt.Errorf("eddytest: encoding a key for %s: %w", in.topic, err)
	}
	return in.d.send(in.topic, key, nil, opts)
}

// SendRaw sends a record of bytes as they are (nil: no key, or no value): for input the
// serdes could not have made, such as a bad record.
func (in *InputTopic[K, V]) SendRaw(key, value []byte, opts ...SendOption) error {
	return in.d.send(in.topic, key, value, opts)
}

// KeyValue is one key and value.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// Pair makes a KeyValue.
func Pair[K, V any](k K, v V) KeyValue[K, V] { return KeyValue[K, V]{Key: k, Value: v} }

// SendAll sends the pairs in order, as Send does, stopping at the first error.
func (in *InputTopic[K, V]) SendAll(kvs []KeyValue[K, V], opts ...SendOption) error {
	for _, kv := range kvs {
		if err := in.Send(kv.Key, kv.Value, opts...); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) send(topic string, key, value []byte, opts []SendOption) error {
	s := sendSettings{partition: -1}
	for _, o := range opts {
		o(&s)
	}
	rec := &kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: s.at, Headers: s.headers}
	return public(d.d.Input(s.partition, rec))
}

// OutputTopic reads typed records from a topic the topology writes.
type OutputTopic[K, V any] struct {
	d     *Driver
	topic string
	ks    serde.Serde[K]
	vs    serde.Serde[V]
	next  []int64
}

// Output returns a reader of topic, decoding with the serdes. It reads as a
// read_committed consumer does: under exactly-once only committed output (Commit,
// AdvanceTime past the commit interval).
func Output[K, V any](d *Driver, topic string, ks serde.Serde[K], vs serde.Serde[V]) *OutputTopic[K, V] {
	return &OutputTopic[K, V]{d: d, topic: topic, ks: serde.ForTopic(ks, topic, true), vs: serde.ForTopic(vs, topic, false)}
}

// Record is an output record, decoded.
type Record[K, V any] struct {
	Key   K
	Value V
	// NoKey says the record had no key (Key is the zero value); Tombstone that it had no
	// value (a delete).
	NoKey, Tombstone bool
	Timestamp        time.Time
	Partition        int32
	Offset           int64
	Headers          []Header
}

// ReadAll returns the records written since the last read, in the order they were
// written (across partitions too). A record the serdes cannot decode fails the test.
func (o *OutputTopic[K, V]) ReadAll() []Record[K, V] {
	o.d.tb.Helper()
	recs, next, err := o.d.d.Records(o.topic, o.next)
	if err != nil {
		o.d.tb.Fatal(err)
	}
	o.next = next
	out := make([]Record[K, V], 0, len(recs))
	for _, r := range recs {
		rec := Record[K, V]{NoKey: r.Key == nil, Tombstone: r.Value == nil, Timestamp: r.Timestamp,
			Partition: r.Partition, Offset: r.Offset, Headers: headersOf(r.Headers)}
		if r.Key != nil {
			if rec.Key, err = o.ks.Decode(r.Key); err != nil {
				o.d.tb.Fatalf("eddytest: decoding the key of %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
		}
		if r.Value != nil {
			if rec.Value, err = o.vs.Decode(r.Value); err != nil {
				o.d.tb.Fatalf("eddytest: decoding the value of %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
		}
		out = append(out, rec)
	}
	return out
}

// ReadKeyValues is ReadAll's keys and values.
func (o *OutputTopic[K, V]) ReadKeyValues() []KeyValue[K, V] {
	o.d.tb.Helper()
	recs := o.ReadAll()
	out := make([]KeyValue[K, V], len(recs))
	for i, r := range recs {
		out[i] = KeyValue[K, V]{Key: r.Key, Value: r.Value}
	}
	return out
}

// ReadValues is ReadAll's values.
func (o *OutputTopic[K, V]) ReadValues() []V {
	o.d.tb.Helper()
	recs := o.ReadAll()
	out := make([]V, len(recs))
	for i, r := range recs {
		out[i] = r.Value
	}
	return out
}

// Latest reads the records written since the last read and folds them into the latest
// value per key, tombstones deleting: a table's content as a consumer of its changelog
// stream would see it. Keys are in the order their latest record was written.
func (o *OutputTopic[K, V]) Latest() []KeyValue[K, V] {
	o.d.tb.Helper()
	recs := o.ReadAll()
	type slot struct {
		kv    KeyValue[K, V]
		order int
		gone  bool
	}
	byKey := map[string]*slot{}
	var order []string
	for i, r := range recs {
		// Keys are compared by their encoding: K need not be comparable.
		kb, err := o.ks.AppendEncode(nil, r.Key)
		if err != nil {
			o.d.tb.Fatalf("eddytest: encoding a key of %s: %v", o.topic, err)
		}
		k := string(kb)
		s, ok := byKey[k]
		if !ok {
			s = &slot{}
			byKey[k] = s
		}
		s.kv, s.order, s.gone = KeyValue[K, V]{Key: r.Key, Value: r.Value}, i, r.Tombstone
		order = append(order, k)
	}
	var out []KeyValue[K, V]
	for i, k := range order {
		if s := byKey[k]; !s.gone && s.order == i {
			out = append(out, s.kv)
		}
	}
	return out
}
