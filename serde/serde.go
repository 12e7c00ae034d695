package serde

import (
	"errors"
	"fmt"
)

// Serde encodes and decodes values of type T to and from Kafka record bytes.
type Serde[T any] interface {
	// AppendEncode appends the encoding of v to dst and returns the extended
	// slice, like strconv.AppendInt, so that callers can reuse one buffer for
	// every record instead of allocating a slice per record.
	AppendEncode(dst []byte, v T) ([]byte, error)

	// Decode decodes b. It never panics; bad input is an error. It must not
	// keep b, which the caller reuses for the next record: whatever the
	// returned value needs from b is copied.
	Decode(b []byte) (T, error)
}

// Nullable is implemented by a Serde whose type has a value standing for Kafka's null,
// apart from the values that encode to zero bytes: Bytes, whose nil slice is null. eddy's
// sinks look for it once per operator: they write null (for a value, a tombstone) for a
// value IsNull reports, and zero bytes for every other value that encodes to nothing.
// Without it, nothing a Serde encodes is ever written as null.
type Nullable[T any] interface {
	Serde[T]
	// IsNull reports whether v is written as null rather than encoded.
	IsNull(v T) bool
}

// ErrSize is wrapped by the error Decode returns when a fixed-width type (Int32,
// Int64, Float64) is given the wrong number of bytes, nil and empty input
// included. Retrying does not help: the record was written by a different
// serializer than the one reading it, or it is corrupt.
var ErrSize = errors.New("serde: wrong number of bytes")

// sizeError says which type wanted how many bytes. It is a type rather than
// fmt.Errorf("%w: ...", ErrSize) so that the message reads
// "serde: int64 needs 8 bytes, got 3" without the sentinel's text in the middle.
type sizeError struct {
	typ  string
	want int
	got  int
}

func (e *sizeError) Error() string {
	return fmt.Sprintf("serde: %s needs %d bytes, got %d", e.typ, e.want, e.got)
}

func (e *sizeError) Unwrap() error { return ErrSize }
