package runtime

import "github.com/twmb/franz-go/pkg/kgo"

// partitioner places output records: round-robin on the internal topics that Rebalance
// writes, and everywhere else as Kafka's default partitioner does — murmur2 of the key
// bytes modulo the partition count — so eddy and Java clients agree on where a key lives.
// Records without a key are spread stickily, as Kafka's producer does.
//
// Changelog topics are written partition by partition: task p writes partition p, whatever
// the key hashes to.
type partitioner struct {
	roundRobin map[string]bool
	manual     map[string]*changelogTopic
	keyed      kgo.Partitioner
	spread     kgo.Partitioner
	byRecord   kgo.Partitioner
}

func newPartitioner(roundRobin map[string]bool, manual map[string]*changelogTopic) kgo.Partitioner {
	return &partitioner{
		roundRobin: roundRobin,
		manual:     manual,
		keyed:      kgo.StickyKeyPartitioner(nil), // nil hasher = Kafka's murmur2
		spread:     kgo.RoundRobinPartitioner(),
		byRecord:   kgo.ManualPartitioner(),
	}
}

func (p *partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.manual[topic] != nil {
		return p.byRecord.ForTopic(topic)
	}
	if p.roundRobin[topic] {
		return p.spread.ForTopic(topic)
	}
	return p.keyed.ForTopic(topic)
}
