package sqlplan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Catalog holds a session's tables.
type Catalog struct {
	tables map[string]*Table
	// idleTimeout is the session's table.exec.source.idle-timeout, for the tables that
	// set none of their own.
	idleTimeout time.Duration
}

// NewCatalog is an empty catalog.
func NewCatalog() *Catalog { return &Catalog{tables: map[string]*Table{}} }

// Create adds the table of a CREATE TABLE (without AS).
func (c *Catalog) Create(ct *sqlparse.CreateTable) error {
	if ct.As != nil {
		return errorAt(ct.At, "CREATE TABLE … AS SELECT is not supported yet: CREATE TABLE, then INSERT INTO")
	}
	if _, ok := c.tables[ct.Name]; ok {
		if ct.IfNotExists {
			return nil
		}
		return errorAt(ct.At, "table %s exists already (DROP TABLE it first, or CREATE TABLE IF NOT EXISTS)", ct.Name)
	}
	t, err := NewTable(ct)
	if err != nil {
		return err
	}
	c.tables[ct.Name] = t
	return nil
}

// Alter runs ALTER TABLE t ADD (a column, or the watermark): the table is made again
// from its CREATE TABLE with the addition.
func (c *Catalog) Alter(a *sqlparse.AlterTable) error {
	t, ok := c.tables[a.Name]
	if !ok {
		return errorAt(a.At, "ALTER TABLE %s: no such table (the tables: %s)", a.Name, strings.Join(c.Tables(), ", "))
	}
	ct := *t.ddl
	ct.Columns = slices.Clone(ct.Columns)
	switch {
	case a.Watermark != nil && ct.Watermark != nil:
		return errorAt(a.At, "ALTER TABLE %s ADD WATERMARK: the table has one already (WATERMARK FOR %s)", a.Name, ct.Watermark.Column)
	case a.Watermark != nil:
		ct.Watermark = a.Watermark
	case a.Column != nil:
		ct.Columns = append(ct.Columns, a.Column)
	}
	nt, err := NewTable(&ct)
	if err != nil {
		return err
	}
	c.tables[a.Name] = nt
	return nil
}

// Drop removes a table.
func (c *Catalog) Drop(d *sqlparse.DropTable) error {
	if _, ok := c.tables[d.Name]; !ok && !d.IfExists {
		return errorAt(d.At, "no table %s", d.Name)
	}
	delete(c.tables, d.Name)
	return nil
}

// Table is the named table.
func (c *Catalog) Table(name string) (*Table, bool) {
	t, ok := c.tables[name]
	return t, ok
}

// Tables are the tables' names, sorted.
func (c *Catalog) Tables() []string { return sortedKeys(c.tables) }

// Job is compiled statements: the topology to run, and the topics it reads and writes.
type Job struct {
	Topology *topology.Topology
	Sources  []string
	Sinks    []string
	// Bounded says the job runs in batch mode: over what its topics hold at start, then
	// it stops (eddy.Bounded). ExactlyOnce says it runs exactly-once (INSERT jobs, unless
	// 'execution.checkpointing.mode' is AT_LEAST_ONCE).
	Bounded     bool
	ExactlyOnce bool
	// Brokers and GroupID are the first source table's properties.bootstrap.servers
	// (split at commas) and properties.group.id that has them, for the runner: its brokers
	// and application id unless it is given its own.
	Brokers []string
	GroupID string
	// Columns and Types are a query's result columns (a SELECT's; nil for INSERTs), and
	// Updating says its result has -U, +U and -D changes, not only +I.
	Columns  []string
	Types    []Type
	Updating bool

	// Starts are where a new group starts on the topics of tables with 'scan.startup.mode'
	// latest-offset or timestamp (the others start at the earliest offsets); a group that
	// has committed offsets goes on from them, as a Flink job restored from its state.
	Starts []Start
	// Generators fill the job's datagen tables' topics: the runner creates each topic
	// (one partition) and runs its generator while the job runs.
	Generators []*Generator

	sources []*Table
	results *func(Change)
}

// Start is where a new group starts reading a topic: at its end, or at the first record
// at or after Millis.
type Start struct {
	Topic  string
	Latest bool
	Millis int64
}

// OnResult sets the function a query's result changes go to, before the job runs. The
// job's tasks call it, each from its own goroutine: it must be safe for concurrent use.
// A key's changes come from one task, in order.
func (j *Job) OnResult(f func(Change)) {
	if j.results != nil {
		*j.results = f
	}
}

// finish fills in the job's sources and, from them, its brokers and group.
func (j *Job) finish(top *topology.Topology) *Job {
	j.Topology = top
	for _, t := range j.sources {
		if j.GroupID == "" {
			j.GroupID = t.Options["properties.group.id"]
		}
		if j.Brokers == nil {
			for _, b := range strings.Split(t.Options["properties.bootstrap.servers"], ",") {
				if b = strings.TrimSpace(b); b != "" {
					j.Brokers = append(j.Brokers, b)
				}
			}
		}
	}
	return j
}

