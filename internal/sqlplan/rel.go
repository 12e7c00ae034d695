package sqlplan

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// RowKind is what a change does to a query's result, as Flink's RowKind: +I inserts a row,
// -U retracts a row an update replaces, +U is the row that replaces it, -D deletes a row.
type RowKind uint8

// The row kinds.
const (
	Insert RowKind = iota
	UpdateBefore
	UpdateAfter
	Delete
)

var rowKindNames = [...]string{"+I", "-U", "+U", "-D"}

func (k RowKind) String() string { return rowKindNames[k] }

// retracts reports whether the kind takes a row away (-U, -D).
func (k RowKind) retracts() bool { return k == UpdateBefore || k == Delete }

// Change is one row of a changelog: its kind and its values.
type Change struct {
	Kind RowKind
	Row  []any
}

// changeSerde is a Change in a repartition topic: the kind's byte, then the row.
type changeSerde struct{ row binRow }

func (s changeSerde) AppendEncode(dst []byte, c Change) ([]byte, error) {
	return s.row.AppendEncode(append(dst, byte(c.Kind)), c.Row)
}

func (s changeSerde) Decode(b []byte) (Change, error) {
	if len(b) == 0 || b[0] > byte(Delete) {
		return Change{}, errShortRow
	}
	row, err := s.row.Decode(b[1:])
	return Change{Kind: RowKind(b[0]), Row: row}, err
}

// rel is a planned relation: a stream of changes and the columns of its rows.
type rel struct {
	scope *Scope
	s     topology.Stream[[]any, Change]
	// updating says the stream has -U, +U or -D changes, not only +I; producer names the
	// node that makes them, as Flink's planner names it in its errors.
	updating bool
	producer string
	// rowtime is the column that is the rows' event time (each record's timestamp is its
	// value), or -1.
	rowtime int
	// keyCols are columns whose equal values put rows in the same task: a raw-keyed
	// table's key column (Kafka partitions by the key's bytes), an aggregation's group
	// keys. nil: none known. An aggregation by a superset of them needs no repartition.
	keyCols []int
}

func (r *rel) kinds() []Kind {
	k := make([]Kind, len(r.scope.Columns))
	for i, c := range r.scope.Columns {
		k[i] = c.Type.Kind
	}
	return k
}

func (r *rel) names() []string {
	n := make([]string, len(r.scope.Columns))
	for i, c := range r.scope.Columns {
		n[i] = c.Name
	}
	return n
}

func (r *rel) types() []Type {
	t := make([]Type, len(r.scope.Columns))
	for i, c := range r.scope.Columns {
		t[i] = c.Type
	}
	return t
}

// planner compiles the statements of one job into one topology.
type planner struct {
	c     *Catalog
	top   *topology.Topology
	batch bool
	n     int
	scans map[string]*rel
	job   *Job
	nonce string // the job's datagen topics' suffix
	// names are the column names the job's queries name (allNames: a * reads every
	// column): a table's other columns are not decoded.
	names    map[string]bool
	allNames bool
}

func (c *Catalog) newPlanner(batch bool) *planner {
	return &planner{c: c, top: topology.New(), batch: batch, scans: map[string]*rel{}, job: &Job{Bounded: batch}, nonce: nonce()}
}

// see notes the column names q reads, for columnsRead.
func (p *planner) see(q sqlparse.Query) {
	if p.names == nil {
		p.names = map[string]bool{}
	}
	expr := func(e sqlparse.Expr) {
		walk(e, func(x sqlparse.Expr) bool {
			if id, ok := x.(*sqlparse.Ident); ok {
				p.names[id.Parts[len(id.Parts)-1]] = true
			}
			return true
		})
	}
	var from func(f sqlparse.From)
	from = func(f sqlparse.From) {
		switch f := f.(type) {
		case *sqlparse.SubqueryFrom:
			p.see(f.Query)
		case *sqlparse.WindowTVF:
			// The time column is not read: windows go by the records' event time.
			for _, c := range f.PartitionBy {
				p.names[c] = true
			}
		case *sqlparse.Join:
			from(f.Left)
			from(f.Right)
			expr(f.On)
		case *sqlparse.TableRef:
			expr(f.AsOf)
		}
	}
	switch q := q.(type) {
	case *sqlparse.Union:
		p.see(q.Left)
		p.see(q.Right)
	case *sqlparse.Select:
		for _, it := range q.Items {
			if it.Star {
				p.allNames = true
			}
			expr(it.Expr)
		}
		for _, e := range append([]sqlparse.Expr{q.Where, q.Having}, q.GroupBy...) {
			expr(e)
		}
		from(q.From)
	}
}

