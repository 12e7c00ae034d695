package runtime

import "time"

// Task time (DESIGN §8): each task is at any moment busy (processing records), back-
// pressured (its output cannot be handed on: the producer's buffer is full, so a produce
// blocks until the brokers acknowledge a batch) or idle (the rest). The worker's loop
// measures its tasks' chunks of records, never a single record: two clock readings per
// chunk of up to 256 records. The worker counts the records it has handed the producer
// and not yet had acknowledged (inflight: an atomic add per produce and per promise); a
// task's produce that finds that count at the producer's MaxBufferedRecords blocks, and
// is timed — the only produces that are — and that time moves from the chunk's busy time
// to its backpressured time. Each second the worker turns the totals of the last few
// seconds into milliseconds per second, as Flink's busyTimeMsPerSecond,
// backPressuredTimeMsPerSecond and idleTimeMsPerSecond.

// taskTime is a task's time accounting.
type taskTime struct {
	// busy and backpressured are the totals so far; processed the records processed.
	busy, backpressured time.Duration
	processed           int64
	// blocked is the time its produces blocked in the chunk under way.
	blocked time.Duration
	// samples are the totals as of the last few seconds, oldest first (ring, rateWindow).
	samples []timeSample
	// rates are the last computation over the window.
	rates TaskRates
}

type timeSample struct {
	at                  time.Time
	busy, backpressured time.Duration
	processed           int64
}

// TaskRates are a task's time and throughput over the last few seconds.
type TaskRates struct {
	// BusyMsPerSecond, BackpressuredMsPerSecond and IdleMsPerSecond add up to about 1000.
	BusyMsPerSecond, BackpressuredMsPerSecond, IdleMsPerSecond float64
	// RecordsPerSecond are the records processed; ProcessLatency the time one took, on
	// average (busy and backpressured time over records; 0 without records).
	RecordsPerSecond float64
	ProcessLatency   time.Duration
}

// rateWindow is the span the rates are averaged over; rateEvery how often they are made.
const (
	rateWindow = 5 * time.Second
	rateEvery  = time.Second
)

// account adds a chunk of n records that took d to the task's totals: the time its
// produces blocked as backpressured, the rest as busy.
func (tt *taskTime) account(d time.Duration, n int) {
	blocked := min(tt.blocked, d)
	tt.blocked = 0
	tt.backpressured += blocked
	tt.busy += d - blocked
	tt.processed += int64(n)
}

// sample records the totals at now and recomputes the rates over the window.
func (tt *taskTime) sample(now time.Time) {
	s := timeSample{at: now, busy: tt.busy, backpressured: tt.backpressured, processed: tt.processed}
	if len(tt.samples) == 0 {
		tt.samples = append(tt.samples, s)
		tt.rates = TaskRates{IdleMsPerSecond: 1000}
		return
	}
	// Keep the oldest sample still within the window (or the newest older one) as base.
	for len(tt.samples) > 1 && now.Sub(tt.samples[1].at) >= rateWindow {
		tt.samples = tt.samples[1:]
	}
	base := tt.samples[0]
	tt.samples = append(tt.samples, s)
	span := now.Sub(base.at)
	if span <= 0 {
		return
	}
	perSec := func(d time.Duration) float64 { return min(1000, float64(d)/float64(span)*1000) }
	r := TaskRates{BusyMsPerSecond: perSec(s.busy - base.busy), BackpressuredMsPerSecond: perSec(s.backpressured - base.backpressured)}
	r.IdleMsPerSecond = max(0, 1000-r.BusyMsPerSecond-r.BackpressuredMsPerSecond)
	if n := s.processed - base.processed; n > 0 {
		r.RecordsPerSecond = float64(n) / span.Seconds()
		r.ProcessLatency = (s.busy - base.busy + s.backpressured - base.backpressured) / time.Duration(n)
	}
	tt.rates = r
}

// sampleTimesLocked samples every task's time once rateEvery has passed.
func (w *worker) sampleTimesLocked(now time.Time) {
	if now.Sub(w.sampledAt) < rateEvery {
		return
	}
	w.sampledAt = now
	for _, t := range w.ordered {
		t.time.sample(now)
	}
}

// bufferFull reports whether the producer's buffer holds MaxBufferedRecords, so that the
// next produce blocks.
func (w *worker) bufferFull() bool {
	return w.maxBuffered > 0 && w.inflight.Load() >= w.maxBuffered
}
