package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
)

// ErrorAction is what happens to a record that failed (a graph.RecordError).
type ErrorAction uint8

const (
	// Fail stops the application: Run returns the error with the record's coordinates,
	// and no offset past the record is committed.
	Fail ErrorAction = iota
	// Skip logs the record's coordinates and the error, counts it, and goes on.
	Skip
	// DeadLetter writes the record's original key, value and headers to a topic, with the
	// error and the coordinates in headers, counts it, and goes on.
	DeadLetter
)

// ErrorPolicy is the handling of one kind of record failure.
type ErrorPolicy struct {
	Action ErrorAction
	// Topic is the dead-letter topic.
	Topic string
}

// Dead-letter headers, added after the record's own.
const (
	HeaderErrorKind     = "eddy.error.kind"
	HeaderErrorMessage  = "eddy.error.message"
	HeaderErrorOperator = "eddy.error.operator"
	HeaderSourceTopic   = "eddy.source.topic"
	HeaderSourcePart    = "eddy.source.partition"
	HeaderSourceOffset  = "eddy.source.offset"
	HeaderSourceTimeMS  = "eddy.source.timestamp"
)

// errReplay asks the loop, under exactly-once, to abort the transaction and replay from
// the committed offsets: a record failed after it may have had effects, and it is to be
// skipped or dead-lettered before any effect on the replay (it is in worker.poisoned).
var errReplay = errors.New("eddy: a failed record's effects are being rolled back")

type recordCoord struct {
	topic     string
	partition int32
	offset    int64
}

func (c recordCoord) String() string { return fmt.Sprintf("%s/%d@%d", c.topic, c.partition, c.offset) }

func coordOf(r *kgo.Record) recordCoord { return recordCoord{r.Topic, r.Partition, r.Offset} }

func (cfg *Config) policy(k graph.ErrorKind) ErrorPolicy {
	switch k {
	case graph.Deserialization:
		return cfg.OnDeserialization
	case graph.Processing:
		return cfg.OnProcessing
	case graph.Production:
		return cfg.OnProduction
	}
	return ErrorPolicy{}
}

// DeadLetterTopics lists the dead-letter topics of cfg's policies.
func (cfg *Config) DeadLetterTopics() []string {
	var out []string
	for _, p := range []ErrorPolicy{cfg.OnDeserialization, cfg.OnProcessing, cfg.OnProduction} {
		if p.Action == DeadLetter && p.Topic != "" {
			out = append(out, p.Topic)
		}
	}
	return out
}

// protect runs f, turning a panic into an error that names what panicked: user code
// (punctuators, processor Init and Close) never takes the process down.
func protect(what string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("eddy: panic in %s: %v\n%s", what, v, debug.Stack())
		}
	}()
	return f()
}

// call runs the record's handler; a panic becomes a failure of the operator that was
// running (graph.Call).
func (t *task) call(h graph.Handler, rec *kgo.Record) error { return graph.Call(h, rec, &t.op) }

// recordFailed applies the policy of a failed record's kind. It returns nil when the
// record was skipped or dead-lettered (it counts as processed), errReplay when the
// transaction must be replayed first, or the error that stops the application.
func (t *task) recordFailed(rec *kgo.Record, err error) error {
	w := t.w
	var re *graph.RecordError
	if !errors.As(err, &re) {
		return fmt.Errorf("eddy: task %s: record %s: %w", t.id, t.cur, err)
	}
	pol := w.cfg.policy(re.Kind)
	if pol.Action == Fail {
		w.count("eddy_records_failed_total", "Records that stopped the application.", rec.Topic, re.Kind)
		if re.Panicked {
			w.log.Error("panic in user code", "record", t.cur.String(), "operator", re.Node, "stack", string(re.Stack))
		}
		return newRecordFailure(t.id, rec, re)
	}
	if w.guarantee.RollsBack() && re.Kind != graph.Deserialization {
		// It may have had effects (output, state) before it failed: they go with the
		// transaction, and on the replay the record is handled before any effect.
		w.poisoned[coordOf(rec)] = &poison{err: re}
		w.log.Info("a record failed; aborting the transaction to replay without its effects", "record", t.cur.String(), "err", err)
		return errReplay
	}
	return w.dispose(rec, re, pol)
}

// dispose skips or dead-letters a failed record.
func (w *worker) dispose(rec *kgo.Record, re *graph.RecordError, pol ErrorPolicy) error {
	c := coordOf(rec)
	if pol.Action == Skip {
		w.count("eddy_records_skipped_total", "Records skipped after a failure.", rec.Topic, re.Kind)
		w.log.Warn("skipping a record that failed", "record", c.String(), "kind", re.Kind.String(), "operator", re.Node, "err", re.Err)
		if w.onSkip != nil {
			w.onSkip(rec, re)
		}
		return nil
	}
	if err := w.send(deadLetter(rec, re, pol.Topic)); err != nil {
		return fmt.Errorf("eddy: dead-lettering record %s to %s: %w", c, pol.Topic, err)
	}
	w.count("eddy_records_dead_lettered_total", "Records written to a dead-letter topic after a failure.", rec.Topic, re.Kind)
	w.log.Warn("dead-lettered a record that failed", "record", c.String(), "topic", pol.Topic, "kind", re.Kind.String(), "operator", re.Node, "err", re.Err)
	return nil
}

