package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sample is one output record of the latency phase: the event time it answers for and
// when the harness fetched it.
type sample struct{ event, fetched time.Time }

// Live measures r's pipeline's end-to-end latency in a second child on fresh, empty
// topics: the harness produces LiveRate records per second stamped with the wall clock
// (event time = produce time) and reads the output read_committed as it comes. After the
// first output and LiveWarmup, it measures for LiveDuration: the latency of an output
// record is the time the harness fetched it less its event time, where a windowed
// count's event time is its window's end (no final count can exist earlier). The join's
// table is written before the child starts, stamped a minute before; the windowed join's
// records go to its two topics in pairs (JoinStreamRecord), so each result's event time is
// its right record's, the later of the two. It sets r.P50, r.P99 and r.Samples.
func (h *Harness) Live(ctx context.Context, r *Result) error {
	p, e, g := r.Pipeline, r.Engine, r.Guarantee
	name := h.name(p, e, g, "-live")
	in, out, side := name+"-in", name+"-out", ""
	topics := []string{in, out}
	switch p {
	case Join:
		side = name + "-table"
	case WindowedJoin:
		side = name + "-right"
		topics = append(topics, side)
	}
	c := h.childConfig(p, e, g, in, side, out, name)
	defer h.cleanup(name, c)
	if err := createTopics(ctx, h.adm, h.cfg.Partitions, topics...); err != nil {
		return err
	}
	if p == Join {
		if err := preloadTable(ctx, &h.cfg, h.adm, side, h.cfg.Keys, time.Now().Add(-time.Minute)); err != nil {
			return err
		}
	}
	pr, err := h.start(c, name)
	if err != nil {
		return err
	}
	defer pr.stop(stopGrace)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		samples []sample
	)
	first := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		readErr <- h.readLive(ctx, p, e, out, func(s sample) {
			mu.Lock()
			if samples == nil {
				close(first)
			}
			samples = append(samples, s)
			mu.Unlock()
		})
	}()

	prod, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Brokers...), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return fmt.Errorf("bench: live producer: %w", err)
	}
	defer prod.Close()
	var perr produceErr
	begin := time.Now()
	sent := 0
	// Produce to the schedule (rate × elapsed), in 2 ms steps, until stop returns true.
	produceUntil := func(stop func() bool) error {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for !stop() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-pr.exited:
				return pr.exitError()
			case err := <-readErr:
				return fmt.Errorf("bench: live reader: %w", err)
			case <-tick.C:
			}
			due := int(time.Since(begin).Seconds() * float64(h.cfg.LiveRate))
			for ; sent < due; sent++ {
				topic, key := in, sent
				if p == WindowedJoin {
					var left bool
					if left, key = JoinStreamRecord(sent, h.cfg.Keys); !left {
						topic = side
					}
				}
				value := AppendValue(nil, sent, h.cfg.ValueSize)
				if p == CountAvro {
					value = AppendAvroValue(nil, sent, h.cfg.ValueSize)
				}
				prod.Produce(ctx, &kgo.Record{Topic: topic, Key: AppendKey(nil, key, h.cfg.Keys),
					Value: value, Timestamp: time.Now()}, perr.promise)
			}
			if err := perr.get(); err != nil {
				return fmt.Errorf("bench: live produce: %w", err)
			}
		}
		return nil
	}
	firstDeadline := time.Now().Add(2 * time.Minute)
	gotFirst := false
	if err := produceUntil(func() bool {
		select {
		case <-first:
			gotFirst = true
			return true
		default:
			return time.Now().After(firstDeadline)
		}
	}); err != nil {
		return err
	}
	if !gotFirst {
		return fmt.Errorf("no output within 2 minutes of live input (log %s)", pr.log.Name())
	}
	// Workers that joined one after the other rebalance once or twice at start; measure
	// only once every partition is owned and every member has some.
	stable := make(chan bool, 1)
	go func() { stable <- h.waitStable(ctx, c.AppID, in) }()
	var isStable bool
	if err := produceUntil(func() bool {
		select {
		case isStable = <-stable:
			return true
		default:
			return false
		}
	}); err != nil {
		return err
	}
	if !isStable {
		h.logf("warning: group %s not seen stable within a minute; measuring anyway", c.AppID)
	}
	from := time.Now().Add(h.cfg.LiveWarmup)
	to := from.Add(h.cfg.LiveDuration)
	// A window ending just before `to` closes only when a later record reaches each
	// partition: keep the input flowing a little past it.
	tail := 200 * time.Millisecond
	if p == Windowed || p == SQLWindowed {
		tail += time.Second
	}
	if err := produceUntil(func() bool { return time.Now().After(to.Add(tail)) }); err != nil {
		return err
	}
	// Let the last measured records through: a commit interval (transactions, Kafka
	// Streams' cache) and a margin.
	select {
	case <-time.After(h.cfg.CommitInterval(g) + time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	cancel()
	mu.Lock()
	var lat []time.Duration
	for _, s := range samples {
		if !s.event.Before(from) && s.event.Before(to) {
			lat = append(lat, s.fetched.Sub(s.event))
		}
	}
	if h.cfg.LatencyDump != "" {
		if f, err := os.Create(filepath.Join(h.cfg.LatencyDump, name+".tsv")); err == nil {
			for _, s := range samples {
				fmt.Fprintf(f, "%d\t%d\t%d\n", s.event.Sub(from).Milliseconds(), s.fetched.Sub(from).Milliseconds(), s.fetched.Sub(s.event).Milliseconds())
			}
			f.Close()
		}
	}
	mu.Unlock()
	r.Samples = len(lat)
	r.P50, _ = Percentile(lat, 50)
	r.P99, _ = Percentile(lat, 99)
	h.logf("%-9s %-8s %-4s latency p50 %v p99 %v over %d outputs (%d inputs at %d/s)", p, e, g,
		r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), len(lat), sent, h.cfg.LiveRate)
	return nil
}

