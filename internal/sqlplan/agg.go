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

// aggFn is one aggregate of a query: its function, its argument (nil for COUNT(*)) as
// the slot of the pre-aggregation row, its accumulator's first slot, and its result type.
type aggFn struct {
	name   string
	cmp    func(a, b any) int // MIN and MAX: the argument's order
	arg    *Expr
	argAt  int
	accAt  int
	result Type
}

// outCol is where a result column comes from: a group key, an aggregate or the window.
type outCol struct {
	key, agg int    // indices, or -1
	window   string // window_start, window_end, window_time, or ""
}

// aggPlan is an aggregate query's shape.
type aggPlan struct {
	keys     []*Expr
	keyKinds []Kind
	aggs     []aggFn
	argKinds []Kind
	accKinds []Kind
	out      []outCol
}

var windowColumns = []string{"window_start", "window_end", "window_time"}

// planAggregate compiles INSERT INTO sink SELECT keys, aggregates FROM t [WHERE …]
// GROUP BY keys — an updating result, which only an upsert-kafka table takes — or the
// same over TABLE(TUMBLE|HOP(…)) grouped by window_start and window_end: one final row per
// window and key when the watermark passes the window's end, an append-only result.
func (c *Catalog) planAggregate(ins *sqlparse.Insert, sel *sqlparse.Select, sink *Table, win *sqlparse.WindowTVF) (*Job, error) {
	var srcName string
	var alias string
	switch f := sel.From.(type) {
	case *sqlparse.TableRef:
		if f.AsOf != nil {
			return nil, errorAt(f.At, "FOR SYSTEM_TIME AS OF is for a temporal join, which is not planned yet")
		}
		srcName, alias = f.Name, sqlparse.AliasOf(f)
	case *sqlparse.WindowTVF:
		srcName, alias = f.Table, f.Table
	default:
		return nil, errorAt(sel.From.Pos(), "only a table or a window function is planned in FROM so far (no joins or subqueries yet)")
	}
	src, ok := c.tables[srcName]
	if !ok {
		return nil, errorAt(sel.From.Pos(), "no table %s (the tables: %s)", srcName, strings.Join(c.Tables(), ", "))
	}
	scope := src.Scope(alias)
	var windows topology.Windows
	if win != nil {
		var err error
		if windows, err = windowsOf(win, src); err != nil {
			return nil, err
		}
	}
	where, err := compileWhere(sel, scope)
	if err != nil {
		return nil, err
	}
	p, names, err := aggShape(sel, scope, win != nil)
	if err != nil {
		return nil, err
	}
	if win == nil && sink.Connector != "upsert-kafka" {
		return nil, errorAt(ins.At, "Table sink '%s' doesn't support consuming update changes which is produced by node GroupAggregate: "+
			"a GROUP BY without a window updates its rows; write it to an 'upsert-kafka' table (with a PRIMARY KEY), or aggregate over a window", sink.Name)
	}
	items := make([]*Expr, len(p.out))
	for i, o := range p.out {
		switch {
		case o.key >= 0:
			items[i] = &Expr{Type: p.keys[o.key].Type}
		case o.agg >= 0:
			items[i] = &Expr{Type: p.aggs[o.agg].result}
		case o.window == "window_time":
			items[i] = &Expr{Type: Type{Kind: scope.Columns[src.Watermark.Column].Type.Kind, Precision: 3}}
		default:
			items[i] = &Expr{Type: Type{Kind: Timestamp, Precision: 3, NotNull: true}}
		}
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
	name := strings.ToUpper(src.Name) + "-TO-" + strings.ToUpper(sink.Name)
	pre := topology.Process(read.stream(top), "SQL-GROUP-"+name, func() processor.Processor[[]any, []any, []any, []any] {
		return &groupProc{read: read, where: where, plan: p}
	})
	grouped := topology.GroupByKey(pre, serde.Serde[[]any](binRow{p.keyKinds}), serde.Serde[[]any](binRow{p.argKinds}))
	accSerde := serde.Serde[[]any](binRow{p.accKinds})
	store := "sql-" + strings.ToLower(sink.Name) + "-agg"
	var out topology.Stream[[]byte, []byte]
	if win == nil {
		table := topology.Aggregate(grouped, p.init, p.add, accSerde, store)
		out = topology.Process(table.ToStream(), "SQL-EMIT-"+name, func() processor.Processor[[]any, []any, []byte, []byte] {
			return &emitProc{plan: p, write: write}
		})
	} else {
		results := topology.WindowedAggregate(topology.WindowBy(grouped, windows), p.init, p.add, accSerde, store)
		out = topology.Process(results, "SQL-EMIT-"+name, func() processor.Processor[topology.Windowed[[]any], []any, []byte, []byte] {
			return &windowEmitProc{emitProc{plan: p, write: write}}
		})
	}
	topology.To(out, sink.Options["topic"], serde.Bytes(), serde.Bytes())
	return jobOf(top, src, sink), nil
}

// windowsOf reads TUMBLE(…) or HOP(…): the time column must be the table's rowtime.
func windowsOf(w *sqlparse.WindowTVF, t *Table) (topology.Windows, error) {
	if t.Watermark == nil || t.Columns[t.Watermark.Column].Name != w.TimeCol {
		return topology.Windows{}, errorAt(w.At, "%s over DESCRIPTOR(%s): %s is not a time attribute of %s (a window needs the column of its WATERMARK)", w.Func, w.TimeCol, w.TimeCol, t.Name)
	}
	d := make([]time.Duration, len(w.Args))
	for i, a := range w.Args {
		iv, ok := a.(*sqlparse.Interval)
		if !ok {
			return topology.Windows{}, errorAt(a.Pos(), "%s: %s is not an INTERVAL", w.Func, a)
		}
		var err error
		if d[i], err = intervalOf(iv); err != nil {
			return topology.Windows{}, err
		}
	}
	switch w.Func {
	case "TUMBLE":
		return topology.TumblingWindows(d[0]), nil
	case "HOP":
		if d[1]%d[0] != 0 {
			return topology.Windows{}, errorAt(w.At, "HOP: the size %s must be a multiple of the slide %s", d[1], d[0])
		}
		return topology.HoppingWindows(d[1], d[0]), nil
	}
	return topology.Windows{}, errorAt(w.At, "%s windows are not planned yet (TUMBLE and HOP are)", w.Func)
}

// aggShape sorts the SELECT items into group keys, aggregates and window columns.
func aggShape(sel *sqlparse.Select, scope *Scope, windowed bool) (*aggPlan, []string, error) {
	p := &aggPlan{}
	var keyText []string
	sawWindow := map[string]bool{}
	for _, g := range sel.GroupBy {
		if id, ok := g.(*sqlparse.Ident); ok && windowed && slices.Contains(windowColumns, id.Parts[len(id.Parts)-1]) {
			sawWindow[id.Parts[len(id.Parts)-1]] = true
			continue
		}
		x, err := Compile(g, scope)
		if err != nil {
			return nil, nil, err
		}
		p.keys = append(p.keys, x)
		p.keyKinds = append(p.keyKinds, x.Type.Kind)
		keyText = append(keyText, g.String())
	}
	if windowed && (!sawWindow["window_start"] || !sawWindow["window_end"]) {
		return nil, nil, errorAt(sel.At, "a window aggregation groups by window_start and window_end")
	}
	var names []string
	for i, it := range sel.Items {
		if it.Star {
			return nil, nil, errorAt(sel.At, "SELECT * with GROUP BY: name the keys and the aggregates")
		}
		name := it.Alias
		o := outCol{key: -1, agg: -1}
		switch e := it.Expr.(type) {
		case *sqlparse.Ident:
			if last := e.Parts[len(e.Parts)-1]; windowed && slices.Contains(windowColumns, last) {
				o.window = last
				break
			}
			o.key = slices.Index(keyText, e.String())
			if o.key < 0 {
				return nil, nil, errorAt(e.At, "%s is neither grouped by nor aggregated: add it to GROUP BY, or aggregate it", e)
			}
		case *sqlparse.Call:
			if slices.Contains(aggregates, e.Name) {
				a, err := p.aggregate(e, scope)
				if err != nil {
					return nil, nil, err
				}
				o.agg = a
				break
			}
			o.key = slices.Index(keyText, e.String())
		default:
			o.key = slices.Index(keyText, e.String())
		}
		if o.key < 0 && o.agg < 0 && o.window == "" {
			return nil, nil, errorAt(it.Expr.Pos(), "%s is neither a GROUP BY expression nor an aggregate (an expression of aggregates is not planned yet)", it.Expr)
		}
		if name == "" {
			if id, ok := it.Expr.(*sqlparse.Ident); ok {
				name = id.Parts[len(id.Parts)-1]
			} else {
				name = fmt.Sprintf("EXPR$%d", i)
			}
		}
		p.out = append(p.out, o)
		names = append(names, name)
	}
	return p, names, nil
}

// aggregate adds COUNT, SUM, MIN, MAX or AVG and returns its index.
func (p *aggPlan) aggregate(e *sqlparse.Call, scope *Scope) (int, error) {
	if e.Distinct {
		return 0, errorAt(e.At, "%s(DISTINCT …) is not planned yet", e.Name)
	}
	a := aggFn{name: e.Name, argAt: -1, accAt: len(p.accKinds)}
	switch {
	case e.Star && e.Name != "COUNT":
		return 0, errorAt(e.At, "%s(*): only COUNT takes *", e.Name)
	case !e.Star && len(e.Args) != 1:
		return 0, errorAt(e.At, "%s takes one argument", e.Name)
	}
	if !e.Star {
		x, err := Compile(e.Args[0], scope)
		if err != nil {
			return 0, err
		}
		a.arg, a.argAt = x, len(p.argKinds)
		p.argKinds = append(p.argKinds, x.Type.Kind)
	}
	switch e.Name {
	case "COUNT":
		a.result = Type{Kind: BigInt, NotNull: true}
		p.accKinds = append(p.accKinds, BigInt)
	case "SUM", "AVG":
		if !a.arg.Type.numeric() {
			return 0, errorAt(e.At, "%s(%s): %s is not a number", e.Name, e.Args[0], a.arg.Type.Kind)
		}
		a.result = Type{Kind: a.arg.Type.Kind}
		sum := BigInt
		if a.arg.Type.Kind == Double {
			sum = Double
		}
		p.accKinds = append(p.accKinds, sum)
		if e.Name == "AVG" {
			p.accKinds = append(p.accKinds, BigInt)
		}
	default: // MIN, MAX
		var err error
		if a.cmp, err = comparer(a.arg.Type, a.arg.Type); err != nil {
			return 0, errorAt(e.At, "%s(%s): %s values do not compare", e.Name, e.Args[0], a.arg.Type.Kind)
		}
		a.result = Type{Kind: a.arg.Type.Kind, Precision: a.arg.Type.Precision}
		p.accKinds = append(p.accKinds, a.arg.Type.Kind)
	}
	p.aggs = append(p.aggs, a)
	return len(p.aggs) - 1, nil
}

// init is a new accumulator: counts at 0, the rest NULL.
func (p *aggPlan) init() []any {
	acc := make([]any, len(p.accKinds))
	for _, a := range p.aggs {
		switch a.name {
		case "COUNT":
			acc[a.accAt] = int64(0)
		case "AVG":
			acc[a.accAt+1] = int64(0) // the count; the sum starts NULL
		}
	}
	return acc
}

// add folds one row's aggregate arguments into the accumulator.
func (p *aggPlan) add(_ []any, args []any, acc []any) []any {
	for _, a := range p.aggs {
		var x any
		if a.argAt >= 0 {
			x = args[a.argAt]
		}
		switch a.name {
		case "COUNT":
			if a.argAt < 0 || x != nil {
				acc[a.accAt] = acc[a.accAt].(int64) + 1
			}
		case "SUM", "AVG":
			if x == nil {
				continue
			}
			if p.accKinds[a.accAt] == Double {
				s, _ := acc[a.accAt].(float64)
				acc[a.accAt] = s + asFloat(x)
			} else {
				s, _ := acc[a.accAt].(int64)
				acc[a.accAt] = s + asInt(x)
			}
			if a.name == "AVG" {
				acc[a.accAt+1] = acc[a.accAt+1].(int64) + 1
			}
		default:
			if x == nil {
				continue
			}
			switch cur := acc[a.accAt]; {
			case cur == nil, a.name == "MIN" && a.cmp(x, cur) < 0, a.name == "MAX" && a.cmp(x, cur) > 0:
				acc[a.accAt] = x
			}
		}
	}
	return acc
}

// result is aggregate a's value from the accumulator, of its result type.
func (p *aggPlan) result(a aggFn, acc []any) any {
	v := acc[a.accAt]
	switch a.name {
	case "COUNT":
		return v
	case "AVG":
		n := acc[a.accAt+1].(int64)
		if n == 0 {
			return nil
		}
		if f, ok := v.(float64); ok {
			return f / float64(n)
		}
		return ofKind(a.result.Kind, v.(int64)/n) // an integer average is an integer, as Flink's
	case "SUM":
		if i, ok := v.(int64); ok {
			return ofKind(a.result.Kind, i)
		}
	}
	return v
}

// groupProc computes each row's group key and aggregate arguments.
type groupProc struct {
	ctx   processor.Context[[]any, []any]
	read  *reader
	where *Expr
	plan  *aggPlan
}

func (g *groupProc) Init(ctx processor.Context[[]any, []any]) error { g.ctx = ctx; return nil }
func (g *groupProc) Close() error                                   { return nil }

func (g *groupProc) Process(rec processor.Record[[]any, []any]) error {
	row, keep, err := g.read.prepare(rec, g.ctx, g.where)
	if err != nil || !keep {
		return err
	}
	key := make([]any, len(g.plan.keys))
	for i, k := range g.plan.keys {
		if key[i], err = k.Eval(row); err != nil {
			return fmt.Errorf("GROUP BY %d: %w", i+1, err)
		}
	}
	args := make([]any, len(g.plan.argKinds))
	for _, a := range g.plan.aggs {
		if a.argAt >= 0 {
			if args[a.argAt], err = a.arg.Eval(row); err != nil {
				return fmt.Errorf("%s: %w", a.name, err)
			}
		}
	}
	return g.ctx.Forward(processor.Record[[]any, []any]{Key: key, Value: args, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// emitProc writes each updated aggregate as the sink's row.
type emitProc struct {
	ctx   processor.Context[[]byte, []byte]
	plan  *aggPlan
	write *writer
	out   []any
}

func (e *emitProc) Init(ctx processor.Context[[]byte, []byte]) error {
	e.ctx, e.out = ctx, make([]any, len(e.write.sink.Columns))
	return nil
}
func (e *emitProc) Close() error { return nil }

func (e *emitProc) Process(rec processor.Record[[]any, []any]) error {
	return e.emit(rec.Key, rec.Value, time.Time{}, time.Time{}, rec.Timestamp)
}

func (e *emitProc) emit(key, acc []any, start, end, ts time.Time) error {
	clear(e.out)
	var err error
	for i, o := range e.plan.out {
		var v any
		switch {
		case o.key >= 0:
			v = key[o.key]
		case o.agg >= 0:
			v = e.plan.result(e.plan.aggs[o.agg], acc)
		case o.window == "window_start":
			v = start
		case o.window == "window_end":
			v = end
		default:
			v = end.Add(-time.Millisecond)
		}
		if ts, err = e.write.set(e.out, i, v, ts); err != nil {
			return err
		}
	}
	return e.write.forward(e.ctx, e.out, ts, nil)
}

// windowEmitProc writes each window's final aggregate.
type windowEmitProc struct{ emitProc }

func (w *windowEmitProc) Process(rec processor.Record[topology.Windowed[[]any], []any]) error {
	return w.emit(rec.Key.Key, rec.Value, rec.Key.Start.UTC(), rec.Key.End.UTC(), rec.Timestamp)
}
