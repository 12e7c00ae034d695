package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Input is what a run reads: a preloaded input topic and, for the joins, a second one.
type Input struct {
	// Topic is the input topic: the stream of every pipeline, the windowed join's left
	// side.
	Topic string
	// Side is the join pipelines' second topic: the join's table or the windowed join's
	// right stream; empty for the others.
	Side string
	// Records is how many records a run processes: Topic's, and the windowed join's
	// right side's too (the join's table is looked up, not counted).
	Records   int
	Keys      int
	ValueSize int
	// Kept is how many records the stateless filter passes.
	Kept int
	// Bytes is the sum of the counted records' key and value lengths.
	Bytes int64
	// Ends are the end offsets after the preload of the topics whose records are counted:
	// a run is complete when its group has committed them.
	Ends kadm.ListedOffsets
	// Base is record 0's event time.
	Base time.Time
	// Pairs is how many results the windowed join gives (JoinPairs).
	Pairs int64
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
	// Event times end now, so no record is older than the topic's retention and windows
	// close in the order they were written.
	base := time.Now().Add(-time.Duration(int64(n) * int64(time.Second) / int64(cfg.EventRate)))
	in := Input{Topic: topic, Records: n, Keys: keys, ValueSize: size, Kept: ExpectedKept(n), Base: base}
	if err := createTopics(ctx, adm, cfg.Partitions, topic); err != nil {
		return in, err
	}
	var err error
	in.Bytes, err = produceAll(ctx, cfg.Brokers, n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: AppendKey(nil, i, keys), Value: AppendValue(make([]byte, 0, size), i, size),
			Timestamp: EventTime(base, i, cfg.EventRate)}
	})
	if err != nil {
		return in, fmt.Errorf("bench: preload %s: %w", topic, err)
	}
	in.Ends, err = endOffsets(ctx, adm, topic)
	return in, err
}

// preloadAvro creates topic and writes in's records to it again with Avro values
// (AvroValue, its text in's value size), keys and timestamps unchanged, for count-avro.
func preloadAvro(ctx context.Context, cfg *Config, adm *kadm.Client, topic string, in Input) (Input, error) {
	if avroValueErr != nil {
		return in, avroValueErr
	}
	out := in
	out.Topic, out.Side = topic, ""
	if err := createTopics(ctx, adm, cfg.Partitions, topic); err != nil {
		return out, err
	}
	var err error
	out.Bytes, err = produceAll(ctx, cfg.Brokers, in.Records, func(i int) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: AppendKey(nil, i, in.Keys), Value: AppendAvroValue(make([]byte, 0, in.ValueSize+8), i, in.ValueSize),
			Timestamp: EventTime(in.Base, i, cfg.EventRate)}
	})
	if err != nil {
		return out, fmt.Errorf("bench: preload %s: %w", topic, err)
	}
	out.Ends, err = endOffsets(ctx, adm, topic)
	return out, err
}

// preloadTable creates topic and writes the join's table to it: one record per key,
// stamped at ts.
func preloadTable(ctx context.Context, cfg *Config, adm *kadm.Client, topic string, keys int, ts time.Time) error {
	if err := createTopics(ctx, adm, cfg.Partitions, topic); err != nil {
		return err
	}
	_, err := produceAll(ctx, cfg.Brokers, keys, func(k int) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: AppendKey(nil, k, keys), Value: AppendTableValue(nil, k), Timestamp: ts}
	})
	if err != nil {
		return fmt.Errorf("bench: preload %s: %w", topic, err)
	}
	return nil
}

// preloadJoinStreams creates the windowed join's topics, left and right, and writes
// records 0..n−1 to them in pairs (JoinStreamRecord), stamped in whole milliseconds as
// JoinPairs counts them.
func preloadJoinStreams(ctx context.Context, cfg *Config, adm *kadm.Client, left, right string, n, keys, size int) (Input, error) {
	base := time.Now().Add(-time.Duration(int64(n) * int64(time.Second) / int64(cfg.EventRate)))
	in := Input{Topic: left, Side: right, Records: n, Keys: keys, ValueSize: size, Base: base}
	if err := createTopics(ctx, adm, cfg.Partitions, left, right); err != nil {
		return in, err
	}
	var err error
	in.Bytes, err = produceAll(ctx, cfg.Brokers, n, func(i int) *kgo.Record {
		isLeft, k := JoinStreamRecord(i, keys)
		topic := right
		if isLeft {
			topic = left
		}
		return &kgo.Record{Topic: topic, Key: AppendKey(nil, k, keys), Value: AppendValue(make([]byte, 0, size), i, size),
			Timestamp: time.UnixMilli(eventMillis(base, i, cfg.EventRate))}
	})
	if err != nil {
		return in, fmt.Errorf("bench: preload %s and %s: %w", left, right, err)
	}
	if in.Ends, err = endOffsets(ctx, adm, left, right); err != nil {
		return in, err
	}
	in.Pairs = JoinPairs(n, keys, base, cfg.EventRate, cfg.JoinWindow)
	return in, nil
}

// produceAll writes the records rec makes for 0..n−1 as fast as the producer goes and
// returns the sum of their key and value lengths.
func produceAll(ctx context.Context, brokers []string, n int, rec func(i int) *kgo.Record) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.MaxBufferedRecords(1<<16), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return 0, fmt.Errorf("producer: %w", err)
	}
	defer cl.Close()
	var (
		perr  produceErr
		bytes int64
	)
	for i := range n {
		r := rec(i)
		bytes += int64(len(r.Key) + len(r.Value))
		cl.Produce(ctx, r, perr.promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return bytes, err
	}
	return bytes, perr.get()
}

// endOffsets lists topics' end offsets.
func endOffsets(ctx context.Context, adm *kadm.Client, topics ...string) (kadm.ListedOffsets, error) {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("bench: end offsets of %v: %w", topics, err)
	}
	return ends, nil
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
