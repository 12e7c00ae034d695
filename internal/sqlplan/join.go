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

// join plans a JOIN on equal keys. An inner join of two append-only tables with time
// attributes and a bounded difference of their rowtimes (l.ts BETWEEN r.ts - INTERVAL …
// AND r.ts + INTERVAL …, or the same with >=, >, <=, <) is Flink's interval join, the
// DSL's JoinStreams within join windows: append-only, each pair once as its second record
// arrives, its state kept only for the bounds. The whole ON condition is also checked on
// each pair, so the bounds are exact whichever way they are written. Any other join is a
// regular join (regularJoin); FOR SYSTEM_TIME AS OF is a temporal join.
func (p *planner) join(j *sqlparse.Join) (*rel, error) {
	if ref, ok := j.Right.(*sqlparse.TableRef); ok && ref.AsOf != nil {
		return p.temporalJoin(j, ref)
	}
	l, lw, err := p.from(j.Left)
	if err != nil {
		return nil, err
	}
	r, rw, err := p.from(j.Right)
	if err != nil {
		return nil, err
	}
	if lw != nil || rw != nil {
		return nil, errorAt(j.At, "a join of a window function is not supported yet: join the tables, then window the result in a query over it")
	}
	nl := len(l.scope.Columns)
	scope, on, err := joinScope(j, l.scope, r.scope)
	if err != nil {
		return nil, err
	}
	var lkeys, rkeys []*Expr
	var kinds []Kind
	lo, hi := time.Duration(-1<<63), time.Duration(1<<63-1) // bounds of l.rowtime - r.rowtime
	bounded := [2]bool{}
	for _, c := range conjuncts(j.On) {
		b, ok := c.(*sqlparse.Binary)
		if ok && b.Op == "=" {
			x, err1 := Compile(b.L, scope)
			y, err2 := Compile(b.R, scope)
			if err1 == nil && err2 == nil {
				le, re := b.L, b.R
				switch {
				case side(x, nl) == 1 && side(y, nl) == 2:
				case side(x, nl) == 2 && side(y, nl) == 1:
					x, le, re = y, re, le
				default:
					continue
				}
				// The right key is computed from the right row alone.
				if y, err = Compile(re, r.scope); err != nil {
					return nil, err
				}
				if x, err = Compile(le, l.scope); err != nil {
					return nil, err
				}
				if _, ok := promote(x.Type, y.Type); !ok && x.Type.Kind != y.Type.Kind {
					return nil, errorAt(b.At, "%s: %s and %s do not compare", b, x.Type.Kind, y.Type.Kind)
				}
				k := x.Type.Kind
				if x.Type.Kind != y.Type.Kind {
					k, _ = promote(x.Type, y.Type)
				}
				lkeys, rkeys, kinds = append(lkeys, converting(x, k)), append(rkeys, converting(y, k)), append(kinds, k)
				continue
			}
		}
		if d, upper, ok := timeBound(c, l, r, scope); ok {
			if upper {
				hi, bounded[1] = min(hi, d), true
			} else {
				lo, bounded[0] = max(lo, d), true
			}
		}
	}
	if len(lkeys) == 0 {
		return nil, errorAt(j.On.Pos(), "the join's ON has no equality of a left and a right column: a join without one (a cross join) is not supported")
	}
	if !bounded[0] || !bounded[1] || l.updating || r.updating || j.Kind != "INNER" {
		return p.regularJoin(j, l, r, scope, on, lkeys, rkeys, kinds)
	}
	if lo > hi {
		return nil, errorAt(j.On.Pos(), "the join's time bounds leave no pair: l.ts - r.ts between %s and %s", lo, hi)
	}
	// Right records join a left one at t from t - before to t + after.
	windows := topology.JoinWindowsOf(0).Before(max(hi, 0)).After(max(-lo, 0))
	keyed := func(in *rel, keys []*Expr, name string) topology.Stream[[]any, []any] {
		return topology.Process(in.s, p.name(name), func() processor.Processor[[]any, Change, []any, []any] {
			return &joinKeyProc{keys: keys}
		})
	}
	left := keyed(l, lkeys, "JOIN-LEFT-KEY")
	right := keyed(r, rkeys, "JOIN-RIGHT-KEY")
	pairs := topology.JoinStreams(left, right, windows, serde.Serde[[]any](binRow{kinds}), serde.Serde[[]any](binRow{l.kinds()}),
		serde.Serde[[]any](binRow{r.kinds()}), func(_ []any, a, b []any) []any { return append(slices.Clip(a), b...) },
		topology.Named(strings.ToLower(p.name("JOIN"))))
	out := &rel{scope: scope, rowtime: -1}
	out.s = topology.Process(pairs, p.name("JOIN-ON"), func() processor.Processor[[]any, []any, []any, Change] {
		return &joinOnProc{on: on}
	})
	return out, nil
}

// joinScope is the scope of a join's rows — the left's columns, then the right's — and
// its ON condition compiled in it.
func joinScope(j *sqlparse.Join, left, right *Scope) (*Scope, *Expr, error) {
	scope := &Scope{Columns: slices.Clone(left.Columns)}
	for _, c := range right.Columns {
		c.Index += len(left.Columns)
		scope.Columns = append(scope.Columns, c)
	}
	on, err := Compile(j.On, scope)
	if err != nil {
		return nil, nil, err
	}
	if on.Type.Kind != Boolean {
		return nil, nil, errorAt(j.On.Pos(), "ON %s is %s, not BOOLEAN", j.On, on.Type.Kind)
	}
	return scope, on, nil
}

