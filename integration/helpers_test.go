package integration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/internal/kafkatest/ends"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("EDDY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("test", t.Name())
}

// produceAll writes the records and waits for every acknowledgement.
func produceAll(t *testing.T, recs []*kgo.Record) {
	t.Helper()
	cl := kafkatest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeUntil reads topic from the start, handing each record to keep, until done says
// so or the timeout passes (which fails the test).
func consumeUntil(t *testing.T, topic string, timeout time.Duration, keep func(*kgo.Record), done func() bool) {
	t.Helper()
	cl := kafkatest.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: not done after %s", topic, timeout)
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("consuming %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(keep)
	}
}

// readAll reads every data record of topic up to its end offsets as they are now,
// partition by partition (see ends.Read). After stopCaughtUp, or once the application is
// stopped, that is all it wrote.
func readAll(t *testing.T, topic string, isolation kgo.IsolationLevel) map[int32][]*kgo.Record {
	t.Helper()
	out := map[int32][]*kgo.Record{}
	for _, r := range ends.Read(t, kafkatest.Bootstrap(t), topic, isolation) {
		out[r.Partition] = append(out[r.Partition], r)
	}
	return out
}

// readCommitted is readAll as a read_committed reader sees it, in one list.
func readCommitted(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	return ends.Read(t, kafkatest.Bootstrap(t), topic, kgo.ReadCommitted())
}

// running is an App running in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, app *eddy.App) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- app.Run(ctx) }()
	t.Cleanup(func() { _ = r.stop() })
	return r
}

// stopCaughtUp stops the app once the application appID has processed everything in
// inputs and in its repartition topics (its committed offsets say so, see
// ends.WaitCaughtUp), and fails the test if Run did not return nil.
func (r *running) stopCaughtUp(t *testing.T, appID string, inputs ...string) {
	t.Helper()
	ends.WaitCaughtUp(t, kafkatest.Bootstrap(t), appID, 90*time.Second, inputs...)
	if err := r.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// stop cancels the app and returns what Run returned.
func (r *running) stop() error {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // a second stop sees the same result
		return err
	case <-time.After(60 * time.Second):
		return errors.New("Run did not return within 60 s of cancel")
	}
}

// murmur2 is Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2), written
// here from the algorithm so the tests check eddy's partitioning against Kafka's, not
// against the library eddy uses.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := length &^ 3
	switch length % 4 {
	case 3:
		h ^= uint32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// kafkaPartition is the partition Kafka's default partitioner gives a key.
func kafkaPartition(key []byte, partitions int32) int32 {
	return (murmur2(key) & 0x7fffffff) % partitions
}

// Kafka's own test vectors for murmur2 (UtilsTest.testMurmur2).
func TestMurmur2MatchesKafka(t *testing.T) {
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// generateBatches writes batches of per records to topic in the background, one batch
// every pause; record i has key "k<i % keys>" and value i. The channel closes when done.
func generateBatches(t *testing.T, topic string, batches, per, keys int, pause time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		cl := kafkatest.Client(t)
		for b := range batches {
			recs := make([]*kgo.Record, per)
			for i := range per {
				id := b*per + i
				recs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", id%keys), Value: fmt.Appendf(nil, "%d", id)}
			}
			if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
				t.Errorf("generator: %v", err)
				return
			}
			time.Sleep(pause)
		}
	}()
	return done
}

// checkKeyValues compares topic's records, read_committed, as sorted "key=value" lines
// with want, which must not be empty.
func checkKeyValues(t *testing.T, topic string, want []string) {
	t.Helper()
	var got []string
	for _, r := range readCommitted(t, topic) {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("%s: %d outputs, want %d:\n got %v\nwant %v", topic, len(got), len(want), got, want)
	}
}

// guaranteeOpts are the options of a test run under guarantee ("at-least-once", eddy's
// default, or "exactly-once").
func guaranteeOpts(guarantee string) []eddy.Opt {
	if guarantee == "exactly-once" {
		return []eddy.Opt{eddy.ExactlyOnce()}
	}
	return nil
}