// columnsRead says which of t's columns the job reads: those its queries name, those the
// computed columns, the watermark and the primary key need (nil: all of them).
func (p *planner) columnsRead(t *Table) []bool {
	if p.allNames || p.names == nil {
		return nil
	}
	read := make([]bool, len(t.Columns))
	var need func(i int)
	need = func(i int) {
		if read[i] {
			return
		}
		read[i] = true
		if e := t.Columns[i].Expr; e != nil {
			for _, r := range e.Refs {
				need(r)
			}
		}
	}
	for i, c := range t.Columns {
		if p.names[c.Name] {
			need(i)
		}
	}
	if w := t.Watermark; w != nil && t.Columns[w.Column].MetadataKey != "timestamp" {
		need(w.Column) // the extractor computes the rowtime from the row
		for _, r := range w.Expr.Refs {
			need(r)
		}
	}
	for _, k := range t.PrimaryKey {
		need(k)
	}
	return read
}

// name is the next operator's name: SQL-<what>-<n>, numbered in planning order, so that
// the same statements give the same names (and stores, and internal topics) each time.
func (p *planner) name(what string) string {
	p.n++
	return "SQL-" + what + "-" + strconv.Itoa(p.n)
}

func (p *planner) table(name string, at sqlparse.Pos) (*Table, error) {
	t, ok := p.c.tables[name]
	if !ok {
		return nil, errorAt(at, "no table %s (the tables: %s)", name, strings.Join(p.c.Tables(), ", "))
	}
	return t, nil
}

// query plans a SELECT or a UNION ALL.
func (p *planner) query(q sqlparse.Query) (*rel, error) {
	switch q := q.(type) {
	case *sqlparse.Select:
		return p.selectQuery(q)
	case *sqlparse.Union:
		return p.union(q)
	}
	return nil, errorAt(q.Pos(), "%s is not supported", q)
}

// selectQuery plans SELECT … FROM … [WHERE …] [GROUP BY …] [HAVING …].
func (p *planner) selectQuery(sel *sqlparse.Select) (*rel, error) {
	in, win, err := p.from(sel.From)
	if err != nil {
		return nil, err
	}
	where, err := compileWhere(sel, in.scope)
	if err != nil {
		return nil, err
	}
	if len(sel.GroupBy) > 0 || sel.Distinct || sel.Having != nil || hasAggregate(sel) {
		return p.aggregate(in, sel, where, win)
	}
	if win != nil {
		if in, err = p.windowColumns(in, win); err != nil {
			return nil, err
		}
		if where, err = compileWhere(sel, in.scope); err != nil {
			return nil, err
		}
	}
	items, names, err := projection(sel, in.scope)
	if err != nil {
		return nil, err
	}
	return p.calc(in, where, items, names), nil
}

// from plans a FROM item; a window function gives its table and the window.
func (p *planner) from(f sqlparse.From) (*rel, *sqlparse.WindowTVF, error) {
	switch f := f.(type) {
	case *sqlparse.TableRef:
		if f.AsOf != nil {
			return nil, nil, errorAt(f.At, "FOR SYSTEM_TIME AS OF is for a temporal join, which is not supported yet")
		}
		t, err := p.table(f.Name, f.At)
		if err != nil {
			return nil, nil, err
		}
		r, err := p.scan(t)
		if err != nil {
			return nil, nil, err
		}
		return requalify(r, sqlparse.AliasOf(f)), nil, nil
	case *sqlparse.SubqueryFrom:
		r, err := p.query(f.Query)
		if err != nil {
			return nil, nil, err
		}
		return requalify(r, f.Alias), nil, nil
	case *sqlparse.WindowTVF:
		t, err := p.table(f.Table, f.At)
		if err != nil {
			return nil, nil, err
		}
		r, err := p.scan(t)
		if err != nil {
			return nil, nil, err
		}
		alias := f.Alias
		if alias == "" {
			alias = f.Table
		}
		return requalify(r, alias), f, nil
	case *sqlparse.Join:
		r, err := p.join(f)
		return r, nil, err
	}
	return nil, nil, errorAt(f.Pos(), "%s is not supported in FROM", f)
}

