package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Partition watermarks ride in the committed offsets' metadata, so a restart resumes with
// them: "eddy1:<ms>", with ":idle" appended for an idle partition (at most about 30 bytes;
// Kafka's limit is 4 KiB). For an external partition <ms> is its highest event time; for
// an internal one it is its watermark, the minimum over its upstream tasks, which a
// restart gives every upstream task until each reports again (an upstream task whose
// watermark does not change writes no new marker, so it might not report for long).
// Metadata that is not eddy's — franz-go writes the member id there by default — is
// ignored.
const offsetMetaPrefix = "eddy1:"

func encodeOffsetMeta(p *partition, run int64) (string, bool) {
	maxTime, seen, idle := p.clock.maxTime, p.clock.seen, p.clock.idle
	if p.task != nil && p.task.finished {
		maxTime, seen, idle = p.finalMax, p.finalSeen, p.finalIdle
	}
	if p.timing.table || (!seen && len(p.clock.ended) == 0) {
		return "", false
	}
	m := offsetMeta{ms: maxTime.UnixMilli(), seen: seen, idle: idle, run: run}
	for up := range p.clock.ended {
		m.ended = append(m.ended, int32(uint32(up)))
	}
	return m.String(), true
}

// offsetMeta is what a committed offset's metadata says of its partition:
// "eddy1:<ms or ->[:idle][:end=<bitmap>@<run>]"; the bitmap (hex, bit i for upstream
// partition i) lists, for an internal partition in a bounded run, the upstream tasks that
// sent their end of input, which a task that moves to another worker would not see again.
// They ended in the run named (topicPlan.run) and hold in that run only: in the next one
// the upstream tasks end again, maybe after more records.
type offsetMeta struct {
	ms         int64
	seen, idle bool
	ended      []int32
	run        int64 // the bounded run whose ends ended lists (topicPlan.run)
}

func (m offsetMeta) String() string {
	s := offsetMetaPrefix + "-"
	if m.seen {
		s = offsetMetaPrefix + strconv.FormatInt(m.ms, 10)
	}
	if m.idle {
		s += ":idle"
	}
	if len(m.ended) > 0 {
		var bits big.Int
		for _, i := range m.ended {
			bits.SetBit(&bits, int(i), 1)
		}
		s += ":end=" + bits.Text(16) + "@" + strconv.FormatInt(m.run, 10)
	}
	return s
}

func decodeOffsetMeta(s string) (offsetMeta, bool) {
	var m offsetMeta
	rest, found := strings.CutPrefix(s, offsetMetaPrefix)
	if !found {
		return m, false
	}
	parts := strings.Split(rest, ":")
	if parts[0] != "-" {
		ms, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return m, false
		}
		m.ms, m.seen = ms, true
	}
	for _, part := range parts[1:] {
		switch {
		case part == "idle":
			m.idle = true
		case strings.HasPrefix(part, "end="):
			hex, run, tagged := strings.Cut(part[4:], "@")
			if tagged {
				// Without a run (written before runs were told apart): no run's, so stale.
				var err error
				if m.run, err = strconv.ParseInt(run, 10, 64); err != nil {
					return m, false
				}
			}
			var bits big.Int
			if _, ok := bits.SetString(hex, 16); !ok {
				return m, false
			}
			for i := range bits.BitLen() {
				if bits.Bit(i) == 1 {
					m.ended = append(m.ended, int32(i))
				}
			}
		default:
			return m, false
		}
	}
	return m, true
}

// withOffsetMeta returns ctx carrying the functions that put each partition's watermark
// into the offset commit, plain or transactional.
func (w *worker) withOffsetMeta(ctx context.Context) context.Context {
	meta := map[topicPartition]string{}
	for tp, p := range w.parts {
		if m, ok := encodeOffsetMeta(p, w.plan.run); ok {
			meta[tp] = m
		}
	}
	if len(meta) == 0 {
		return ctx
	}
	ctx = kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			t := &req.Topics[i]
			for j := range t.Partitions {
				if m, ok := meta[topicPartition{t.Topic, t.Partitions[j].Partition}]; ok {
					t.Partitions[j].Metadata = &m
				}
			}
		}
		return nil
	})
	return kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		for i := range req.Topics {
			t := &req.Topics[i]
			for j := range t.Partitions {
				if m, ok := meta[topicPartition{t.Topic, t.Partitions[j].Partition}]; ok {
					t.Partitions[j].Metadata = &m
				}
			}
		}
		return nil
	})
}

