package runtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
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

func encodeOffsetMeta(p *partition) (string, bool) {
	if p.timing.table || !p.seen {
		return "", false
	}
	s := offsetMetaPrefix + strconv.FormatInt(p.maxTime.UnixMilli(), 10)
	if p.idle {
		s += ":idle"
	}
	return s, true
}

func decodeOffsetMeta(s string) (maxTime time.Time, idle, ok bool) {
	rest, found := strings.CutPrefix(s, offsetMetaPrefix)
	if !found {
		return time.Time{}, false, false
	}
	rest, idle = strings.CutSuffix(rest, ":idle")
	ms, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return time.Time{}, false, false
	}
	return time.UnixMilli(ms), idle, true
}

// withOffsetMeta returns ctx carrying the functions that put each partition's watermark
// into the offset commit, plain or transactional.
func (w *worker) withOffsetMeta(ctx context.Context) context.Context {
	meta := map[topicPartition]string{}
	for tp, p := range w.parts {
		if m, ok := encodeOffsetMeta(p); ok {
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
// committed offsets' metadata, before any of their records is processed. A failure only
// costs the restored watermark (it is relearned from records), so it is logged, not fatal.
func (w *worker) loadOffsetMetaLocked(ctx context.Context) {
	var need []*partition
	for _, p := range w.parts {
		if p.needMeta {
			need = append(need, p)
		}
	}
	if len(need) == 0 {
		return
	}
	for _, p := range need {
		p.needMeta = false
	}
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(w.cl).FetchOffsets(octx, w.cfg.ApplicationID)
	if err != nil {
		w.log.Warn("reading the committed watermarks failed; they are relearned from records", "err", err)
		return
	}
	for _, p := range need {
		o, ok := offs.Lookup(p.topic, p.partition)
		if !ok {
			continue
		}
		t, idle, ok := decodeOffsetMeta(o.Metadata)
		if !ok || (p.seen && !t.After(p.maxTime)) {
			continue
		}
		if p.internal {
			p.seedUpstream(w.plan.writerOf[p.topic], t.UnixMilli(), idle)
		} else {
			p.maxTime, p.seen, p.idle = t, true, idle
		}
		p.snapshotTime()
	}
	for _, t := range w.tasks {
		if err := t.advanceWatermark(); err != nil {
			w.setFatalLocked(fmt.Errorf("eddy: task %s: restoring watermarks: %w", t.id, err))
		}
	}
}
