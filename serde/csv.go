package serde

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// CSVOption configures CSV.
type CSVOption func(*csvConfig)

type csvConfig struct{ comma byte }

// CSVComma sets the field delimiter (default ','): a single ASCII character other than a
// quote, a carriage return or a line feed.
func CSVComma(c rune) CSVOption { return func(cfg *csvConfig) { cfg.comma = byte(c); cfg.check(c) } }

func (c *csvConfig) check(r rune) {
	if r >= utf8.RuneSelf || r == '"' || r == '\r' || r == '\n' || r == 0 {
		c.comma = 0 // reported by CSV
	}
}

// CSV returns a Serde that writes a struct T as one CSV line (RFC 4180, no header and no
// line end: Flink's csv format), its exported fields in declaration order, and reads such a
// line back. A field tagged `csv:"-"` is left out.
//
// Field types: string, bool, the integer and float kinds, time.Time (RFC 3339 with
// nanoseconds), and pointers to them, for which an empty field is nil. A field is quoted
// when it holds the delimiter, a quote, a line break or a leading white space, with quotes
// doubled, as encoding/csv writes it. Decode wants exactly T's number of fields; it accepts
// one trailing line end, and names the field and the problem in its errors
// ("serde: csv: decoding main.Order: field 2 (Cents): strconv.ParseInt: …"). Nil or empty
// input is an error.
//
// CSV reports an error when T is not a struct, has a field of another type, or has no
// field, so a topology fails when it is built, not at its first record.
func CSV[T any](opts ...CSVOption) (Serde[T], error) {
	cfg := csvConfig{comma: ','}
	for _, o := range opts {
		o(&cfg)
	}
	name := typeName[T]()
	if cfg.comma == 0 {
		return nil, fmt.Errorf("serde: csv: %s: the delimiter must be one ASCII character other than a quote or a line break", name)
	}
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("serde: csv: %s is not a struct", name)
	}
	s := &csvSerde[T]{comma: cfg.comma, name: name}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("csv") == "-" {
			continue
		}
		ft := f.Type
		ptr := ft.Kind() == reflect.Pointer
		if ptr {
			ft = ft.Elem()
		}
		kind, ok := csvKindOf(ft)
		if !ok {
			return nil, fmt.Errorf("serde: csv: %s: field %s has type %s, which CSV does not write (string, bool, numbers, time.Time and pointers to them)",
				name, f.Name, f.Type)
		}
		s.fields = append(s.fields, csvField{index: i, name: f.Name, kind: kind, ptr: ptr, typ: ft})
	}
	if len(s.fields) == 0 {
		return nil, fmt.Errorf("serde: csv: %s has no exported field", name)
	}
	return s, nil
}

type csvKind int

const (
	csvString csvKind = iota
	csvBool
	csvInt
	csvUint
	csvFloat
	csvTime
)

var timeType = reflect.TypeFor[time.Time]()

func csvKindOf(t reflect.Type) (csvKind, bool) {
	if t == timeType {
		return csvTime, true
	}
	switch t.Kind() {
	case reflect.String:
		return csvString, true
	case reflect.Bool:
		return csvBool, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return csvInt, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return csvUint, true
	case reflect.Float32, reflect.Float64:
		return csvFloat, true
	}
	return 0, false
}

type csvField struct {
	index int
	name  string
	kind  csvKind
	ptr   bool
	typ   reflect.Type // the field's type, or what it points to
}

type csvSerde[T any] struct {
	comma  byte
	name   string
	fields []csvField
}

func (s *csvSerde[T]) AppendEncode(dst []byte, v T) ([]byte, error) {
	rv := reflect.ValueOf(&v).Elem()
	var scratch [64]byte
	for i, f := range s.fields {
		if i > 0 {
			dst = append(dst, s.comma)
		}
		fv := rv.Field(f.index)
		if f.ptr {
			if fv.IsNil() {
				continue // an empty field
			}
			fv = fv.Elem()
		}
		var text []byte
		switch f.kind {
		case csvString:
			dst = s.appendField(dst, fv.String())
			continue
		case csvBool:
			text = strconv.AppendBool(scratch[:0], fv.Bool())
		case csvInt:
			text = strconv.AppendInt(scratch[:0], fv.Int(), 10)
		case csvUint:
			text = strconv.AppendUint(scratch[:0], fv.Uint(), 10)
		case csvFloat:
			text = strconv.AppendFloat(scratch[:0], fv.Float(), 'g', -1, f.typ.Bits())
		case csvTime:
			text = fv.Addr().Interface().(*time.Time).AppendFormat(scratch[:0], time.RFC3339Nano)
		}
		dst = append(dst, text...) // numbers, booleans and times never need quotes
	}
	return dst, nil
}

