package serde

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"time"
)

// avroEnc appends the encoding of v (of the Go type it was compiled for) to dst.
type avroEnc func(dst []byte, v reflect.Value) ([]byte, error)

// avroEncCompiler compiles encoders; a record met again (a recursive type) gets the
// encoder being compiled for it, through a pointer filled in when it is done.
type avroEncCompiler struct {
	records map[encKey]*avroEnc
}

type encKey struct {
	t  *avroType
	rt reflect.Type
}

func compileAvroEnc(t *avroType, rt reflect.Type) (avroEnc, error) {
	c := avroEncCompiler{records: map[encKey]*avroEnc{}}
	return c.compile(t, rt)
}

func appendLong(dst []byte, n int64) []byte {
	return binary.AppendUvarint(dst, uint64(n<<1)^uint64(n>>63))
}

func (c *avroEncCompiler) compile(t *avroType, rt reflect.Type) (avroEnc, error) {
	if rt == anyType {
		return anyEnc(t), nil
	}
	switch t.kind {
	case avroNull:
		return func(dst []byte, _ reflect.Value) ([]byte, error) { return dst, nil }, nil
	case avroBoolean:
		if rt.Kind() != reflect.Bool {
			break
		}
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			if v.Bool() {
				return append(dst, 1), nil
			}
			return append(dst, 0), nil
		}, nil
	case avroInt, avroLong:
		return c.integer(t, rt)
	case avroFloat:
		if !isFloat(rt) {
			break
		}
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v.Float()))), nil
		}, nil
	case avroDouble:
		if !isFloat(rt) {
			break
		}
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float())), nil
		}, nil
	case avroBytes, avroString:
		if t.logical == "decimal" && rt == decimalType {
			return decimalEnc(t), nil
		}
		switch {
		case rt.Kind() == reflect.String:
			return func(dst []byte, v reflect.Value) ([]byte, error) {
				s := v.String()
				return append(appendLong(dst, int64(len(s))), s...), nil
			}, nil
		case isByteSlice(rt):
			return func(dst []byte, v reflect.Value) ([]byte, error) {
				b := v.Bytes()
				return append(appendLong(dst, int64(len(b))), b...), nil
			}, nil
		}
	case avroFixed:
		if t.logical == "decimal" && rt == decimalType {
			return decimalEnc(t), nil
		}
		return fixedEnc(t, rt)
	case avroEnum:
		if rt.Kind() != reflect.String {
			break
		}
		index := make(map[string]int64, len(t.symbols))
		for i, s := range t.symbols {
			index[s] = int64(i)
		}
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			i, ok := index[v.String()]
			if !ok {
				return dst, fmt.Errorf("%q is not a symbol of %s", v.String(), t)
			}
			return appendLong(dst, i), nil
		}, nil
	case avroArray:
		return c.array(t, rt)
	case avroMap:
		return c.mapping(t, rt)
	case avroUnion:
		return c.union(t, rt)
	case avroRecord:
		return c.record(t, rt)
	}
	return nil, fmt.Errorf("a %s cannot hold the schema's %s", rt, t)
}

// The instants an int64 of nanoseconds since 1970 can hold.
var (
	minNanosTime = time.Unix(0, math.MinInt64)
	maxNanosTime = time.Unix(0, math.MaxInt64)
)

func isFloat(rt reflect.Type) bool {
	return rt.Kind() == reflect.Float32 || rt.Kind() == reflect.Float64
}

func isByteSlice(rt reflect.Type) bool {
	return rt.Kind() == reflect.Slice && rt.Elem().Kind() == reflect.Uint8
}

// integer encodes Go integers and time.Time as an int or long, checking that an int
// schema's values fit 32 bits.
func (c *avroEncCompiler) integer(t *avroType, rt reflect.Type) (avroEnc, error) {
	if rt == timeType {
		var conv func(time.Time) int64
		switch t.logical {
		case "timestamp-millis", "local-timestamp-millis":
			conv = time.Time.UnixMilli
		case "timestamp-micros", "local-timestamp-micros":
			conv = time.Time.UnixMicro
		case "timestamp-nanos":
			conv = time.Time.UnixNano // see the range check below
		case "date":
			conv = func(tm time.Time) int64 { return int64(math.Floor(float64(tm.Unix()) / 86400)) }
		default:
			return nil, fmt.Errorf("a time.Time needs a timestamp or date logical type, not %s", t)
		}
		nanos := t.logical == "timestamp-nanos"
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			tm := v.Interface().(time.Time)
			if nanos && (tm.Before(minNanosTime) || tm.After(maxNanosTime)) {
				return dst, fmt.Errorf("%v is outside the years 1678–2262 that timestamp-nanos holds", tm)
			}
			return appendLong(dst, conv(tm)), nil
		}, nil
	}
	var get func(reflect.Value) (int64, bool)
	switch rt.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		get = func(v reflect.Value) (int64, bool) { return v.Int(), true }
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		get = func(v reflect.Value) (int64, bool) { u := v.Uint(); return int64(u), u <= math.MaxInt64 }
	default:
		return nil, fmt.Errorf("a %s cannot hold the schema's %s", rt, t)
	}
	is32 := t.kind == avroInt
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		n, ok := get(v)
		if !ok || is32 && (n < math.MinInt32 || n > math.MaxInt32) {
			return dst, fmt.Errorf("%v does not fit the schema's %s", v, t)
		}
		return appendLong(dst, n), nil
	}, nil
}