// PlanInserts compiles INSERT INTO statements into one job (one statement, or a
// statement set's); batch plans it for a bounded run.
func (c *Catalog) PlanInserts(inserts []*sqlparse.Insert, batch bool) (*Job, error) {
	p := c.newPlanner(batch)
	for _, ins := range inserts {
		p.see(ins.Query)
	}
	for _, ins := range inserts {
		if err := p.insert(ins); err != nil {
			return nil, err
		}
	}
	return p.job.finish(p.top), nil
}

// PlanQuery compiles a query whose result goes to the job's OnResult function.
func (c *Catalog) PlanQuery(q sqlparse.Query, batch bool) (*Job, error) {
	p := c.newPlanner(batch)
	p.see(q)
	out, err := p.query(q)
	if err != nil {
		return nil, err
	}
	p.collect(out)
	return p.job.finish(p.top), nil
}

// compileWhere compiles the WHERE condition (nil when there is none).
func compileWhere(sel *sqlparse.Select, scope *Scope) (*Expr, error) {
	if sel.Where == nil {
		return nil, nil
	}
	w, err := Compile(sel.Where, scope)
	if err != nil {
		return nil, err
	}
	if w.Type.Kind != Boolean && w.Type.Kind != Null {
		return nil, errorAt(sel.Where.Pos(), "WHERE %s is %s, not BOOLEAN", sel.Where, w.Type.Kind)
	}
	return w, nil
}

// projection compiles the SELECT list; * is every column of the table.
func projection(sel *sqlparse.Select, scope *Scope) ([]*Expr, []string, error) {
	var items []*Expr
	var names []string
	for i, it := range sel.Items {
		if it.Star {
			for _, col := range scope.Columns {
				if it.Qualifier != "" && it.Qualifier != col.Table {
					continue
				}
				idx := col.Index
				items = append(items, &Expr{Type: col.Type, Refs: []int{idx}, plain: idx + 1, Eval: func(row []any) (any, error) { return row[idx], nil }})
				names = append(names, col.Name)
			}
			continue
		}
		x, err := Compile(it.Expr, scope)
		if err != nil {
			return nil, nil, err
		}
		name := it.Alias
		if name == "" {
			if id, ok := it.Expr.(*sqlparse.Ident); ok {
				name = id.Parts[len(id.Parts)-1]
			} else {
				name = fmt.Sprintf("EXPR$%d", i)
			}
		}
		items = append(items, x)
		names = append(names, name)
	}
	return items, names, nil
}

// widens reports whether a value of type from may go into a column of type to without a
// CAST: the same kind, a narrower number, or NULL.
func widens(from, to Type) bool {
	if from.Kind == to.Kind || from.Kind == Null {
		return true
	}
	k, ok := promote(from, to)
	return ok && k == to.Kind
}

// writer encodes a result row as the sink's record.
type writer struct {
	sink      *Table
	codecs    Codecs
	positions []int // the sink column of each result column
	timestamp int   // the result column of the sink's writable 'timestamp' metadata, or -1
}

func sinkWriter(sink *Table, ins *sqlparse.Insert, types []Type, names []string) (*writer, error) {
	w := &writer{sink: sink, timestamp: -1}
	var persisted []int
	for i, c := range sink.Columns {
		if c.Kind == Physical || c.Kind == Metadata && !c.Virtual {
			persisted = append(persisted, i)
		}
	}
	if len(types) != len(persisted) {
		var cols []string
		for _, i := range persisted {
			cols = append(cols, sink.Columns[i].Name)
		}
		return nil, errorAt(ins.Query.Pos(), "INSERT INTO %s: the query gives %d columns (%s), the table takes %d (%s)",
			sink.Name, len(types), strings.Join(names, ", "), len(persisted), strings.Join(cols, ", "))
	}
	for i, t := range types {
		col := sink.Columns[persisted[i]]
		if !widens(t, col.Type) {
			return nil, errorAt(ins.Query.Pos(), "INSERT INTO %s: column %d (%s) is %s, the table's %s is %s: CAST it", sink.Name, i+1, names[i], t.Kind, col.Name, col.Type.Kind)
		}
		if col.Kind == Metadata {
			w.timestamp = i
		}
		w.positions = append(w.positions, persisted[i])
	}
	var err error
	if w.codecs, err = sink.Codecs(); err != nil {
		return nil, err
	}
	return w, nil
}

