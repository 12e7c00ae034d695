package serde

import (
	"fmt"

	"github.com/linkedin/goavro/v2"
)

// AvroGeneric returns a Serde for records of schema without a Go type of their own: values
// are goavro's native form (a record is a map[string]any, a union that is not null is a
// map[string]any of one entry from the branch's type name to the value, long is int64,
// bytes []byte, and the logical types time.Time, time.Duration and *big.Rat). It is for
// tools and pipelines that pass records through whatever their fields, and for unions of
// several types, which no struct field maps to. Encoding appends to the caller's buffer;
// Decode rejects bytes left over. The schema is validated when AvroGeneric is called.
func AvroGeneric(schema string) (Serde[any], error) {
	c, err := goavro.NewCodec(schema)
	if err != nil {
		return nil, fmt.Errorf("serde: avro: invalid schema: %w", err)
	}
	return avroGeneric{c}, nil
}

type avroGeneric struct{ c *goavro.Codec }

func (g avroGeneric) AppendEncode(dst []byte, v any) ([]byte, error) {
	out, err := g.c.BinaryFromNative(dst, v)
	if err != nil {
		return dst, fmt.Errorf("serde: avro: encoding a generic record: %w", err)
	}
	return out, nil
}

func (g avroGeneric) Decode(b []byte) (any, error) {
	// goavro's bytes values are slices of its input: decode a copy, which they may keep,
	// since the caller reuses b.
	v, rest, err := g.c.NativeFromBinary(append([]byte(nil), b...))
	if err != nil {
		return nil, fmt.Errorf("serde: avro: decoding a generic record: %w", err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("serde: avro: decoding a generic record: %d bytes left over after the value", len(rest))
	}
	return v, nil
}
