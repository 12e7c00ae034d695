package runtime

import "github.com/twmb/franz-go/pkg/kgo"

// partitioner places output records: round-robin on the internal topics that Rebalance
// writes, and everywhere else as Kafka's default partitioner does — murmur2 of the key
// bytes modulo the partition count — so eddy and Java clients agree on where a key lives.
// Records without a key are spread stickily, as Kafka's producer does.
//
// Changelog topics are written partition by partition: task p writes partition p, whatever
// the key hashes to; so are the output topics of PartitionByTask sinks, modulo their count.
type partitioner struct {
	roundRobin map[string]bool
	byTask     map[string]bool
	manual     map[string]*changelogTopic
	internal   map[string]int
	keyed      kgo.Partitioner
	spread     kgo.Partitioner
	byRecord   kgo.Partitioner
}

func newPartitioner(roundRobin, byTask map[string]bool, manual map[string]*changelogTopic, internal map[string]int) kgo.Partitioner {
	return &partitioner{
		roundRobin: roundRobin,
		byTask:     byTask,
		manual:     manual,
		internal:   internal,
		keyed:      kgo.StickyKeyPartitioner(nil), // nil hasher = Kafka's murmur2
		spread:     kgo.RoundRobinPartitioner(),
		byRecord:   kgo.ManualPartitioner(),
	}
}

func (p *partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.manual[topic] != nil {
		return p.byRecord.ForTopic(topic)
	}
	if p.byTask[topic] {
		return taskPartitioner{}
	}
	inner := p.keyed.ForTopic(topic)
	if p.roundRobin[topic] {
		inner = p.spread.ForTopic(topic)
	}
	if p.internal[topic] == 0 {
		return inner
	}
	m := markerPartitioner{inner: inner, manual: p.byRecord.ForTopic(topic)}
	if nb, ok := inner.(kgo.TopicPartitionerOnNewBatch); ok {
		// franz-go changes how it partitions when a partitioner takes new-batch signals:
		// pass them on only where the inner one takes them.
		return markerPartitionerNB{m, nb}
	}
	return m
}

// markerPartitioner sends watermark markers to the partition they name; everything else
// goes where the inner partitioner says.
type markerPartitioner struct {
	inner, manual kgo.TopicPartitioner
}

func (m markerPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isMarker(r) || m.inner.RequiresConsistency(r)
}

// markerPartitionerNB passes franz-go's new-batch signal on, so sticky partitioning of
// records without a key keeps switching partitions.
type markerPartitionerNB struct {
	markerPartitioner
	nb kgo.TopicPartitionerOnNewBatch
}

func (m markerPartitionerNB) OnNewBatch() { m.nb.OnNewBatch() }

func (m markerPartitioner) Partition(r *kgo.Record, n int) int {
	if isMarker(r) {
		return m.manual.Partition(r, n)
	}
	return m.inner.Partition(r, n)
}

// taskPartitioner places a record on the partition the sink set (its task's) modulo the
// topic's partition count.
type taskPartitioner struct{}

func (taskPartitioner) RequiresConsistency(*kgo.Record) bool { return true }
func (taskPartitioner) Partition(r *kgo.Record, n int) int   { return int(r.Partition) % n }
