package serde

import "bytes"

var (
	_ Nullable[[]byte] = bytesSerde{}
	_ Serde[string]    = stringSerde{}
)

// Bytes returns the identity Serde: it encodes a slice as its bytes and
// decodes into a copy of the input. Nil decodes to nil and empty to empty, so
// a tombstone stays distinguishable from an empty payload, and it is
// [Nullable]: eddy writes a nil slice as null and an empty one as zero bytes.
func Bytes() Serde[[]byte] { return bytesSerde{} }

type bytesSerde struct{}

// IsNull reports whether v is nil: Kafka's null, a tombstone when it is a value.
func (bytesSerde) IsNull(v []byte) bool { return v == nil }

func (bytesSerde) AppendEncode(dst []byte, v []byte) ([]byte, error) {
	return append(dst, v...), nil
}

// Decode copies because the caller reuses b for the next record; returning b
// itself would let that record overwrite this value.
func (bytesSerde) Decode(b []byte) ([]byte, error) {
	return bytes.Clone(b), nil
}

// String returns a Serde that writes a string's bytes as they are, like
// Kafka's StringSerializer with its default UTF-8 encoding. It does not
// validate UTF-8 in either direction, so any bytes round-trip unchanged. Nil
// decodes to "".
func String() Serde[string] { return stringSerde{} }

type stringSerde struct{}

func (stringSerde) AppendEncode(dst []byte, v string) ([]byte, error) {
	return append(dst, v...), nil
}

// Decode's conversion copies b, so the string does not alias the caller's buffer.
func (stringSerde) Decode(b []byte) (string, error) {
	return string(b), nil
}
