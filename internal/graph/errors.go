package graph

import (
	"fmt"
	"runtime/debug"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrorKind says where a record failed, which decides the policy that handles it.
type ErrorKind uint8

const (
	// Deserialization: the key or value did not decode, or the record's event time could
	// not be had (an extractor error, a negative time).
	Deserialization ErrorKind = iota + 1
	// Processing: user code returned an error or panicked.
	Processing
	// Production: an output record could not be encoded or written.
	Production
)

func (k ErrorKind) String() string {
	switch k {
	case Deserialization:
		return "deserialization"
	case Processing:
		return "processing"
	case Production:
		return "production"
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// RecordError is a failure that belongs to one input record rather than to the
// application: the runtime hands it to the policy for its kind (fail, skip, dead-letter).
// Any other error on the record path stops the application.
type RecordError struct {
	Kind ErrorKind
	// Node is the operator (or source, or sink) where the record failed.
	Node string
	Err  error
	// Panicked says Err is a recovered panic; Stack is where it happened.
	Panicked bool
	Stack    []byte
}

func (e *RecordError) Error() string {
	if e.Panicked {
		return fmt.Sprintf("%s error in %s: panic: %v", e.Kind, e.Node, e.Err)
	}
	return fmt.Sprintf("%s error in %s: %v", e.Kind, e.Node, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Op names the operator running on a task, for a panic to be told where it happened: a
// compiled operator stores its Op in the task's slot (Env.OpSlot) before it runs, which
// costs a pointer store where a recover in every operator would cost a deferred call.
type Op struct {
	Name string
	// Kind is the kind of a failure in it: Deserialization in a source, Production in a
	// sink, Processing elsewhere.
	Kind ErrorKind
}

// OpFor returns the Op of node n.
func OpFor(n *Node) *Op {
	switch n.Kind {
	case Source:
		return &Op{Name: n.Name, Kind: Deserialization}
	case Sink:
		return &Op{Name: n.Name, Kind: Production}
	}
	return &Op{Name: n.Name, Kind: Processing}
}

// Call runs h on rec; a panic becomes a RecordError of the operator in slot (the last one
// to start), or, with none, an error that stops the application. The process never dies
// of a panic on the record path.
func Call(h Handler, rec *kgo.Record, slot **Op) (err error) {
	*slot = nil
	defer func() {
		if v := recover(); v != nil {
			perr, ok := v.(error)
			if !ok {
				perr = fmt.Errorf("%v", v)
			}
			if op := *slot; op != nil {
				err = &RecordError{Kind: op.Kind, Node: op.Name, Err: perr, Panicked: true, Stack: debug.Stack()}
				return
			}
			err = fmt.Errorf("panic: %w\n%s", perr, debug.Stack())
		}
	}()
	return h(rec)
}