// conjuncts are e's terms of AND, a BETWEEN as its two comparisons.
func conjuncts(e sqlparse.Expr) []sqlparse.Expr {
	switch e := e.(type) {
	case *sqlparse.Binary:
		if e.Op == "AND" {
			return append(conjuncts(e.L), conjuncts(e.R)...)
		}
	case *sqlparse.Between:
		if !e.Not {
			return []sqlparse.Expr{&sqlparse.Binary{At: e.At, Op: ">=", L: e.X, R: e.Lo}, &sqlparse.Binary{At: e.At, Op: "<=", L: e.X, R: e.Hi}}
		}
	}
	return []sqlparse.Expr{e}
}

// side is 1 when x reads only left columns (those before nl), 2 when only right ones, 0
// otherwise (both, or none).
func side(x *Expr, nl int) int {
	if len(x.Refs) == 0 {
		return 0
	}
	s := 1
	if x.Refs[0] >= nl {
		s = 2
	}
	for _, r := range x.Refs {
		if (r >= nl) != (s == 2) {
			return 0
		}
	}
	return s
}

// converting is x converted to kind k (a key compared across kinds: INT and BIGINT).
func converting(x *Expr, k Kind) *Expr {
	if x.Type.Kind == k {
		return x
	}
	return &Expr{Type: Type{Kind: k}, Refs: x.Refs, Eval: func(row []any) (any, error) {
		v, err := x.Eval(row)
		return convert(v, k), err
	}}
}

// timeBound reads a bound of l.rowtime - r.rowtime from comparison c: l.ts >= r.ts -
// INTERVAL d is the lower bound -d, l.ts <= r.ts + INTERVAL d the upper bound d (upper
// true), and so on for > and <, either side first, an interval on either side.
func timeBound(c sqlparse.Expr, l, r *rel, scope *Scope) (time.Duration, bool, bool) {
	if l.rowtime < 0 || r.rowtime < 0 {
		return 0, false, false
	}
	lt, rt := l.rowtime, len(l.scope.Columns)+r.rowtime
	// offset reads e as rowtime column col ± an interval.
	offset := func(e sqlparse.Expr) (col int, d time.Duration, ok bool) {
		if b, isBin := e.(*sqlparse.Binary); isBin && (b.Op == "+" || b.Op == "-") {
			iv, isIv := b.R.(*sqlparse.Interval)
			if !isIv {
				return 0, 0, false
			}
			x, err := Compile(b.L, scope)
			if err != nil || x.columnRef() < 0 {
				return 0, 0, false
			}
			d, err := intervalOf(iv)
			if err != nil {
				return 0, 0, false
			}
			if b.Op == "-" {
				d = -d
			}
			return x.columnRef(), d, true
		}
		x, err := Compile(e, scope)
		if err != nil || x.columnRef() < 0 {
			return 0, 0, false
		}
		return x.columnRef(), 0, true
	}
	b, ok := c.(*sqlparse.Binary)
	if !ok {
		return 0, false, false
	}
	lc, ld, ok1 := offset(b.L)
	rc, rd, ok2 := offset(b.R)
	if !ok1 || !ok2 {
		return 0, false, false
	}
	op := b.Op
	if lc == rt && rc == lt { // r.ts op l.ts ± d: turn it round
		lc, rc, ld, rd = rc, lc, rd, ld
		op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
	}
	if lc != lt || rc != rt {
		return 0, false, false
	}
	// l.ts + ld op r.ts + rd  ⇔  l.ts - r.ts op rd - ld
	d := rd - ld
	switch op {
	case ">=", ">":
		return d, false, true
	case "<=", "<":
		return d, true, true
	}
	return 0, false, false
}

// joinKeyProc keys each row by its join key.
type joinKeyProc struct {
	ctx  processor.Context[[]any, []any]
	keys []*Expr
}

func (j *joinKeyProc) Init(ctx processor.Context[[]any, []any]) error { j.ctx = ctx; return nil }
func (j *joinKeyProc) Close() error                                   { return nil }

func (j *joinKeyProc) Process(rec processor.Record[[]any, Change]) error {
	key, ok, err := joinKey(j.keys, rec.Value.Row)
	if err != nil || !ok {
		return err
	}
	return j.ctx.Forward(processor.Record[[]any, []any]{Key: key, Value: rec.Value.Row, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// joinKey is a row's join key; ok is false when a part of it is NULL, which equals
// nothing, so the row joins nothing.
func joinKey(keys []*Expr, row []any) (key []any, ok bool, err error) {
	key = make([]any, len(keys))
	for i, k := range keys {
		v, err := k.Eval(row)
		if err != nil {
			return nil, false, fmt.Errorf("join key %d: %w", i+1, err)
		}
		if v == nil {
			return nil, false, nil
		}
		key[i] = v
	}
	return key, true, nil
}

// joinOnProc keeps the pairs the whole ON condition holds for.
type joinOnProc struct {
	ctx processor.Context[[]any, Change]
	on  *Expr
}

func (j *joinOnProc) Init(ctx processor.Context[[]any, Change]) error { j.ctx = ctx; return nil }
func (j *joinOnProc) Close() error                                    { return nil }

func (j *joinOnProc) Process(rec processor.Record[[]any, []any]) error {
	keep, err := j.on.Eval(rec.Value)
	if err != nil {
		return fmt.Errorf("ON: %w", err)
	}
	if keep != true {
		return nil
	}
	return j.ctx.Forward(processor.Record[[]any, Change]{Value: Change{Insert, rec.Value}, Timestamp: rec.Timestamp, Headers: rec.Headers})
}
