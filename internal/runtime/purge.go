package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Repartition topics keep their records forever (retention.ms=-1: a slow downstream task
// must never lose input to retention), so eddy deletes what it has consumed, as Kafka
// Streams purges its repartition topics: at most once per PurgeInterval, each worker
// deletes the records below the last committed offset of every repartition partition it
// reads. Only committed offsets are purged below — under exactly-once, those
// a committed transaction consumed — so a restart or an abort never replays from a
// deleted record.

// purgeTimeout bounds one DeleteRecords round: a slow purge must not hold the loop up.
const purgeTimeout = 10 * time.Second

// markPurgeableLocked records, after a commit, the committed offset of each internal
// partition as the point below which its records may go.
func (w *worker) markPurgeableLocked() {
	for _, p := range w.parts {
		if p.internal && p.committed > p.purgeable {
			p.purgeable = p.committed
		}
	}
}

// purgeLocked deletes the records below the purgeable offsets of the worker's internal
// partitions, when PurgeInterval has passed since the last purge. A failure is logged and
// tried again at the next interval: nothing depends on it but disk space. A refused
// permission stops the worker, naming it: it would fail for ever.
func (w *worker) purgeLocked(ctx context.Context, now time.Time) {
	if w.cfg.PurgeInterval <= 0 || now.Sub(w.purgedAt) < w.cfg.PurgeInterval {
		return
	}
	w.purgedAt = now
	offsets := kadm.Offsets{}
	for _, p := range w.parts {
		if p.internal && p.purgeable > p.purged {
			offsets.Add(kadm.Offset{Topic: p.topic, Partition: p.partition, At: p.purgeable, LeaderEpoch: -1})
		}
	}
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), purgeTimeout)
	defer cancel()
	resp, err := kadm.NewClient(w.cl).DeleteRecords(ctx, offsets)
	if err != nil {
		w.log.Warn("purging repartition topics failed; trying again later", "err", err)
		return
	}
	resp.Each(func(r kadm.DeleteRecordsResponse) {
		if isAuthorization(r.Err) && w.fatal == nil {
			// A refused permission does not grant itself, and the topic would grow for ever.
			w.fatal = fmt.Errorf("%w: the application's principal may not purge the records it consumed of %s/%d: grant DELETE on topics prefixed %s-: %w",
				ErrNotAuthorized, r.Topic, r.Partition, w.cfg.ApplicationID, r.Err)
			return
		}
		if r.Err != nil {
			w.log.Warn("purging a repartition partition failed; trying again later", "topic", r.Topic, "partition", r.Partition, "err", r.Err)
			return
		}
		if p := w.parts[topicPartition{r.Topic, r.Partition}]; p != nil {
			if o, ok := offsets.Lookup(r.Topic, r.Partition); ok {
				p.purged = o.At
			}
		}
	})
}