// decimalEnc writes a Decimal as the two's-complement big-endian bytes of its unscaled
// value at the schema's scale, length-prefixed for bytes, sign-extended for fixed.
func decimalEnc(t *avroType) avroEnc {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.precision)), nil)
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		d := v.Interface().(Decimal)
		u := new(big.Int)
		if d.Unscaled != nil {
			u.Set(d.Unscaled)
		}
		switch {
		case d.Scale < t.scale:
			u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.scale-d.Scale)), nil))
		case d.Scale > t.scale:
			f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale-t.scale)), nil)
			q, r := new(big.Int).QuoRem(u, f, new(big.Int))
			if r.Sign() != 0 {
				return dst, fmt.Errorf("%s has more digits after the point than the schema's scale %d", d, t.scale)
			}
			u = q
		}
		if new(big.Int).Abs(u).Cmp(limit) >= 0 {
			return dst, fmt.Errorf("%s has more digits than the schema's precision %d", d, t.precision)
		}
		b := twosComplement(u)
		if t.kind == avroFixed {
			if len(b) > t.size {
				return dst, fmt.Errorf("%s does not fit %d bytes", d, t.size)
			}
			pad := byte(0)
			if u.Sign() < 0 {
				pad = 0xff
			}
			for range t.size - len(b) {
				dst = append(dst, pad)
			}
			return append(dst, b...), nil
		}
		return append(appendLong(dst, int64(len(b))), b...), nil
	}
}

// twosComplement is the shortest big-endian two's-complement form of u, as Java's
// BigInteger.toByteArray writes it (zero is one zero byte).
func twosComplement(u *big.Int) []byte {
	if u.Sign() >= 0 {
		b := u.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -u - 1 has the complemented bits of u's two's complement.
	m := new(big.Int).Neg(u)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

func fixedEnc(t *avroType, rt reflect.Type) (avroEnc, error) {
	switch {
	case isByteSlice(rt):
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			if v.Len() != t.size {
				return dst, fmt.Errorf("%s needs %d bytes, got %d", t, t.size, v.Len())
			}
			return append(dst, v.Bytes()...), nil
		}, nil
	case rt.Kind() == reflect.Array && rt.Elem().Kind() == reflect.Uint8 && rt.Len() == t.size:
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			for i := range t.size {
				dst = append(dst, byte(v.Index(i).Uint()))
			}
			return dst, nil
		}, nil
	}
	return nil, fmt.Errorf("a %s cannot hold the schema's %s (size %d)", rt, t, t.size)
}

// array writes one block holding every item, then the empty block, as Java does.
func (c *avroEncCompiler) array(t *avroType, rt reflect.Type) (avroEnc, error) {
	if rt.Kind() != reflect.Slice {
		return nil, fmt.Errorf("a %s cannot hold the schema's %s (a slice can)", rt, t)
	}
	item, err := c.compile(t.items, rt.Elem())
	if err != nil {
		return nil, fmt.Errorf("array items: %w", err)
	}
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		n := v.Len()
		if n > 0 {
			dst = appendLong(dst, int64(n))
			for i := range n {
				var err error
				if dst, err = item(dst, v.Index(i)); err != nil {
					return dst, fmt.Errorf("item %d: %w", i, err)
				}
			}
		}
		return append(dst, 0), nil
	}, nil
}

