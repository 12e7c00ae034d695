package sqlplan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// RowCodec reads and writes some columns of a row as the bytes of a record's key or
// value.
type RowCodec interface {
	// Decode sets the codec's columns of row from b.
	Decode(b []byte, row []any) error
	// Encode appends the codec's columns of row to dst.
	Encode(dst []byte, row []any) ([]byte, error)
}

// The formats' timestamp texts, as Flink's SQL standard ones: "2026-12-03 10:42:17.123",
// and with a Z for TIMESTAMP_LTZ. Reading accepts any fraction, and ISO 8601's T.
const (
	tsLayout    = "2006-01-02 15:04:05.000"
	tsLTZLayout = "2006-01-02 15:04:05.000Z"
)

func parseTimestamp(s string) (time.Time, error) {
	s = strings.Replace(strings.TrimSuffix(s, "Z"), "T", " ", 1)
	return time.Parse("2006-01-02 15:04:05.999999999", s)
}

// codecColumn is a column a codec handles: its name, type and index in the row.
type codecColumn struct {
	name  string
	typ   Type
	index int
	// skip: no query of the job reads the column, so decoding leaves it NULL.
	skip bool
}

// jsonCodec is the 'json' format: an object with a field per column, by name; a field
// that is missing or null is NULL.
type jsonCodec struct {
	cols         []codecColumn
	ignoreErrors bool // json.ignore-parse-errors: a bad field is NULL, a bad record all NULL
	// fields are the columns' names as JSON strings, each followed by its colon.
	fields []string
}

func newJSONCodec(cols []codecColumn, ignoreErrors bool) *jsonCodec {
	c := &jsonCodec{cols: cols, ignoreErrors: ignoreErrors}
	for _, col := range cols {
		c.fields = append(c.fields, string(appendJSONString(nil, col.name))+":")
	}
	return c
}

func (c *jsonCodec) Decode(b []byte, row []any) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		if c.ignoreErrors {
			for _, col := range c.cols {
				row[col.index] = nil
			}
			return nil
		}
		return fmt.Errorf("json: not an object: %w", err)
	}
	for _, col := range c.cols {
		if col.skip {
			continue
		}
		raw, ok := obj[col.name]
		if !ok || string(raw) == "null" {
			row[col.index] = nil
			continue
		}
		v, err := jsonValue(raw, col.typ)
		if err != nil {
			if c.ignoreErrors {
				row[col.index] = nil
				continue
			}
			return fmt.Errorf("json: field %q (%s): %w", col.name, col.typ.Kind, err)
		}
		row[col.index] = v
	}
	return nil
}

func jsonValue(raw json.RawMessage, t Type) (any, error) {
	switch t.Kind {
	case String:
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s, nil
		}
		return string(raw), nil // a number or an object, as its text (as Flink does)
	case Boolean:
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s is not a boolean", raw)
		}
		return v, nil
	case Int, BigInt:
		text := strings.Trim(string(raw), `"`) // a number, or a number in a string
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not an integer", raw)
		}
		if t.Kind == Int {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("%s does not fit an INT", raw)
			}
			return int32(n), nil
		}
		return n, nil
	case Double:
		f, err := strconv.ParseFloat(strings.Trim(string(raw), `"`), 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a number", raw)
		}
		return f, nil
	case Timestamp, TimestampLTZ:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s is not a timestamp string", raw)
		}
		ts, err := parseTimestamp(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a timestamp (yyyy-MM-dd HH:mm:ss.SSS)", s)
		}
		return ts, nil
	case Bytes:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%s is not a base64 string", raw)
		}
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("type %s has no JSON form", t.Kind)
}

func (c *jsonCodec) Encode(dst []byte, row []any) ([]byte, error) {
	dst = append(dst, '{')
	for i, col := range c.cols {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.fields[i]...)
		var err error
		if dst, err = appendJSON(dst, row[col.index], col.typ); err != nil {
			return nil, fmt.Errorf("json: column %s: %w", col.name, err)
		}
	}
	return append(dst, '}'), nil
}

func appendJSON(dst []byte, v any, t Type) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%v has no JSON form", v)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), nil
	case time.Time:
		dst = appendTimestamp(append(dst, '"'), v)
		if t.Kind == TimestampLTZ {
			dst = append(dst, 'Z')
		}
		return append(dst, '"'), nil
	case []byte:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v)
		return append(dst, '"'), nil
	}
	return nil, fmt.Errorf("a %T has no JSON form", v)
}