// requalify is r with its columns known by the table name alias.
func requalify(r *rel, alias string) *rel {
	s := &Scope{Columns: slices.Clone(r.scope.Columns)}
	for i := range s.Columns {
		s.Columns[i].Table = alias
	}
	out := *r
	out.scope = s
	return &out
}

// calc filters a relation's rows and computes new ones from them; a change keeps its
// kind. items nil keeps the rows as they are.
func (p *planner) calc(in *rel, where *Expr, items []*Expr, names []string) *rel {
	out, fn := project(in, where, items, names)
	if fn == nil {
		return in
	}
	out.s = topology.Process(in.s, p.name("CALC"), func() processor.Processor[[]any, Change, []any, Change] {
		return &calcProc{fn: fn}
	})
	return out
}

// project is the relation (without its stream) of in's rows filtered by where and made
// into items, and the function that does it to a row (nil when it does nothing).
func project(in *rel, where *Expr, items []*Expr, names []string) (*rel, *rowFn) {
	if items == nil && where == nil {
		return in, nil
	}
	out := &rel{updating: in.updating, producer: in.producer, rowtime: -1}
	if items == nil {
		out.scope, out.rowtime, out.keyCols = in.scope, in.rowtime, in.keyCols
	} else {
		out.scope = &Scope{}
		kept := map[int]int{} // input column → output column, for plain references
		for i, x := range items {
			out.scope.Columns = append(out.scope.Columns, Column{Name: names[i], Type: x.Type, Index: i})
			if c := x.columnRef(); c >= 0 {
				if _, ok := kept[c]; !ok {
					kept[c] = i
				}
			}
		}
		if c, ok := kept[in.rowtime]; ok && in.rowtime >= 0 {
			out.rowtime = c
		}
		for _, k := range in.keyCols {
			c, ok := kept[k]
			if !ok {
				out.keyCols = nil
				break
			}
			out.keyCols = append(out.keyCols, c)
		}
	}
	return out, &rowFn{where: where, items: items}
}

// rowFn is a filter and a projection of rows.
type rowFn struct {
	where  *Expr
	items  []*Expr
	filter string // what where is, in errors: WHERE (""), HAVING
}

// apply is row's new row, or keep false when the filter drops it. A nil rowFn keeps
// every row as it is.
func (f *rowFn) apply(row []any) (out []any, keep bool, err error) {
	if f == nil {
		return row, true, nil
	}
	if f.where != nil {
		keep, err := f.where.Eval(row)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", cmp.Or(f.filter, "WHERE"), err)
		}
		if keep != true {
			return nil, false, nil
		}
	}
	if f.items == nil {
		return row, true, nil
	}
	out = make([]any, len(f.items))
	for i, x := range f.items {
		if out[i], err = x.Eval(row); err != nil {
			return nil, false, fmt.Errorf("SELECT column %d: %w", i+1, err)
		}
	}
	return out, true, nil
}

// calcProc runs a filter and a projection.
type calcProc struct {
	ctx processor.Context[[]any, Change]
	fn  *rowFn
}

func (c *calcProc) Init(ctx processor.Context[[]any, Change]) error { c.ctx = ctx; return nil }
func (c *calcProc) Close() error                                    { return nil }

