package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// The record cost of the windowed count in the DSL and in SQL inside one task, without a
// broker or a driver: each record handed to the task's source handler as the runtime
// does, the watermark following it, the task's stores on Badger behind their write buffer,
// a commit every 10k records. The input is the load harness's: 10k keys, 100-byte values,
// 100k records per second of event time (ten per key per 1 s window).
//
//	go test -run XXX -bench WindowedTask -benchmem ./bench
func BenchmarkWindowedTask(b *testing.B) {
	for _, p := range []Pipeline{Windowed, SQLWindowed} {
		b.Run(string(p), func(b *testing.B) {
			top, err := EddyTopology(ChildConfig{Pipeline: p, Input: "in", Output: "out"}, func() {})
			if err != nil {
				b.Fatal(err)
			}
			db, err := store.OpenBadger(b.TempDir(), store.BadgerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			m := state.NewManager(db)
			defer m.Close()
			env := &taskEnv{stores: map[string]store.Bytes{}}
			var kvs []*state.KV
			for _, s := range top.Graph().Stores() {
				kv, err := m.Open(0, 0, s.Name)
				if err != nil {
					b.Fatal(err)
				}
				kvs, env.stores[s.Name] = append(kvs, kv), kv
			}
			task, err := top.Graph().BuildTask(0, env)
			if err != nil {
				b.Fatal(err)
			}
			defer task.Close()
			h := task.Handlers["in"]
			const keys = 10_000
			base := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
			var key, value []byte
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				key, value = AppendKey(key[:0], i, keys), AppendValue(value[:0], i, 100)
				ts := base.Add(time.Duration(i) * time.Second / 100_000)
				if err := h(&kgo.Record{Topic: "in", Key: key, Value: value, Timestamp: ts}); err != nil {
					b.Fatal(err)
				}
				if err := env.advance(ts); err != nil {
					b.Fatal(err)
				}
				if i%10_000 == 9_999 {
					cps := make([]state.Checkpoint, len(kvs))
					for j := range cps {
						cps[j] = state.Checkpoint{Offset: int64(i), Written: time.Now()}
					}
					if err := m.Commit(kvs, cps); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(env.sent)/float64(b.N), "out/op")
		})
	}
}

// taskEnv is the runtime as one task sees it: stores, a watermark that follows the
// records (no out-of-orderness), a producer that counts.
type taskEnv struct {
	op        *graph.Op
	stores    map[string]store.Bytes
	wm        time.Time
	listeners []func(time.Time) error
	timers    []*eventTimer
	sent      int
}

// eventTimer is an event-time punctuator: it fires at the first watermark, then as the
// watermark passes multiples of interval.
type eventTimer struct {
	interval time.Duration
	next     time.Time
	fn       processor.Punctuator
}

func (e *taskEnv) advance(ts time.Time) error {
	wm := ts.Add(-time.Millisecond)
	if !wm.After(e.wm) {
		return nil
	}
	e.wm = wm
	for _, l := range e.listeners {
		if err := l(wm); err != nil {
			return err
		}
	}
	for _, t := range e.timers {
		if !wm.Before(t.next) {
			if err := t.fn(wm); err != nil {
				return err
			}
			t.next = wm.Truncate(t.interval).Add(t.interval)
		}
	}
	return nil
}

func (e *taskEnv) ApplicationID() string                { return "bench" }
func (e *taskEnv) TaskID() processor.TaskID             { return processor.TaskID{} }
func (e *taskEnv) Metadata() (processor.Metadata, bool) { return processor.Metadata{Topic: "in"}, true }
func (e *taskEnv) Watermark() time.Time                 { return e.wm }
func (e *taskEnv) Send(*kgo.Record) error               { e.sent++; return nil }
func (e *taskEnv) Schedule(time.Duration, processor.Punctuator) func() {
	return func() {}
}
func (e *taskEnv) Store(name string) (store.Bytes, error) {
	if s, ok := e.stores[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("no store %q", name)
}
func (e *taskEnv) GlobalStore(name string) (graph.GlobalReader, error) {
	return nil, fmt.Errorf("no global store %q", name)
}
func (e *taskEnv) ScheduleEventTime(interval time.Duration, fn processor.Punctuator) func() {
	e.timers = append(e.timers, &eventTimer{interval: interval, fn: fn})
	return func() {}
}
func (e *taskEnv) ObserveEventTime(time.Time)           {}
func (e *taskEnv) OnWatermark(fn func(time.Time) error) { e.listeners = append(e.listeners, fn) }
func (e *taskEnv) LateRecord(string)                    {}
func (e *taskEnv) OpSlot() **graph.Op                   { return &e.op }
func (e *taskEnv) Bounded() bool                        { return false }
