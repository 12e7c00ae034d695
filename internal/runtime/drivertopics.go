package runtime

// The driver's in-memory topics: it is the worker's transport (produce, pause, resume,
// rewind, commit offsets) and, under exactly-once, its transactions (memTxn); fetches
// and reads see what a read_committed consumer would; snapshots copy them for a restart.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// append writes a record to its topic's partition (-1: the partitioner's choice).
func (d *Driver) append(rec *kgo.Record, partition int32, pending bool) error {
	mt := d.topics[rec.Topic]
	if mt == nil {
		return kerr.UnknownTopicOrPartition
	}
	n := len(mt.parts)
	if partition < 0 {
		if rec.Key == nil && !isMarker(rec) && d.w.plan.changelogs[rec.Topic] == nil && !d.w.plan.byTask[rec.Topic] {
			partition = int32(d.roundRobin[rec.Topic] % n)
			d.roundRobin[rec.Topic]++
		} else {
			tp, ok := d.tps[rec.Topic]
			if !ok {
				tp = d.part.ForTopic(rec.Topic)
				d.tps[rec.Topic] = tp
			}
			partition = int32(tp.Partition(rec, n))
		}
	}
	if partition < 0 || int(partition) >= n {
		return fmt.Errorf("eddy: partition %d of %s, which has %d", partition, rec.Topic, n)
	}
	if rec.Timestamp.IsZero() {
		rec.Timestamp = d.now
	}
	// Kafka keeps milliseconds.
	rec.Timestamp = time.UnixMilli(rec.Timestamp.UnixMilli())
	rec.Partition, rec.Offset, rec.LeaderEpoch = partition, int64(len(mt.parts[partition])), 0
	stored := &kgo.Record{Key: clone(rec.Key), Value: clone(rec.Value), Topic: rec.Topic, Partition: partition,
		Offset: rec.Offset, Timestamp: rec.Timestamp, Headers: make([]kgo.RecordHeader, len(rec.Headers))}
	for i, h := range rec.Headers {
		stored.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: clone(h.Value)}
	}
	d.seq++
	m := &memRec{rec: stored, seq: d.seq, pending: pending}
	mt.parts[partition] = append(mt.parts[partition], m)
	if pending {
		d.txn.written = append(d.txn.written, m)
		if mt.firstPending[partition] < 0 {
			mt.firstPending[partition] = int(rec.Offset)
		}
	}
	return nil
}

// copyRecord is a copy of rec that shares no bytes with it: what the driver hands out
// cannot change its topics.
func copyRecord(rec *kgo.Record) *kgo.Record {
	r := *rec
	r.Key, r.Value = clone(rec.Key), clone(rec.Value)
	r.Headers = make([]kgo.RecordHeader, len(rec.Headers))
	for i, h := range rec.Headers {
		r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: clone(h.Value)}
	}
	return &r
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// visible is the end of what a read_committed consumer sees of a partition (the last
// stable offset), less the aborted records just below it: with no transaction markers in
// memory, the end a fetch reports is the position a consumer reaches once it read
// everything it can.
func (d *Driver) end(topic string, partition int32) int64 {
	mt := d.topics[topic]
	log := mt.parts[partition]
	end := len(log)
	if fp := mt.firstPending[partition]; fp >= 0 {
		end = fp
	}
	for end > 0 && log[end-1].aborted {
		end--
	}
	return int64(end)
}

// Produce is the worker's producer: the record is written at once (into the open
// transaction under exactly-once) and its promise called before Produce returns.
func (d *Driver) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	partition := int32(-1)
	if d.w.plan.changelogs[r.Topic] != nil || isMarker(r) {
		partition = r.Partition
	}
	size := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		size += len(h.Key) + len(h.Value)
	}
	var err error
	switch {
	case d.topics[r.Topic] == nil:
		err = kerr.UnknownTopicOrPartition
	case int64(size) > int64(d.w.plan.maxRecordBytes)-recordOverhead:
		err = kerr.MessageTooLarge
	default:
		err = d.append(r, partition, d.txn != nil)
	}
	promise(r, err)
}

// Flush has nothing to wait for: every record was written by Produce.
func (d *Driver) Flush(context.Context) error { return nil }

// PauseFetchPartitions pauses fetching the partitions.
func (d *Driver) PauseFetchPartitions(tps map[string][]int32) map[string][]int32 {
	for t, ps := range tps {
		for _, p := range ps {
			d.paused[topicPartition{t, p}] = true
		}
	}
	return nil
}

// ResumeFetchPartitions resumes fetching the partitions.
func (d *Driver) ResumeFetchPartitions(tps map[string][]int32) {
	for t, ps := range tps {
		for _, p := range ps {
			if d.paused[topicPartition{t, p}] {
				delete(d.paused, topicPartition{t, p})
				d.resumed++
			}
		}
	}
}

// SetOffsets moves the fetch positions.
func (d *Driver) SetOffsets(offsets map[string]map[int32]kgo.EpochOffset) {
	for t, ps := range offsets {
		for p, eo := range ps {
			d.fetch[topicPartition{t, p}] = eo.Offset
		}
	}
}

// CommitOffsetsSync commits offsets for the group, each partition's watermark in the
// metadata as withOffsetMeta puts it.
func (d *Driver) CommitOffsetsSync(_ context.Context, offsets map[string]map[int32]kgo.EpochOffset,
	onDone func(*kgo.Client, *kmsg.OffsetCommitRequest, *kmsg.OffsetCommitResponse, error)) {
	for t, ps := range offsets {
		for p, eo := range ps {
			d.commitOffset(topicPartition{t, p}, eo.Offset)
		}
	}
	onDone(nil, nil, &kmsg.OffsetCommitResponse{}, nil)
}

