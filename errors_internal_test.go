package eddy

import (
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/processor"
)

// What the runtime returns becomes what Run returns: a failed record an *RecordError
// (also inside the join of several workers' errors), a fenced producer ErrFenced.
func TestPublicError(t *testing.T) {
	cause := errors.New("bad value")
	failure := &runtime.RecordFailure{Task: processor.TaskID{Subtopology: 1, Partition: 2}, Topic: "in", Partition: 2, Offset: 7,
		Err: &graph.RecordError{Kind: graph.Deserialization, Node: "src", Err: cause}}
	err := publicError(errors.Join(errors.New("worker 0: shutdown"), failure))
	var re *RecordError
	if !errors.As(err, &re) {
		t.Fatalf("%v: no RecordError", err)
	}
	if re.Topic != "in" || re.Partition != 2 || re.Offset != 7 || re.Operator != "src" || re.Kind != DeserializationError ||
		!errors.Is(re, cause) || re.Error() != failure.Error() {
		t.Errorf("RecordError %+v (%q)", *re, re.Error())
	}
	for _, fenced := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch} {
		err := publicError(fmt.Errorf("eddy: worker 1: initialising the transactional producer: %w", fenced))
		if !errors.Is(err, ErrFenced) || !errors.Is(err, fenced) {
			t.Errorf("%v: not ErrFenced", err)
		}
	}
	if err := publicError(errors.New("other")); errors.Is(err, ErrFenced) {
		t.Error("an unrelated error matched ErrFenced")
	}
	if publicError(nil) != nil {
		t.Error("nil became an error")
	}
}
