package serde

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"
)

// AvroOption configures Avro and AvroConfluent. The options of AvroConfluent
// (ConfluentOption) are AvroOptions too.
type AvroOption interface{ applyAvro(*avroConfig) }

type avroConfig struct {
	schema    string
	namespace string
	confluent confluentConfig
}

type avroOpt func(*avroConfig)

func (o avroOpt) applyAvro(c *avroConfig) { o(c) }

// AvroSchema gives the schema (its JSON text) instead of deriving one from T. T must fit
// it: each of the schema's fields needs a field of T (by name) or a default, and each field
// of T a field of the schema; Avro and AvroConfluent report a mismatch when they are called.
func AvroSchema(schema string) AvroOption {
	return avroOpt(func(c *avroConfig) { c.schema = schema })
}

// AvroNamespace sets the namespace of a schema derived from T (default: none), e.g.
// "com.example.orders", which the record name subject strategies use.
func AvroNamespace(ns string) AvroOption {
	return avroOpt(func(c *avroConfig) { c.namespace = ns })
}

// AvroEnum is implemented by a Go string type that stands for an Avro enum in a schema
// derived from a struct: AvroSymbols lists its symbols, in order. (With a schema given by
// AvroSchema, any string field can hold an enum's symbol.)
type AvroEnum interface {
	AvroSymbols() []string
}

// Decimal is the Go value of an Avro decimal: the number Unscaled × 10^-Scale. Encoding
// rescales it to the schema's scale when that is exact (2.5 for a scale of 2 is 250 × 10^-2)
// and fails otherwise, or when it has more digits than the schema's precision; decoding
// gives the schema's scale. A nil Unscaled is zero. A Decimal shares its big.Int when
// copied: treat it as a value and do not change Unscaled in place.
type Decimal struct {
	Unscaled *big.Int
	Scale    int
}

// Rat returns d as an exact rational number.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat)
	if d.Unscaled != nil {
		r.SetInt(d.Unscaled)
	}
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil)
	return r.Quo(r, new(big.Rat).SetInt(den))
}

// String writes d in decimal notation with its scale's digits, e.g. "-12.50".
func (d Decimal) String() string {
	if d.Scale <= 0 {
		return d.Rat().FloatString(0)
	}
	return d.Rat().FloatString(d.Scale)
}