// appendField appends a string field, quoted when encoding/csv would quote it.
func (s *csvSerde[T]) appendField(dst []byte, v string) []byte {
	if !s.needsQuotes(v) {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, v[i])
	}
	return append(dst, '"')
}

func (s *csvSerde[T]) needsQuotes(v string) bool {
	if v == "" {
		return false
	}
	if v == `\.` {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == s.comma || c == '"' || c == '\r' || c == '\n' {
			return true
		}
	}
	first, _ := utf8.DecodeRuneInString(v)
	return unicode.IsSpace(first)
}

func (s *csvSerde[T]) Decode(b []byte) (T, error) {
	var v T
	if len(b) == 0 {
		return v, fmt.Errorf("serde: csv: decoding %s: %w", s.name, errEmpty)
	}
	rv := reflect.ValueOf(&v).Elem()
	rest := b
	var buf []byte
	for i, f := range s.fields {
		var field []byte
		var err error
		field, rest, buf, err = s.nextField(rest, buf, i == len(s.fields)-1)
		if err != nil {
			var zero T
			return zero, fmt.Errorf("serde: csv: decoding %s: field %d (%s): %w", s.name, i+1, f.name, err)
		}
		if err := setCSVField(rv.Field(f.index), f, field); err != nil {
			var zero T
			return zero, fmt.Errorf("serde: csv: decoding %s: field %d (%s): %w", s.name, i+1, f.name, err)
		}
	}
	return v, nil
}

var (
	errCSVFieldCount = errors.New("wrong number of fields")
	errCSVQuote      = errors.New(`a quote or a line break inside an unquoted field, or text after a closing quote`)
	errCSVOpenQuote  = errors.New(`quoted field without its closing "`)
)

// nextField cuts the next field off b: its text (unquoted, valid until the next call,
// which may reuse buf), and what follows its delimiter. The last field must end b, but
// for one line end.
func (s *csvSerde[T]) nextField(b, buf []byte, last bool) (field, rest, _ []byte, err error) {
	end := func(i int) (bool, error) { // after the field, at b[i:]
		switch tail := b[i:]; {
		case len(tail) == 0 || string(tail) == "\n" || string(tail) == "\r\n":
			if !last {
				return false, errCSVFieldCount
			}
			return true, nil
		case tail[0] == s.comma:
			if last {
				return false, errCSVFieldCount
			}
			return false, nil
		}
		return false, errCSVQuote
	}
	if len(b) == 0 || b[0] != '"' {
		i := 0
		for i < len(b) && b[i] != s.comma && b[i] != '"' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		done, err := end(i)
		if err != nil {
			return nil, nil, buf, err
		}
		if done {
			return b[:i], nil, buf, nil
		}
		return b[:i], b[i+1:], buf, nil
	}
	buf = buf[:0]
	i := 1
	for {
		if i >= len(b) {
			return nil, nil, buf, errCSVOpenQuote
		}
		c := b[i]
		if c == '"' {
			if i+1 < len(b) && b[i+1] == '"' {
				buf = append(buf, '"')
				i += 2
				continue
			}
			i++
			break
		}
		buf = append(buf, c)
		i++
	}
	done, err := end(i)
	if err != nil {
		return nil, nil, buf, err
	}
	if done {
		return buf, nil, buf, nil
	}
	return buf, b[i+1:], buf, nil
}

func setCSVField(fv reflect.Value, f csvField, text []byte) error {
	if f.ptr {
		if len(text) == 0 {
			return nil // nil
		}
		p := reflect.New(f.typ)
		fv.Set(p)
		fv = p.Elem()
	}
	switch f.kind {
	case csvString:
		fv.SetString(string(text))
	case csvBool:
		b, err := strconv.ParseBool(string(text))
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case csvInt:
		n, err := strconv.ParseInt(string(text), 10, f.typ.Bits())
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case csvUint:
		n, err := strconv.ParseUint(string(text), 10, f.typ.Bits())
		if err != nil {
			return err
		}
		fv.SetUint(n)
	case csvFloat:
		x, err := strconv.ParseFloat(string(text), f.typ.Bits())
		if err != nil {
			return err
		}
		fv.SetFloat(x)
	case csvTime:
		t, err := time.Parse(time.RFC3339Nano, string(text))
		if err != nil {
			return err
		}
		*fv.Addr().Interface().(*time.Time) = t
	}
	return nil
}
