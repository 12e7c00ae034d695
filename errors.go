package eddy

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/processor"
)

// ErrClosed is returned by Run on an App that was closed or has run before.
var ErrClosed = errors.New("eddy: app closed")

// ErrStateDirInUse is returned by Run when another instance (in this process or another)
// holds the state directory of the same application. Two instances sharing one would
// share a process id, hence transactional ids, and one local database. Give each instance
// its own StateDir; retrying does not help while the other runs.
var ErrStateDirInUse = errors.New("eddy: state directory in use")

// ErrMissingTopic matches (errors.Is) the error of a Run that found an input or output
// topic missing at start; the error names the topics. eddy creates only its internal
// topics: create the others, then run again.
var ErrMissingTopic = runtime.ErrMissingTopic

// ErrCoPartitioning matches the error of a Run whose topology processes topics together
// (a merge, a join) whose partition counts differ; the error names the topics and counts.
// Repartition one of them, or change the topics: retrying does not help.
var ErrCoPartitioning = runtime.ErrCoPartitioning

// ErrNotAuthorized matches the error of a Run that the brokers refused a permission; the
// error names the operation and the resource to grant it on. README.md ("Secured
// clusters") lists the ACLs an application needs.
var ErrNotAuthorized = runtime.ErrNotAuthorized

// ErrFenced matches the error of a Run whose transactional producer was fenced: another
// producer with the same transactional id started (a second instance with this one's
// process id — a copied state directory — or this instance's own restart while it hung).
// This instance's last transaction was aborted; start it again only once the other is
// gone, or give it its own StateDir.
var ErrFenced = errors.New("eddy: producer fenced by another instance")

// ErrorKind says where a record failed; each kind has its own policy
// (OnDeserializationError, OnProcessingError, OnProductionError).
type ErrorKind uint8

const (
	// DeserializationError: the key or value did not decode, or the record's event time
	// could not be had.
	DeserializationError ErrorKind = iota + 1
	// ProcessingError: user code returned an error (Process, the Try operators) or
	// panicked.
	ProcessingError
	// ProductionError: an output could not be encoded or was refused on its own account
	// (too large, no permission, no such topic).
	ProductionError
)

// String is the kind's name: "deserialization", "processing" or "production", as in
// the eddy.error.kind header and the counters' reason label.
func (k ErrorKind) String() string { return graph.ErrorKind(k).String() }

// RecordError is the error of a Run stopped by a record whose policy is Fail (the
// default): errors.As finds it in what Run and Close return. The record's offset was not
// committed, so a restart meets the same record again.
type RecordError struct {
	// Task is the task that processed the record.
	Task processor.TaskID
	// Global is set instead for a record of a global table's topic: the table's store
	// (topology.GlobalTableFrom). Task is then zero: a global table has no tasks.
	Global string
	// Topic, Partition and Offset are the record's coordinates.
	Topic     string
	Partition int32
	Offset    int64
	// Operator is the operator (source, processor or sink) the record failed in, as
	// Describe names it.
	Operator string
	// Kind is where it failed.
	Kind ErrorKind
	// Panicked says the failure was a recovered panic; Err is then the panic's value.
	Panicked bool
	// Err is the cause: the serde's, the user function's, or the producer's error.
	Err error

	msg string
}

// Error names the task, the record's coordinates, the kind, the operator and the cause.
func (e *RecordError) Error() string { return e.msg }

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// publicError turns what the runtime returned into what Run returns: a failed record
// becomes a *RecordError, and a fenced producer matches ErrFenced. Joined errors (several
// workers) are translated one by one.
func publicError(err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		// A join of several workers' errors, or one error that wraps several (fmt.Errorf
		// with two %w): rebuilt as a join only when a part changed, so that the latter
		// keeps its message.
		errs := j.Unwrap()
		out := make([]error, len(errs))
		changed := false
		for i, e := range errs {
			out[i] = publicError(e)
			changed = changed || out[i] != e
		}
		if !changed {
			return err
		}
		return errors.Join(out...)
	}
	if f, ok := err.(*runtime.RecordFailure); ok {
		return &RecordError{Task: f.Task, Global: f.Global, Topic: f.Topic, Partition: f.Partition, Offset: f.Offset,
			Operator: f.Err.Node, Kind: ErrorKind(f.Err.Kind), Panicked: f.Err.Panicked, Err: f.Err.Err, msg: f.Error()}
	}
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return err
}
