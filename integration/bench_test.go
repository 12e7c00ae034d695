package integration

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	smokeapp "github.com/eddy-streams/eddy/integration/smoke"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// preload writes n records to topic, keys "key-<i % keys>", 8-byte values, as fast as the
// producer goes.
func preload(b *testing.B, topic string, n, keys int, value func(i int) []byte) {
	b.Helper()
	cl := kafkatest.Client(b, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<17))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i%keys), Value: value(i)},
			func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			})
	}
	wg.Wait()
	if first != nil {
		b.Fatalf("preload %s: %v", topic, first)
	}
}

// waitCommitted waits until the group has committed the end of every partition of every
// topic; on topics written in transactions (internal topics under exactly-once) the
// committed offset stops before the last commit marker, so slack allows one offset less.
func waitCommitted(b *testing.B, group string, topics []string, slack int64, timeout time.Duration) {
	b.Helper()
	adm := kafkatest.Admin(b)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		ends, err1 := adm.ListEndOffsets(ctx, topics...)
		offs, err2 := adm.FetchOffsets(ctx, group)
		if err1 == nil && err2 == nil {
			done := true
			ends.Each(func(e kadm.ListedOffset) {
				if o, ok := offs.Lookup(e.Topic, e.Partition); e.Offset > 0 && (!ok || o.At < e.Offset-slack) {
					done = false
				}
			})
			if done {
				return
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("group %s did not commit the end of %v within %s", group, topics, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// BenchmarkRestore measures how fast a task restores a store from a changelog of 1M
// records (100k keys) on the real broker: the changelog is written directly, then an
// instance with empty local state starts and restores it.
//
//	KAFKA_BOOTSTRAP=… go test ./integration -run '^$' -bench BenchmarkRestore -benchtime 1x
func BenchmarkRestore(b *testing.B) {
	const records, keys = 1_000_000, 100_000
	adm := kafkatest.Admin(b)
	in, out := kafkatest.Topic(b, "in"), kafkatest.Topic(b, "out")
	kafkatest.CreateTopic(b, adm, in, 1, nil)
	kafkatest.CreateTopic(b, adm, out, 1, nil)
	appID := kafkatest.Topic(b, "app")
	changelog := appID + "-counts-changelog"
	kafkatest.CreateTopic(b, adm, changelog, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	preload(b, changelog, records, keys, func(i int) []byte { v, _ := serde.Int64().AppendEncode(nil, int64(i)); return v })

	top := topology.New()
	counts := topology.Count(topology.GroupByKey(topology.From(top, in, serde.String(), serde.String()), serde.String(), serde.String()), "counts")
	topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
	b.ResetTimer()
	for range b.N {
		done := make(chan eddy.RestoreInfo, 1)
		app, err := eddy.New(top, eddy.ApplicationID(appID), eddy.Brokers(kafkatest.Bootstrap(b)...),
			eddy.StateDir(b.TempDir()), eddy.OnRestore(func(i eddy.RestoreInfo) { done <- i }))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		start := time.Now()
		go func() { errc <- app.Run(ctx) }()
		var info eddy.RestoreInfo
		select {
		case info = <-done:
		case err := <-errc:
			b.Fatalf("Run: %v", err)
		case <-time.After(5 * time.Minute):
			b.Fatal("restore did not finish in 5 minutes")
		}
		elapsed := time.Since(start)
		cancel()
		if err := <-errc; err != nil {
			b.Fatalf("Run: %v", err)
		}
		if info.Restored != records {
			b.Fatalf("restored %d records, want %d", info.Restored, records)
		}
		b.ReportMetric(float64(info.Restored)/info.Duration.Seconds(), "records/s")
		b.ReportMetric(elapsed.Seconds(), "s-to-ready")
	}
}

// BenchmarkCountByKey measures count-by-key throughput through the whole application on
// the real broker: 500k records over 10k keys in 6 partitions, from the start of the input
// until the group has committed its end.
//
//	KAFKA_BOOTSTRAP=… go test ./integration -run '^$' -bench BenchmarkCountByKey -benchtime 1x
func BenchmarkCountByKey(b *testing.B) {
	const records, keys = 500_000, 10_000
	adm := kafkatest.Admin(b)
	in := kafkatest.Topic(b, "in")
	kafkatest.CreateTopic(b, adm, in, 6, nil)
	preload(b, in, records, keys, func(i int) []byte { return fmt.Appendf(nil, "%08d", i) })
	b.ResetTimer()
	for range b.N {
		out := kafkatest.Topic(b, "out")
		kafkatest.CreateTopic(b, adm, out, 6, nil)
		appID := kafkatest.Topic(b, "app")
		top := topology.New()
		counts := topology.Count(topology.GroupByKey(topology.From(top, in, serde.String(), serde.String()), serde.String(), serde.String()), "counts")
		topology.To(counts.ToStream(), out, serde.String(), serde.Int64())
		elapsed := runUntilCommitted(b, top, appID, []eddy.Opt{eddy.CommitInterval(100 * time.Millisecond)},
			func() { waitCommitted(b, appID, []string{in}, 0, 10*time.Minute) })
		b.ReportMetric(records/elapsed.Seconds(), "records/s")
	}
}

// BenchmarkSmokeGuarantees runs the smoke topology (echo, running sum per key, count by
// value mod 10 through a repartition) over 500k preloaded records in 5 partitions, under
// at-least-once and exactly-once, until the group has committed the end of the input.
//
//	KAFKA_BOOTSTRAP=… go test ./integration -run '^$' -bench BenchmarkSmokeGuarantees -benchtime 2x
func BenchmarkSmokeGuarantees(b *testing.B) {
	const records = 500_000
	adm := kafkatest.Admin(b)
	in := kafkatest.Topic(b, "in")
	kafkatest.CreateTopic(b, adm, in, 5, nil)
	for _, o := range smokeapp.Outputs {
		kafkatest.CreateTopic(b, adm, in+o, 5, nil)
	}
	preload(b, in, records, 1000, func(i int) []byte { return fmt.Appendf(nil, "%d", i) })
	for _, g := range []struct {
		name  string
		opts  []eddy.Opt
		slack int64
	}{
		{"at_least_once", []eddy.Opt{eddy.CommitInterval(100 * time.Millisecond)}, 0},
		{"exactly_once", []eddy.Opt{eddy.ExactlyOnce()}, 1},
	} {
		b.Run(g.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				appID := kafkatest.Topic(b, "app")
				// Both sub-topologies: the input, then the repartition topic to the counter.
				total += runUntilCommitted(b, smokeapp.Build(in), appID, g.opts, func() {
					waitCommitted(b, appID, []string{in}, 0, 10*time.Minute)
					waitCommitted(b, appID, []string{in, appID + "-digits-repartition"}, g.slack, 10*time.Minute)
				})
			}
			b.ReportMetric(records*float64(b.N)/total.Seconds(), "records/s")
		})
	}
}

// runUntilCommitted runs the topology as application appID until wait returns, stops it,
// and returns how long it ran.
func runUntilCommitted(b *testing.B, top *topology.Topology, appID string, opts []eddy.Opt, wait func()) time.Duration {
	b.Helper()
	all := append([]eddy.Opt{eddy.ApplicationID(appID), eddy.Brokers(kafkatest.Bootstrap(b)...), eddy.StateDir(b.TempDir())}, opts...)
	app, err := eddy.New(top, all...)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- app.Run(ctx) }()
	wait()
	elapsed := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		b.Fatalf("Run: %v", err)
	}
	return elapsed
}

// BenchmarkWindowedCount measures windowed counts by key through the whole application on
// the real broker: 500k records over 10k keys in 6 partitions, event times 1 ms apart, from
// the start of the input until the group has committed its end; in 1 s tumbling windows,
// and in sliding windows of 1 s (each key has a record every 10 s, so a new record opens
// its own window). A sub-benchmark may read only the first records of the input
// (firstRecords).
//
//	KAFKA_BOOTSTRAP=… go test ./integration -run '^$' -bench BenchmarkWindowedCount -benchtime 1x
func BenchmarkWindowedCount(b *testing.B) {
	const records, keys = 500_000, 10_000
	adm := kafkatest.Admin(b)
	in := kafkatest.Topic(b, "in")
	kafkatest.CreateTopic(b, adm, in, 6, nil)
	cl := kafkatest.Client(b, kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<17))
	base := time.Now().Add(-time.Hour)
	var wg sync.WaitGroup
	for i := range records {
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "key-%d", i%keys), Value: []byte("v"),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond)}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	for _, w := range []struct {
		name    string
		windows topology.Windows
		records int
	}{{"tumbling", topology.TumblingWindows(time.Second), records}, {"sliding", topology.SlidingWindows(time.Second), records}} {
		b.Run(w.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				out := kafkatest.Topic(b, "out")
				kafkatest.CreateTopic(b, adm, out, 6, nil)
				appID := kafkatest.Topic(b, "app")
				top := topology.New()
				src := topology.From(top, in, serde.String(), serde.String())
				if w.records < records {
					// Only the first w.records of the input: the rest is filtered out by
					// offset, cheaply.
					src = topology.Process(src, "first-records", func() processor.Processor[string, string, string, string] {
						return &firstRecords{n: int64(w.records) / 6}
					})
				}
				grouped := topology.GroupByKey(src, serde.String(), serde.String())
				counts := topology.WindowedCount(topology.WindowBy(grouped, w.windows), "counts")
				topology.To(counts, out, topology.WindowedSerde(serde.String()), serde.Int64())
				total += runUntilCommitted(b, top, appID, []eddy.Opt{eddy.CommitInterval(100 * time.Millisecond)},
					func() { waitCommitted(b, appID, []string{in}, 0, 10*time.Minute) })
			}
			b.ReportMetric(float64(w.records)*float64(b.N)/total.Seconds(), "records/s")
		})
	}
}

// firstRecords forwards the records below offset n of each partition.
type firstRecords struct {
	ctx processor.Context[string, string]
	n   int64
}

func (p *firstRecords) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *firstRecords) Close() error                                     { return nil }
func (p *firstRecords) Process(r processor.Record[string, string]) error {
	if md, ok := p.ctx.Metadata(); ok && md.Offset >= p.n {
		return nil
	}
	return p.ctx.Forward(r)
}
