// Package ends reads topics to their end offsets and waits until an application has
// caught up with them: the way tests prove that something was not written.
//
// A read that stops at the n-th record passes whatever follows it, and a pause before
// counting again passes whatever comes after the pause — or fails on a busy machine. Read
// instead works from the end offsets a topic has when it is called, and WaitCaughtUp waits
// until an application has committed everything it can read. Both take seed brokers, so
// tests on the embedded cluster use them as well as tests on a real broker. The package is
// apart from kafkatest so that those tests do not link testcontainers.
package ends

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchWait bounds a fetch that waits for records: the embedded cluster (kfake) answers a
// waiting fetch only at its deadline, and a read that has reached its end waits for nothing.
const fetchWait = 100 * time.Millisecond

// Read returns the records of topic from the start to the end offsets the topic has
// when Read is called, read with the isolation given, control records left out, in
// partition order and each partition in offset order. It fails the test if the end is not
// reached within a minute.
//
// It waits for a record at or past each partition's last offset, which a read_committed
// reader always sees once the transactions below the end are over: the last offset holds a
// record or a transaction marker. (Aborted records are followed by their abort marker.)
func Read(t testing.TB, seeds []string, topic string, isolation kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := read(ctx, seeds, topic, isolation)
	if err != nil {
		t.Fatalf("ends: %v", err)
	}
	return recs
}

func read(ctx context.Context, seeds []string, topic string, isolation kgo.IsolationLevel) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	end := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Offset > 0 {
			end[e.Partition] = e.Offset
			from[e.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(end) == 0 {
		return nil, nil
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(isolation), kgo.KeepControlRecords(), kgo.FetchMaxWait(fetchWait))
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	byPartition := map[int32][]*kgo.Record{}
	pending := len(end)
	reached := map[int32]bool{}
	for pending > 0 {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reading %s to its end offsets %v: %d partitions short: %w", topic, end, pending, ctx.Err())
		}
		for _, fe := range fs.Errors() {
			return nil, fmt.Errorf("reading %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			e := end[r.Partition]
			if r.Offset < e && !r.Attrs.IsControl() {
				byPartition[r.Partition] = append(byPartition[r.Partition], r)
			}
			if r.Offset+1 >= e && !reached[r.Partition] {
				reached[r.Partition] = true
				pending--
			}
		})
	}
	var out []*kgo.Record
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		out = append(out, byPartition[p]...)
	}
	return out, nil
}

