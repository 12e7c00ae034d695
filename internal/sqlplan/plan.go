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

// Job is a compiled INSERT: the topology to run, and the topics it reads and writes.
type Job struct {
	Topology *topology.Topology
	Sources  []string
	Sinks    []string
	// Bounded says the job runs in batch mode: over what its topics hold at start, then
	// it stops (eddy.Bounded).
	Bounded bool
	// Brokers and GroupID are the source table's properties.bootstrap.servers (split at
	// commas) and properties.group.id, for the runner: its brokers and application id
	// unless it is given its own.
	Brokers []string
	GroupID string
}

// jobOf is the job of a topology reading src and writing sink.
func jobOf(top *topology.Topology, src, sink *Table) *Job {
	j := &Job{Topology: top, Sources: []string{src.Options["topic"]}, Sinks: []string{sink.Options["topic"]}, GroupID: src.Options["properties.group.id"]}
	for _, b := range strings.Split(src.Options["properties.bootstrap.servers"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			j.Brokers = append(j.Brokers, b)
		}
	}
	return j
}

// PlanInsert compiles INSERT INTO sink SELECT … FROM source [WHERE …], a projection and a
// filter of one table, into a topology. Aggregations, windows and joins are not planned
// yet: they are an error that says so.
func (c *Catalog) PlanInsert(ins *sqlparse.Insert) (*Job, error) {
	sink, ok := c.tables[ins.Table]
	if !ok {
		return nil, errorAt(ins.At, "INSERT INTO %s: no such table (the tables: %s)", ins.Table, strings.Join(c.Tables(), ", "))
	}
	sel, ok := ins.Query.(*sqlparse.Select)
	if !ok {
		return nil, errorAt(ins.Query.Pos(), "UNION ALL is not planned yet")
	}
	switch {
	case sel.Having != nil:
		return nil, errorAt(sel.Having.Pos(), "HAVING is not planned yet")
	case sel.Distinct:
		return nil, errorAt(sel.At, "SELECT DISTINCT is not planned yet")
	}
	if w, ok := sel.From.(*sqlparse.WindowTVF); ok || len(sel.GroupBy) > 0 || hasAggregate(sel) {
		return c.planAggregate(ins, sel, sink, w)
	}
	ref, ok := sel.From.(*sqlparse.TableRef)
	if !ok || ref.AsOf != nil {
		return nil, errorAt(sel.From.Pos(), "only a table by name is planned in FROM so far (no joins, windows or subqueries yet)")
	}
	src, ok := c.tables[ref.Name]
	if !ok {
		return nil, errorAt(ref.At, "no table %s (the tables: %s)", ref.Name, strings.Join(c.Tables(), ", "))
	}
	scope := src.Scope(sqlparse.AliasOf(ref))
	where, err := compileWhere(sel, scope)
	if err != nil {
		return nil, err
	}
	items, names, err := projection(sel, scope)
	if err != nil {
		return nil, err
	}
	write, err := sinkWriter(sink, ins, items, names)
	if err != nil {
		return nil, err
	}
	read, err := c.reader(src)
	if err != nil {
		return nil, err
	}
	top := topology.New()
	rows := read.stream(top)
	out := topology.Process(rows, "SQL-"+strings.ToUpper(src.Name)+"-TO-"+strings.ToUpper(sink.Name), func() processor.Processor[[]any, []any, []byte, []byte] {
		return &selectProc{read: read, where: where, items: items, write: write}
	})
	topology.To(out, sink.Options["topic"], serde.Bytes(), serde.Bytes())
	return jobOf(top, src, sink), nil
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

// aggregates are the aggregate functions.
var aggregates = []string{"COUNT", "SUM", "MIN", "MAX", "AVG"}

// hasAggregate reports whether a SELECT item is an aggregate call.
func hasAggregate(sel *sqlparse.Select) bool {
	for _, it := range sel.Items {
		if call, ok := it.Expr.(*sqlparse.Call); ok && slices.Contains(aggregates, call.Name) {
			return true
		}
	}
	return false
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
				items = append(items, &Expr{Type: col.Type, Refs: []int{idx}, Eval: func(row []any) (any, error) { return row[idx], nil }})
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

func sinkWriter(sink *Table, ins *sqlparse.Insert, items []*Expr, names []string) (*writer, error) {
	w := &writer{sink: sink, timestamp: -1}
	var persisted []int
	for i, c := range sink.Columns {
		if c.Kind == Physical || c.Kind == Metadata && !c.Virtual {
			persisted = append(persisted, i)
		}
	}
	if len(items) != len(persisted) {
		var cols []string
		for _, i := range persisted {
			cols = append(cols, sink.Columns[i].Name)
		}
		return nil, errorAt(ins.Query.Pos(), "INSERT INTO %s: the query gives %d columns (%s), the table takes %d (%s)",
			sink.Name, len(items), strings.Join(names, ", "), len(persisted), strings.Join(cols, ", "))
	}
	for i, x := range items {
		col := sink.Columns[persisted[i]]
		if !widens(x.Type, col.Type) {
			return nil, errorAt(ins.Query.Pos(), "INSERT INTO %s: column %d (%s) is %s, the table's %s is %s: CAST it", sink.Name, i+1, names[i], x.Type.Kind, col.Name, col.Type.Kind)
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
}

func (c *Catalog) reader(t *Table) (*reader, error) {
	r := &reader{t: t, rowtime: -1, idle: t.IdleTimeout}
	if r.idle == 0 {
		r.idle = c.idleTimeout
	}
	var err error
	if r.codecs, err = t.Codecs(); err != nil {
		return nil, err
	}
	if w := t.Watermark; w != nil {
		r.rowtime = w.Column
		d, err := boundedDelay(w, t)
		if err != nil {
			return nil, err
		}
		// Flink's watermark is the expression's value, max(rowtime) - d; eddy's is the
		// highest time less the out-of-orderness less 1 ms: d - 1 ms gives Flink's.
		r.delay = max(d-time.Millisecond, 0)
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

// rowSerde decodes a record's key or value into a row of the table's width.
type rowSerde struct {
	codec RowCodec
	width int
}

func (s rowSerde) Decode(b []byte) ([]any, error) {
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

func (r *reader) stream(top *topology.Topology) topology.Stream[[]any, []any] {
	width := len(r.t.Columns)
	var opts []topology.Option
	if r.rowtime >= 0 {
		opts = append(opts, topology.Timestamps(func(key, value []any, recordTime time.Time) (time.Time, error) {
			row := r.merge(key, value, recordTime)
			if err := r.compute(row); err != nil {
				return time.Time{}, err
			}
			ts, _ := row[r.rowtime].(time.Time)
			if ts.IsZero() {
				return time.Time{}, fmt.Errorf("the rowtime column %s is NULL", r.t.Columns[r.rowtime].Name)
			}
			return ts, nil
		}), topology.OutOfOrderness(r.delay))
	}
	if r.idle > 0 {
		opts = append(opts, topology.IdleTimeout(r.idle))
	}
	return topology.From(top, r.t.Options["topic"], serde.Serde[[]any](rowSerde{r.codecs.Key, width}), serde.Serde[[]any](rowSerde{r.codecs.Value, width}), opts...)
}

// merge puts the key's columns into the value's row, and the record's timestamp into its
// 'timestamp' metadata column.
func (r *reader) merge(key, value []any, recordTime time.Time) []any {
	for i, c := range r.t.Columns {
		switch {
		case c.Kind == Physical && key[i] != nil:
			value[i] = key[i]
		case c.Kind == Metadata && c.MetadataKey == "timestamp":
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

// selectProc runs a projection and filter over rows and writes the sink's records.
type selectProc struct {
	ctx   processor.Context[[]byte, []byte]
	read  *reader
	where *Expr
	items []*Expr
	write *writer
	out   []any
}

func (p *selectProc) Init(ctx processor.Context[[]byte, []byte]) error {
	p.ctx = ctx
	p.out = make([]any, len(p.write.sink.Columns))
	return nil
}

func (p *selectProc) Close() error { return nil }

func (p *selectProc) Process(rec processor.Record[[]any, []any]) error {
	row, keep, err := p.read.prepare(rec, p.ctx, p.where)
	if err != nil || !keep {
		return err
	}
	clear(p.out)
	ts := rec.Timestamp
	for i, x := range p.items {
		v, err := x.Eval(row)
		if err != nil {
			return fmt.Errorf("SELECT column %d: %w", i+1, err)
		}
		if ts, err = p.write.set(p.out, i, v, ts); err != nil {
			return err
		}
	}
	return p.write.forward(p.ctx, p.out, ts, rec.Headers)
}

// prepare completes a source record's row — its key columns, metadata, computed
// columns — and reports whether it passes where (nil: all pass).
func (r *reader) prepare(rec processor.Record[[]any, []any], ctx interface {
	Metadata() (processor.Metadata, bool)
}, where *Expr) ([]any, bool, error) {
	row := rec.Value
	if r.rowtime < 0 {
		row = r.merge(rec.Key, row, rec.Timestamp)
	}
	if md, ok := ctx.Metadata(); ok {
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
	if r.rowtime < 0 || r.lateMeta {
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

// forward encodes the sink row out as the sink's key and value and forwards the record.
func (w *writer) forward(ctx processor.Context[[]byte, []byte], out []any, ts time.Time, headers []processor.Header) error {
	var key []byte
	var err error
	if w.codecs.Key != nil {
		if key, err = w.codecs.Key.Encode(nil, out); err != nil {
			return err
		}
	}
	value, err := w.codecs.Value.Encode(nil, out)
	if err != nil {
		return err
	}
	return ctx.Forward(processor.Record[[]byte, []byte]{Key: key, Value: value, Timestamp: ts, Headers: headers})
}
