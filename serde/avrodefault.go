package serde

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// encodeAvroDefault encodes a field's default (its JSON, as the schema gives it) in the
// binary encoding of the field's type. Encoders write it for a field the Go type lacks;
// decoders decode it for a field the writer's schema lacks, so a default is turned into a
// Go value by the same code as any other input, afresh for every record.
func encodeAvroDefault(t *avroType, def json.RawMessage) ([]byte, error) {
	v, err := avroDefault(def)
	if err != nil {
		return nil, err
	}
	return appendAvroJSON(nil, t, v)
}

// appendAvroJSON encodes a JSON value (as decoded with UseNumber) of schema t, following
// the specification's table of default values: bytes and fixed are strings of code points
// 0–255, and a union's value is of the first branch it fits.
func appendAvroJSON(dst []byte, t *avroType, v any) ([]byte, error) {
	bad := func() ([]byte, error) { return nil, fmt.Errorf("%v is not a value of %s", v, t) }
	switch t.kind {
	case avroNull:
		if v != nil {
			return bad()
		}
		return dst, nil
	case avroBoolean:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case avroInt, avroLong:
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		i, err := n.Int64()
		if err != nil || t.kind == avroInt && (i < math.MinInt32 || i > math.MaxInt32) {
			return bad()
		}
		return appendLong(dst, i), nil
	case avroFloat, avroDouble:
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		f, err := n.Float64()
		if err != nil {
			return bad()
		}
		if t.kind == avroFloat {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case avroString:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		return append(appendLong(dst, int64(len(s))), s...), nil
	case avroBytes, avroFixed:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return bad()
			}
			b = append(b, byte(r))
		}
		if t.kind == avroFixed {
			if len(b) != t.size {
				return bad()
			}
			return append(dst, b...), nil
		}
		return append(appendLong(dst, int64(len(b))), b...), nil
	case avroEnum:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		i := slices.Index(t.symbols, s)
		if i < 0 {
			return bad()
		}
		return appendLong(dst, int64(i)), nil
	case avroArray:
		items, ok := v.([]any)
		if !ok {
			return bad()
		}
		return appendAvroArray(dst, items, func(dst []byte, it any) ([]byte, error) { return appendAvroJSON(dst, t.items, it) })
	case avroMap:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		return appendAvroMap(dst, m, func(dst []byte, x any) ([]byte, error) { return appendAvroJSON(dst, t.values, x) })
	case avroUnion:
		// The first branch the value fits, as Avro 1.12 allows (AVRO-3649; before, only
		// the first branch), so that schemas Java accepts are accepted.
		for i, b := range t.branches {
			if out, err := appendAvroJSON(appendLong(dst, int64(i)), b, v); err == nil {
				return out, nil
			}
		}
		return bad()
	case avroRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, f := range t.fields {
			fv, ok := m[f.name]
			if !ok {
				if f.def == nil {
					return nil, fmt.Errorf("%s: the value has no field %s, which has no default", t, f.name)
				}
				var err error
				if fv, err = avroDefault(f.def); err != nil {
					return nil, err
				}
			}
			var err error
			if dst, err = appendAvroJSON(dst, f.typ, fv); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
		}
		return dst, nil
	}
	return bad()
}

// appendAvroArray writes items as one block and the empty block, each item by item.
func appendAvroArray(dst []byte, items []any, item func([]byte, any) ([]byte, error)) ([]byte, error) {
	if len(items) > 0 {
		dst = appendLong(dst, int64(len(items)))
		for i, it := range items {
			var err error
			if dst, err = item(dst, it); err != nil {
				return dst, fmt.Errorf("item %d: %w", i, err)
			}
		}
	}
	return append(dst, 0), nil
}

// appendAvroMap writes m's entries sorted by key as one block and the empty block, each
// value by value.
func appendAvroMap(dst []byte, m map[string]any, value func([]byte, any) ([]byte, error)) ([]byte, error) {
	if len(m) > 0 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = appendLong(dst, int64(len(m)))
		for _, k := range keys {
			dst = append(appendLong(dst, int64(len(k))), k...)
			var err error
			if dst, err = value(dst, m[k]); err != nil {
				return dst, fmt.Errorf("map value %q: %w", k, err)
			}
		}
	}
	return append(dst, 0), nil
}