// waitStable waits (at most a minute) until group is stable with cfg.Workers members,
// each owning some of topic's partitions, and all of them owned.
func (h *Harness) waitStable(ctx context.Context, group, topic string) bool {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if gs, err := h.adm.DescribeGroups(ctx, group); err == nil {
			if g, ok := gs[group]; ok && g.Err == nil && g.State == "Stable" && len(g.Members) == h.cfg.Workers {
				owned, everyone := 0, true
				for _, m := range g.Members {
					n := 0
					if ca, ok := m.Assigned.AsConsumer(); ok {
						for _, t := range ca.Topics {
							if t.Topic == topic {
								n += len(t.Partitions)
							}
						}
					}
					owned += n
					everyone = everyone && (n > 0 || int(h.cfg.Partitions) < h.cfg.Workers)
				}
				if owned == int(h.cfg.Partitions) && everyone {
					return true
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// readLive reads out read_committed from the start until ctx ends and calls f for every
// record with its event time and the time its fetch returned.
func (h *Harness) readLive(ctx context.Context, p Pipeline, e Engine, out string, f func(sample)) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.cfg.Brokers...), kgo.ConsumeTopics(out),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now()
		if err := fetchErr(fs); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			ev, ok := r.Timestamp, true
			switch p {
			case Windowed:
				ev, ok = windowEnd(e, r.Key)
			case SQLWindowed:
				ev, ok = sqlWindowEnd(r.Value)
			}
			if ok {
				f(sample{event: ev, fetched: now})
			}
		})
	}
	return nil
}

// windowEnd decodes the end of a 1 s window from a windowed key: eddy's ends in the
// window's start and end, Kafka Streams' in its start.
func windowEnd(e Engine, key []byte) (time.Time, bool) {
	if e == KStreams {
		if len(key) < 8 {
			return time.Time{}, false
		}
		start := int64(binary.BigEndian.Uint64(key[len(key)-8:]))
		return time.UnixMilli(start + 1000), true
	}
	if len(key) < 16 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(key[len(key)-8:]))), true
}

// sqlWindowEnd reads the window's end from a SQLWindowed output row.
func sqlWindowEnd(value []byte) (time.Time, bool) {
	var row sqlWindowRow
	if json.Unmarshal(value, &row) != nil {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02 15:04:05.000", row.WindowEnd)
	return t, err == nil
}
