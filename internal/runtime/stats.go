package runtime

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/metrics"
)

// Commit and output statistics (DESIGN §12): the counters and histograms are resolved
// once per worker and per task and sink topic; the record path adds to plain fields of its
// task and moves them into the shared atomics once per chunk of records.

// commitStats are a worker's commit counters.
type commitStats struct {
	commits, aborts *atomic.Int64
	latency         *metrics.Histogram
	records         *metrics.Histogram
	// sinceCommit counts the records processed since the last commit (or abort).
	sinceCommit int64
}

func newCommitStats(m *metrics.Registry, worker int) commitStats {
	if m == nil {
		m = metrics.NewRegistry() // kept by nobody: the counts go nowhere
	}
	w := strconv.Itoa(worker)
	return commitStats{
		commits: m.Counter("eddy_commits_total", "Commits the worker made (transactions committed, or offsets committed).", "worker", w),
		aborts:  m.Counter("eddy_commit_aborts_total", "Transactions aborted, by the group or for a replay; their records are processed again.", "worker", w),
		latency: m.Histogram("eddy_commit_latency_seconds", "How long a commit took: flushing the output and changelogs, and committing the offsets or the transaction.",
			metrics.LatencyBuckets, "worker", w),
		records: m.Histogram("eddy_commit_records", "Records processed per commit.", metrics.CountBuckets, "worker", w),
	}
}

// committed counts a commit that took d.
func (s *commitStats) committed(d time.Duration) {
	s.commits.Add(1)
	s.latency.Observe(d.Seconds())
	s.records.Observe(float64(s.sinceCommit))
	s.sinceCommit = 0
}

// aborted counts an aborted transaction.
func (s *commitStats) aborted() {
	s.aborts.Add(1)
	s.sinceCommit = 0
}

// sinkStats counts a task's output to one topic: n records since the last flush into
// total, and every latencyEvery-th one's end-to-end latency.
type sinkStats struct {
	topic   string
	n       int64
	total   *atomic.Int64
	latency *metrics.Histogram
}

// latencyEvery is how often a task samples the end-to-end latency of its output.
const latencyEvery = 16

// output counts rec, which the task hands the producer, and samples its end-to-end
// latency: the wall clock now less the time of the input record it came from.
func (t *task) output(rec *kgo.Record) {
	s := t.lastSink
	if s == nil || s.topic != rec.Topic {
		s = t.sink(rec.Topic)
	}
	s.n++
	t.outputs++
	if t.outputs%latencyEvery == 1 && t.curRec != nil { // the first output, then every latencyEvery-th
		s.latency.Observe(max(0, t.w.clock().Sub(t.curRec.Timestamp).Seconds()))
	}
}

// sink finds (or makes) the task's statistics of topic.
func (t *task) sink(topic string) *sinkStats {
	for _, s := range t.sinks {
		if s.topic == topic {
			t.lastSink = s
			return s
		}
	}
	m := t.w.cfg.Metrics
	if m == nil {
		m = metrics.NewRegistry()
	}
	s := &sinkStats{topic: topic,
		total: m.Counter("eddy_records_produced_total", "Records the sinks produced, by topic (repartition topics included).", "topic", topic),
		latency: m.Histogram("eddy_end_to_end_latency_seconds", "The wall clock at output less the time of the input record it came from, sampled, by output topic.",
			metrics.LatencyBuckets, "topic", topic)}
	t.sinks = append(t.sinks, s)
	t.lastSink = s
	return s
}

// flushOutputs moves the task's output counts into the shared counters.
func (t *task) flushOutputs() {
	for _, s := range t.sinks {
		if s.n > 0 {
			s.total.Add(s.n)
			s.n = 0
		}
	}
}
