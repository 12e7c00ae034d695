package changelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Target is one changelog partition to replay into a store.
type Target struct {
	Topic     string
	Partition int32
	// From and To bound the replay: offsets [From, To). To is the partition's last stable
	// offset when the restore was planned.
	From, To int64
	// Apply receives the records in offset order, in batches (a nil value is a delete), and
	// next, the offset to resume from after them. It writes them with a checkpoint at next.
	Apply func(keys, values [][]byte, next int64) error

	// Tail marks a standby's replay: it has no end (To is math.MaxInt64) and logs no
	// progress.
	Tail bool

	// Restored counts the records applied so far.
	Restored int64
	// Started is when the replay began.
	Started time.Time

	position int64
	lastLog  time.Time
}

// Position is the offset the replay continues from.
func (t *Target) Position() int64 { return t.position }

// Done reports whether the replay reached To.
func (t *Target) Done() bool { return t.position >= t.To }

type topicPartition struct {
	topic     string
	partition int32
}

// Restorer replays changelog partitions with its own consumer (no group). Not safe for
// concurrent use: a worker's goroutine drives it.
type Restorer struct {
	cl      *kgo.Client
	log     *slog.Logger
	targets map[topicPartition]*Target

	keys, values [][]byte // batch scratch, reused
}

// NewRestorer makes a restorer whose client uses opts (seed brokers, TLS, SASL).
func NewRestorer(log *slog.Logger, opts ...kgo.Opt) (*Restorer, error) {
	all := append(append([]kgo.Opt(nil), opts...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("changelog: restore client: %w", err)
	}
	return &Restorer{cl: cl, log: log, targets: map[topicPartition]*Target{}}, nil
}

// Add starts replaying t. A target with nothing to replay (From ≥ To) is not added; it
// reports true, done at once.
func (r *Restorer) Add(t *Target) (done bool) {
	t.position, t.Started, t.lastLog = t.From, time.Now(), time.Now()
	if t.Done() {
		return true
	}
	r.targets[topicPartition{t.Topic, t.Partition}] = t
	r.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{
		t.Topic: {t.Partition: kgo.NewOffset().At(t.From)},
	})
	return false
}

// Remove stops replaying a partition (its task was closed).
func (r *Restorer) Remove(topic string, partition int32) {
	if _, ok := r.targets[topicPartition{topic, partition}]; !ok {
		return
	}
	delete(r.targets, topicPartition{topic, partition})
	r.cl.RemoveConsumePartitions(map[string][]int32{topic: {partition}})
}

// Active is the number of partitions being replayed.
func (r *Restorer) Active() int { return len(r.targets) }

// Step fetches and applies records for at most budget and returns the targets that
// finished.
func (r *Restorer) Step(ctx context.Context, budget time.Duration) ([]*Target, error) {
	if len(r.targets) == 0 {
		return nil, nil
	}
	pctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	fetches := r.cl.PollRecords(pctx, 50000)
	for _, fe := range fetches.Errors() {
		if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
			continue
		}
		return nil, fmt.Errorf("changelog: restoring %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
	}
	var done []*Target
	var applyErr error
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		t := r.targets[topicPartition{fp.Topic, fp.Partition}]
		if t == nil || applyErr != nil || len(fp.Records) == 0 {
			return
		}
		r.keys, r.values = r.keys[:0], r.values[:0]
		next := t.position
		for _, rec := range fp.Records {
			if rec.Offset >= t.To {
				break // written after the restore was planned: the task writes it itself
			}
			next = rec.Offset + 1
			if rec.Attrs.IsControl() {
				continue
			}
			r.keys = append(r.keys, rec.Key)
			r.values = append(r.values, rec.Value)
		}
		if next == t.position {
			return
		}
		if err := t.Apply(r.keys, r.values, next); err != nil {
			applyErr = fmt.Errorf("changelog: applying %s/%d up to %d: %w", t.Topic, t.Partition, next, err)
			return
		}
		t.Restored += int64(len(r.keys))
		t.position = next
		if t.Done() {
			done = append(done, t)
			r.Remove(t.Topic, t.Partition)
		} else if !t.Tail && time.Since(t.lastLog) > 5*time.Second {
			t.lastLog = time.Now()
			r.log.Info("restoring", "topic", t.Topic, "partition", t.Partition,
				"records", t.Restored, "position", t.position, "end", t.To, "rate", Rate(t))
		}
	})
	return done, applyErr
}

// Rate is a target's restore rate so far, in records per second.
func Rate(t *Target) float64 {
	s := time.Since(t.Started).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(t.Restored) / s
}

// Close closes the restorer's client.
func (r *Restorer) Close() { r.cl.Close() }
