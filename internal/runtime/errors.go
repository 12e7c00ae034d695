package runtime

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// The fatal classes a program may want to tell apart (the root package exports them).
var (
	// ErrMissingTopic: an input or output topic does not exist.
	ErrMissingTopic = errors.New("eddy: missing topic")
	// ErrCoPartitioning: topics processed together have different partition counts.
	ErrCoPartitioning = errors.New("eddy: topics not co-partitioned")
)

// marked is an error that also is its sentinel for errors.Is, with its own message.
type marked struct {
	error
	sentinel error
}

func (m marked) Is(target error) bool { return target == m.sentinel }
func (m marked) Unwrap() error        { return m.error }

// markAs makes err match sentinel under errors.Is, keeping err's message.
func markAs(sentinel, err error) error { return marked{err, sentinel} }

// RecordFailure is a record that stopped the application (its policy is Fail): the task
// (or the global table) that read it, the record's coordinates and the failure.
type RecordFailure struct {
	Task processor.TaskID
	// Global is the store of the global table whose topic the record is in; Task is then
	// zero (a global table has no tasks).
	Global    string
	Topic     string
	Partition int32
	Offset    int64
	Err       *graph.RecordError
}

func (f *RecordFailure) Error() string {
	if f.Global != "" {
		return fmt.Sprintf("eddy: global table %s: record %s/%d@%d: %v", f.Global, f.Topic, f.Partition, f.Offset, f.Err)
	}
	return fmt.Sprintf("eddy: task %s: record %s/%d@%d: %v", f.Task, f.Topic, f.Partition, f.Offset, f.Err)
}

func (f *RecordFailure) Unwrap() error { return f.Err }

func newRecordFailure(task processor.TaskID, rec *kgo.Record, re *graph.RecordError) *RecordFailure {
	return &RecordFailure{Task: task, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: re}
}
