package eddy

import (
	"fmt"
	"io"

	"github.com/prometheus/common/expfmt"

	"github.com/eddy-streams/eddy/internal/runtime"
)

// ErrorPolicy is what eddy does with a record that fails: Fail, Skip or DeadLetter. A
// failure is counted (see App.Metrics) whatever the policy.
type ErrorPolicy struct {
	action runtime.ErrorAction
	topic  string
}

// Fail stops the application: Run returns an error naming the record's topic, partition
// and offset and the cause, and no offset past the record is committed, so a restart meets
// the same record again. The default for every kind of failure.
func Fail() ErrorPolicy { return ErrorPolicy{action: runtime.Fail} }

// Skip logs the record's coordinates and the cause, counts it, and goes on as if the
// record had not been there.
func Skip() ErrorPolicy { return ErrorPolicy{action: runtime.Skip} }

// The headers a dead-lettered record carries after its own. Numbers are decimal text.
const (
	// HeaderErrorKind is "deserialization", "processing" or "production".
	HeaderErrorKind = runtime.HeaderErrorKind
	// HeaderErrorMessage is the error, with the operator and, for a panic, "panic:".
	HeaderErrorMessage = runtime.HeaderErrorMessage
	// HeaderErrorOperator names the source, operator or sink where the record failed.
	HeaderErrorOperator = runtime.HeaderErrorOperator
	// HeaderSourceTopic, HeaderSourcePartition, HeaderSourceOffset and
	// HeaderSourceTimestamp (milliseconds) are the record's coordinates.
	HeaderSourceTopic     = runtime.HeaderSourceTopic
	HeaderSourcePartition = runtime.HeaderSourcePart
	HeaderSourceOffset    = runtime.HeaderSourceOffset
	HeaderSourceTimestamp = runtime.HeaderSourceTimeMS
)

// DeadLetter writes the record's original key and value bytes, unchanged, with its
// timestamp and headers, to topic, adds headers that say what happened (the Header
// constants: eddy.error.kind, eddy.error.message, eddy.error.operator, eddy.source.topic,
// eddy.source.partition, eddy.source.offset, eddy.source.timestamp), and goes on. The
// write is part of the record's commit: in the same transaction under ExactlyOnce, and
// acknowledged before the record's offset is committed under at-least-once. The topic must
// exist when Run starts.
func DeadLetter(topic string) ErrorPolicy {
	return ErrorPolicy{action: runtime.DeadLetter, topic: topic}
}

// String writes the policy as it is made: Fail(), Skip() or DeadLetter("topic").
func (p ErrorPolicy) String() string {
	switch p.action {
	case runtime.Skip:
		return "Skip()"
	case runtime.DeadLetter:
		return fmt.Sprintf("DeadLetter(%q)", p.topic)
	}
	return "Fail()"
}

// OnDeserializationError sets the policy for input records whose key or value does not
// decode with the source's serdes, or whose event time cannot be had (the timestamp
// extractor fails, or the time is negative).
func OnDeserializationError(p ErrorPolicy) Opt {
	return optFunc(func(c *config) { c.onDeserialization = p })
}

// OnProcessingError sets the policy for records on which user code fails: a Process or
// the function of a Try operator (topology.TryMap, TryMapValues, TryFilter, …) returns an
// error, or any user function (Map, Filter, an aggregator, a processor, a custom serde
// inside an operator) panics. A panic never takes the process down; it
// becomes an error naming the operator. Under at-least-once, what the record did before
// the failing operator (output, state changes) stands, as in Kafka Streams; under
// ExactlyOnce the transaction is aborted and replayed, and the record is skipped or
// dead-lettered before it has any effect.
func OnProcessingError(p ErrorPolicy) Opt {
	return optFunc(func(c *config) { c.onProcessing = p })
}

// OnProductionError sets the policy for output that cannot be written on its own account:
// a value the sink's serde cannot encode, a record too large for the topic or the
// producer, a record the broker finds invalid, or no permission to write the topic. Fail
// (the default) or DeadLetter, which dead-letters the input record the output came from;
// Skip is refused, as it would drop output silently. Failures of the connection or the
// producer always stop the application.
func OnProductionError(p ErrorPolicy) Opt {
	return optFunc(func(c *config) { c.onProduction = p })
}

func (c *config) validatePolicies() []error {
	var errs []error
	for _, p := range []struct {
		opt string
		p   ErrorPolicy
	}{{"OnDeserializationError", c.onDeserialization}, {"OnProcessingError", c.onProcessing}, {"OnProductionError", c.onProduction}} {
		if p.p.action == runtime.DeadLetter && p.p.topic == "" {
			errs = append(errs, fmt.Errorf("eddy: %s(DeadLetter(\"\")): name the dead-letter topic", p.opt))
		}
	}
	if c.onProduction.action == runtime.Skip {
		errs = append(errs, fmt.Errorf("eddy: OnProductionError(Skip()): skipping output that failed would lose it silently; use Fail() or DeadLetter(topic)"))
	}
	return errs
}

func (p ErrorPolicy) runtime() runtime.ErrorPolicy {
	return runtime.ErrorPolicy{Action: p.action, Topic: p.topic}
}

// Metric is one counter of an application instance.
type Metric struct {
	// Name is the counter's name, Prometheus style: eddy_records_skipped_total,
	// eddy_records_dead_lettered_total, eddy_records_failed_total (labels topic and
	// reason: deserialization, processing or production), eddy_late_records_total
	// (label store: the windowed aggregation's store) and eddy_enforced_processing_total
	// (label task: records processed after a wait for an empty partition ran out, see
	// MaxTaskIdle).
	Name   string
	Labels map[string]string
	Value  int64
}

// Metrics returns the instance's counters since New. Counters appear at their first count.
func (a *App) Metrics() []Metric {
	var out []Metric
	for _, s := range a.metrics.Snapshot() {
		m := Metric{Name: s.Name, Labels: map[string]string{}, Value: s.Value}
		for _, l := range s.Labels {
			m.Labels[l.Name] = l.Value
		}
		out = append(out, m)
	}
	return out
}

// LateRecords returns how many records the windowed or session aggregation with the given
// store rejected as late on this instance since New (every window they belonged to was
// final): dropped, or sent to its LateRecordsTo topic. It is the counter
// eddy_late_records_total{store} of Metrics.
func (a *App) LateRecords(store string) int64 {
	for _, m := range a.Metrics() {
		if m.Name == "eddy_late_records_total" && m.Labels["store"] == store {
			return m.Value
		}
	}
	return 0
}

// WriteMetrics writes the App's metrics (its Collector's) in the Prometheus text
// exposition format. Handler's /metrics serves the same.
func (a *App) WriteMetrics(w io.Writer) error {
	families, err := a.registry.Gather()
	if err != nil {
		return fmt.Errorf("eddy: gathering the metrics: %w", err)
	}
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(w, f); err != nil {
			return err
		}
	}
	return nil
}
