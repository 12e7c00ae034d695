package eddytest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
	"github.com/eddy-streams/eddy/serde"
)

// Broker is a Kafka broker for an integration test, with helpers to create topics,
// produce typed records and read a topic to its end.
type Broker struct {
	tb      testing.TB
	brokers []string
	// Source says where the broker came from: "KAFKA_BOOTSTRAP", "container" or
	// "embedded".
	Source string
}

// KafkaOption configures Kafka.
type KafkaOption func(*kafkaSettings)

type kafkaSettings struct{ embedded bool }

// AllowEmbedded lets Kafka fall back on eddy's embedded in-process broker (package
// embedded: the Kafka protocol in memory, without compaction or topic configs) when
// there is no real one. Without it the test is skipped then — or fails, when
// EDDY_REQUIRE_KAFKA=1.
func AllowEmbedded() KafkaOption { return func(s *kafkaSettings) { s.embedded = true } }

// The embedded broker is started once per test binary, at the first test that falls back
// on it, and shared: topics from Topic are unique, so tests do not see each other's data.
var shared struct {
	once    sync.Once
	brokers []string
	err     error
}

// Kafka returns a broker for the test: the one KAFKA_BOOTSTRAP names (comma-separated)
// when set; else, where a Docker engine answers, a Kafka container started with
// testcontainers-go and shared by the test binary; else, with AllowEmbedded, the embedded
// in-process broker. Otherwise the test is skipped, or fails under EDDY_REQUIRE_KAFKA=1.
//
// The testcontainers dependency stays out of a service's binary: it is imported by this
// package only, and this package only by tests.
func Kafka(tb testing.TB, opts ...KafkaOption) *Broker {
	tb.Helper()
	var s kafkaSettings
	for _, o := range opts {
		o(&s)
	}
	brokers, skip, err := kafkatest.Resolve()
	if err != nil {
		tb.Fatalf("eddytest: %v", err)
	}
	if skip == "" {
		src := "container"
		if kafkatest.FromEnv() {
			src = "KAFKA_BOOTSTRAP"
		}
		return &Broker{tb: tb, brokers: brokers, Source: src}
	}
	if !s.embedded {
		if kafkatest.Required() {
			tb.Fatalf("eddytest: EDDY_REQUIRE_KAFKA=1 but there is no broker: %s", skip)
		}
		tb.Skipf("eddytest: no Kafka broker: %s (set KAFKA_BOOTSTRAP, or allow the embedded one)", skip)
	}
	shared.once.Do(func() {
		c, err := embedded.Start()
		if err != nil {
			shared.err = err
			return
		}
		// Shared by the binary's tests; it goes with the process.
		shared.brokers = c.Brokers()
	})
	if shared.err != nil {
		tb.Fatalf("eddytest: starting the embedded broker: %v", shared.err)
	}
	return &Broker{tb: tb, brokers: shared.brokers, Source: "embedded"}
}

// Bootstrap is the broker's seed addresses, for eddy.Brokers.
func (b *Broker) Bootstrap() []string { return b.brokers }

// Topic returns a topic name unique to this call: the test's name, the suffix and random
// hex, so tests can share one broker.
func (b *Broker) Topic(suffix string) string { return kafkatest.Topic(b.tb, suffix) }

// client is a client on the broker, closed when the test ends.
func (b *Broker) client(opts ...kgo.Opt) *kgo.Client {
	b.tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.brokers...)}, opts...)...)
	if err != nil {
		b.tb.Fatalf("eddytest: client: %v", err)
	}
	b.tb.Cleanup(cl.Close)
	return cl
}

// CreateTopic creates a topic with the given partitions (replication factor 1) and waits
// until the broker's metadata shows it; an error fails the test.
func (b *Broker) CreateTopic(topic string, partitions int32) {
	b.tb.Helper()
	kafkatest.CreateTopic(b.tb, kadm.NewClient(b.client()), topic, partitions, nil)
}

// Produce writes records to topic, encoded with the serdes (bound to the topic), each
// to its key's partition unless ToPartition names one, and waits for the broker to
// acknowledge them; an error fails the test.
func Produce[K, V any](b *Broker, topic string, ks serde.Serde[K], vs serde.Serde[V], kvs []KeyValue[K, V], opts ...SendOption) {
	b.tb.Helper()
	s := sendSettings{partition: -1}
	for _, o := range opts {
		o(&s)
	}
	cl := b.client(kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		keyed := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if s.partition >= 0 {
				return int(s.partition)
			}
			return keyed.Partition(r, n)
		}
	})))
	ks, vs = serde.ForTopic(ks, topic, true), serde.ForTopic(vs, topic, false)
	recs := make([]*kgo.Record, 0, len(kvs))
	for _, kv := range kvs {
		key, err := ks.AppendEncode(nil, kv.Key)
		if err != nil {
			b.tb.Fatalf("eddytest: encoding a key for %s: %v", topic, err)
		}
		value, err := vs.AppendEncode(nil, kv.Value)
		if err != nil {
			b.tb.Fatalf("eddytest: encoding a value for %s: %v", topic, err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: key, Value: value, Timestamp: s.at, Headers: s.headers})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.tb.Fatalf("eddytest: producing to %s: %v", topic, err)
	}
}

// WaitCaughtUp waits until the application appID (its consumer group) has processed
// every record now in inputs and in its repartition topics — its committed offsets are at
// their ends — and fails the test after timeout. Then ReadToEnd shows everything that
// input made (under exactly-once, committed in the same transactions as the offsets).
// What an application writes later on its own (wall-clock punctuations) is not covered.
func (b *Broker) WaitCaughtUp(appID string, timeout time.Duration, inputs ...string) {
	b.tb.Helper()
	ends.WaitCaughtUp(b.tb, b.brokers, appID, timeout, inputs...)
}

// ReadToEnd reads topic from its start up to the ends it has now, as a read_committed
// consumer (exactly-once output that is committed), and decodes the records with the
// serdes, per partition in offset order, partitions in turn. It fails the test when the
// records do not arrive within timeout.
func ReadToEnd[K, V any](b *Broker, topic string, ks serde.Serde[K], vs serde.Serde[V], timeout time.Duration) []Record[K, V] {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	adm := kadm.NewClient(b.client())
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		b.tb.Fatalf("eddytest: end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	cl := b.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	ks, vs = serde.ForTopic(ks, topic, true), serde.ForTopic(vs, topic, false)
	byPart := map[int32][]Record[K, V]{}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.tb.Fatalf("eddytest: reading %s to its end: still waiting for partitions %v after %s", topic, want, timeout)
		}
		for _, fe := range fs.Errors() {
			b.tb.Fatalf("eddytest: reading %s: partition %d: %v", topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return // past the end listed, or a partition read to it already
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			rec := Record[K, V]{NoKey: r.Key == nil, Tombstone: r.Value == nil, Timestamp: r.Timestamp,
				Partition: r.Partition, Offset: r.Offset, Headers: headersOf(r.Headers)}
			var err error
			if r.Key != nil {
				if rec.Key, err = ks.Decode(r.Key); err != nil {
					b.tb.Fatalf("eddytest: decoding the key of %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
				}
			}
			if r.Value != nil {
				if rec.Value, err = vs.Decode(r.Value); err != nil {
					b.tb.Fatalf("eddytest: decoding the value of %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
				}
			}
			byPart[r.Partition] = append(byPart[r.Partition], rec)
		})
	}
	var out []Record[K, V]
	for p := range int32(len(ends[topic])) {
		out = append(out, byPart[p]...)
	}
	return out
}
