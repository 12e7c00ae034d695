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

// aggregates are the aggregate functions.
var aggregates = []string{"COUNT", "SUM", "MIN", "MAX", "AVG"}

func isAggregate(e sqlparse.Expr) bool {
	c, ok := e.(*sqlparse.Call)
	return ok && slices.Contains(aggregates, c.Name)
}

// aggregateCalls are the aggregate calls in e, outermost first.
func aggregateCalls(e sqlparse.Expr, out []*sqlparse.Call) []*sqlparse.Call {
	walk(e, func(x sqlparse.Expr) bool {
		if isAggregate(x) {
			out = append(out, x.(*sqlparse.Call))
			return false
		}
		return true
	})
	return out
}

// walk calls fn on e and, while fn returns true, on the expressions in it.
func walk(e sqlparse.Expr, fn func(sqlparse.Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch e := e.(type) {
	case *sqlparse.Binary:
		walk(e.L, fn)
		walk(e.R, fn)
	case *sqlparse.Unary:
		walk(e.X, fn)
	case *sqlparse.Call:
		for _, a := range e.Args {
			walk(a, fn)
		}
	case *sqlparse.Case:
		walk(e.Operand, fn)
		for _, w := range e.Whens {
			walk(w.Cond, fn)
			walk(w.Result, fn)
		}
		walk(e.Else, fn)
	case *sqlparse.Cast:
		walk(e.X, fn)
	case *sqlparse.Between:
		walk(e.X, fn)
		walk(e.Lo, fn)
		walk(e.Hi, fn)
	case *sqlparse.IsNull:
		walk(e.X, fn)
	case *sqlparse.In:
		walk(e.X, fn)
		for _, x := range e.List {
			walk(x, fn)
		}
	case *sqlparse.Like:
		walk(e.X, fn)
		walk(e.Pattern, fn)
	case *sqlparse.TimeUnitCall:
		walk(e.X, fn)
	}
}

// hasAggregate reports whether the SELECT list or HAVING calls an aggregate.
func hasAggregate(sel *sqlparse.Select) bool {
	var calls []*sqlparse.Call
	for _, it := range sel.Items {
		calls = aggregateCalls(it.Expr, calls)
	}
	return len(aggregateCalls(sel.Having, calls)) > 0
}

// aggFn is one aggregate of a query: its function, its argument (nil for COUNT(*)) as
// the slot of the pre-aggregation row, its accumulator's first slot, and its result type.
// A DISTINCT aggregate sees each distinct argument once per group: a count per value,
// kept beside the accumulators, says when a value comes and goes.
type aggFn struct {
	name     string
	distinct bool
	cmp      func(a, b any) int // MIN and MAX: the argument's order
	// keepValues: MIN or MAX over an updating input, which keeps a count of each of the
	// group's values to find the next extreme when the current one is retracted.
	keepValues bool
	arg        *Expr
	argAt      int
	accAt      int
	result     Type
}

// aggPlan is an aggregation's shape: its group keys, its aggregates and the layouts of
// the rows between them.
type aggPlan struct {
	keys     []*Expr
	keyKinds []Kind
	aggs     []aggFn
	argKinds []Kind
	accKinds []Kind
}

// windowColumns are the columns a window function adds.
var windowColumns = []string{"window_start", "window_end", "window_time"}

// window is a window function's windows: TUMBLE's (slide = size), HOP's, or SESSION's
// (gap > 0: a key's rows at most gap apart, a window ending gap after its last row).
type window struct {
	size, slide, gap time.Duration
	cumulate         bool // CUMULATE: windows from each multiple of size, ending every slide
}

func (w window) topology() topology.Windows {
	if w.slide == w.size {
		return topology.TumblingWindows(w.size)
	}
	return topology.HoppingWindows(w.size, w.slide)
}

// starts are the starts of the windows t falls in, latest first.
func (w window) starts(t time.Time) []time.Time {
	ms, size, slide := t.UnixMilli(), w.size.Milliseconds(), w.slide.Milliseconds()
	last := ms - ((ms%slide)+slide)%slide
	var out []time.Time
	for s := last; s > ms-size; s -= slide {
		out = append(out, time.UnixMilli(s))
	}
	return out
}

// windowOf reads TUMBLE(…) or HOP(…): the time column must be the table's rowtime.
func windowOf(w *sqlparse.WindowTVF, t *Table) (window, error) {
	if t.Watermark == nil || t.Columns[t.Watermark.Column].Name != w.TimeCol {
		return window{}, errorAt(w.At, "%s over DESCRIPTOR(%s): %s is not a time attribute of %s (a window needs the column of its WATERMARK)", w.Func, w.TimeCol, w.TimeCol, t.Name)
	}
	d := make([]time.Duration, len(w.Args))
	for i, a := range w.Args {
		iv, ok := a.(*sqlparse.Interval)
		if !ok {
			return window{}, errorAt(a.Pos(), "%s: %s is not an INTERVAL", w.Func, a)
		}
		var err error
		if d[i], err = intervalOf(iv); err != nil {
			return window{}, err
		}
		if d[i] <= 0 || d[i]%time.Millisecond != 0 {
			return window{}, errorAt(a.Pos(), "%s: %s is not a positive whole number of milliseconds", w.Func, a)
		}
	}
	switch w.Func {
	case "TUMBLE":
		return window{size: d[0], slide: d[0]}, nil
	case "HOP":
		if d[1]%d[0] != 0 {
			return window{}, errorAt(w.At, "HOP: the size %s must be a multiple of the slide %s", d[1], d[0])
		}
		return window{size: d[1], slide: d[0]}, nil
	case "SESSION":
		return window{gap: d[0]}, nil
	case "CUMULATE":
		if d[1]%d[0] != 0 {
			return window{}, errorAt(w.At, "CUMULATE: the size %s must be a multiple of the step %s", d[1], d[0])
		}
		return window{size: d[1], slide: d[0], cumulate: true}, nil
	}
	return window{}, errorAt(w.At, "%s windows are not supported yet (TUMBLE, HOP, CUMULATE and SESSION are)", w.Func)
}

// aggregate plans a SELECT that groups — GROUP BY, aggregates, DISTINCT — over in (rows
// that pass where): a regular aggregation, whose result updates, or over a window
// function's windows, grouped by window_start and window_end, whose result is one final
// row per window and key once the watermark passes its end.
func (p *planner) aggregate(in *rel, sel *sqlparse.Select, where *Expr, win *sqlparse.WindowTVF) (*rel, error) {
	if sel.Distinct && (len(sel.GroupBy) > 0 || hasAggregate(sel)) {
		return nil, errorAt(sel.At, "SELECT DISTINCT with GROUP BY or aggregates is not supported: write the grouping in a subquery")
	}
	groupBy := sel.GroupBy
	if sel.Distinct {
		for _, it := range sel.Items {
			if it.Star {
				return nil, errorAt(sel.At, "SELECT DISTINCT *: name the columns")
			}
			groupBy = append(groupBy, it.Expr)
		}
	}
	plan := &aggPlan{}
	post := &Scope{Exprs: map[string]int{}, Inner: in.scope}
	sawWindow := map[string]bool{}
	var keyText []string
	for _, g := range groupBy {
		if id, ok := g.(*sqlparse.Ident); ok && win != nil && slices.Contains(windowColumns, id.Parts[len(id.Parts)-1]) {
			sawWindow[id.Parts[len(id.Parts)-1]] = true
			continue
		}
		if slices.Contains(keyText, g.String()) {
			continue
		}
		x, err := Compile(g, in.scope)
		if err != nil {
			return nil, err
		}
		col := Column{Name: fmt.Sprintf("$key%d", len(plan.keys)), Type: x.Type, Index: len(post.Columns)}
		if id, ok := g.(*sqlparse.Ident); ok {
			c, _ := in.scope.lookup(id)
			col.Table, col.Name = c.Table, c.Name
		}
		post.Exprs[g.String()] = len(post.Columns)
		post.Columns = append(post.Columns, col)
		keyText = append(keyText, g.String())
		plan.keys = append(plan.keys, x)
		plan.keyKinds = append(plan.keyKinds, x.Type.Kind)
	}
	if win != nil {
		for _, c := range win.PartitionBy {
			if !slices.ContainsFunc(groupBy, func(g sqlparse.Expr) bool {
				id, ok := g.(*sqlparse.Ident)
				return ok && id.Parts[len(id.Parts)-1] == c
			}) {
				return nil, errorAt(win.At, "SESSION … PARTITION BY %s: a session window aggregation groups by its partition columns too: add %s to GROUP BY", c, c)
			}
		}
	}
	if win != nil && (!sawWindow["window_start"] || !sawWindow["window_end"]) {
		return nil, errorAt(sel.At, "a window aggregation groups by window_start and window_end")
	}
	var calls []*sqlparse.Call
	for _, it := range sel.Items {
		if it.Star {
			return nil, errorAt(sel.At, "SELECT * with GROUP BY: name the keys and the aggregates")
		}
		calls = aggregateCalls(it.Expr, calls)
	}
	calls = aggregateCalls(sel.Having, calls)
	for _, call := range calls {
		if _, ok := post.Exprs[call.String()]; ok {
			continue
		}
		if err := plan.aggregate(call, in); err != nil {
			return nil, err
		}
		a := plan.aggs[len(plan.aggs)-1]
		if a.distinct && win != nil && win.Func == "SESSION" {
			return nil, errorAt(call.At, "%s: DISTINCT in a SESSION window aggregation is not supported yet", call)
		}
		post.Exprs[call.String()] = len(post.Columns)
		post.Columns = append(post.Columns, Column{Name: call.String(), Type: a.result, Index: len(post.Columns)})
	}
	out := &rel{scope: post, rowtime: -1}
	for i := range plan.keys {
		out.keyCols = append(out.keyCols, i)
	}
	var w window
	if win != nil {
		if in.updating {
			return nil, errorAt(win.At, "a window aggregation over an updating input (an upsert table, an aggregation) is not supported: it takes append-only rows")
		}
		t := p.c.tables[win.Table]
		var err error
		if w, err = windowOf(win, t); err != nil {
			return nil, err
		}
		for _, n := range windowColumns {
			typ := Type{Kind: Timestamp, Precision: 3, NotNull: true}
			if n == "window_time" {
				typ.Kind = t.Columns[t.Watermark.Column].Type.Kind
				out.rowtime = len(post.Columns)
			}
			post.Columns = append(post.Columns, Column{Table: in.scope.Columns[0].Table, Name: n, Type: typ, Index: len(post.Columns)})
		}
	} else {
		out.updating = true
		var items []string
		for _, it := range sel.Items {
			items = append(items, it.Expr.String())
		}
		out.producer = "GroupAggregate(groupBy=[" + strings.Join(keyText, ", ") + "], select=[" + strings.Join(items, ", ") + "])"
		if in.updating {
			for i := range plan.aggs {
				// A retraction of the extreme needs the next one: every value is kept.
				plan.aggs[i].keepValues = plan.aggs[i].cmp != nil
			}
		}
	}
	// HAVING and the SELECT list over the aggregation's rows, done where they are made.
	var having *Expr
	if sel.Having != nil {
		var err error
		if having, err = Compile(sel.Having, post); err != nil {
			return nil, err
		}
		if having.Type.Kind != Boolean && having.Type.Kind != Null {
			return nil, errorAt(sel.Having.Pos(), "HAVING %s is %s, not BOOLEAN", sel.Having, having.Type.Kind)
		}
	}
	items, names, err := projection(sel, post)
	if err != nil {
		return nil, err
	}
	result, finish := project(out, having, items, names)
	if finish != nil {
		finish.filter = "HAVING"
	}
	// Rows with equal group keys are in one task already when the keys include the
	// input's key columns: no repartition.
	partitioned := len(in.keyCols) > 0
	for _, k := range in.keyCols {
		partitioned = partitioned && slices.ContainsFunc(plan.keys, func(x *Expr) bool { return x.columnRef() == k })
	}
	if win == nil {
		pre := topology.Process(in.s, p.name("GROUP"), func() processor.Processor[[]any, Change, []any, Change] {
			return &groupProc[Change]{where: where, plan: plan, wrap: func(c Change) Change { return c }}
		})
		keyed := pre.MarkAsPartitioned()
		if !partitioned {
			keyed = topology.Repartition(pre, serde.Serde[[]any](binRow{plan.keyKinds}), serde.Serde[Change](changeSerde{binRow{plan.argKinds}}),
				topology.Named(strings.ToLower(p.name("GROUPED"))))
		}
		st := strings.ToLower(p.name("AGG-STORE"))
		topology.NewKeyValueStore(p.top, st, serde.Bytes(), serde.Bytes())
		result.s = topology.Process(keyed, p.name("AGG"), func() processor.Processor[[]any, Change, []any, Change] {
			return &groupAggProc{plan: plan, store: st, batch: p.batch, post: finish,
				keys: binRow{plan.keyKinds}, accs: binRow{append(slices.Clone(plan.accKinds), BigInt)}}
		}, topology.Stores(st))
		return result, nil
	}
	if w.gap == 0 && partitioned {
		// The rows are in their groups' tasks already: the aggregation computes the keys.
		st := strings.ToLower(p.name("WINDOW-STORE"))
		topology.NewKeyValueStore(p.top, st, serde.Bytes(), serde.Bytes())
		result.s = topology.Process(in.s, p.name("WINDOW-AGG"), func() processor.Processor[[]any, Change, []any, Change] {
			return &groupedWinAggProc{winAggProc: winAggProc{plan: plan, post: finish, win: w, store: st, keys: binRow{plan.keyKinds}, accs: binRow{plan.accKinds}},
				where: where}
		}, topology.Stores(st))
		return result, nil
	}
	pre := topology.Process(in.s, p.name("GROUP"), func() processor.Processor[[]any, Change, []any, []any] {
		return &groupProc[[]any]{where: where, plan: plan, wrap: func(c Change) []any { return c.Row }}
	})
	var opts []topology.Option
	if partitioned {
		pre = pre.MarkAsPartitioned()
	} else {
		opts = append(opts, topology.Named(strings.ToLower(p.name("GROUPED"))))
	}
	if w.gap == 0 {
		keyed := pre
		if !partitioned {
			keyed = topology.Repartition(pre, serde.Serde[[]any](binRow{plan.keyKinds}), serde.Serde[[]any](binRow{plan.argKinds}), opts...)
		}
		st := strings.ToLower(p.name("WINDOW-STORE"))
		topology.NewKeyValueStore(p.top, st, serde.Bytes(), serde.Bytes())
		result.s = topology.Process(keyed, p.name("WINDOW-AGG"), func() processor.Processor[[]any, []any, []any, Change] {
			return &winAggProc{plan: plan, post: finish, win: w, store: st, keys: binRow{plan.keyKinds}, accs: binRow{plan.accKinds}}
		}, topology.Stores(st))
		return result, nil
	}
	grouped := topology.GroupByKey(pre, serde.Serde[[]any](binRow{plan.keyKinds}), serde.Serde[[]any](binRow{plan.argKinds}), opts...)
	st := strings.ToLower(p.name("WINDOW-STORE"))
	add := func(_ []any, args []any, acc []any) []any { return plan.add(args, acc, 1) }
	accs := serde.Serde[[]any](binRow{plan.accKinds})
	results := topology.SessionAggregate(topology.SessionBy(grouped, topology.Sessions(w.gap)), plan.init, add,
		func(_ []any, a, b []any) []any { return plan.merge(a, b) }, accs, st)
	gap := w.gap
	result.s = topology.Process(results, p.name("WINDOW-RESULT"), func() processor.Processor[topology.Windowed[[]any], []any, []any, Change] {
		return &windowResultProc{plan: plan, post: finish, gap: gap}
	})
	return result, nil
}

// aggregate adds COUNT, SUM, MIN, MAX or AVG, its argument compiled in in's scope.
func (p *aggPlan) aggregate(e *sqlparse.Call, in *rel) error {
	a := aggFn{name: e.Name, distinct: e.Distinct, argAt: -1, accAt: len(p.accKinds)}
	switch {
	case e.Star && e.Name != "COUNT":
		return errorAt(e.At, "%s(*): only COUNT takes *", e.Name)
	case !e.Star && len(e.Args) != 1:
		return errorAt(e.At, "%s takes one argument", e.Name)
	}
	if !e.Star {
		for _, nested := range aggregateCalls(e.Args[0], nil) {
			return errorAt(nested.At, "%s inside %s: aggregates do not nest", nested.Name, e.Name)
		}
		x, err := Compile(e.Args[0], in.scope)
		if err != nil {
			return err
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
			return errorAt(e.At, "%s(%s): %s is not a number", e.Name, e.Args[0], a.arg.Type.Kind)
		}
		a.result = Type{Kind: a.arg.Type.Kind}
		sum := BigInt
		if a.arg.Type.Kind == Double {
			sum = Double
		}
		p.accKinds = append(p.accKinds, sum, BigInt) // the sum and the count of values in it
	default: // MIN, MAX
		var err error
		if a.cmp, err = comparer(a.arg.Type, a.arg.Type); err != nil {
			return errorAt(e.At, "%s(%s): %s values do not compare", e.Name, e.Args[0], a.arg.Type.Kind)
		}
		a.distinct = false // the same with or without
		a.result = Type{Kind: a.arg.Type.Kind, Precision: a.arg.Type.Precision}
		p.accKinds = append(p.accKinds, a.arg.Type.Kind)
	}
	p.aggs = append(p.aggs, a)
	return nil
}

// init is a new accumulator: counts at 0, the rest NULL.
func (p *aggPlan) init() []any {
	acc := make([]any, len(p.accKinds))
	p.initInto(acc)
	return acc
}

// distinct says whether an aggregate is DISTINCT.
func (p *aggPlan) distinct() bool {
	return slices.ContainsFunc(p.aggs, func(a aggFn) bool { return a.distinct })
}

// initInto makes acc, of the accumulators' width, a new accumulator.
func (p *aggPlan) initInto(acc []any) {
	clear(acc)
	for _, a := range p.aggs {
		switch a.name {
		case "COUNT":
			acc[a.accAt] = int64(0)
		case "SUM", "AVG":
			acc[a.accAt+1] = int64(0)
		}
	}
}

// add folds one row's aggregate arguments into the accumulator (sign 1), or takes them
// out of it (sign -1: a retraction; never for MIN and MAX).
func (p *aggPlan) add(args []any, acc []any, sign int64) []any {
	for _, a := range p.aggs {
		p.addOne(a, args, acc, sign)
	}
	return acc
}

func (p *aggPlan) addOne(a aggFn, args []any, acc []any, sign int64) {
	var x any
	if a.argAt >= 0 {
		x = args[a.argAt]
	}
	switch a.name {
	case "COUNT":
		if a.argAt < 0 || x != nil {
			acc[a.accAt] = acc[a.accAt].(int64) + sign
		}
	case "SUM", "AVG":
		if x == nil {
			return
		}
		if p.accKinds[a.accAt] == Double {
			s, _ := acc[a.accAt].(float64)
			acc[a.accAt] = s + float64(sign)*asFloat(x)
		} else {
			s, _ := acc[a.accAt].(int64)
			acc[a.accAt] = s + sign*asInt(x)
		}
		acc[a.accAt+1] = acc[a.accAt+1].(int64) + sign
	default:
		p.fold(a, x, acc)
	}
}

// fold makes x MIN or MAX a's value if it is the new extreme.
func (p *aggPlan) fold(a aggFn, x any, acc []any) {
	if x == nil {
		return
	}
	switch cur := acc[a.accAt]; {
	case cur == nil, a.name == "MIN" && a.cmp(x, cur) < 0, a.name == "MAX" && a.cmp(x, cur) > 0:
		acc[a.accAt] = x
	}
}

// merge is the accumulator of two sessions' rows, which a row between them joins.
func (p *aggPlan) merge(a, b []any) []any {
	out := slices.Clone(a)
	for _, f := range p.aggs {
		i := f.accAt
		switch f.name {
		case "COUNT":
			out[i] = a[i].(int64) + b[i].(int64)
		case "SUM", "AVG":
			switch {
			case b[i] == nil:
			case a[i] == nil:
				out[i] = b[i]
			case p.accKinds[i] == Double:
				out[i] = a[i].(float64) + b[i].(float64)
			default:
				out[i] = a[i].(int64) + b[i].(int64)
			}
			out[i+1] = a[i+1].(int64) + b[i+1].(int64)
		default: // MIN, MAX
			switch {
			case b[i] == nil:
			case a[i] == nil, f.name == "MIN" && f.cmp(b[i], a[i]) < 0, f.name == "MAX" && f.cmp(b[i], a[i]) > 0:
				out[i] = b[i]
			}
		}
	}
	return out
}

// result is aggregate a's value from the accumulator, of its result type.
func (p *aggPlan) result(a aggFn, acc []any) any {
	v := acc[a.accAt]
	switch a.name {
	case "COUNT":
		return v
	case "SUM", "AVG":
		n := acc[a.accAt+1].(int64)
		if n == 0 {
			return nil
		}
		if f, ok := v.(float64); ok {
			if a.name == "AVG" {
				return f / float64(n)
			}
			return f
		}
		if a.name == "AVG" {
			return ofKind(a.result.Kind, v.(int64)/n) // an integer average is an integer, as Flink's
		}
		return ofKind(a.result.Kind, v.(int64))
	}
	return v
}

// row is the aggregation's output row: the keys, then the aggregates' values, then
// (windows) the window's columns.
func (p *aggPlan) row(key, acc []any, window ...any) []any {
	out := make([]any, 0, len(key)+len(p.aggs)+len(window))
	out = append(out, key...)
	for _, a := range p.aggs {
		out = append(out, p.result(a, acc))
	}
	return append(out, window...)
}

// groupProc computes each passing row's group key and aggregate arguments, forwarded
// as wrap makes them of the change.
type groupProc[V any] struct {
	ctx   processor.Context[[]any, V]
	where *Expr
	plan  *aggPlan
	wrap  func(Change) V
}

func (g *groupProc[V]) Init(ctx processor.Context[[]any, V]) error { g.ctx = ctx; return nil }
func (g *groupProc[V]) Close() error                               { return nil }

func (g *groupProc[V]) Process(rec processor.Record[[]any, Change]) error {
	nk := len(g.plan.keys)
	both := make([]any, nk+len(g.plan.argKinds)) // one allocation for the two
	key, args := both[:nk:nk], both[nk:]
	if keep, err := g.plan.group(g.where, rec.Value.Row, key, args); err != nil || !keep {
		return err
	}
	if len(args) == 0 {
		args = nil
	}
	return g.ctx.Forward(processor.Record[[]any, V]{Key: key, Value: g.wrap(Change{rec.Value.Kind, args}), Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// group computes row's group key and aggregate arguments into key and args, and reports
// whether the row passes where (nil: every row does).
func (p *aggPlan) group(where *Expr, row, key, args []any) (bool, error) {
	if where != nil {
		keep, err := where.Eval(row)
		if err != nil {
			return false, fmt.Errorf("WHERE: %w", err)
		}
		if keep != true {
			return false, nil
		}
	}
	var err error
	for i, k := range p.keys {
		if key[i], err = k.Eval(row); err != nil {
			return false, fmt.Errorf("GROUP BY %d: %w", i+1, err)
		}
	}
	for _, a := range p.aggs {
		if a.argAt >= 0 {
			if args[a.argAt], err = a.arg.Eval(row); err != nil {
				return false, fmt.Errorf("%s: %w", a.name, err)
			}
		}
	}
	return true, nil
}

// windowResultProc turns each session's final accumulators into the aggregation's row,
// stamped with the window's time (its end less 1 ms, Flink's window_time).
type windowResultProc struct {
	ctx  processor.Context[[]any, Change]
	plan *aggPlan
	post *rowFn        // HAVING and the SELECT list
	gap  time.Duration // sessions end gap after their last row
}

func (w *windowResultProc) Init(ctx processor.Context[[]any, Change]) error { w.ctx = ctx; return nil }
func (w *windowResultProc) Close() error                                    { return nil }

func (w *windowResultProc) Process(rec processor.Record[topology.Windowed[[]any], []any]) error {
	start := rec.Key.Start.UTC()
	end := rec.Key.End.UTC().Add(-time.Millisecond + w.gap) // eddy's session ends 1 ms after its last row, Flink's gap after
	at := end.Add(-time.Millisecond)
	row, keep, err := w.post.apply(w.plan.row(rec.Key.Key, rec.Value, start, end, at))
	if err != nil || !keep {
		return err
	}
	return w.ctx.Forward(processor.Record[[]any, Change]{Key: rec.Key.Key, Value: Change{Insert, row}, Timestamp: at, Headers: rec.Headers})
}
