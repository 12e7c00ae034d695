package runtime

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkProcessOne is the task's per-record path around the operators (picking the
// partition, time synchronization, offsets, the watermark), with one input partition and
// with a stream and a table, both queued.
func BenchmarkProcessOne(b *testing.B) {
	for _, c := range []struct {
		name    string
		timings []sourceTiming
	}{{"one partition", []sourceTiming{{}}}, {"stream and table", []sourceTiming{{}, {table: true}}}} {
		b.Run(c.name, func(b *testing.B) {
			tk := newTestTask(c.timings...)
			recs := make([]*kgo.Record, 1024)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: "in", Offset: int64(i), Timestamp: time.UnixMilli(int64(1000 + i))}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%512 == 0 {
					b.StopTimer()
					for _, p := range tk.parts {
						p.queue, p.head = append(p.queue[:0], recs[:512]...), 0
					}
					b.StartTimer()
				}
				if ok, err := tk.processOne(); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
