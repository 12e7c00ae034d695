package sqlplan

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

// ColumnKind says where a table's column comes from.
type ColumnKind int

// The column kinds.
const (
	Physical ColumnKind = iota // in the record's key or value
	Metadata                   // from the record: its timestamp, partition, offset, topic
	Computed                   // an expression of the others
)

// TableColumn is a column of a table.
type TableColumn struct {
	Name string
	Type Type
	Kind ColumnKind
	// MetadataKey is a metadata column's key; Virtual says it is read only.
	MetadataKey string
	Virtual     bool
	// Expr is a computed column's expression (over the physical and metadata columns), and
	// ProcTime says it is PROCTIME().
	Expr     *Expr
	ExprText string
	ProcTime bool
}

// WatermarkSpec is a table's WATERMARK FOR column AS expr.
type WatermarkSpec struct {
	Column int // the index of the rowtime column
	Expr   *Expr
	Text   string
}

// Table is a table of the catalog, made by CREATE TABLE: its columns (in their order:
// physical, metadata and computed mixed as declared), watermark, primary key and the
// connector's options, checked.
type Table struct {
	Name       string
	Columns    []TableColumn
	Watermark  *WatermarkSpec
	PrimaryKey []int
	Connector  string // kafka or upsert-kafka
	Options    map[string]string
	// IdleTimeout is 'scan.watermark.idle-timeout' (0: none).
	IdleTimeout time.Duration

	ddl *sqlparse.CreateTable // what made it, for ALTER TABLE
}

// Scope is the table's columns as its expressions see them.
func (t *Table) Scope(alias string) *Scope {
	s := &Scope{}
	for i, c := range t.Columns {
		s.Columns = append(s.Columns, Column{Table: alias, Name: c.Name, Type: c.Type, Index: i})
	}
	return s
}

// kinds are the kinds of the table's columns.
func (t *Table) kinds() []Kind {
	k := make([]Kind, len(t.Columns))
	for i, c := range t.Columns {
		k[i] = c.Type.Kind
	}
	return k
}

// metadataKeys are the metadata a Kafka record has, with their types, and whether they
// can only be read.
var metadataKeys = map[string]struct {
	typ      Type
	readOnly bool
}{
	"timestamp": {Type{Kind: TimestampLTZ, Precision: 3}, false},
	"partition": {Type{Kind: Int}, true},
	"offset":    {Type{Kind: BigInt}, true},
	"topic":     {Type{Kind: String}, true},
}

// The options each connector takes: those the SQL layer applies so far. The brokers and
// the group are the job's (properties.bootstrap.servers, properties.group.id); a job
// starts where its group left off, else at the earliest offset (Flink's
// 'group-offsets' with an earliest reset, and 'earliest-offset' for a new group).
var connectorOptions = map[string][]string{
	"kafka": {"connector", "topic", "format", "key.format", "value.format", "key.fields", "value.fields-include",
		"scan.startup.mode", "scan.watermark.idle-timeout", "sink.partitioner", "json.ignore-parse-errors",
		"properties.bootstrap.servers", "properties.group.id", "scan.partitioned-by-key", "scan.startup.timestamp-millis"},
	"upsert-kafka": {"connector", "topic", "key.format", "value.format", "value.fields-include", "scan.watermark.idle-timeout",
		"json.ignore-parse-errors", "properties.bootstrap.servers", "properties.group.id", "scan.partitioned-by-key"},
}

// formats are the formats the SQL layer reads and writes so far (rowformat.go).
var formats = []string{"json", "raw", "csv", "avro", "avro-confluent"}

// formatOptions are the formats' own options, as 'csv.field-delimiter' or, for the key's
// or the value's format alone, 'key.csv.field-delimiter' and 'value.csv.field-delimiter'.
var formatOptions = []string{"json.ignore-parse-errors", "csv.field-delimiter", "csv.ignore-parse-errors", "csv.null-literal", "avro-confluent.url"}