// reader decodes a source table's records into rows and computes their computed columns
// and event time.
type reader struct {
	t       *Table
	codecs  Codecs
	rowtime int // the rowtime column, or -1
	delay   time.Duration
	idle    time.Duration // the source's idle timeout (0: none)
	// lateMeta are the computed columns that read partition, offset or topic metadata,
	// which only the processor knows: computed again there.
	lateMeta bool
	// recordTime: the rowtime is the records' timestamp (a 'timestamp' metadata column),
	// which the source takes as it is; otherwise the extractor completes the row (merged).
	recordTime, merged bool
	read               []bool // the columns the job reads (nil: all)
	// recordMeta: a column the job reads is the record's partition, offset or topic.
	recordMeta bool
}

// reader is a reader of table t; read says which of its columns the job reads (nil: all).
func (c *Catalog) reader(t *Table, read []bool) (*reader, error) {
	r := &reader{t: t, rowtime: -1, idle: t.IdleTimeout, read: read}
	if r.idle == 0 {
		r.idle = c.idleTimeout
	}
	var err error
	if r.codecs, err = t.codecs(read); err != nil {
		return nil, err
	}
	if w := t.Watermark; w != nil {
		r.rowtime = w.Column
		r.recordTime = t.Columns[w.Column].MetadataKey == "timestamp"
		r.merged = !r.recordTime
		d, err := boundedDelay(w, t)
		if err != nil {
			return nil, err
		}
		// Flink's watermark is the expression's value, max(rowtime) - d; eddy's is the
		// highest time less the out-of-orderness less 1 ms: d - 1 ms gives Flink's.
		r.delay = max(d-time.Millisecond, 0)
	}
	for i, c := range t.Columns {
		if k := c.MetadataKey; (k == "partition" || k == "offset" || k == "topic") && (read == nil || read[i]) {
			r.recordMeta = true
		}
	}
	for _, c := range t.Columns {
		if c.Kind != Computed {
			continue
		}
		for _, i := range c.Expr.Refs {
			if k := t.Columns[i].MetadataKey; k == "partition" || k == "offset" || k == "topic" {
				r.lateMeta = true
			}
		}
	}
	return r, nil
}

// boundedDelay reads the watermark rowtime - INTERVAL d (or rowtime): the bounded
// out-of-orderness eddy's sources have.
func boundedDelay(w *WatermarkSpec, t *Table) (time.Duration, error) {
	e, err := sqlparse.ParseExpr(w.Text)
	if err != nil {
		return 0, err
	}
	name := t.Columns[w.Column].Name
	isRowtime := func(x sqlparse.Expr) bool {
		id, ok := x.(*sqlparse.Ident)
		return ok && id.Parts[len(id.Parts)-1] == name
	}
	if isRowtime(e) {
		return 0, nil
	}
	if b, ok := e.(*sqlparse.Binary); ok && b.Op == "-" && isRowtime(b.L) {
		if iv, ok := b.R.(*sqlparse.Interval); ok {
			return intervalOf(iv)
		}
	}
	return 0, fmt.Errorf("table %s: WATERMARK FOR %s AS %s: only %s or %s - INTERVAL '…' unit is supported (a bounded out-of-orderness)", t.Name, name, w.Text, name, name)
}

// rowSerde decodes a record's key or value into a row of the table's width. A null
// value is a nil row (a tombstone); a null key, a row of NULLs. An elided value has no
// column the job reads, and a format that cannot fail to decode it: it decodes to
// present, the key's row standing for the record's (reader.prepare).
type rowSerde struct {
	codec  RowCodec
	width  int
	value  bool
	elided bool
}

// present is an elided value's row: not a tombstone, no columns.
var present = []any{}

func (s rowSerde) Decode(b []byte) ([]any, error) {
	if b == nil && s.value {
		return nil, nil
	}
	if s.elided {
		return present, nil
	}
	row := make([]any, s.width)
	if s.codec == nil {
		return row, nil
	}
	if err := s.codec.Decode(b, row); err != nil {
		return nil, err
	}
	return row, nil
}

func (s rowSerde) AppendEncode(dst []byte, row []any) ([]byte, error) {
	if s.codec == nil {
		return dst, nil
	}
	return s.codec.Encode(dst, row)
}

func (r *reader) stream(top *topology.Topology, topic string) topology.Stream[[]any, []any] {
	width := len(r.t.Columns)
	var opts []topology.Option
	if r.rowtime >= 0 {
		opts = append(opts, topology.OutOfOrderness(r.delay))
	}
	if r.merged {
		opts = append(opts, topology.Timestamps(func(key, value []any, recordTime time.Time) (time.Time, error) {
			if value == nil {
				return recordTime, nil // a tombstone's time
			}
			row := r.merge(key, value, recordTime)
			if err := r.compute(row); err != nil {
				return time.Time{}, err
			}
			ts, _ := row[r.rowtime].(time.Time)
			if ts.IsZero() {
				return time.Time{}, fmt.Errorf("the rowtime column %s is NULL", r.t.Columns[r.rowtime].Name)
			}
			return ts, nil
		}))
	}
	if r.idle > 0 {
		opts = append(opts, topology.IdleTimeout(r.idle))
	}
	// A rowtime that is the record's timestamp needs no extractor: the source takes it.
	values := rowSerde{codec: r.codecs.Value, width: width, value: true, elided: !r.merged && elidable(r.codecs.Value)}
	return topology.From(top, topic, serde.Serde[[]any](rowSerde{codec: r.codecs.Key, width: width}), serde.Serde[[]any](values), opts...)
}