// loadOffsetMetaLocked restores the watermarks of newly assigned partitions from their
// committed offsets' metadata, before any of their records is processed. Retriable errors
// are retried within a bound; past it, or on any other error, it returns the error that
// stops Run; when Run is stopped meanwhile, errStopping (see worker.run).
func (w *worker) loadOffsetMetaLocked(ctx context.Context) error {
	var need []*partition
	for _, p := range w.parts {
		if p.needMeta {
			need = append(need, p)
		}
	}
	if len(need) == 0 {
		return nil
	}
	for _, p := range need {
		p.needMeta = false
	}
	// A new partition's records are processed only after its committed time is known:
	// records processed with a watermark relearned from scratch could be taken as on time
	// when they are late, or the other way round. Retriable errors (a coordinator moving,
	// a fresh broker) are retried within a bound; past it, or on any other error, Run
	// stops, and a restart tries again.
	var offs kadm.OffsetResponses
	err := retryStart(ctx, func(ctx context.Context) (err error) {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		offs, err = kadm.NewClient(w.cl).FetchOffsets(octx, w.cfg.ApplicationID)
		return err
	})
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		if ctx.Err() != nil {
			// Stopping: the partitions' records must not be processed without their time,
			// nor a transaction commit the offsets of records left unprocessed.
			return errStopping
		}
		return fmt.Errorf("eddy: reading the watermarks committed with the offsets of %s: %w", w.cfg.ApplicationID, err)
	}
	if err := w.loadPositionsLocked(ctx, need, offs); err != nil {
		return err
	}
	w.applyOffsetMetaLocked(need, offs)
	return nil
}

// applyOffsetMetaLocked gives the newly assigned partitions need the time state their
// committed offsets' metadata in offs holds, and advances the watermarks it moves.
func (w *worker) applyOffsetMetaLocked(need []*partition, offs kadm.OffsetResponses) {
	for _, p := range need {
		o, ok := offs.Lookup(p.topic, p.partition)
		if !ok {
			continue
		}
		if p.end >= 0 && o.At >= p.end {
			// Bounded mode, a partition another worker finished reading.
			p.clock.done, p.committedClock.done = true, true
		}
		m, ok := decodeOffsetMeta(o.Metadata)
		if !ok {
			continue
		}
		writer := w.plan.writerOf[p.topic]
		if w.cfg.Bounded && p.internal && m.run == w.plan.run {
			// Ends committed by an earlier run are stale: the upstream tasks end again.
			for _, up := range m.ended {
				p.endUpstream(uint64(writer)<<32 | uint64(uint32(up)))
			}
		}
		t := time.UnixMilli(m.ms)
		if !m.seen || (p.clock.seen && !t.After(p.clock.maxTime)) {
			continue
		}
		if p.internal {
			p.seedUpstream(writer, m.ms, m.idle)
		} else {
			p.clock.maxTime, p.clock.seen, p.clock.idle = t, true, m.idle
		}
		p.snapshotTime()
	}
	for _, t := range w.ordered {
		if err := t.advanceWatermark(); err != nil {
			w.setFatalLocked(fmt.Errorf("eddy: task %s: restoring watermarks: %w", t.id, err))
		}
	}
}

// OffsetMetaTime returns the partition's time (Unix milliseconds) that a committed
// offset's metadata carries, if it is eddy's and has one: what a savepoint records as the
// partition's watermark state.
func OffsetMetaTime(meta string) (ms int64, ok bool) {
	m, ok := decodeOffsetMeta(meta)
	return m.ms, ok && m.seen
}