// deadLetter is the dead-letter record of rec, which failed with re: its original key,
// value, timestamp and headers, then the error and the record's coordinates in headers.
func deadLetter(rec *kgo.Record, re *graph.RecordError, topic string) *kgo.Record {
	dl := &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp,
		Headers: make([]kgo.RecordHeader, 0, len(rec.Headers)+7)}
	dl.Headers = append(dl.Headers, rec.Headers...)
	dl.Headers = append(dl.Headers,
		kgo.RecordHeader{Key: HeaderErrorKind, Value: []byte(re.Kind.String())},
		kgo.RecordHeader{Key: HeaderErrorMessage, Value: []byte(re.Error())},
		kgo.RecordHeader{Key: HeaderErrorOperator, Value: []byte(re.Node)},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePart, Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, rec.Offset, 10)},
		kgo.RecordHeader{Key: HeaderSourceTimeMS, Value: strconv.AppendInt(nil, rec.Timestamp.UnixMilli(), 10)},
	)
	return dl
}

// poison is a record that failed in an aborted transaction; handled says the replay has
// skipped or dead-lettered it in the open transaction.
type poison struct {
	err     *graph.RecordError
	handled bool
}

type pendingCount struct {
	name, help, topic string
	kind              graph.ErrorKind
}

// count counts a failed record. Under exactly-once the count waits for the transaction
// to commit: a record handled in an aborted one is handled again.
func (w *worker) count(name, help, topic string, kind graph.ErrorKind) {
	if w.cfg.Metrics == nil {
		return
	}
	if w.guarantee.Pending() && name != "eddy_records_failed_total" {
		w.pending = append(w.pending, pendingCount{name, help, topic, kind})
		return
	}
	w.cfg.Metrics.Counter(name, help, "topic", topic, "reason", kind.String()).Add(1)
}

// committedLocked publishes the committed transaction's counts and forgets the poisoned
// records it handled.
func (w *worker) committedLocked() {
	for _, c := range w.pending {
		w.cfg.Metrics.Counter(c.name, c.help, "topic", c.topic, "reason", c.kind.String()).Add(1)
	}
	w.pending = w.pending[:0]
	for c, p := range w.poisoned {
		if p.handled {
			delete(w.poisoned, c)
		}
	}
}

// forgetPoisonedLocked drops the failed records of a partition that leaves: its next
// owner meets them again and handles them itself.
func (w *worker) forgetPoisonedLocked(p *partition) {
	for c := range w.poisoned {
		if c.topic == p.topic && c.partition == p.partition {
			delete(w.poisoned, c)
		}
	}
}

// abortedLocked drops the aborted transaction's counts; its poisoned records are handled
// again on the replay.
func (w *worker) abortedLocked() {
	w.pending = w.pending[:0]
	for _, p := range w.poisoned {
		p.handled = false
	}
}

// sourceRef rides in the Context of an output record when production failures are
// dead-lettered: it names the input record the output came from.
type sourceRef struct {
	context.Context
	rec *kgo.Record
}

// productionFailures collects the outputs that failed with an error of the record's own
// (too large, refused), for their input records to be dead-lettered.
type productionFailures struct {
	mu      sync.Mutex
	sources map[recordCoord]failedSource
}

type failedSource struct {
	rec *kgo.Record
	err *graph.RecordError
}

func (f *productionFailures) add(src *kgo.Record, out *kgo.Record, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sources == nil {
		f.sources = map[recordCoord]failedSource{}
	}
	c := coordOf(src)
	if _, ok := f.sources[c]; !ok {
		f.sources[c] = failedSource{rec: src, err: &graph.RecordError{Kind: graph.Production, Node: "producer",
			Err: fmt.Errorf("producing to %s: %w", out.Topic, err)}}
	}
}

func (f *productionFailures) take() map[recordCoord]failedSource {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sources
	f.sources = nil
	return s
}

// recordSpecific reports whether a produce error is about the record itself, not the
// connection, the producer or the rest of its batch: only such failures may be
// dead-lettered. A record too large for the producer's batch limit (which eddy sets to
// the smallest max.message.bytes of the output topics) is refused alone, before it is
// sent; a batch the broker refuses as too large holds other records too, so that is not
// the record's own failure. No permission to write the topic, or no such topic (a topic
// chosen per record by ToTopic), is every record's own.
func (w *worker) recordSpecific(r *kgo.Record, err error) bool {
	if errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.UnknownTopicOrPartition) {
		return true
	}
	if !errors.Is(err, kerr.MessageTooLarge) {
		return false
	}
	size := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		size += len(h.Key) + len(h.Value)
	}
	return int64(size) > int64(w.plan.maxRecordBytes)-recordOverhead
}

// recordOverhead bounds what a record adds to its key, value and headers in a batch.
const recordOverhead = 64

// deadLetterProductionFailures writes the input records of failed outputs to the
// production policy's dead-letter topic (at-least-once; their offsets are committed only
// after these writes are acknowledged).
func (w *worker) deadLetterProductionFailures(ctx context.Context) error {
	failed := w.prodFailed.take()
	if len(failed) == 0 {
		return nil
	}
	// In input order, as they would have been handled had they failed at once.
	coords := slices.SortedFunc(maps.Keys(failed), func(a, b recordCoord) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition), cmp.Compare(a.offset, b.offset))
	})
	for _, c := range coords {
		f := failed[c]
		if err := w.dispose(f.rec, f.err, w.cfg.OnProduction); err != nil {
			return err
		}
	}
	if err := w.tx.Flush(ctx); err != nil {
		return fmt.Errorf("eddy: flushing dead-letter records: %w", err)
	}
	if errp := w.produceErr.Load(); errp != nil {
		return *errp
	}
	return nil
}

// buildTask compiles a task; a panic in a processor's Init is an error.
func buildTask(g *graph.Graph, sub int, env graph.Env) (t *graph.Task, err error) {
	err = protect("building task "+env.TaskID().String(), func() error {
		var berr error
		t, berr = g.BuildTask(sub, env)
		return berr
	})
	return t, err
}