func (d *Driver) commitOffset(tp topicPartition, offset int64) {
	c := committedOffset{offset: offset}
	if p := d.w.parts[tp]; p != nil {
		c.meta, _ = encodeOffsetMeta(p, d.w.plan.run)
	}
	d.group[tp] = c
}

// memTxn is the worker's transactions under exactly-once: records written in the open
// transaction are invisible to read_committed fetches until it commits, and never
// visible once it aborts; a commit commits the offsets of everything fetched, an abort
// rewinds fetching to the committed offsets.
type memTxn struct {
	d       *Driver
	open    bool
	written []*memRec
}

func (x *memTxn) Begin() error        { x.open = true; return nil }
func (x *memTxn) InTransaction() bool { return x.open }

func (x *memTxn) Commit(context.Context) (bool, error) {
	if !x.open {
		return true, nil
	}
	x.open = false
	for _, p := range x.d.w.parts {
		if p.next >= 0 && p.next != p.committed {
			x.d.commitOffset(topicPartition{p.topic, p.partition}, p.next)
		}
	}
	for _, m := range x.written {
		m.pending = false
	}
	x.resolved()
	return true, nil
}

// resolved forgets the transaction's records once committed or aborted: no partition has
// a record in an open transaction any more (there is one transaction at a time).
func (x *memTxn) resolved() {
	for _, m := range x.written {
		x.d.topics[m.rec.Topic].firstPending[m.rec.Partition] = -1
	}
	x.written = x.written[:0]
}

func (x *memTxn) Abort(context.Context) error {
	if !x.open {
		return nil
	}
	x.open = false
	for _, m := range x.written {
		m.pending, m.aborted = false, true
	}
	x.resolved()
	for tp := range x.d.w.parts {
		if c, ok := x.d.group[tp]; ok {
			x.d.fetch[tp] = c.offset
		}
	}
	return nil
}

// fetchLocked hands every unpaused partition the records it has not fetched yet, as a
// poll would; it reports whether there were any.
func (d *Driver) fetchLocked() bool {
	w := d.w
	got := false
	for _, t := range w.ordered {
		for _, p := range t.parts {
			tp := topicPartition{p.topic, p.partition}
			if d.paused[tp] {
				continue
			}
			log := d.topics[p.topic].parts[p.partition]
			end := d.end(p.topic, p.partition)
			from := d.fetch[tp]
			fp := kgo.FetchTopicPartition{Topic: p.topic, FetchPartition: kgo.FetchPartition{
				Partition: p.partition, HighWatermark: end, LastStableOffset: end}}
			for off := from; off < end; off++ {
				if m := log[off]; !m.aborted {
					r := *m.rec
					r.Headers = slices.Clone(m.rec.Headers)
					fp.Records = append(fp.Records, &r)
				}
			}
			d.fetch[tp] = max(from, end)
			if len(fp.Records) > 0 {
				got = true
			}
			w.enqueueLocked(fp)
		}
	}
	return got
}

// Records returns the records of a topic from each partition's offset in next on
// (next[p]; missing entries read from 0) that a read_committed consumer sees, in the
// order they were written, and moves next past them.
func (d *Driver) Records(topic string, next []int64) ([]*kgo.Record, []int64, error) {
	mt, ok := d.topics[topic]
	if !ok {
		return nil, next, fmt.Errorf("eddytest: the topology neither reads nor writes a topic %q", topic)
	}
	for len(next) < len(mt.parts) {
		next = append(next, 0)
	}
	var out []*memRec
	for p := range mt.parts {
		end := d.end(topic, int32(p))
		for off := next[p]; off < end; off++ {
			if m := mt.parts[p][off]; !m.aborted {
				out = append(out, m)
			}
		}
		next[p] = max(next[p], end)
	}
	slices.SortFunc(out, func(a, b *memRec) int { return int(a.seq) - int(b.seq) })
	recs := make([]*kgo.Record, len(out))
	for i, m := range out {
		recs[i] = copyRecord(m.rec)
	}
	return recs, next, nil
}

// Snapshot is what a restart finds: every topic as written (uncommitted output of
// at-least-once included, an open transaction's records aborted, as a broker would abort
// them after a crash) and the committed offsets. Taken before Close it is a crash's.
func (d *Driver) Snapshot() *DriverState {
	s := (&DriverState{topics: d.topics, group: d.group, now: d.now, seq: d.seq}).clone()
	for _, mt := range s.topics {
		for i, log := range mt.parts {
			for _, m := range log {
				if m.pending {
					m.pending, m.aborted = false, true
				}
			}
			mt.firstPending[i] = -1
		}
	}
	return s
}

func (s *DriverState) clone() *DriverState {
	c := &DriverState{topics: map[string]*memTopic{}, group: map[topicPartition]committedOffset{}, now: s.now, seq: s.seq}
	for name, mt := range s.topics {
		cm := &memTopic{parts: make([][]*memRec, len(mt.parts)), firstPending: slices.Clone(mt.firstPending)}
		for i, log := range mt.parts {
			cm.parts[i] = make([]*memRec, len(log))
			for j, m := range log {
				cp := *m
				cm.parts[i][j] = &cp
			}
		}
		c.topics[name] = cm
	}
	for tp, o := range s.group {
		c.group[tp] = o
	}
	return c
}
