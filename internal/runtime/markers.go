package runtime

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Watermarks across repartition topics. A task that writes a repartition topic stamps
// every record with its watermark, and at commit time (at most once per markerInterval,
// when something changed) writes a watermark-only marker to every partition of the topic,
// so readers learn of its progress — and of its idleness — even where it sends no record.
// A reader keeps one watermark per upstream task (every task of the writing sub-topology)
// and uses the minimum over those not idle; until every upstream task has reported, the
// partition holds the watermark back. Markers never reach processors.

// wmHeader is the header that carries a writer's watermark: watermark ms (8 bytes, signed
// big-endian; MinInt64 when it has none), flags (1 byte), sub-topology (4) and partition
// (4) of the writing task.
const wmHeader = "eddy-wm"

const (
	flagIdle   = 1 << 0 // the writing task's inputs are all idle
	flagMarker = 1 << 1 // a watermark-only marker, not a record
)

// markerInterval bounds how often a task writes markers.
const markerInterval = time.Second

func encodeWM(wm time.Time, flags byte, sub int, partition int32) []byte {
	b := make([]byte, 0, 17)
	ms := int64(math.MinInt64)
	if !wm.IsZero() {
		ms = wm.UnixMilli()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	b = append(b, flags)
	b = binary.BigEndian.AppendUint32(b, uint32(sub))
	return binary.BigEndian.AppendUint32(b, uint32(partition))
}

type upstreamWM struct {
	wm   int64
	idle bool
}

// readWMEnd is readWM that also reports an end-of-input marker.
func readWMEnd(rec *kgo.Record) (up uint64, st upstreamWM, marker, end, ok bool) {
	for _, h := range rec.Headers {
		if h.Key == wmHeader && len(h.Value) == 17 {
			end = h.Value[8]&flagEnd != 0
			break
		}
	}
	up, st, marker, ok = readWM(rec)
	return up, st, marker, end && ok, ok
}

// endUpstream records an upstream task's end of input; the partition is done when every
// upstream task has ended.
func (p *partition) endUpstream(up uint64) {
	if int(uint32(up)) >= p.expected {
		// Not one of the upstream tasks there are (metadata or a marker of another
		// topology's, or corrupt): it must not count toward the end.
		return
	}
	if p.clock.ended == nil {
		p.clock.ended = map[uint64]bool{}
	}
	p.clock.ended[up] = true
	if len(p.clock.ended) >= p.expected {
		p.clock.done = true
	}
}

// readWM finds and removes the watermark header of a record read from a repartition
// topic; ok is false when there is none (a record from an older writer).
func readWM(rec *kgo.Record) (up uint64, st upstreamWM, marker, ok bool) {
	for i, h := range rec.Headers {
		if h.Key != wmHeader || len(h.Value) != 17 {
			continue
		}
		v := h.Value
		st.wm = int64(binary.BigEndian.Uint64(v[:8]))
		st.idle = v[8]&flagIdle != 0
		marker = v[8]&flagMarker != 0
		up = uint64(binary.BigEndian.Uint32(v[9:13]))<<32 | uint64(binary.BigEndian.Uint32(v[13:17]))
		// Processors never see eddy's header: it would travel on to output topics.
		rec.Headers = append(rec.Headers[:i:i], rec.Headers[i+1:]...)
		return up, st, marker, true
	}
	return 0, st, false, false
}

// isMarker reports whether rec is a watermark-only marker (it goes to the partition it
// names, not to one chosen by key).
func isMarker(rec *kgo.Record) bool {
	for _, h := range rec.Headers {
		if h.Key == wmHeader && len(h.Value) == 17 {
			return h.Value[8]&flagMarker != 0
		}
	}
	return false
}

// observeUpstream records an upstream task's watermark on an internal partition and
// recomputes the partition's: the minimum over upstream tasks that are not idle, once all
// of them have reported; idle, at the highest of theirs, when all are idle.
func (p *partition) observeUpstream(up uint64, st upstreamWM) {
	if p.clock.upstream == nil {
		p.clock.upstream = map[uint64]upstreamWM{}
	}
	if old, ok := p.clock.upstream[up]; ok && old.wm > st.wm {
		st.wm = old.wm // a task's watermark never goes down
	}
	p.clock.upstream[up] = st
	if len(p.clock.upstream) < p.expected {
		p.clock.seen, p.clock.idle = false, false
		return
	}
	low, high, active := int64(math.MaxInt64), int64(math.MinInt64), false
	for _, u := range p.clock.upstream {
		high = max(high, u.wm)
		if !u.idle {
			active = true
			low = min(low, u.wm)
		}
	}
	p.clock.idle = !active
	if !active {
		// Every upstream task is idle: as in Flink, the partition carries the highest
		// watermark they reached, so the last windows still close.
		low = high
	}
	if low == math.MinInt64 {
		p.clock.seen = false
		return
	}
	p.clock.maxTime, p.clock.seen = time.UnixMilli(low), true
}

// seedUpstream gives every upstream task (the writing sub-topology's tasks) the committed
// watermark of the partition, a lower bound of each: a restarted reader need not wait for
// every upstream task to report before its watermark moves.
func (p *partition) seedUpstream(writer int, wm int64, idle bool) {
	for i := range p.expected {
		up := uint64(writer)<<32 | uint64(i)
		if _, ok := p.clock.upstream[up]; !ok {
			if p.clock.upstream == nil {
				p.clock.upstream = map[uint64]upstreamWM{}
			}
			p.clock.upstream[up] = upstreamWM{wm: wm, idle: idle}
		}
	}
	p.observeUpstream(uint64(writer)<<32, p.clock.upstream[uint64(writer)<<32])
}

// stampLocked adds the task's watermark to a record it writes to a repartition topic.
func (t *task) stamp(rec *kgo.Record) {
	if t.w.plan.upstreams[rec.Topic] == 0 {
		return
	}
	var flags byte
	if t.allIdle() {
		flags |= flagIdle
	}
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: wmHeader, Value: encodeWM(t.publishedWatermark(), flags, t.id.Subtopology, t.id.Partition)})
}

