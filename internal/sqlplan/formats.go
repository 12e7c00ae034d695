package sqlplan

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/eddy-streams/eddy/serde"
)

// csvCodec is the 'csv' format, Flink's: the columns' values in order, separated by
// 'csv.field-delimiter' (a comma), quoted with " where they must be; an empty field is
// NULL but for a STRING, where it is the empty string (NULL is written empty, or as 'csv.null-literal').
// BYTES are base64, timestamps as in json.
type csvCodec struct {
	cols         []codecColumn
	delimiter    rune
	ignoreErrors bool   // csv.ignore-parse-errors
	null         string // csv.null-literal ("": none)
}

func (c *csvCodec) Decode(b []byte, row []any) error {
	r := csv.NewReader(bytes.NewReader(b))
	r.Comma, r.FieldsPerRecord, r.LazyQuotes = c.delimiter, -1, false
	fields, err := r.Read()
	if err != nil || len(fields) != len(c.cols) {
		if err == nil {
			err = fmt.Errorf("%d fields, want %d (%s)", len(fields), len(c.cols), c.names())
		}
		if c.ignoreErrors {
			for _, col := range c.cols {
				row[col.index] = nil
			}
			return nil
		}
		return fmt.Errorf("csv: %w", err)
	}
	for i, col := range c.cols {
		if col.skip {
			continue
		}
		if c.null != "" && fields[i] == c.null {
			row[col.index] = nil
			continue
		}
		v, err := textValue(fields[i], col.typ)
		if err != nil {
			if c.ignoreErrors {
				row[col.index] = nil
				continue
			}
			return fmt.Errorf("csv: field %d (%s %s): %w", i+1, col.name, col.typ.Kind, err)
		}
		row[col.index] = v
	}
	return nil
}

func (c *csvCodec) names() string {
	n := make([]string, len(c.cols))
	for i, col := range c.cols {
		n[i] = col.name
	}
	return strings.Join(n, ", ")
}

func (c *csvCodec) Encode(dst []byte, row []any) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma = c.delimiter
	fields := make([]string, len(c.cols))
	for i, col := range c.cols {
		switch v := row[col.index].(type) {
		case nil:
			fields[i] = c.null
		case []byte:
			fields[i] = base64.StdEncoding.EncodeToString(v)
		case time.Time:
			fields[i] = v.UTC().Format(tsLayout)
		default:
			fields[i] = formatValue(v)
		}
	}
	if err := w.Write(fields); err != nil {
		return nil, err
	}
	w.Flush()
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), w.Error()
}

