package sqlplan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
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

// temporalHistory is how long a temporal join's table keeps the versions it replaced: a
// row up to that much older than the table's newest update still finds the version of
// its time.
const temporalHistory = time.Hour

// temporalJoin plans l [LEFT] JOIN t FOR SYSTEM_TIME AS OF l.rowtime ON l.x = t.pk …,
// Flink's event-time temporal join: each left row meets the version of t's row for its
// key valid at the left row's time. t is an upsert-kafka table whose rowtime is its
// records' timestamp: eddy keeps its versions by that (TableFrom with Versioned), and a
// left row is joined when it is processed — a task processes the left and the table's
// partitions in timestamp order, so it meets the table as updated up to its time. The
// result is append-only; LEFT JOIN gives NULLs for a key with no version then.
func (p *planner) temporalJoin(j *sqlparse.Join, ref *sqlparse.TableRef) (*rel, error) {
	if j.Kind != "INNER" && j.Kind != "LEFT" {
		return nil, errorAt(j.At, "a temporal join is INNER or LEFT, not %s", j.Kind)
	}
	l, lw, err := p.from(j.Left)
	if err != nil {
		return nil, err
	}
	if lw != nil || l.updating {
		return nil, errorAt(j.At, "a temporal join's left side is an append-only table (not a window function, an upsert table or an aggregation)")
	}
	t, err := p.table(ref.Name, ref.At)
	if err != nil {
		return nil, err
	}
	if t.Connector != "upsert-kafka" {
		return nil, errorAt(ref.At, "FOR SYSTEM_TIME AS OF %s: a temporal join's table is versioned by its primary key: an upsert-kafka table, not %s", t.Name, t.Connector)
	}
	if w := t.Watermark; w == nil || t.Columns[w.Column].MetadataKey != "timestamp" {
		return nil, errorAt(ref.At, "FOR SYSTEM_TIME AS OF %s: eddy keeps a table's versions by its records' timestamps, so its rowtime must be them: "+
			"a column METADATA FROM 'timestamp' with the WATERMARK", t.Name)
	}
	asOf, err := Compile(ref.AsOf, l.scope)
	if err != nil {
		return nil, err
	}
	if l.rowtime < 0 || asOf.columnRef() != l.rowtime {
		return nil, errorAt(ref.AsOf.Pos(), "FOR SYSTEM_TIME AS OF %s: it must be the left side's time attribute (its WATERMARK's column)", ref.AsOf)
	}
	alias := sqlparse.AliasOf(ref)
	rs := t.Scope(alias)
	nl := len(l.scope.Columns)
	scope, on, err := joinScope(j, l.scope, rs)
	if err != nil {
		return nil, err
	}
	// Each primary key column of t equals an expression of the left row.
	keys := make([]*Expr, len(t.PrimaryKey))
	for _, c := range conjuncts(j.On) {
		b, ok := c.(*sqlparse.Binary)
		if !ok || b.Op != "=" {
			continue
		}
		for _, pair := range [][2]sqlparse.Expr{{b.L, b.R}, {b.R, b.L}} {
			r, err := Compile(pair[1], rs)
			if err != nil || r.columnRef() < 0 {
				continue
			}
			k := slices.Index(t.PrimaryKey, r.columnRef())
			x, err := Compile(pair[0], l.scope)
			if k < 0 || err != nil {
				continue
			}
			keys[k] = converting(x, t.Columns[t.PrimaryKey[k]].Type.Kind)
		}
	}
	for i, k := range keys {
		if k == nil {
			return nil, errorAt(j.On.Pos(), "a temporal join's ON equals each of %s's primary key columns to the left side: %s is missing", t.Name, t.Columns[t.PrimaryKey[i]].Name)
		}
	}
	read, err := p.c.reader(t, nil)
	if err != nil {
		return nil, err
	}
	width := len(t.Columns)
	table := topology.TableFrom(p.top, t.Options["topic"], serde.Bytes(), serde.Serde[[]any](rowSerde{read.codecs.Value, width, true}),
		strings.ToLower(p.name("TEMPORAL-STORE")), topology.Versioned(temporalHistory))
	keyCodec := read.codecs.Key
	outer := j.Kind == "LEFT"
	keyedLeft := topology.Process(l.s, p.name("TEMPORAL-KEY"), func() processor.Processor[[]any, Change, []byte, []any] {
		return &temporalKeyProc{keys: keys, pk: t.PrimaryKey, width: width, codec: keyCodec, outer: outer}
	})
	// Moved to the table's tasks by key; a left join's rows with a NULL key come along
	// with a null Kafka key, and leave the join there with NULLs.
	moved := topology.Repartition(keyedLeft, serde.Bytes(), serde.Serde[[]any](binRow{l.kinds()}),
		topology.Named(strings.ToLower(p.name("TEMPORAL-BY-KEY"))))
	left := moved.Filter(func(k []byte, _ []any) bool { return k != nil })
	complete := func(lrow, trow []any) ([]any, error) {
		row := make([]any, width)
		copy(row, trow)
		for i, c := range t.PrimaryKey { // the key's columns, when the value leaves them out
			if row[c] == nil {
				row[c], _ = keys[i].Eval(lrow)
			}
		}
		if err := read.compute(row); err != nil {
			return nil, err
		}
		return append(slices.Clip(lrow), row...), nil
	}
	var joined topology.Stream[[]byte, []any]
	named := topology.Named(strings.ToLower(p.name("TEMPORAL-JOIN")))
	if j.Kind == "LEFT" {
		joined = topology.LeftJoinTable(left, table, serde.Bytes(), serde.Serde[[]any](binRow{l.kinds()}),
			func(_ []byte, lrow, trow []any, found bool) []any {
				if !found {
					return append(slices.Clip(lrow), make([]any, width)...)
				}
				row, err := complete(lrow, trow)
				if err != nil {
					return nil // temporalOnProc reports it
				}
				return row
			}, named)
	} else {
		joined = topology.JoinTable(left, table, serde.Bytes(), serde.Serde[[]any](binRow{l.kinds()}),
			func(_ []byte, lrow, trow []any) []any {
				row, err := complete(lrow, trow)
				if err != nil {
					return nil // temporalOnProc reports it
				}
				return row
			}, named)
	}
	out := &rel{scope: scope, rowtime: l.rowtime, keyCols: nil}
	out.s = topology.Process(joined, p.name("TEMPORAL-ON"), func() processor.Processor[[]byte, []any, []any, Change] {
		return &temporalOnProc{on: on, nl: nl, width: width, outer: outer, table: t.Name}
	})
	if outer {
		for i := nl; i < len(scope.Columns); i++ {
			scope.Columns[i].Type.NotNull = false // NULLs where no version is found
		}
		// A left row with a NULL key meets no version: it goes on with NULLs, beside the join.
		nulls := moved.Filter(func(k []byte, _ []any) bool { return k == nil })
		alone := topology.Process(nulls, p.name("TEMPORAL-NULL-KEY"), func() processor.Processor[[]byte, []any, []any, Change] {
			return &nullKeyProc{width: width}
		})
		out.s = out.s.MergeNamed(p.name("TEMPORAL-MERGE"), alone)
	}
	return out, nil
}