func (c *calcProc) Process(rec processor.Record[[]any, Change]) error {
	row, keep, err := c.fn.apply(rec.Value.Row)
	if err != nil || !keep {
		return err
	}
	return c.ctx.Forward(processor.Record[[]any, Change]{Key: rec.Key, Value: Change{rec.Value.Kind, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// union plans left UNION ALL right: the rows of both, of the left's column names, each
// column of the type both sides' widen to.
func (p *planner) union(u *sqlparse.Union) (*rel, error) {
	l, err := p.query(u.Left)
	if err != nil {
		return nil, err
	}
	r, err := p.query(u.Right)
	if err != nil {
		return nil, err
	}
	if len(l.scope.Columns) != len(r.scope.Columns) {
		return nil, errorAt(u.At, "UNION ALL of %d columns (%s) and %d (%s)", len(l.scope.Columns), strings.Join(l.names(), ", "),
			len(r.scope.Columns), strings.Join(r.names(), ", "))
	}
	out := &rel{scope: &Scope{}, updating: l.updating || r.updating, producer: cmp.Or(l.producer, r.producer), rowtime: -1}
	var lconv, rconv bool
	for i, lc := range l.scope.Columns {
		rc := r.scope.Columns[i]
		t := lc.Type
		switch {
		case widens(rc.Type, lc.Type):
		case widens(lc.Type, rc.Type):
			t = rc.Type
		default:
			return nil, errorAt(u.At, "UNION ALL: column %d (%s) is %s on the left and %s on the right", i+1, lc.Name, lc.Type.Kind, rc.Type.Kind)
		}
		t.NotNull = lc.Type.NotNull && rc.Type.NotNull
		lconv = lconv || lc.Type.Kind != t.Kind
		rconv = rconv || rc.Type.Kind != t.Kind
		out.scope.Columns = append(out.scope.Columns, Column{Name: lc.Name, Type: t, Index: i})
	}
	if l.rowtime >= 0 && l.rowtime == r.rowtime {
		out.rowtime = l.rowtime
	}
	ls, rs := p.converted(l, out, lconv), p.converted(r, out, rconv)
	out.s = ls.MergeNamed(p.name("UNION"), rs)
	return out, nil
}

// converted is in's stream with its values converted to the kinds of to's columns.
func (p *planner) converted(in, to *rel, needed bool) topology.Stream[[]any, Change] {
	if !needed {
		return in.s
	}
	items := make([]*Expr, len(to.scope.Columns))
	for i, c := range to.scope.Columns {
		i, k := i, c.Type.Kind
		items[i] = &Expr{Type: c.Type, Eval: func(row []any) (any, error) { return convert(row[i], k), nil }}
	}
	return p.calc(in, nil, items, to.names()).s
}

// windowColumns adds a window function's window_start, window_end and window_time to each
// row of its table (a row in several hopping windows is there once for each).
func (p *planner) windowColumns(in *rel, w *sqlparse.WindowTVF) (*rel, error) {
	t := p.c.tables[w.Table]
	windows, err := windowOf(w, t)
	if err != nil {
		return nil, err
	}
	if windows.gap > 0 || windows.cumulate {
		return nil, errorAt(w.At, "%s without an aggregation is not supported yet: GROUP BY window_start, window_end", w.Func)
	}
	out := &rel{scope: &Scope{Columns: slices.Clone(in.scope.Columns)}, rowtime: -1}
	alias := in.scope.Columns[0].Table
	for _, n := range windowColumns {
		typ := Type{Kind: Timestamp, Precision: 3, NotNull: true}
		if n == "window_time" {
			typ.Kind = t.Columns[t.Watermark.Column].Type.Kind
			out.rowtime = len(out.scope.Columns)
		}
		out.scope.Columns = append(out.scope.Columns, Column{Table: alias, Name: n, Type: typ, Index: len(out.scope.Columns)})
	}
	out.s = topology.Process(in.s, p.name("WINDOW"), func() processor.Processor[[]any, Change, []any, Change] {
		return &windowColumnsProc{windows: windows}
	})
	return out, nil
}

// windowColumnsProc gives each row the windows its time falls in.
type windowColumnsProc struct {
	ctx     processor.Context[[]any, Change]
	windows window
}

func (w *windowColumnsProc) Init(ctx processor.Context[[]any, Change]) error { w.ctx = ctx; return nil }
func (w *windowColumnsProc) Close() error                                    { return nil }

func (w *windowColumnsProc) Process(rec processor.Record[[]any, Change]) error {
	for _, start := range w.windows.starts(rec.Timestamp) {
		end := start.Add(w.windows.size)
		row := append(slices.Clip(rec.Value.Row), start.UTC(), end.UTC(), end.Add(-time.Millisecond).UTC())
		at := end.Add(-time.Millisecond)
		if err := w.ctx.Forward(processor.Record[[]any, Change]{Value: Change{rec.Value.Kind, row}, Timestamp: at, Headers: rec.Headers}); err != nil {
			return err
		}
	}
	return nil
}

// insert plans INSERT INTO sink query into the job.
func (p *planner) insert(ins *sqlparse.Insert) error {
	sink, ok := p.c.tables[ins.Table]
	if !ok {
		return errorAt(ins.At, "INSERT INTO %s: no such table (the tables: %s)", ins.Table, strings.Join(p.c.Tables(), ", "))
	}
	if sink.Connector == "datagen" {
		return errorAt(ins.At, "INSERT INTO %s: a datagen table is only read", ins.Table)
	}
	out, err := p.query(ins.Query)
	if err != nil {
		return err
	}
	if out.updating && sink.Connector != "upsert-kafka" {
		return errorAt(ins.At, "Table sink '%s' doesn't support consuming update changes which is produced by node %s: "+
			"the query's result updates its rows; write it to an 'upsert-kafka' table (with a PRIMARY KEY), or aggregate over a window", sink.Name, out.producer)
	}
	write, err := sinkWriter(sink, ins, out.types(), out.names())
	if err != nil {
		return err
	}
	s := topology.Process(out.s, "SQL-SINK-"+strings.ToUpper(sink.Name), func() processor.Processor[[]any, Change, []byte, []byte] {
		return &sinkProc{write: write}
	})
	var opts []topology.Option
	switch sink.Options["sink.partitioner"] {
	case "fixed": // each task writes one partition, Flink's each parallel instance
		opts = append(opts, topology.PartitionByTask())
	case "round-robin":
		opts = append(opts, topology.SpreadRoundRobin())
	}
	topology.To(s, sink.Options["topic"], serde.Bytes(), serde.Bytes(), opts...)
	p.job.Sinks = append(p.job.Sinks, sink.Options["topic"])
	return nil
}

// sinkProc writes a relation's changes to a table's topic: every row of an append-only
// result to a kafka table; to an upsert-kafka table, +I and +U as the key's value, -D as
// its tombstone, -U not at all (the +U after it replaces the row).
type sinkProc struct {
	ctx   processor.Context[[]byte, []byte]
	write *writer
	out   []any
	sizes recordSizes
}

func (s *sinkProc) Init(ctx processor.Context[[]byte, []byte]) error {
	s.ctx, s.out = ctx, make([]any, len(s.write.sink.Columns))
	return nil
}

func (s *sinkProc) Close() error { return nil }

func (s *sinkProc) Process(rec processor.Record[[]any, Change]) error {
	if rec.Value.Kind == UpdateBefore {
		return nil
	}
	clear(s.out)
	ts := rec.Timestamp
	var err error
	for i, v := range rec.Value.Row {
		if ts, err = s.write.set(s.out, i, v, ts); err != nil {
			return err
		}
	}
	return s.write.forward(s.ctx, s.out, ts, rec.Headers, rec.Value.Kind == Delete, &s.sizes)
}

// collect ends a query's relation at the job's result function (the shell's, a SELECT's).
func (p *planner) collect(out *rel) {
	j := p.job
	j.Columns, j.Types, j.Updating = out.names(), out.types(), out.updating
	j.results = new(func(Change))
	f := j.results
	out.s.ForEach(func(_ []any, c Change) {
		if *f != nil {
			(*f)(c)
		}
	}, topology.Named(p.name("COLLECT")))
}

// equalValues reports whether two values of a row are the same.
func equalValues(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	}
	return a == b
}

// FormatValue writes a result value as the shell shows it: as CAST(… AS STRING) writes
// it, and NULL as <NULL>.
func FormatValue(v any) string {
	if v == nil {
		return "<NULL>"
	}
	return formatValue(v)
}

// String writes the change as Flink prints a row: +I[a, 1].
func (c Change) String() string {
	var b strings.Builder
	b.WriteString(c.Kind.String())
	b.WriteByte('[')
	for i, v := range c.Row {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(FormatValue(v))
	}
	b.WriteByte(']')
	return b.String()
}