// NewTable checks a CREATE TABLE and makes its table.
func NewTable(ct *sqlparse.CreateTable) (*Table, error) {
	t := &Table{Name: ct.Name, Options: map[string]string{}, ddl: ct}
	seen := map[string]bool{}
	for _, c := range ct.Columns {
		if seen[c.Name] {
			return nil, errorAt(c.At, "column %s declared twice", c.Name)
		}
		seen[c.Name] = true
	}
	// Physical and metadata columns first: the computed ones see them.
	scope := &Scope{}
	for i, c := range ct.Columns {
		col := TableColumn{Name: c.Name}
		switch {
		case c.Computed != nil:
			col.Kind = Computed
			t.Columns = append(t.Columns, col)
			continue
		case c.IsMetadata:
			md, ok := metadataKeys[c.Metadata]
			if !ok {
				return nil, errorAt(c.At, "unknown metadata key '%s' (the keys: %s)", c.Metadata, strings.Join(sortedKeys(metadataKeys), ", "))
			}
			typ, err := TypeOf(c.Type, c.At)
			if err != nil {
				return nil, err
			}
			if typ.Kind != md.typ.Kind {
				return nil, errorAt(c.At, "metadata '%s' is %s, not %s", c.Metadata, md.typ, typ)
			}
			col.Kind, col.Type, col.MetadataKey, col.Virtual = Metadata, typ, c.Metadata, c.Virtual || md.readOnly
		default:
			typ, err := TypeOf(c.Type, c.At)
			if err != nil {
				return nil, err
			}
			col.Kind, col.Type = Physical, typ
		}
		t.Columns = append(t.Columns, col)
		scope.Columns = append(scope.Columns, Column{Table: ct.Name, Name: c.Name, Type: col.Type, Index: i})
	}
	for i, c := range ct.Columns {
		if c.Computed == nil {
			continue
		}
		e, err := Compile(c.Computed, scope)
		if err != nil {
			return nil, err
		}
		call, _ := c.Computed.(*sqlparse.Call)
		t.Columns[i].Expr, t.Columns[i].Type, t.Columns[i].ExprText = e, e.Type, c.Computed.String()
		t.Columns[i].ProcTime = call != nil && call.Name == "PROCTIME"
	}
	full := t.Scope(ct.Name)
	if w := ct.Watermark; w != nil {
		i := slices.IndexFunc(t.Columns, func(c TableColumn) bool { return c.Name == w.Column })
		if i < 0 {
			return nil, errorAt(w.At, "WATERMARK FOR %s: no such column", w.Column)
		}
		ct := t.Columns[i].Type
		if (ct.Kind != Timestamp && ct.Kind != TimestampLTZ) || ct.Precision > 3 {
			return nil, errorAt(w.At, "WATERMARK FOR %s: the rowtime column is TIMESTAMP(3) or TIMESTAMP_LTZ(3) (or less precise), not %s", w.Column, ct)
		}
		e, err := Compile(w.Expr, full)
		if err != nil {
			return nil, err
		}
		if e.Type.Kind != ct.Kind {
			return nil, errorAt(w.Expr.Pos(), "the watermark %s is %s: it must be of the rowtime column's type, %s", w.Expr, e.Type.Kind, ct.Kind)
		}
		t.Watermark = &WatermarkSpec{Column: i, Expr: e, Text: w.Expr.String()}
	}
	for _, k := range ct.PrimaryKey {
		i := slices.IndexFunc(t.Columns, func(c TableColumn) bool { return c.Name == k })
		if i < 0 || t.Columns[i].Kind != Physical {
			return nil, errorAt(ct.At, "PRIMARY KEY (%s): %s is not a physical column", strings.Join(ct.PrimaryKey, ", "), k)
		}
		t.Columns[i].Type.NotNull = true
		t.PrimaryKey = append(t.PrimaryKey, i)
	}
	if err := t.options(ct); err != nil {
		return nil, err
	}
	return t, nil
}

