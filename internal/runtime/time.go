package runtime

import (
	"maps"
	"time"

	"github.com/eddy-streams/eddy/processor"
)

// timeState is a partition's event-time progress, as a value: the snapshot at a commit
// and the rollback of an abort are copies (clone), not field-by-field code that a new
// field could be forgotten in.
type timeState struct {
	// maxTime is the highest event time processed from the partition (an internal
	// partition's: the watermark of its upstream tasks); seen says there is one. The
	// partition watermark is maxTime less the source's out-of-orderness less 1 ms.
	maxTime time.Time
	seen    bool
	// idle says the partition stopped holding the watermark back.
	idle bool
	// upstream holds an internal partition's watermark per upstream task.
	upstream map[uint64]upstreamWM
	// Bounded mode: done says the partition reached its end; ended holds the upstream
	// tasks that sent their end of input.
	done  bool
	ended map[uint64]bool
}

// clone is a copy that shares nothing with s.
func (s timeState) clone() timeState {
	s.upstream, s.ended = maps.Clone(s.upstream), maps.Clone(s.ended)
	return s
}

// eventTimer is an event-time punctuator: it fires when the watermark reaches next.
type eventTimer struct {
	interval  time.Duration
	next      time.Time
	fn        processor.Punctuator
	cancelled bool
}

// ObserveEventTime records the event time the source extracted from the current record.
func (t *task) ObserveEventTime(ts time.Time) { t.eventTime, t.observed = ts, true }

// OnWatermark registers a function to run after each advance of the watermark.
func (t *task) OnWatermark(fn func(time.Time) error) { t.listeners = append(t.listeners, fn) }

// ScheduleEventTime registers an event-time punctuator.
func (t *task) ScheduleEventTime(interval time.Duration, fn processor.Punctuator) func() {
	if interval <= 0 {
		interval = time.Millisecond
	}
	et := &eventTimer{interval: interval, fn: fn}
	if !t.watermark.IsZero() {
		et.next = nextMultiple(t.watermark, interval)
	}
	t.eventTimer = append(t.eventTimer, et)
	return func() { et.cancelled = true }
}

// nextMultiple is the first multiple of interval (since the Unix epoch) after wm.
func nextMultiple(wm time.Time, interval time.Duration) time.Time {
	ms := wm.UnixMilli()
	step := interval.Milliseconds()
	if step <= 0 {
		step = 1
	}
	n := ms/step + 1
	if ms < 0 && ms%step != 0 {
		n = ms / step
	}
	return time.UnixMilli(n * step)
}

// partitionWatermark is a partition's watermark: its highest event time less its source's
// out-of-orderness bound less 1 ms.
// An internal partition's is its upstream tasks' minimum as it is: the bound was applied
// once, at the external sources.
func (p *partition) watermark() time.Time {
	if p.internal {
		return p.clock.maxTime
	}
	return p.clock.maxTime.Add(-p.timing.outOfOrderness - time.Millisecond)
}

// holdsWatermark reports whether the partition takes part in the task watermark: table
// sources and idle partitions do not.
func (p *partition) holdsWatermark() bool { return !p.timing.table && !p.clock.idle }

// advanceWatermark sets the task watermark to the minimum of the watermarks of the
// partitions that hold it, once each of them has had a record — or, when all are idle,
// the maximum they reached; it never lowers it. When it rises, the listeners (window
// operators) and due event-time punctuators run.
func (t *task) advanceWatermark() error {
	if t.restoring != 0 {
		// Listeners read the stores: a window operator would emit from a store that is not
		// restored yet. The watermark moves at the first record after the restore.
		return nil
	}
	var low time.Time
	any := false
	for _, p := range t.parts {
		if !p.holdsWatermark() {
			continue
		}
		if !p.clock.seen {
			return nil // a partition without records holds the watermark at its start
		}
		if wm := p.watermark(); !any || wm.Before(low) {
			low = wm
		}
		any = true
	}
	if !any {
		// Every partition is idle (the task is idle): as in Flink, the watermark goes to
		// the highest one they reached, so nothing waits for data that is not coming.
		for _, p := range t.parts {
			if !p.timing.table && p.clock.seen && (!any || p.watermark().After(low)) {
				low, any = p.watermark(), true
			}
		}
	}
	if !any || !low.After(t.watermark) {
		return nil // no progress
	}
	t.watermark = low
	wasCur := t.hasCur
	for _, l := range t.listeners {
		if err := protect("a window operator", func() error { return l(low) }); err != nil {
			return err
		}
	}
	// Event-time punctuations have no current record.
	t.hasCur = false
	defer func() { t.hasCur = wasCur }()
	// A punctuator may schedule another; it lands in t.eventTimer meanwhile.
	timers := t.eventTimer
	t.eventTimer = nil
	live := timers[:0] // kept in place: no allocation per advance
	for _, et := range timers {
		if et.cancelled {
			continue
		}
		// Scheduled before the task had a watermark (next zero): the first one fires it,
		// as Kafka Streams' first stream-time punctuation comes with the first record.
		if !low.Before(et.next) {
			if err := protect("an event-time punctuator", func() error { return et.fn(low) }); err != nil {
				return err
			}
			et.next = nextMultiple(low, et.interval)
		}
		if !et.cancelled {
			live = append(live, et)
		}
	}
	t.eventTimer = append(live, t.eventTimer...)
	return nil
}

// checkIdle marks partitions idle that have had no record for their idle timeout, with an
// empty queue and fetching not paused (a paused partition is held back by eddy itself, not
// idle), and un-idles those with records again. It advances the watermark when that
// changes which partitions hold it.
func (t *task) checkIdle(now time.Time) error {
	changed := false
	for _, p := range t.parts {
		if p.internal {
			continue // idle only when its upstream tasks say so; a restoring upstream is not idle
		}
		idle := p.idleForced || p.timing.idleTimeout > 0 && !p.paused && p.queued() == 0 && now.Sub(p.received) >= p.timing.idleTimeout
		if idle != p.clock.idle {
			p.clock.idle, changed = idle, true
		}
	}
	if !changed {
		return nil
	}
	return t.advanceWatermark()
}