// WaitCaughtUp waits until group has processed everything there is to read in topics and
// in the application's repartition topics (eddy names them <application id>-…-repartition,
// a foreign-key join's …-subscription-registration-topic and …-subscription-response-topic,
// and the group is named by the application id), and fails the test after timeout.
//
// Caught up means: on every partition the committed offset is at the end, or no record a
// read_committed reader would see lies between the two (under exactly-once a partition
// ends with transaction markers, which no offset commit covers, and perhaps aborted
// records). The committed offsets are fetched before the ends are listed, so the records
// that the committed work wrote — acknowledged before an at-least-once commit, in the same
// transaction under exactly-once — lie below the ends and must have been processed too.
//
// What an application writes later on its own (a wall-clock punctuation; a watermark
// marker, written at most once a second after the watermark moves) is not covered: a test
// that depends on it waits for it by its own signal.
func WaitCaughtUp(t testing.TB, seeds []string, group string, timeout time.Duration, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var why string
	for {
		ok, lag, err := CaughtUp(ctx, seeds, group, topics...)
		if ok {
			return
		}
		if err != nil {
			why = err.Error()
		} else {
			why = lag
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ends: group %s has not caught up after %s: %s", group, timeout, why)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CaughtUp reports whether group has processed everything in topics and the application's
// repartition topics (see WaitCaughtUp); when not, lag says where it is behind.
func CaughtUp(ctx context.Context, seeds []string, group string, topics ...string) (ok bool, lag string, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return false, "", err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Committed first, ends after: see WaitCaughtUp.
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return false, "", fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	// The topics given first: while the group is behind on them, there is no need to list
	// every topic of the broker (a shared test broker has a thousand) to find the
	// repartition topics.
	if ok, lag, err := caughtUpOn(ctx, adm, seeds, committed, topics); !ok || err != nil {
		return false, lag, err
	}
	internal, err := repartitionTopics(ctx, adm, group)
	if err != nil || len(internal) == 0 {
		return err == nil, "", err
	}
	return caughtUpOn(ctx, adm, seeds, committed, internal)
}

// caughtUpOn reports whether the committed offsets cover everything a read_committed
// reader sees in topics.
func caughtUpOn(ctx context.Context, adm *kadm.Client, seeds []string, committed kadm.OffsetResponses, topics []string) (ok bool, lag string, err error) {
	if len(topics) == 0 {
		return true, "", nil // (kadm would list every topic's ends)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return false, "", fmt.Errorf("end offsets: %w", err)
	}
	behind := map[string]map[int32]kgo.Offset{}
	var b strings.Builder
	ends.Each(func(e kadm.ListedOffset) {
		c, found := committed.Lookup(e.Topic, e.Partition)
		at := int64(0)
		if found && c.At > 0 {
			at = c.At
		}
		if at >= e.Offset {
			return
		}
		if behind[e.Topic] == nil {
			behind[e.Topic] = map[int32]kgo.Offset{}
		}
		behind[e.Topic][e.Partition] = kgo.NewOffset().At(at)
		fmt.Fprintf(&b, "%s/%d committed %d of %d; ", e.Topic, e.Partition, at, e.Offset)
	})
	if len(behind) == 0 {
		return true, "", nil
	}
	// Behind by records or only by markers? A transaction still open below the end (last
	// stable offset below it) means work in progress.
	lsos, err := adm.ListCommittedOffsets(ctx, slices.Collect(maps.Keys(behind))...)
	if err == nil {
		err = lsos.Error()
	}
	if err != nil {
		return false, "", fmt.Errorf("last stable offsets: %w", err)
	}
	for topic, parts := range behind {
		for p := range parts {
			e, _ := ends.Lookup(topic, p)
			if l, _ := lsos.Lookup(topic, p); l.Offset < e.Offset {
				fmt.Fprintf(&b, "%s/%d has an open transaction; ", topic, p)
				return false, b.String(), nil
			}
		}
	}
	visible, err := anyVisible(ctx, seeds, behind, ends)
	if err != nil {
		return false, "", err
	}
	return !visible, b.String(), nil
}

// repartitionTopicSuffixes end the names of the internal topics that eddy's tasks read:
// those of Repartition, Rebalance and the operators that insert one, and a foreign-key
// join's subscription and response topics.
var repartitionTopicSuffixes = []string{"-repartition", "-subscription-registration-topic", "-subscription-response-topic"}

func isRepartition(name string) bool {
	for _, s := range repartitionTopicSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// repartitionTopics lists the application's repartition topics.
func repartitionTopics(ctx context.Context, adm *kadm.Client, app string) ([]string, error) {
	details, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	var out []string
	for _, name := range details.Names() {
		if strings.HasPrefix(name, app+"-") && isRepartition(name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// anyVisible reports whether a read_committed reader sees a record in any partition of
// from, between its offset there and the end. Every transaction below the ends is over,
// so each partition's last offset is reached.
func anyVisible(ctx context.Context, seeds []string, from map[string]map[int32]kgo.Offset, ends kadm.ListedOffsets) (bool, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.FetchMaxWait(fetchWait))
	if err != nil {
		return false, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pending := 0
	for _, parts := range from {
		pending += len(parts)
	}
	reached := map[string]map[int32]bool{}
	for pending > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("reading the tails of %v: %w", from, err)
		}
		for _, fe := range fs.Errors() {
			return false, fmt.Errorf("reading %s/%d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		visible := false
		fs.EachRecord(func(r *kgo.Record) {
			e, _ := ends.Lookup(r.Topic, r.Partition)
			if r.Offset < e.Offset && !r.Attrs.IsControl() {
				visible = true
			}
			if r.Offset+1 >= e.Offset {
				if reached[r.Topic] == nil {
					reached[r.Topic] = map[int32]bool{}
				}
				if !reached[r.Topic][r.Partition] {
					reached[r.Topic][r.Partition] = true
					pending--
				}
			}
		})
		if visible {
			return true, nil
		}
	}
	return false, nil
}

// Mark is what the latest watermark header from one writing task says on a partition of a
// repartition topic.
type Mark struct {
	Watermark int64 // ms; math.MinInt64 while the task has none
	Idle      bool  // every input of the writing task is idle
}

// The watermark header, as internal/runtime/markers.go writes it on every record and
// marker of a repartition topic: watermark ms (8 bytes, big-endian), flags (1), and the
// writing task's sub-topology (4) and partition (4). It is read here from its bytes, not
// through the runtime, so a test notices when the format changes under it.
const (
	wmHeader     = "eddy-wm"
	wmHeaderLen  = 17
	wmFlagIdle   = 1 << 0
	wmFlagMarker = 1 << 1
)

// WithoutMarkers is recs without eddy's watermark-only markers: the data records of a
// repartition topic.
func WithoutMarkers(recs []*kgo.Record) []*kgo.Record {
	var out []*kgo.Record
	for _, r := range recs {
		if !isMarker(r) {
			out = append(out, r)
		}
	}
	return out
}

func isMarker(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == wmHeader && len(h.Value) == wmHeaderLen {
			return h.Value[8]&wmFlagMarker != 0
		}
	}
	return false
}

// Marks returns the latest watermark header of every writing task ("<sub-topology>_<partition>")
// on every partition, from recs in offset order (as Read returns them).
func Marks(recs []*kgo.Record) map[int32]map[string]Mark {
	out := map[int32]map[string]Mark{}
	for _, r := range recs {
		for _, h := range r.Headers {
			if h.Key != wmHeader || len(h.Value) != wmHeaderLen {
				continue
			}
			v := h.Value
			task := fmt.Sprintf("%d_%d", binary.BigEndian.Uint32(v[9:13]), int32(binary.BigEndian.Uint32(v[13:17])))
			if out[r.Partition] == nil {
				out[r.Partition] = map[string]Mark{}
			}
			out[r.Partition][task] = Mark{Watermark: int64(binary.BigEndian.Uint64(v[:8])), Idle: v[8]&wmFlagIdle != 0}
			break
		}
	}
	return out
}

// WaitMarks reads the repartition topic to its end until done accepts its latest watermark
// headers (see Marks), and fails the test after timeout. It is the signal for what an
// application writes on its own after its input: markers that close windows downstream,
// or that tell of idleness.
func WaitMarks(t testing.TB, seeds []string, topic string, timeout time.Duration, done func(map[int32]map[string]Mark) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var why any
	for {
		// Before the application has created the topic, reading it fails: not yet.
		recs, err := read(ctx, seeds, topic, kgo.ReadCommitted())
		if err == nil {
			marks := Marks(recs)
			if done(marks) {
				return
			}
			why = marks
		} else {
			why = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("ends: the watermark headers of %s are not there after %s: %v", topic, timeout, why)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