// mapping writes a map's entries sorted by key, so that a value has one encoding (Go's
// map order is random; Java writes its map's iteration order).
func (c *avroEncCompiler) mapping(t *avroType, rt reflect.Type) (avroEnc, error) {
	if rt.Kind() != reflect.Map || rt.Key().Kind() != reflect.String {
		return nil, fmt.Errorf("a %s cannot hold the schema's %s (a map with string keys can)", rt, t)
	}
	val, err := c.compile(t.values, rt.Elem())
	if err != nil {
		return nil, fmt.Errorf("map values: %w", err)
	}
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		n := v.Len()
		if n > 0 {
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int {
				switch {
				case a.String() < b.String():
					return -1
				case a.String() > b.String():
					return 1
				}
				return 0
			})
			dst = appendLong(dst, int64(n))
			for _, k := range keys {
				s := k.String()
				dst = append(appendLong(dst, int64(len(s))), s...)
				var err error
				if dst, err = val(dst, v.MapIndex(k)); err != nil {
					return dst, fmt.Errorf("map value %q: %w", s, err)
				}
			}
		}
		return append(dst, 0), nil
	}, nil
}

// union maps a union of null and one other type: a pointer is null when nil, any other
// Go type always takes the non-null branch. A union of one type is that type.
func (c *avroEncCompiler) union(t *avroType, rt reflect.Type) (avroEnc, error) {
	nullAt, other := -1, -1
	for i, b := range t.branches {
		if b.kind == avroNull {
			nullAt = i
		} else if other >= 0 {
			return nil, fmt.Errorf("the schema's %s has several non-null branches, which only a Go field of type any holds", t)
		} else {
			other = i
		}
	}
	if other < 0 {
		return func(dst []byte, _ reflect.Value) ([]byte, error) { return appendLong(dst, int64(nullAt)), nil }, nil
	}
	inner := rt
	ptr := rt.Kind() == reflect.Pointer && nullAt >= 0
	if ptr {
		inner = rt.Elem()
	}
	enc, err := c.compile(t.branches[other], inner)
	if err != nil {
		return nil, err
	}
	idx := int64(other)
	return func(dst []byte, v reflect.Value) ([]byte, error) {
		if ptr {
			if v.IsNil() {
				return appendLong(dst, int64(nullAt)), nil
			}
			v = v.Elem()
		}
		return enc(appendLong(dst, idx), v)
	}, nil
}

// record encodes a struct's fields in the schema's order. A schema field the struct lacks
// is written as its default, encoded once here; a struct field the schema lacks is an
// error, so that nothing the program sets is dropped without a word.
func (c *avroEncCompiler) record(t *avroType, rt reflect.Type) (avroEnc, error) {
	if rt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("a %s cannot hold the schema's %s", rt, t)
	}
	indirect := func(p *avroEnc) avroEnc {
		return func(dst []byte, v reflect.Value) ([]byte, error) { return (*p)(dst, v) }
	}
	return memoRecord(c.records, encKey{t, rt}, indirect, func() (avroEnc, error) {
		byName, err := structFields(rt)
		if err != nil {
			return nil, err
		}
		type fieldEnc struct {
			index []int
			enc   avroEnc
			def   []byte // the default's encoding, for a field rt lacks
			name  string
		}
		fields := make([]fieldEnc, 0, len(t.fields))
		for _, f := range t.fields {
			sf, ok := byName[f.name]
			if !ok {
				if f.def == nil {
					return nil, fmt.Errorf("%s has no field for %s's field %s, which has no default", rt, t, f.name)
				}
				def, err := encodeAvroDefault(f.typ, f.def)
				if err != nil {
					return nil, fmt.Errorf("%s field %s: default: %w", t, f.name, err)
				}
				fields = append(fields, fieldEnc{def: def, name: f.name})
				continue
			}
			delete(byName, f.name)
			enc, err := c.compile(f.typ, sf.Type)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
			fields = append(fields, fieldEnc{index: sf.Index, enc: enc, name: f.name})
		}
		for name, sf := range byName {
			return nil, fmt.Errorf("%s's field %s (%s) is not in the schema's %s; tag it `avro:\"-\"` to leave it out", rt, sf.Name, name, t)
		}
		return func(dst []byte, v reflect.Value) ([]byte, error) {
			for i := range fields {
				f := &fields[i]
				if f.enc == nil {
					dst = append(dst, f.def...)
					continue
				}
				var err error
				if dst, err = f.enc(dst, v.FieldByIndex(f.index)); err != nil {
					return dst, fmt.Errorf("field %s: %w", f.name, err)
				}
			}
			return dst, nil
		}, nil
	})
}

// structFields maps the Avro names of rt's exported, untagged-out fields to the fields.
func structFields(rt reflect.Type) (map[string]reflect.StructField, error) {
	out := map[string]reflect.StructField{}
	for i := range rt.NumField() {
		f := rt.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, err := parseAvroTag(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rt, err)
		}
		if tag.skip {
			continue
		}
		if _, dup := out[tag.name]; dup {
			return nil, fmt.Errorf("%s: two fields are named %q", rt, tag.name)
		}
		out[tag.name] = f
	}
	return out, nil
}
