package serde

import (
	"encoding/binary"
	"math"
)

var (
	_ Serde[int32]   = int32Serde{}
	_ Serde[int64]   = int64Serde{}
	_ Serde[float64] = float64Serde{}
)

// Int32 returns a Serde that writes an int32 as 4 bytes, big-endian two's
// complement: the wire format of Kafka's IntegerSerializer. Decode accepts
// exactly 4 bytes; any other length is an error wrapping [ErrSize].
func Int32() Serde[int32] { return int32Serde{} }

type int32Serde struct{}

func (int32Serde) AppendEncode(dst []byte, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(dst, uint32(v)), nil
}

func (int32Serde) Decode(b []byte) (int32, error) {
	if len(b) != 4 {
		return 0, &sizeError{typ: "int32", want: 4, got: len(b)}
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

// Int64 returns a Serde that writes an int64 as 8 bytes, big-endian two's
// complement: the wire format of Kafka's LongSerializer. Decode accepts
// exactly 8 bytes; any other length is an error wrapping [ErrSize].
func Int64() Serde[int64] { return int64Serde{} }

type int64Serde struct{}

func (int64Serde) AppendEncode(dst []byte, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, uint64(v)), nil
}

func (int64Serde) Decode(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, &sizeError{typ: "int64", want: 8, got: len(b)}
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Float64 returns a Serde that writes a float64 as its 8 IEEE 754 bytes,
// big-endian: the wire format of Kafka's DoubleSerializer. Decode accepts
// exactly 8 bytes; any other length is an error wrapping [ErrSize].
//
// The bits are kept as they are in both directions, NaN payloads and -0
// included, so every value round-trips exactly. Java's DoubleSerializer
// instead collapses every NaN to 7ff8000000000000; Java reads the NaN that Go's
// math.NaN() writes (7ff8000000000001) as NaN all the same.
func Float64() Serde[float64] { return float64Serde{} }

type float64Serde struct{}

func (float64Serde) AppendEncode(dst []byte, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v)), nil
}

func (float64Serde) Decode(b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, &sizeError{typ: "float64", want: 8, got: len(b)}
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}