// elidable says whether decoding with codec c reads nothing and cannot fail: a raw
// value no query reads (other formats still check their input's syntax).
func elidable(c RowCodec) bool {
	raw, ok := c.(*rawCodec)
	return ok && raw.col.skip
}

// merge puts the key's columns into the value's row, and the record's timestamp into its
// 'timestamp' metadata column.
func (r *reader) merge(key, value []any, recordTime time.Time) []any {
	for i, c := range r.t.Columns {
		switch {
		case c.Kind == Physical && i < len(key) && key[i] != nil: // a null key decodes to no row
			value[i] = key[i]
		case c.Kind == Metadata && c.MetadataKey == "timestamp" && (r.read == nil || r.read[i]):
			value[i] = recordTime.UTC()
		}
	}
	return value
}

// compute evaluates the computed columns.
func (r *reader) compute(row []any) error {
	for i, c := range r.t.Columns {
		if c.Kind == Computed {
			v, err := c.Expr.Eval(row)
			if err != nil {
				return fmt.Errorf("computed column %s: %w", c.Name, err)
			}
			row[i] = v
		}
	}
	return nil
}

// prepare completes a source record's row — its key columns, metadata, computed
// columns — and reports whether it passes where (nil: all pass).
func (r *reader) prepare(rec processor.Record[[]any, []any], ctx interface {
	Metadata() (processor.Metadata, bool)
}, where *Expr) ([]any, bool, error) {
	row := rec.Value
	if len(row) == 0 { // an elided value: the key's row is the record's
		if row = rec.Key; len(row) == 0 {
			row = make([]any, len(r.t.Columns))
		}
	}
	if !r.merged {
		row = r.merge(rec.Key, row, rec.Timestamp)
	}
	if md, ok := ctx.Metadata(); ok && r.recordMeta {
		for i, c := range r.t.Columns {
			switch c.MetadataKey {
			case "partition":
				row[i] = md.Partition
			case "offset":
				row[i] = md.Offset
			case "topic":
				row[i] = md.Topic
			}
		}
	}
	if !r.merged || r.lateMeta {
		if err := r.compute(row); err != nil {
			return nil, false, err
		}
	}
	if where != nil {
		keep, err := where.Eval(row)
		if err != nil {
			return nil, false, fmt.Errorf("WHERE: %w", err)
		}
		if keep != true {
			return nil, false, nil
		}
	}
	return row, true, nil
}

// set puts result column i's value v into the sink row out, converted to the column's
// type; ts is the record's timestamp, which the sink's 'timestamp' column sets.
func (w *writer) set(out []any, i int, v any, ts time.Time) (time.Time, error) {
	col := w.positions[i]
	v = convert(v, w.sink.Columns[col].Type.Kind)
	if v == nil && w.sink.Columns[col].Type.NotNull {
		return ts, fmt.Errorf("column %s of %s is NOT NULL, and the query gave NULL", w.sink.Columns[col].Name, w.sink.Name)
	}
	out[col] = v
	if i == w.timestamp {
		if t, ok := v.(time.Time); ok {
			ts = t
		}
	}
	return ts, nil
}

// recordSizes are the largest key and value a sink has written: each record's buffers
// are allocated once at that size, not grown as they are written.
type recordSizes struct{ key, value int }

// forward encodes the sink row out as the sink's key and value (none when deleted: a
// tombstone) and forwards the record.
func (w *writer) forward(ctx processor.Context[[]byte, []byte], out []any, ts time.Time, headers []processor.Header, deleted bool, sizes *recordSizes) error {
	var key []byte
	var err error
	if w.codecs.Key != nil {
		if key, err = w.codecs.Key.Encode(make([]byte, 0, sizes.key), out); err != nil {
			return err
		}
		sizes.key = max(sizes.key, len(key))
	}
	var value []byte
	if !deleted {
		if value, err = w.codecs.Value.Encode(make([]byte, 0, sizes.value), out); err != nil {
			return err
		}
		sizes.value = max(sizes.value, len(value))
	}
	return ctx.Forward(processor.Record[[]byte, []byte]{Key: key, Value: value, Timestamp: ts, Headers: headers})
}