// publishedWatermark is the watermark the task tells downstream tasks: its own, except
// after a bounded run moved it to the end of time, when it is the real one it had when its
// input ended. Downstream tasks learn of the end from the end flag and close their own
// windows; a watermark at the end of time would be committed in their offsets' metadata,
// and a later run would take every record behind the repartition as late.
func (t *task) publishedWatermark() time.Time {
	if t.finished {
		return t.endedAt
	}
	return t.watermark
}

// allIdle reports whether every input partition that holds the watermark is idle.
func (t *task) allIdle() bool {
	n := 0
	for _, p := range t.parts {
		if p.timing.table {
			continue
		}
		if !p.clock.idle {
			return false
		}
		n++
	}
	return n > 0
}

// sendMarkersLocked writes watermark markers for every task that writes repartition
// topics and whose watermark or idleness changed since its last markers (at most once per
// markerInterval).
func (w *worker) sendMarkersLocked(now time.Time) error {
	for _, t := range w.ordered {
		topics := w.plan.writes[t.id.Subtopology]
		if len(topics) == 0 || t.restoring != 0 || now.Sub(t.markedAt) < w.markEvery {
			continue
		}
		idle := t.allIdle()
		wm := t.publishedWatermark()
		if t.marked && t.markedWM.Equal(wm) && t.markedIdle == idle {
			continue
		}
		flags := byte(flagMarker)
		if idle {
			flags |= flagIdle
		}
		value := encodeWM(wm, flags, t.id.Subtopology, t.id.Partition)
		for _, topic := range topics {
			for p := range w.plan.partitions[topic] {
				rec := &kgo.Record{Topic: topic, Partition: p, Headers: []kgo.RecordHeader{{Key: wmHeader, Value: value}}, Timestamp: now}
				if err := w.send(rec); err != nil {
					return err
				}
			}
		}
		t.marked, t.markedAt, t.markedWM, t.markedIdle = true, now, wm, idle
	}
	return nil
}
