package changelog

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Changes are a store's buffered changes since the last commit: the last value of every
// changed key, or its deletion.
type Changes interface {
	Each(fn func(key string, value []byte, deleted bool) error) error
}

// Write produces changes to partition of topic, one record per key: its last value, or a
// tombstone (a nil value) for a deletion. An empty value stays empty: only a deletion is a
// tombstone. The values must stay untouched until the records are acknowledged: the
// producer holds them without a copy.
func Write(ctx context.Context, produce func(context.Context, *kgo.Record), topic string, partition int32, changes Changes) {
	_ = changes.Each(func(k string, v []byte, deleted bool) error {
		rec := &kgo.Record{Topic: topic, Partition: partition, Key: []byte(k)}
		if !deleted {
			rec.Value = v
			if rec.Value == nil {
				rec.Value = []byte{}
			}
		}
		produce(ctx, rec)
		return nil
	})
}

// Acks tracks the highest acknowledged offset of each changelog partition a worker writes,
// fed by its producer's promise. A store's checkpoint is one past it, and is written only
// after the data it covers was acknowledged. Safe for concurrent use.
type Acks struct {
	mu sync.Mutex
	m  map[partitionKey]int64
}

type partitionKey struct {
	topic     string
	partition int32
}

// Observe records an acknowledged changelog record.
func (a *Acks) Observe(r *kgo.Record) {
	k := partitionKey{r.Topic, r.Partition}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[partitionKey]int64{}
	}
	if old, ok := a.m[k]; !ok || r.Offset > old {
		a.m[k] = r.Offset
	}
}

// Next is the offset after the highest acknowledged record of the partition: where a
// replay of the changelog resumes. ok is false when none was acknowledged.
func (a *Acks) Next(topic string, partition int32) (next int64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	off, ok := a.m[partitionKey{topic, partition}]
	return off + 1, ok
}

// Log describes a changelog partition as a restore finds it.
type Log struct {
	// TopicID is the topic's id: a recreated topic has a new one.
	TopicID [16]byte
	// Start and End are the log start and last stable offsets.
	Start, End int64
	// DeleteRetention is the topic's delete.retention.ms: how long compaction keeps
	// tombstones.
	DeleteRetention time.Duration
}

// Trusted reports whether local state checkpointed at offset of the topic with topicID,
// written at written, may be reused by replaying the changelog from offset. Only for the
// same topic (not one recreated since), with the offset inside the log (start ≤ offset ≤
// end: the records after it are all there, and none is beyond the end), and younger than
// delete.retention.ms less a margin: compaction may have removed tombstones written
// since an older checkpoint, and the keys they deleted would come back. Otherwise the
// local state is wiped and restored from the start.
func Trusted(topicID [16]byte, offset int64, written time.Time, log Log, now time.Time) bool {
	margin := min(time.Hour, log.DeleteRetention/10)
	return topicID == log.TopicID && log.Start <= offset && offset <= log.End &&
		now.Sub(written) < log.DeleteRetention-margin
}