// appendJSONString appends s as a JSON string, as encoding/json writes it (HTML
// characters escaped too); a string of plain ASCII needs no encoder.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x80 || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendTimestamp appends t in UTC as tsLayout ("2006-01-02 15:04:05.000"), without
// the cost of a general layout.
func appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, tsLayout)
	}
	hour, minute, sec := t.Clock()
	two := func(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }
	dst = two(two(dst, year/100), year%100)
	dst = two(append(dst, '-'), int(month))
	dst = two(append(dst, '-'), day)
	dst = two(append(dst, ' '), hour)
	dst = two(append(dst, ':'), minute)
	dst = two(append(dst, ':'), sec)
	ms := t.Nanosecond() / 1e6
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

// rawCodec is the 'raw' format: the bytes are the one column (STRING as UTF-8 text, or
// BYTES); an empty record is an empty value, a missing one (nil) NULL.
type rawCodec struct{ col codecColumn }

func (c *rawCodec) Decode(b []byte, row []any) error {
	switch {
	case c.col.skip:
	case b == nil:
		row[c.col.index] = nil
	case c.col.typ.Kind == String:
		row[c.col.index] = string(b)
	default:
		row[c.col.index] = bytes.Clone(b)
	}
	return nil
}

func (c *rawCodec) Encode(dst []byte, row []any) ([]byte, error) {
	switch v := row[c.col.index].(type) {
	case nil:
		return nil, nil // the record's key or value is null
	case string:
		return append(nonNil(dst), v...), nil // '' is an empty record, not a null one
	case []byte:
		return append(nonNil(dst), v...), nil
	}
	return nil, fmt.Errorf("raw: column %s is not STRING or BYTES", c.col.name)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Codecs are a table's key and value codecs (Key nil when the key is not read: the
// record's key is then left as it comes, and written empty).
type Codecs struct{ Key, Value RowCodec }

// Codecs makes the table's codecs: the key's from 'key.format' and 'key.fields' (or the
// primary key of an upsert table), the value's from 'format'/'value.format' over the
// physical columns — all of them, key fields included, unless 'value.fields-include' is
// 'EXCEPT_KEY', as in Flink.
func (t *Table) Codecs() (Codecs, error) { return t.codecs(nil) }

// codecs are the table's codecs; a column for which read is false is not decoded (read
// nil: every column is).
func (t *Table) codecs(read []bool) (Codecs, error) {
	var key, value []codecColumn
	exceptKey := strings.EqualFold(t.Options["value.fields-include"], "EXCEPT_KEY")
	for i, c := range t.Columns {
		if c.Kind != Physical {
			continue
		}
		cc := codecColumn{c.Name, c.Type, i, read != nil && !read[i]}
		if t.inKey(c.Name) {
			key = append(key, cc)
			if exceptKey {
				continue
			}
		}
		value = append(value, cc)
	}
	var cs Codecs
	var err error
	if kf, ok := t.Options["key.format"]; ok && len(key) > 0 {
		if cs.Key, err = t.codec(kf, key, true); err != nil {
			return cs, err
		}
	}
	cs.Value, err = t.codec(t.valueFormat(), value, false)
	return cs, err
}

func (t *Table) codec(format string, cols []codecColumn, key bool) (RowCodec, error) {
	prefix := "value."
	if key {
		prefix = "key."
	}
	option := func(name string) string { // 'key.csv.x' or 'value.csv.x', else 'csv.x'
		if v, ok := t.Options[prefix+name]; ok {
			return v
		}
		return t.Options[name]
	}
	switch format {
	case "csv":
		d := []rune(option("csv.field-delimiter"))
		if len(d) == 0 {
			d = []rune{','}
		}
		if len(d) != 1 {
			return nil, fmt.Errorf("table %s: 'csv.field-delimiter' is one character", t.Name)
		}
		return &csvCodec{cols: cols, delimiter: d[0], ignoreErrors: option("csv.ignore-parse-errors") == "true", null: option("csv.null-literal")}, nil
	case "avro", "avro-confluent":
		return t.avroCodec(format, prefix, cols, key)
	case "json":
		return newJSONCodec(cols, t.Options["json.ignore-parse-errors"] == "true"), nil
	case "raw":
		if len(cols) != 1 || (cols[0].typ.Kind != String && cols[0].typ.Kind != Bytes) {
			return nil, fmt.Errorf("table %s: the 'raw' format holds one STRING or BYTES column", t.Name)
		}
		return &rawCodec{col: cols[0]}, nil
	}
	return nil, fmt.Errorf("table %s: the '%s' format is not supported by the SQL layer (json, raw, csv, avro and avro-confluent are)", t.Name, format)
}