// Avro returns a Serde that writes T in Avro's binary encoding (the payload alone, without
// a schema or a registry's framing: see AvroConfluent for those) and reads it back.
//
// The schema is the one AvroSchema gives, or else derived from T:
//
//	Go                          Avro
//	bool                        boolean
//	int8, int16, int32, uint8,
//	uint16                      int
//	int, int64, uint32          long
//	float32, float64            float, double
//	string                      string (enum, for a type implementing AvroEnum)
//	[]byte                      bytes
//	time.Time                   long, timestamp-millis (tag option micros: timestamp-micros)
//	Decimal                     bytes, decimal (tag options precision=P and scale=S, both needed)
//	*X                          union ["null", X], default null
//	[]X                         array of X
//	map[string]X                map of X
//	struct                      record named after the Go type, in AvroNamespace
//
// A struct's exported fields become the record's fields in order, named by the tag
// `avro:"name"` or else by the Go field name; `avro:"-"` leaves a field out, and options
// follow the name: `avro:"created,micros"`, `avro:"amount,precision=10,scale=2"`.
// A struct type that occurs again (or inside itself, through a pointer or slice) refers to
// its first definition by name.
//
// A given schema may also use what the derivation never writes: date (for a time.Time),
// timestamp-nanos, fixed (for []byte or a [N]byte), a union of null and a type for a field
// that is not a pointer (null reads as the zero value), and fields T lacks when they have
// defaults (written as the default), and a union of several non-null types for a field of
// type any, which holds nil or the branch's value: bool, int32, int64, float32, float64,
// []byte, string (for enums too), []any, or map[string]any (for maps and records).
//
// Avro validates the schema and compiles T against it once, so a topology
// fails when it is built, not at its first record. Decode rejects input with bytes left
// over, a varint of more than 64 bits (which Java and goavro wrap around) and a decimal of
// more digits than its precision, and never keeps the slice it is given. Encode writes a
// map's entries sorted by key, so that equal values have equal bytes. The Serde is safe
// for concurrent use.
func Avro[T any](opts ...AvroOption) (Serde[T], error) {
	c, err := newAvroCodec[T](opts)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// avroCodec is the compiled pairing of a schema and a Go type: an encoder, and a decoder
// for records written with the same schema.
type avroCodec[T any] struct {
	schema *avroType
	text   string // the schema's JSON, as given or derived
	enc    avroEnc
	dec    avroDec
	typ    string
}

var _ Serde[struct{}] = (*avroCodec[struct{}])(nil)

func newAvroCodec[T any](opts []AvroOption) (*avroCodec[T], error) {
	var cfg avroConfig
	for _, o := range opts {
		o.applyAvro(&cfg)
	}
	rt := reflect.TypeFor[T]()
	text := cfg.schema
	if text == "" {
		derived, err := deriveAvroSchema(rt, cfg.namespace)
		if err != nil {
			return nil, fmt.Errorf("serde: avro: %s: %w", rt, err)
		}
		b, err := json.Marshal(derived)
		if err != nil {
			return nil, fmt.Errorf("serde: avro: %s: %w", rt, err)
		}
		text = string(b)
	}
	schema, err := checkAvroSchema(text)
	if err != nil {
		return nil, fmt.Errorf("serde: avro: %s: %w", rt, err)
	}
	enc, err := compileAvroEnc(schema, rt)
	if err != nil {
		return nil, fmt.Errorf("serde: avro: %s does not fit the schema: %w", rt, err)
	}
	dec, err := compileAvroDec(schema, schema, rt)
	if err != nil {
		return nil, fmt.Errorf("serde: avro: %s does not fit the schema: %w", rt, err)
	}
	return &avroCodec[T]{schema: schema, text: text, enc: enc, dec: dec, typ: rt.String()}, nil
}

// checkAvroSchema parses and validates a schema's text for the compilers. It does not ask
// goavro: goavro reads the defaults of bytes and fixed fields as UTF-8 rather than as the
// code points 0–255 that Avro's JSON encoding (and Java) uses, so it refuses schemas that
// Java and the registries accept, such as a fixed of 4 bytes with the default "\u00ff…".
func checkAvroSchema(text string) (*avroType, error) {
	t, err := parseAvroSchema(text)
	if err == nil {
		err = validateAvro(t, map[*avroType]bool{})
	}
	if err != nil {
		return nil, fmt.Errorf("invalid schema: %w", err)
	}
	return t, nil
}

func (c *avroCodec[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	out, err := c.enc(dst, reflect.ValueOf(&v).Elem())
	if err != nil {
		return dst, fmt.Errorf("serde: avro: encoding %s: %w", c.typ, err)
	}
	return out, nil
}

func (c *avroCodec[T]) Decode(b []byte) (T, error) {
	return decodeAvro[T](c.dec, b, c.typ, -1)
}

// decodeAvro runs a compiled decoder over all of b; id is the writer's schema id, for
// errors, or -1.
func decodeAvro[T any](dec avroDec, b []byte, typ string, id int) (T, error) {
	var v T
	r := avroReader{b: b}
	err := dec(&r, reflect.ValueOf(&v).Elem())
	if err == nil && r.pos != len(b) {
		err = fmt.Errorf("%d bytes left over after the value", len(b)-r.pos)
	}
	if err != nil {
		var zero T
		if id >= 0 {
			return zero, fmt.Errorf("serde: avro-confluent: decoding %s (schema id %d): %w", typ, id, err)
		}
		return zero, fmt.Errorf("serde: avro: decoding %s: %w", typ, err)
	}
	return v, nil
}

// avroTag is a struct field's `avro` tag, parsed.
type avroTag struct {
	name             string
	skip             bool
	micros           bool
	precision, scale int
}

func parseAvroTag(f reflect.StructField) (avroTag, error) {
	tag, ok := f.Tag.Lookup("avro")
	t := avroTag{name: f.Name}
	if !ok {
		return t, nil
	}
	if tag == "-" {
		t.skip = true
		return t, nil
	}
	parts := strings.Split(tag, ",")
	if parts[0] != "" {
		t.name = parts[0]
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		var err error
		switch k {
		case "micros":
			t.micros = true
		case "precision":
			t.precision, err = strconv.Atoi(v)
		case "scale":
			t.scale, err = strconv.Atoi(v)
		default:
			return t, fmt.Errorf("field %s: unknown avro tag option %q", f.Name, p)
		}
		if err != nil {
			return t, fmt.Errorf("field %s: avro tag option %q: %w", f.Name, p, err)
		}
	}
	return t, nil
}

var (
	decimalType = reflect.TypeFor[Decimal]()
	enumType    = reflect.TypeFor[AvroEnum]()
	bytesType   = reflect.TypeFor[[]byte]()
)

// deriveAvroSchema writes T's schema as a JSON value, following the table in Avro's doc.
func deriveAvroSchema(t reflect.Type, ns string) (any, error) {
	d := avroDeriver{ns: ns, seen: map[reflect.Type]bool{}}
	return d.schema(t, avroTag{})
}

type avroDeriver struct {
	ns   string
	seen map[reflect.Type]bool // struct types already defined, referred to by name after
}

func (d *avroDeriver) fullName(t reflect.Type) string {
	if d.ns == "" {
		return t.Name()
	}
	return d.ns + "." + t.Name()
}

func (d *avroDeriver) schema(t reflect.Type, tag avroTag) (any, error) {
	switch {
	case t == timeType:
		if tag.micros {
			return map[string]any{"type": "long", "logicalType": "timestamp-micros"}, nil
		}
		return map[string]any{"type": "long", "logicalType": "timestamp-millis"}, nil
	case t == decimalType:
		if tag.precision <= 0 || tag.scale < 0 || tag.scale > tag.precision {
			return nil, fmt.Errorf("a Decimal needs the tag options precision=P and scale=S, 0 ≤ S ≤ P, P > 0")
		}
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": tag.precision, "scale": tag.scale}, nil
	case t.Kind() == reflect.String && t.Implements(enumType):
		if t.Name() == "" {
			return nil, fmt.Errorf("an enum needs a named type")
		}
		if d.seen[t] {
			return d.fullName(t), nil
		}
		d.seen[t] = true
		syms := reflect.Zero(t).Interface().(AvroEnum).AvroSymbols()
		return map[string]any{"type": "enum", "name": d.fullName(t), "symbols": syms}, nil
	case t == bytesType || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return "bytes", nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean", nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return "int", nil
	case reflect.Int, reflect.Int64, reflect.Uint32:
		return "long", nil
	case reflect.Float32:
		return "float", nil
	case reflect.Float64:
		return "double", nil
	case reflect.String:
		return "string", nil
	case reflect.Pointer:
		inner, err := d.schema(t.Elem(), tag)
		if err != nil {
			return nil, err
		}
		return []any{"null", inner}, nil
	case reflect.Slice:
		items, err := d.schema(t.Elem(), tag)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%s: an Avro map needs string keys", t)
		}
		values, err := d.schema(t.Elem(), tag)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "map", "values": values}, nil
	case reflect.Struct:
		return d.record(t)
	}
	return nil, fmt.Errorf("%s has no Avro mapping (uint, uint64, complex, interface, chan and func types have none)", t)
}

func (d *avroDeriver) record(t reflect.Type) (any, error) {
	if t.Name() == "" {
		return nil, fmt.Errorf("an anonymous struct has no name for its Avro record")
	}
	if d.seen[t] {
		return d.fullName(t), nil
	}
	d.seen[t] = true
	fields := []any{} // a record without fields has an empty list, not none
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, err := parseAvroTag(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		if tag.skip {
			continue
		}
		ft, err := d.schema(f.Type, tag)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		field := map[string]any{"name": tag.name, "type": ft}
		if f.Type.Kind() == reflect.Pointer {
			field["default"] = nil
		}
		fields = append(fields, field)
	}
	return map[string]any{"type": "record", "name": d.fullName(t), "fields": fields}, nil
}

// AvroSchemaOf returns the schema Avro would use for T with opts: the given one, or the one
// derived from T, as JSON text; for registering it ahead of the programs that write it.
func AvroSchemaOf[T any](opts ...AvroOption) (string, error) {
	c, err := newAvroCodec[T](opts)
	if err != nil {
		return "", err
	}
	return c.text, nil
}
