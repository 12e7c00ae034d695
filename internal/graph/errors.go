package graph

import (
	"fmt"
	"runtime/debug"
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

// Recovered turns a recovered panic value into a processing error of node.
func Recovered(node string, v any) *RecordError {
	err, ok := v.(error)
	if !ok {
		err = fmt.Errorf("%v", v)
	}
	return &RecordError{Kind: Processing, Node: node, Err: err, Panicked: true, Stack: debug.Stack()}
}
