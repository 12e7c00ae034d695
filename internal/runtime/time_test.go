package runtime

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func ms(n int64) time.Time { return time.UnixMilli(n) }

// newTestTask makes a task with the given partitions' timing and a handler that accepts
// every record.
func newTestTask(timings ...sourceTiming) *task {
	t := &task{w: &worker{cfg: &Config{}, poisoned: map[recordCoord]*poison{}}}
	for i, tm := range timings {
		t.parts = append(t.parts, &partition{topic: "in", partition: int32(i), timing: tm, next: -1, end: -1,
			handler: func(*kgo.Record) error { return nil }})
	}
	return t
}

func feed(t *testing.T, tk *task, part int, ts int64) {
	t.Helper()
	p := tk.parts[part]
	p.queue = append(p.queue, &kgo.Record{Topic: "in", Partition: int32(part), Timestamp: ms(ts)})
	if ok, err := tk.processOne(); !ok || err != nil {
		t.Fatalf("processOne = %v, %v", ok, err)
	}
}

// The task watermark is the minimum over partitions of max event time − bound − 1 ms,
// waits for every partition, and never goes down.
func TestTaskWatermark(t *testing.T) {
	tk := newTestTask(sourceTiming{outOfOrderness: 100 * time.Millisecond}, sourceTiming{outOfOrderness: 100 * time.Millisecond})
	var seen []int64
	tk.OnWatermark(func(wm time.Time) error { seen = append(seen, wm.UnixMilli()); return nil })
	feed(t, tk, 0, 1000)
	if !tk.watermark.IsZero() {
		t.Fatalf("watermark %v before partition 1 had a record", tk.watermark)
	}
	feed(t, tk, 1, 500)
	if got := tk.watermark.UnixMilli(); got != 399 {
		t.Fatalf("watermark = %d, want 399 (500 − 100 − 1)", got)
	}
	feed(t, tk, 1, 300) // out of order: no change
	feed(t, tk, 1, 2000)
	if got := tk.watermark.UnixMilli(); got != 899 {
		t.Fatalf("watermark = %d, want 899 (partition 0 holds it)", got)
	}
	if len(seen) != 2 || seen[0] != 399 || seen[1] != 899 {
		t.Errorf("listeners saw %v, want [399 899]", seen)
	}
}

// A partition without records for its idle timeout stops holding the watermark back; when
// it has records again it rejoins, and the watermark does not go down.
func TestIdlePartition(t *testing.T) {
	tm := sourceTiming{idleTimeout: 2 * time.Second}
	tk := newTestTask(tm, tm, tm)
	now := time.Now()
	for _, p := range tk.parts {
		p.received = now
	}
	feed(t, tk, 0, 5000)
	if err := tk.checkIdle(now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if !tk.watermark.IsZero() {
		t.Fatalf("watermark %v before the idle timeout", tk.watermark)
	}
	tk.parts[0].received = now.Add(2 * time.Second)
	if err := tk.checkIdle(now.Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := tk.watermark.UnixMilli(); got != 4999 {
		t.Fatalf("watermark = %d after partitions 1 and 2 went idle, want 4999", got)
	}
	// Partition 1 rejoins with an old record: the watermark stays.
	feed(t, tk, 1, 100)
	if got := tk.watermark.UnixMilli(); got != 4999 || tk.parts[1].clock.idle {
		t.Fatalf("watermark = %d, idle = %v after partition 1 rejoined", got, tk.parts[1].clock.idle)
	}
	// A paused partition is never idle.
	tk.parts[2].clock.idle = false
	tk.parts[2].paused = true
	if err := tk.checkIdle(now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if tk.parts[2].clock.idle {
		t.Error("a paused partition was marked idle")
	}
}

// Table sources never hold the watermark back.
func TestTablePartitionsDoNotHoldTheWatermark(t *testing.T) {
	tk := newTestTask(sourceTiming{}, sourceTiming{table: true})
	feed(t, tk, 0, 1000)
	if got := tk.watermark.UnixMilli(); got != 999 {
		t.Fatalf("watermark = %d, want 999", got)
	}
}

// Event-time punctuators fire at the task's first watermark, then when the watermark
// passes multiples of their interval, once per advance however many multiples it passed,
// without a current record.
func TestEventTimePunctuation(t *testing.T) {
	tk := newTestTask(sourceTiming{})
	var fired []int64
	tk.ScheduleEventTime(time.Second, func(wm time.Time) error {
		if _, ok := tk.Metadata(); ok {
			t.Error("metadata inside an event-time punctuation")
		}
		fired = append(fired, wm.UnixMilli())
		return nil
	})
	for _, ts := range []int64{500, 1000, 1001, 1500, 4200, 4300, 5001} {
		feed(t, tk, 0, ts)
	}
	// Watermarks: 499 (the first: fires), 999, 1000 (fires), 1499, 4199 (fires once),
	// 4299, 5000 (fires).
	want := []int64{499, 1000, 4199, 5000}
	if len(fired) != len(want) {
		t.Fatalf("fired at %v, want %v", fired, want)
	}
	for i := range want {
		if fired[i] != want[i] {
			t.Fatalf("fired at %v, want %v", fired, want)
		}
	}
}

// A task whose stores are restoring never runs its watermark listeners: a window operator
// would emit from a store that is not restored yet (seen as a window emitted twice after a
// zombie came back, its watermark restored from the offset metadata).
func TestNoWatermarkListenersWhileRestoring(t *testing.T) {
	tk := newTestTask(sourceTiming{})
	called := 0
	tk.OnWatermark(func(time.Time) error { called++; return nil })
	tk.parts[0].clock.maxTime, tk.parts[0].clock.seen = ms(5000), true
	tk.restoring = 1
	if err := tk.advanceWatermark(); err != nil {
		t.Fatal(err)
	}
	if called != 0 || !tk.watermark.IsZero() {
		t.Fatalf("listeners ran %d times, watermark %v, while restoring", called, tk.watermark)
	}
	tk.restoring = 0
	if err := tk.advanceWatermark(); err != nil {
		t.Fatal(err)
	}
	if called != 1 || tk.watermark.UnixMilli() != 4999 {
		t.Fatalf("after the restore: listeners ran %d times, watermark %v", called, tk.watermark)
	}
}
