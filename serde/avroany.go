package serde

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
)

// A struct field of type any holds a union of several non-null types, which no other Go
// type can: its value is nil for null, or a value of the branch's Go type — bool, int32
// (int), int64 (long), float32, float64, []byte (bytes, fixed), string (string, enum),
// []any (array), map[string]any (map, and record, by field name). Encoding tries the
// union's branches in order and writes the first that takes the value, as Java's
// GenericData does; decoding resolves the writer's type into the reader's branch that
// matches it exactly, else the first it promotes to.

var anyType = reflect.TypeFor[any]()

// anyEnc encodes the value inside an interface by the schema t.
func anyEnc(t *avroType) avroEnc {
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		var x any
		if !v.IsNil() {
			x = v.Elem().Interface()
		}
		return appendAvroAny(dst, t, x)
	}
}

// appendAvroAny encodes x, a value of the Go types above, as schema t.
func appendAvroAny(dst []byte, t *avroType, x any) ([]byte, error) {
	bad := func() ([]byte, error) { return dst, fmt.Errorf("a %T is not a value of %s", x, t) }
	switch t.kind {
	case avroUnion:
		// The branch whose Go type x has (an int32 takes int before long), then the first
		// branch that takes x at all.
		for _, exact := range []bool{true, false} {
			for i, b := range t.branches {
				if nat := naturalType(b); exact && (x == nil) != (b.kind == avroNull) || exact && nat != nil && reflect.TypeOf(x) != nat {
					continue
				}
				if out, err := appendAvroAny(appendLong(dst, int64(i)), b, x); err == nil {
					return out, nil
				}
			}
		}
		return bad()
	case avroNull:
		if x != nil {
			return bad()
		}
		return dst, nil
	case avroBoolean:
		b, ok := x.(bool)
		if !ok {
			return bad()
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case avroInt, avroLong:
		var n int64
		switch i := x.(type) {
		case int32:
			n = int64(i)
		case int64:
			n = i
		case int:
			n = int64(i)
		default:
			return bad()
		}
		if t.kind == avroInt && (n < math.MinInt32 || n > math.MaxInt32) {
			return bad()
		}
		return appendLong(dst, n), nil
	case avroFloat, avroDouble:
		var f float64
		switch g := x.(type) {
		case float32:
			f = float64(g)
		case float64:
			if t.kind == avroFloat {
				return bad() // a float64 takes a double branch, not a float one
			}
			f = g
		default:
			return bad()
		}
		if t.kind == avroFloat {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case avroString:
		s, ok := x.(string)
		if !ok {
			return bad()
		}
		return append(appendLong(dst, int64(len(s))), s...), nil
	case avroBytes:
		b, ok := x.([]byte)
		if !ok {
			return bad()
		}
		return append(appendLong(dst, int64(len(b))), b...), nil
	case avroFixed:
		b, ok := x.([]byte)
		if !ok || len(b) != t.size {
			return bad()
		}
		return append(dst, b...), nil
	case avroEnum:
		s, ok := x.(string)
		i := slices.Index(t.symbols, s)
		if !ok || i < 0 {
			return bad()
		}
		return appendLong(dst, int64(i)), nil
	case avroArray:
		items, ok := x.([]any)
		if !ok {
			return bad()
		}
		return appendAvroArray(dst, items, func(dst []byte, it any) ([]byte, error) { return appendAvroAny(dst, t.items, it) })
	case avroMap:
		m, ok := x.(map[string]any)
		if !ok {
			return bad()
		}
		return appendAvroMap(dst, m, func(dst []byte, v any) ([]byte, error) { return appendAvroAny(dst, t.values, v) })
	case avroRecord:
		m, ok := x.(map[string]any)
		if !ok {
			return bad()
		}
		for k := range m {
			if !slices.ContainsFunc(t.fields, func(f *avroField) bool { return f.name == k }) {
				return dst, fmt.Errorf("%s has no field %s", t, k)
			}
		}
		for _, f := range t.fields {
			fv, ok := m[f.name]
			if !ok {
				if f.def == nil {
					return dst, fmt.Errorf("%s: no value for field %s, which has no default", t, f.name)
				}
				def, err := encodeAvroDefault(f.typ, f.def)
				if err != nil {
					return dst, err
				}
				dst = append(dst, def...)
				continue
			}
			var err error
			if dst, err = appendAvroAny(dst, f.typ, fv); err != nil {
				return dst, fmt.Errorf("field %s: %w", f.name, err)
			}
		}
		return dst, nil
	}
	return bad()
}

// naturalType is the Go type an any holds for a value of the reader's non-union type.
func naturalType(rd *avroType) reflect.Type {
	switch rd.kind {
	case avroBoolean:
		return reflect.TypeFor[bool]()
	case avroInt:
		return reflect.TypeFor[int32]()
	case avroLong:
		return reflect.TypeFor[int64]()
	case avroFloat:
		return reflect.TypeFor[float32]()
	case avroDouble:
		return reflect.TypeFor[float64]()
	case avroBytes, avroFixed:
		return bytesType
	case avroString, avroEnum:
		return reflect.TypeFor[string]()
	case avroArray:
		return reflect.TypeFor[[]any]()
	case avroMap:
		return reflect.TypeFor[map[string]any]()
	}
	return nil
}

// anyDec decodes what the writer's non-union w wrote into an any, by the reader's rd.
func (c *avroDecCompiler) anyDec(w, rd *avroType) (avroDec, error) {
	if rd.kind == avroUnion {
		return c.anyUnion(w, rd)
	}
	if rd.kind == avroNull {
		if w.kind != avroNull {
			return nil, fmt.Errorf("the writer's %s cannot be read as the reader's %s", w, rd)
		}
		return func(_ *avroReader, v reflect.Value) error { v.SetZero(); return nil }, nil
	}
	if rd.kind == avroRecord {
		return c.recordMap(w, rd)
	}
	nat := naturalType(rd)
	dec, err := c.compile(w, rd, nat)
	if err != nil {
		return nil, err
	}
	return func(r *avroReader, v reflect.Value) error {
		x := reflect.New(nat).Elem()
		if err := dec(r, x); err != nil {
			return err
		}
		v.Set(x)
		return nil
	}, nil
}

// anyUnion picks the reader's branch for the writer's type: the first of the same type
// (and name), else the first the writer's type resolves into.
func (c *avroDecCompiler) anyUnion(w, rd *avroType) (avroDec, error) {
	for _, exact := range []bool{true, false} {
		for _, b := range rd.branches {
			if exact && (b.kind != w.kind || b.name != "" && !namesMatch(w, b)) {
				continue
			}
			if d, err := c.anyDec(w, b); err == nil {
				return d, nil
			}
		}
	}
	return nil, fmt.Errorf("the writer's %s matches no branch of the reader's %s", w, rd)
}

// recordMap reads a record into a map[string]any by the reader's field names, with the
// rules of record: writer's fields the reader lacks are skipped, reader's fields the
// writer lacks get their defaults.
func (c *avroDecCompiler) recordMap(w, rd *avroType) (avroDec, error) {
	if w.kind != avroRecord || !namesMatch(w, rd) {
		return nil, fmt.Errorf("the writer's %s cannot be read as the reader's %s", w, rd)
	}
	return memoRecord(c.records, decKey{w, rd, anyType}, indirectDec, func() (avroDec, error) {
		plan, err := resolveFields(w, rd)
		if err != nil {
			return nil, err
		}
		type step struct {
			name string
			dec  avroDec
			skip func(*avroReader) error
			def  []byte
		}
		steps := make([]step, len(plan))
		for i, f := range plan {
			if f.r == nil {
				steps[i].skip = compileAvroSkip(f.w.typ)
				continue
			}
			wt := f.r.typ
			if f.w != nil {
				wt = f.w.typ
			}
			if steps[i].dec, err = c.compile(wt, f.r.typ, anyType); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.r.name, err)
			}
			steps[i].name, steps[i].def = f.r.name, f.def
		}
		return func(r *avroReader, v reflect.Value) error {
			m := make(map[string]any, len(steps))
			for _, s := range steps {
				if s.skip != nil {
					if err := s.skip(r); err != nil {
						return err
					}
					continue
				}
				x := reflect.New(anyType).Elem()
				src := r
				if s.def != nil {
					src = &avroReader{b: s.def}
				}
				if err := s.dec(src, x); err != nil {
					return fmt.Errorf("field %s: %w", s.name, err)
				}
				m[s.name] = x.Interface()
			}
			v.Set(reflect.ValueOf(m))
			return nil
		}, nil
	})
}