// sortedKeys are m's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// options checks the WITH clause against the connector's options.
func (t *Table) options(ct *sqlparse.CreateTable) error {
	for _, o := range ct.With {
		t.Options[o.Key] = o.Value
	}
	fail := func(format string, args ...any) error {
		return errorAt(ct.At, "table %s: "+format, append([]any{ct.Name}, args...)...)
	}
	t.Connector = t.Options["connector"]
	known, ok := connectorOptions[t.Connector]
	switch {
	case t.Connector == "":
		return fail("no 'connector' (kafka, upsert-kafka or datagen)")
	case t.Connector == "datagen":
		return t.datagenOptions(fail)
	case !ok:
		return fail("unknown or unsupported connector '%s' (kafka, upsert-kafka or datagen)", t.Connector)
	}
	var unknown []string
	for k := range t.Options {
		if !slices.Contains(known, k) && !slices.Contains(formatOptions, strings.TrimPrefix(strings.TrimPrefix(k, "key."), "value.")) {
			unknown = append(unknown, "'"+k+"'")
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fail("unsupported options for '%s': %s (it takes %s)", t.Connector, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	if t.Options["topic"] == "" {
		return fail("no 'topic'")
	}
	checkFormat := func(key string) error {
		if f, ok := t.Options[key]; ok && !slices.Contains(formats, f) {
			return fail("'%s' = '%s': the formats are %s", key, f, strings.Join(formats, ", "))
		}
		return nil
	}
	for _, k := range []string{"format", "key.format", "value.format"} {
		if err := checkFormat(k); err != nil {
			return err
		}
	}
	_, hasFormat := t.Options["format"]
	_, hasValueFormat := t.Options["value.format"]
	switch {
	case hasFormat && hasValueFormat:
		return fail("'format' and 'value.format' both given: 'format' is 'value.format''s short form")
	case !hasFormat && !hasValueFormat:
		return fail("no 'format' (or 'value.format')")
	}
	if t.Connector == "upsert-kafka" {
		if len(t.PrimaryKey) == 0 {
			return fail("'upsert-kafka' needs a PRIMARY KEY: the key of the upserts")
		}
		if _, ok := t.Options["key.format"]; !ok {
			return fail("'upsert-kafka' needs 'key.format'")
		}
	}
	if fields, ok := t.Options["key.fields"]; ok {
		if _, ok := t.Options["key.format"]; !ok {
			return fail("'key.fields' needs 'key.format'")
		}
		for _, f := range strings.Split(fields, ";") {
			i := slices.IndexFunc(t.Columns, func(c TableColumn) bool { return c.Name == f })
			if i < 0 || t.Columns[i].Kind != Physical {
				return fail("'key.fields': %s is not a physical column", f)
			}
		}
	}
	_, hasMillis := t.Options["scan.startup.timestamp-millis"]
	switch m := t.Options["scan.startup.mode"]; m {
	case "", "earliest-offset", "group-offsets", "latest-offset":
		if hasMillis {
			return fail("'scan.startup.timestamp-millis' is for 'scan.startup.mode' = 'timestamp'")
		}
	case "timestamp":
		if ms, err := strconv.ParseInt(t.Options["scan.startup.timestamp-millis"], 10, 64); err != nil || ms < 0 {
			return fail("'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis', milliseconds since 1970 (given: '%s')", t.Options["scan.startup.timestamp-millis"])
		}
	case "specific-offsets":
		return fail("'scan.startup.mode' = 'specific-offsets' is not supported (earliest-offset, latest-offset, group-offsets and timestamp are)")
	default:
		return fail("'scan.startup.mode' = '%s': earliest-offset, latest-offset, group-offsets or timestamp", m)
	}
	switch p := t.Options["sink.partitioner"]; p {
	case "", "default", "fixed", "round-robin":
	default:
		return fail("'sink.partitioner' = '%s': default, fixed or round-robin", p)
	}
	if v, ok := t.Options["scan.partitioned-by-key"]; ok && v != "true" && v != "false" {
		return fail("'scan.partitioned-by-key' = '%s': true or false", v)
	}
	if d, ok := t.Options["scan.watermark.idle-timeout"]; ok {
		v, err := ParseDuration(d)
		if err != nil {
			return fail("'scan.watermark.idle-timeout' = '%s': %v", d, err)
		}
		t.IdleTimeout = v
	}
	if t.valueFormat() == "raw" {
		n := 0
		for _, c := range t.Columns {
			if c.Kind == Physical && !t.inKey(c.Name) {
				n++
				if c.Type.Kind != String && c.Type.Kind != Bytes {
					return fail("the 'raw' format holds one STRING or BYTES column, not %s %s", c.Name, c.Type)
				}
			}
		}
		if n != 1 {
			return fail("the 'raw' format holds one column; the value has %d", n)
		}
	}
	return nil
}

func (t *Table) valueFormat() string {
	if f, ok := t.Options["value.format"]; ok {
		return f
	}
	return t.Options["format"]
}

// inKey reports whether the column is in the record's key (key.fields, or the primary
// key of an upsert table).
func (t *Table) inKey(name string) bool {
	if fields, ok := t.Options["key.fields"]; ok {
		return slices.Contains(strings.Split(fields, ";"), name)
	}
	if t.Connector == "upsert-kafka" {
		for _, i := range t.PrimaryKey {
			if t.Columns[i].Name == name {
				return true
			}
		}
	}
	return false
}

// ParseDuration reads a Flink duration: a number and a unit (ms, s, sec, min, h, d, or
// their long names), or Go's form (1m30s).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		if i < 0 {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return time.Duration(n) * time.Millisecond, nil // a bare number is milliseconds
			}
		}
		return 0, fmt.Errorf("not a duration (e.g. 5 s, 500 ms, 1 min)")
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("not a duration (e.g. 5 s, 500 ms, 1 min)")
	}
	units := map[string]time.Duration{"ms": time.Millisecond, "milli": time.Millisecond, "millis": time.Millisecond,
		"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
		"min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hour": time.Hour, "hours": time.Hour, "d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour}
	u, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q (ms, s, min, h, d)", strings.TrimSpace(s[i:]))
	}
	return time.Duration(n * float64(u)), nil
}

// Describe is the table as DESCRIBE shows it: a row per column with its name, type,
// nullability, key, what it is (metadata or expression) and its watermark.
func (t *Table) Describe() [][]string {
	rows := [][]string{{"name", "type", "null", "key", "extras", "watermark"}}
	for i, c := range t.Columns {
		typ := c.Type
		null := strconv.FormatBool(!typ.NotNull)
		typ.NotNull = false
		key := ""
		if slices.Contains(t.PrimaryKey, i) {
			key = "PRI(" + c.Name + ")"
		}
		extras := ""
		switch c.Kind {
		case Metadata:
			extras = "METADATA FROM '" + c.MetadataKey + "'"
			if c.Virtual {
				extras += " VIRTUAL"
			}
		case Computed:
			extras = "AS " + c.ExprText
		}
		wm := ""
		if t.Watermark != nil && t.Watermark.Column == i {
			wm = t.Watermark.Text
			typ.Precision = c.Type.Precision
		}
		name := typ.String()
		if t.Watermark != nil && t.Watermark.Column == i {
			name += " *ROWTIME*"
		}
		if c.ProcTime {
			name += " *PROCTIME*"
		}
		rows = append(rows, []string{c.Name, name, null, key, extras, wm})
	}
	return rows
}
