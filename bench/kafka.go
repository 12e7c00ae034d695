package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Input is a preloaded input topic.
type Input struct {
	Topic     string
	Records   int
	Keys      int
	ValueSize int
	// Kept is how many records the stateless filter passes.
	Kept int
	// Bytes is the sum of the records' key and value lengths.
	Bytes int64
	// Ends are the topic's end offsets after the preload.
	Ends kadm.ListedOffsets
}

// compression returns the franz-go codec named by name (validated by Config.Validate).
func compression(name string) kgo.CompressionCodec {
	switch name {
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	case "gzip":
		return kgo.GzipCompression()
	default:
		return kgo.NoCompression()
	}
}

// createTopics creates topics with partitions partitions and the broker's replication.
func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, topics ...string) error {
	resp, err := adm.CreateTopics(ctx, partitions, -1, nil, topics...)
	if err != nil {
		return fmt.Errorf("bench: create topics %v: %w", topics, err)
	}
	var errs []error
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("bench: create topic %s: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

// deleteTopicsWithPrefix deletes every topic whose name starts with one of prefixes: a
// run's output and the internal topics its application made. It lists again afterwards
// and retries what is still there, a few times: a deletion can fail per topic while the
// request as a whole succeeds.
func deleteTopicsWithPrefix(ctx context.Context, adm *kadm.Client, prefixes ...string) error {
	var last error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(last, ctx.Err())
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			last = fmt.Errorf("bench: list topics: %w", err)
			continue
		}
		var doomed []string
		for _, t := range topics.Names() {
			for _, p := range prefixes {
				if strings.HasPrefix(t, p) {
					doomed = append(doomed, t)
					break
				}
			}
		}
		if len(doomed) == 0 {
			return nil
		}
		resp, err := adm.DeleteTopics(ctx, doomed...)
		if err != nil {
			last = fmt.Errorf("bench: delete topics %v: %w", doomed, err)
			continue
		}
		var errs []error
		for _, r := range resp.Sorted() {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("bench: delete topic %s: %w", r.Topic, r.Err))
			}
		}
		last = errors.Join(errs...)
	}
	return last
}

// preload creates topic and writes records 0..n−1 to it as fast as the producer goes.
func preload(ctx context.Context, cfg *Config, adm *kadm.Client, topic string, n, keys, size int) (Input, error) {
	in := Input{Topic: topic, Records: n, Keys: keys, ValueSize: size, Kept: ExpectedKept(n)}
	if err := createTopics(ctx, adm, cfg.Partitions, topic); err != nil {
		return in, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(1<<16), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return in, fmt.Errorf("bench: preload client: %w", err)
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		first error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		}
	}
	// Event times end now, so no record is older than the topic's retention and windows
	// close in the order they were written.
	base := time.Now().Add(-time.Duration(int64(n) * int64(time.Second) / int64(cfg.EventRate)))
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: AppendKey(nil, i, keys), Value: AppendValue(make([]byte, 0, size), i, size),
			Timestamp: EventTime(base, i, cfg.EventRate)}
		in.Bytes += int64(len(r.Key) + len(r.Value))
		cl.Produce(ctx, r, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return in, fmt.Errorf("bench: preload %s: %w", topic, err)
	}
	if first != nil {
		return in, fmt.Errorf("bench: preload %s: %w", topic, first)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return in, fmt.Errorf("bench: end offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return in, fmt.Errorf("bench: end offsets of %s: %w", topic, err)
	}
	in.Ends = ends
	return in, nil
}

// sumEnds is the sum of topic's end offsets: its record count when no transaction wrote
// to it (transactions add a commit marker per partition each).
func sumEnds(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n, ends.Error()
}

// committedAtEnd reports whether group has committed ends on every partition. The input
// is never written in transactions, so the end is where a finished group commits.
func committedAtEnd(ctx context.Context, adm *kadm.Client, group string, ends kadm.ListedOffsets) (bool, error) {
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, err
	}
	done := true
	ends.Each(func(e kadm.ListedOffset) {
		if o, ok := offs.Lookup(e.Topic, e.Partition); e.Offset > 0 && (!ok || o.At < e.Offset) {
			done = false
		}
	})
	return done, nil
}

// readAll reads topic from the start, read_committed, until it has reached the last
// stable offsets listed when it began (less one for the commit marker that ends a
// transactional tail), or until nothing arrived for idle; f sees every record.
func readAll(ctx context.Context, brokers []string, adm *kadm.Client, topic string, transactional bool, idle time.Duration, f func(*kgo.Record)) error {
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("bench: last stable offsets of %s: %w", topic, err)
	}
	target := map[int32]int64{}
	lso.Each(func(o kadm.ListedOffset) {
		end := o.Offset
		if transactional {
			end--
		}
		if end > 0 {
			target[o.Partition] = end
		}
	})
	if len(target) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return fmt.Errorf("bench: reader: %w", err)
	}
	defer cl.Close()
	last := time.Now()
	for len(target) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				return fmt.Errorf("bench: read %s: %w", topic, e.Err)
			}
		}
		got := false
		fs.EachRecord(func(r *kgo.Record) {
			got = true
			f(r)
			if t, ok := target[r.Partition]; ok && r.Offset+1 >= t {
				delete(target, r.Partition)
			}
		})
		if got {
			last = time.Now()
		} else if time.Since(last) > idle {
			return nil // an aborted transaction at the tail: nothing more will come
		}
	}
	return nil
}