// textValue reads a csv field as a value of type t.
func textValue(s string, t Type) (any, error) {
	if s == "" && t.Kind != String {
		return nil, nil
	}
	switch t.Kind {
	case String:
		return s, nil
	case Boolean:
		return strconv.ParseBool(strings.ToLower(s))
	case Int:
		n, err := strconv.ParseInt(s, 10, 32)
		return int32(n), err
	case BigInt:
		return strconv.ParseInt(s, 10, 64)
	case Double:
		return strconv.ParseFloat(s, 64)
	case Timestamp, TimestampLTZ:
		return parseTimestamp(s)
	case Bytes:
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("no %s in csv", t.Kind)
}

// avroCodec is the 'avro' and 'avro-confluent' formats, Flink's: a record named "record"
// (namespace org.apache.flink.avro.generated) of a field per column, each a union of null
// and its type (INT int, BIGINT long, DOUBLE double, STRING string, BYTES bytes, BOOLEAN
// boolean, TIMESTAMP(p) and TIMESTAMP_LTZ(p) long timestamp-millis), or the type alone
// for a NOT NULL column. avro-confluent adds the Confluent wire format: a schema id from
// the registry of 'avro-confluent.url', registered under <topic>-value (or -key) when
// written, and each record read with its writer's schema, its fields found by name.
type avroCodec struct {
	cols   []codecColumn
	serde  serde.Serde[any]
	unions []string // each column's non-null branch name, "" for a NOT NULL column
}

// avroSchema is the record schema of the columns.
func avroSchema(cols []codecColumn) (string, []string, error) {
	var fields []string
	unions := make([]string, len(cols))
	for i, c := range cols {
		var typ string
		switch c.typ.Kind {
		case Int:
			typ = `"int"`
		case BigInt:
			typ = `"long"`
		case Double:
			typ = `"double"`
		case String:
			typ = `"string"`
		case Bytes:
			typ = `"bytes"`
		case Boolean:
			typ = `"boolean"`
		case Timestamp, TimestampLTZ:
			typ = `{"type":"long","logicalType":"timestamp-millis"}`
		default:
			return "", nil, fmt.Errorf("avro: no Avro type for %s %s", c.name, c.typ.Kind)
		}
		if !c.typ.NotNull {
			unions[i] = strings.Trim(typ, `"`)
			if c.typ.temporal() {
				unions[i] = "long.timestamp-millis"
			}
			typ = `["null",` + typ + `]`
			fields = append(fields, fmt.Sprintf(`{"name":%q,"type":%s,"default":null}`, c.name, typ))
			continue
		}
		fields = append(fields, fmt.Sprintf(`{"name":%q,"type":%s}`, c.name, typ))
	}
	return `{"type":"record","name":"record","namespace":"org.apache.flink.avro.generated","fields":[` + strings.Join(fields, ",") + `]}`, unions, nil
}

func (t *Table) avroCodec(format, prefix string, cols []codecColumn, key bool) (RowCodec, error) {
	schema, unions, err := avroSchema(cols)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	c := &avroCodec{cols: cols, unions: unions}
	if format == "avro" {
		if c.serde, err = serde.AvroGeneric(schema); err != nil {
			return nil, fmt.Errorf("table %s: %w", t.Name, err)
		}
		return c, nil
	}
	url := t.Options[prefix+"avro-confluent.url"]
	if url == "" {
		url = t.Options["avro-confluent.url"]
	}
	if url == "" {
		return nil, fmt.Errorf("table %s: the 'avro-confluent' format needs the registry's URL: '%savro-confluent.url'", t.Name, prefix)
	}
	reg, err := serde.NewRegistry(serde.RegistryURLs(strings.Split(url, ",")...))
	if err != nil {
		return nil, fmt.Errorf("table %s: '%savro-confluent.url' = '%s': %w", t.Name, prefix, url, err)
	}
	s, err := serde.AvroGenericConfluent(reg, serde.AvroSchema(schema), serde.AutoRegister())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	c.serde = serde.ForTopic(s, t.Options["topic"], key)
	return c, nil
}

func (c *avroCodec) Decode(b []byte, row []any) error {
	v, err := c.serde.Decode(b)
	if err != nil {
		return err
	}
	rec, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("avro: the value is a %T, not a record", v)
	}
	for _, col := range c.cols {
		if col.skip {
			continue
		}
		x, err := avroValue(rec[col.name], col.typ)
		if err != nil {
			return fmt.Errorf("avro: field %s (%s): %w", col.name, col.typ.Kind, err)
		}
		row[col.index] = x
	}
	return nil
}

// avroValue is a field's goavro value as a value of type t: a union's branch unwrapped,
// a long or int to the column's integer, timestamp-millis to a time.
func avroValue(v any, t Type) (any, error) {
	if m, ok := v.(map[string]any); ok { // a union's branch
		for _, x := range m {
			v = x
		}
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int32:
		if t.Kind == Int {
			return x, nil
		}
		return convert(int64(x), t.Kind), nil
	case int64:
		switch t.Kind {
		case Int:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, fmt.Errorf("%d does not fit an INT", x)
			}
			return int32(x), nil
		case Timestamp, TimestampLTZ:
			return time.UnixMilli(x).UTC(), nil
		}
		return convert(x, t.Kind), nil
	case float32:
		return float64(x), nil
	case time.Time:
		return x.UTC(), nil
	case float64, string, []byte, bool:
		return x, nil
	}
	return nil, fmt.Errorf("a %T", v)
}

func (c *avroCodec) Encode(dst []byte, row []any) ([]byte, error) {
	rec := make(map[string]any, len(c.cols))
	for i, col := range c.cols {
		v := row[col.index]
		if t, ok := v.(time.Time); ok {
			v = t.UTC()
		}
		switch {
		case v == nil && c.unions[i] == "":
			return nil, fmt.Errorf("avro: %s is NOT NULL, and the row has NULL", col.name)
		case v == nil:
			rec[col.name] = nil
		case c.unions[i] != "":
			rec[col.name] = goavro.Union(c.unions[i], v)
		default:
			rec[col.name] = v
		}
	}
	return c.serde.AppendEncode(dst, rec)
}