// nullKeyProc gives the left rows whose key has a NULL, with NULLs for the table's columns.
type nullKeyProc struct {
	ctx   processor.Context[[]any, Change]
	width int
}

func (n *nullKeyProc) Init(ctx processor.Context[[]any, Change]) error { n.ctx = ctx; return nil }
func (n *nullKeyProc) Close() error                                    { return nil }

func (n *nullKeyProc) Process(rec processor.Record[[]byte, []any]) error {
	row := append(slices.Clip(rec.Value), make([]any, n.width)...)
	return n.ctx.Forward(processor.Record[[]any, Change]{Value: Change{Insert, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// temporalKeyProc keys each left row by the table's key bytes for its key values.
type temporalKeyProc struct {
	ctx   processor.Context[[]byte, []any]
	outer bool
	keys  []*Expr
	pk    []int
	width int
	codec RowCodec
}

func (k *temporalKeyProc) Init(ctx processor.Context[[]byte, []any]) error { k.ctx = ctx; return nil }
func (k *temporalKeyProc) Close() error                                    { return nil }

func (k *temporalKeyProc) Process(rec processor.Record[[]any, Change]) error {
	key, ok, err := joinKey(k.keys, rec.Value.Row)
	if err != nil {
		return err
	}
	if !ok { // a NULL key meets no version: an inner join drops the row, a left one keeps it
		if !k.outer {
			return nil
		}
		return k.ctx.Forward(processor.Record[[]byte, []any]{Value: rec.Value.Row, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	row := make([]any, k.width)
	for i, v := range key {
		row[k.pk[i]] = v
	}
	kb, err := k.codec.Encode(nil, row)
	if err != nil {
		return fmt.Errorf("temporal join key: %w", err)
	}
	return k.ctx.Forward(processor.Record[[]byte, []any]{Key: kb, Value: rec.Value.Row, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// temporalOnProc checks the whole ON condition on each joined row: an inner join drops
// a row that fails it, a left join keeps the left row with NULLs.
type temporalOnProc struct {
	ctx       processor.Context[[]any, Change]
	on        *Expr
	nl, width int
	outer     bool
	table     string
}

func (t *temporalOnProc) Init(ctx processor.Context[[]any, Change]) error { t.ctx = ctx; return nil }
func (t *temporalOnProc) Close() error                                    { return nil }

func (t *temporalOnProc) Process(rec processor.Record[[]byte, []any]) error {
	row := rec.Value
	if row == nil {
		return fmt.Errorf("temporal join with %s: a computed column of the table's row failed", t.table)
	}
	keep, err := t.on.Eval(row)
	if err != nil {
		return fmt.Errorf("ON: %w", err)
	}
	if keep != true {
		if !t.outer {
			return nil
		}
		row = append(slices.Clip(row[:t.nl]), make([]any, t.width)...)
	}
	return t.ctx.Forward(processor.Record[[]any, Change]{Value: Change{Insert, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// regularJoin plans a regular join (INNER, LEFT, RIGHT or FULL) on equal keys, Flink's
// StreamingJoinOperator: both sides are repartitioned by the join key and kept in full,
// each row with its multiplicity, in a store per side; a row that comes (+I, +U) joins
// the other side's rows of its key that pass the ON condition and gives +I of each pair,
// one that goes (-U, -D) gives -D of each. An outer side's row with no partner gives +I of
// it with NULLs, taken back (-D) when its first partner comes and given again when its
// last goes. The result updates unless both inputs are append-only and the join is INNER.
// Its state grows with its inputs: nothing expires.
func (p *planner) regularJoin(j *sqlparse.Join, l, r *rel, scope *Scope, on *Expr, lkeys, rkeys []*Expr, kinds []Kind) (*rel, error) {
	keySerde := serde.Serde[[]any](binRow{kinds})
	outerL := j.Kind == "LEFT" || j.Kind == "FULL"
	outerR := j.Kind == "RIGHT" || j.Kind == "FULL"
	side := func(in *rel, keys []*Expr, name string, right bool) topology.Stream[[]any, sided] {
		outer := outerL && !right || outerR && right
		keyed := topology.Process(in.s, p.name(name), func() processor.Processor[[]any, Change, []any, Change] {
			return &joinKeyProc2{keys: keys, outer: outer}
		})
		moved := topology.Repartition(keyed, keySerde, serde.Serde[Change](changeSerde{binRow{in.kinds()}}),
			topology.Named(strings.ToLower(p.name(name+"-BY-KEY"))))
		return topology.MapValues(moved, func(c Change) sided { return sided{right: right, c: c} }, topology.Named(p.name(name+"-SIDE")))
	}
	left := side(l, lkeys, "JOIN-LEFT", false)
	right := side(r, rkeys, "JOIN-RIGHT", true)
	ls, rs := strings.ToLower(p.name("JOIN-LEFT-STORE")), strings.ToLower(p.name("JOIN-RIGHT-STORE"))
	topology.NewKeyValueStore(p.top, ls, serde.Bytes(), serde.Bytes())
	topology.NewKeyValueStore(p.top, rs, serde.Bytes(), serde.Bytes())
	nl, nr := len(l.scope.Columns), len(r.scope.Columns)
	lrows, rrows := binRow{l.kinds()}, binRow{r.kinds()}
	merged := left.MergeNamed(p.name("JOIN-MERGE"), right)
	out := &rel{scope: scope, rowtime: -1, updating: l.updating || r.updating || outerL || outerR,
		producer: "Join(joinType=[" + map[string]string{"INNER": "InnerJoin", "LEFT": "LeftOuterJoin", "RIGHT": "RightOuterJoin", "FULL": "FullOuterJoin"}[j.Kind] +
			"], where=[" + j.On.String() + "])"}
	if outerR || outerL {
		// NULLs where a side has no partner: its columns may be NULL.
		for i := range scope.Columns {
			if i < nl && outerR || i >= nl && outerL {
				scope.Columns[i].Type.NotNull = false
			}
		}
	}
	out.s = topology.Process(merged, p.name("JOIN"), func() processor.Processor[[]any, sided, []any, Change] {
		return &regularJoinProc{on: on, stores: [2]string{ls, rs}, outer: [2]bool{outerL, outerR}, widths: [2]int{nl, nr},
			rows: [2]binRow{lrows, rrows}, keys: binRow{kinds}}
	}, topology.Stores(ls, rs))
	return out, nil
}

// sided is a change of one side of a regular join.
type sided struct {
	right bool
	c     Change
}

// joinKeyProc2 keys each change by its join key. A NULL key equals nothing: an inner
// side's row with one is dropped; an outer side's goes on, keyed by its NULLs, so that
// the join gives it with NULLs (ON, checked on every pair, never holds for it).
type joinKeyProc2 struct {
	ctx   processor.Context[[]any, Change]
	keys  []*Expr
	outer bool
}

func (j *joinKeyProc2) Init(ctx processor.Context[[]any, Change]) error { j.ctx = ctx; return nil }
func (j *joinKeyProc2) Close() error                                    { return nil }

func (j *joinKeyProc2) Process(rec processor.Record[[]any, Change]) error {
	key, ok, err := joinKey(j.keys, rec.Value.Row)
	if err != nil {
		return err
	}
	if !ok {
		if !j.outer {
			return nil
		}
		key = make([]any, len(j.keys))
	}
	return j.ctx.Forward(processor.Record[[]any, Change]{Key: key, Value: rec.Value, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// regularJoinProc is a regular join's state and logic. Each side's store holds, under
// the join key's bytes and a row's bytes, the row's multiplicity (8 bytes).
type regularJoinProc struct {
	ctx    processor.Context[[]any, Change]
	on     *Expr
	stores [2]string
	kv     [2]store.Bytes
	outer  [2]bool
	widths [2]int
	rows   [2]binRow
	keys   binRow
}

func (j *regularJoinProc) Init(ctx processor.Context[[]any, Change]) error {
	j.ctx = ctx
	for i, name := range j.stores {
		var err error
		if j.kv[i], err = ctx.Store(name); err != nil {
			return err
		}
	}
	return nil
}

func (j *regularJoinProc) Close() error { return nil }

// stored is a row of one side with its multiplicity.
type stored struct {
	row []any
	n   int64
}

// rowsOf are side s's rows under the key's bytes.
func (j *regularJoinProc) rowsOf(s int, key []byte) ([]stored, error) {
	it, err := j.kv[s].Range(key, prefixEnd(key))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []stored
	for it.Next() {
		row, err := j.rows[s].Decode(it.Key()[len(key):])
		if err != nil {
			return nil, err
		}
		out = append(out, stored{row, int64(binary.BigEndian.Uint64(it.Value()))})
	}
	return out, it.Err()
}

// pair is the output row of a left and a right row (either nil: NULLs).
func (j *regularJoinProc) pair(l, r []any) []any {
	out := make([]any, 0, j.widths[0]+j.widths[1])
	if l == nil {
		l = make([]any, j.widths[0])
	}
	if r == nil {
		r = make([]any, j.widths[1])
	}
	return append(append(out, l...), r...)
}

// matches reports whether a row of side s and a row of the other side pass ON.
func (j *regularJoinProc) matches(s int, own, other []any) (bool, error) {
	row := j.pair(own, other)
	if s == 1 {
		row = j.pair(other, own)
	}
	v, err := j.on.Eval(row)
	if err != nil {
		return false, fmt.Errorf("ON: %w", err)
	}
	return v == true, nil
}

func (j *regularJoinProc) Process(rec processor.Record[[]any, sided]) error {
	s, o := 0, 1
	if rec.Value.right {
		s, o = 1, 0
	}
	row, kind := rec.Value.c.Row, rec.Value.c.Kind
	key, err := j.keys.AppendEncode(nil, rec.Key)
	if err != nil {
		return err
	}
	rowKey, err := j.rows[s].AppendEncode(bytes.Clone(key), row)
	if err != nil {
		return err
	}
	emit := func(k RowKind, own, other []any) error {
		out := j.pair(own, other)
		if s == 1 {
			out = j.pair(other, own)
		}
		return j.ctx.Forward(processor.Record[[]any, Change]{Key: rec.Key, Value: Change{k, out}, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	// emitOther gives the other side's row alone (with NULLs for this side).
	emitOther := func(k RowKind, other []any) error {
		out := j.pair(nil, other)
		if s == 1 {
			out = j.pair(other, nil)
		}
		return j.ctx.Forward(processor.Record[[]any, Change]{Key: rec.Key, Value: Change{k, out}, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	// The multiplicity of this row, before the change.
	var n int64
	if _, err := j.kv[s].Get(rowKey, func(v []byte) error { n = int64(binary.BigEndian.Uint64(v)); return nil }); err != nil {
		return err
	}
	retract := kind.retracts()
	if retract && n == 0 {
		return nil // nothing to take away
	}
	others, err := j.rowsOf(o, key)
	if err != nil {
		return err
	}
	var ownRows []stored
	if j.outer[o] {
		if ownRows, err = j.rowsOf(s, key); err != nil {
			return err
		}
	}
	// associations counts the rows of this side (with multiplicity) that other matches.
	associations := func(other []any) (int64, error) {
		var c int64
		for _, r := range ownRows {
			ok, err := j.matches(s, r.row, other)
			if err != nil {
				return 0, err
			}
			if ok {
				c += r.n
			}
		}
		return c, nil
	}
	matched := false
	var alone []stored // other rows left without a partner: given again with NULLs after
	for _, b := range others {
		ok, err := j.matches(s, row, b.row)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		matched = true
		if j.outer[o] {
			before, err := associations(b.row)
			if err != nil {
				return err
			}
			if !retract && before == 0 {
				for range b.n {
					if err := emitOther(Delete, b.row); err != nil {
						return err
					}
				}
			}
			if retract && before == 1 {
				alone = append(alone, b)
			}
		}
		k := Insert
		if retract {
			k = Delete
		}
		for range b.n {
			if err := emit(k, row, b.row); err != nil {
				return err
			}
		}
	}
	for _, b := range alone {
		for range b.n {
			if err := emitOther(Insert, b.row); err != nil {
				return err
			}
		}
	}
	if !matched && j.outer[s] {
		k := Insert
		if retract {
			k = Delete
		}
		if err := emit(k, row, nil); err != nil {
			return err
		}
	}
	if retract {
		n--
	} else {
		n++
	}
	if n == 0 {
		j.kv[s].Delete(rowKey)
	} else {
		j.kv[s].Put(rowKey, binary.BigEndian.AppendUint64(nil, uint64(n)))
	}
	return nil
}

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i]++; end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
