package sqlplan

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

// Expr is a compiled expression: its type, and Eval, which computes it from a row.
type Expr struct {
	Type Type
	Eval func(row []any) (any, error)
	// Const is set when the expression is a constant (no column, no clock): Eval gives the
	// same value for every row.
	Const bool
	// Refs are the row indices of the columns it reads (set by Compile).
	Refs []int
	// plain is, for a column on its own, its index + 1; 0 for any other expression.
	plain int
}

// columnRef is the index of the column the expression is, or -1 when it is not one.
func (x *Expr) columnRef() int { return x.plain - 1 }

// Compile checks e against the scope and compiles it.
func Compile(e sqlparse.Expr, s *Scope) (*Expr, error) {
	c := compiler{scope: s, refs: map[int]bool{}}
	x, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	for i := range c.refs {
		x.Refs = append(x.Refs, i)
	}
	slices.Sort(x.Refs)
	return x, nil
}

type compiler struct {
	scope *Scope
	refs  map[int]bool
}

func constant(t Type, v any) *Expr {
	return &Expr{Type: t, Const: true, Eval: func([]any) (any, error) { return v, nil }}
}

func (c *compiler) compile(e sqlparse.Expr) (*Expr, error) {
	if i, ok := c.scope.Exprs[e.String()]; ok {
		c.refs[i] = true
		return &Expr{Type: c.scope.Columns[i].Type, plain: i + 1, Eval: func(row []any) (any, error) { return row[i], nil }}, nil
	}
	switch e := e.(type) {
	case *sqlparse.Ident:
		col, err := c.scope.lookup(e)
		if err != nil {
			return nil, err
		}
		i := col.Index
		c.refs[i] = true
		return &Expr{Type: col.Type, plain: i + 1, Eval: func(row []any) (any, error) { return row[i], nil }}, nil
	case *sqlparse.Literal:
		return literal(e)
	case *sqlparse.Interval:
		d, err := intervalOf(e)
		if err != nil {
			return nil, err
		}
		return constant(Type{Kind: Interval, NotNull: true}, d), nil
	case *sqlparse.Unary:
		return c.unary(e)
	case *sqlparse.Binary:
		return c.binary(e)
	case *sqlparse.IsNull:
		return c.isNull(e)
	case *sqlparse.Between:
		// x BETWEEN lo AND hi is x >= lo AND x <= hi, x computed once.
		return c.between(e)
	case *sqlparse.In:
		return c.in(e)
	case *sqlparse.Like:
		return c.like(e)
	case *sqlparse.Case:
		return c.caseExpr(e)
	case *sqlparse.Cast:
		return c.cast(e)
	case *sqlparse.Call:
		return c.call(e)
	case *sqlparse.TimeUnitCall:
		return c.timeUnit(e)
	}
	return nil, errorAt(e.Pos(), "%s is not supported here", e)
}

func literal(e *sqlparse.Literal) (*Expr, error) {
	switch e.Kind {
	case "NULL":
		return constant(Type{Kind: Null}, nil), nil
	case "BOOLEAN":
		return constant(Type{Kind: Boolean, NotNull: true}, e.Text == "TRUE"), nil
	case "STRING":
		return constant(Type{Kind: String, NotNull: true}, e.Text), nil
	}
	if !strings.ContainsAny(e.Text, ".eE") {
		n, err := strconv.ParseInt(e.Text, 10, 64)
		if err != nil {
			return nil, errorAt(e.At, "the number %s does not fit a BIGINT", e.Text)
		}
		if n >= math.MinInt32 && n <= math.MaxInt32 {
			return constant(Type{Kind: Int, NotNull: true}, int32(n)), nil
		}
		return constant(Type{Kind: BigInt, NotNull: true}, n), nil
	}
	f, err := strconv.ParseFloat(e.Text, 64)
	if err != nil {
		return nil, errorAt(e.At, "the number %s: %v", e.Text, err)
	}
	return constant(Type{Kind: Double, NotNull: true}, f), nil
}

var unitDurations = map[string]time.Duration{
	"MILLISECOND": time.Millisecond, "SECOND": time.Second, "MINUTE": time.Minute, "HOUR": time.Hour,
	"DAY": 24 * time.Hour, "WEEK": 7 * 24 * time.Hour,
}

// intervalOf is the duration of INTERVAL 'n' unit (day-time intervals only: a month has
// no fixed length). 'd hh:mm:ss' forms with TO are not supported yet.
func intervalOf(e *sqlparse.Interval) (time.Duration, error) {
	unit, ok := unitDurations[e.Unit]
	if !ok {
		return 0, errorAt(e.At, "INTERVAL … %s is not supported: a window or a time difference needs a fixed length (MILLISECOND to WEEK)", e.Unit)
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(e.Value), 64)
	if err != nil {
		return 0, errorAt(e.At, "INTERVAL '%s' %s: the value is not a number", e.Value, e.Unit)
	}
	return time.Duration(f * float64(unit)), nil
}

// promote is the type arithmetic on a and b gives (INT < BIGINT < DOUBLE), if both are
// numeric.
func promote(a, b Type) (Kind, bool) {
	if a.Kind == Null {
		a.Kind = b.Kind
	}
	if b.Kind == Null {
		b.Kind = a.Kind
	}
	if !(Type{Kind: a.Kind}).numeric() || !(Type{Kind: b.Kind}).numeric() {
		return 0, false
	}
	return max(a.Kind, b.Kind), true
}

// asFloat and asInt convert a numeric value (int32, int64, float64).
func asFloat(v any) float64 {
	switch v := v.(type) {
	case int32:
		return float64(v)
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

func asInt(v any) int64 {
	switch v := v.(type) {
	case int32:
		return int64(v)
	case int64:
		return v
	case float64:
		return int64(v)
	}
	return 0
}

// ofKind converts an int64 result to the kind's Go type.
func ofKind(k Kind, n int64) any {
	if k == Int {
		return int32(n)
	}
	return n
}

// strict2 evaluates a and b and calls f unless one is NULL (the result is then NULL).
func strict2(a, b *Expr, f func(x, y any) (any, error)) func([]any) (any, error) {
	return func(row []any) (any, error) {
		x, err := a.Eval(row)
		if err != nil || x == nil {
			return nil, err
		}
		y, err := b.Eval(row)
		if err != nil || y == nil {
			return nil, err
		}
		return f(x, y)
	}
}

func nullable(ts ...Type) bool {
	for _, t := range ts {
		if !t.NotNull {
			return true
		}
	}
	return false
}

// errDivision is the error of a division by zero, as Flink's.
var errDivision = errors.New("division by zero")

func (c *compiler) binary(e *sqlparse.Binary) (*Expr, error) {
	l, err := c.compile(e.L)
	if err != nil {
		return nil, err
	}
	r, err := c.compile(e.R)
	if err != nil {
		return nil, err
	}
	out := &Expr{Const: l.Const && r.Const}
	notNull := !nullable(l.Type, r.Type)
	mismatch := func() error {
		return errorAt(e.At, "%s %s %s: cannot apply %s to %s and %s", e.L, e.Op, e.R, e.Op, l.Type.Kind, r.Type.Kind)
	}
	switch e.Op {
	case "AND", "OR":
		for _, x := range []*Expr{l, r} {
			if x.Type.Kind != Boolean && x.Type.Kind != Null {
				return nil, mismatch()
			}
		}
		and := e.Op == "AND"
		out.Type = Type{Kind: Boolean, NotNull: notNull}
		// Three-valued logic: FALSE AND NULL is FALSE, TRUE OR NULL is TRUE.
		out.Eval = func(row []any) (any, error) {
			x, err := l.Eval(row)
			if err != nil {
				return nil, err
			}
			if x != nil && x.(bool) != and {
				return !and, nil
			}
			y, err := r.Eval(row)
			if err != nil {
				return nil, err
			}
			if y != nil && y.(bool) != and {
				return !and, nil
			}
			if x == nil || y == nil {
				return nil, nil
			}
			return and, nil
		}
		return out, nil
	case "||":
		if (l.Type.Kind != String && l.Type.Kind != Null) || (r.Type.Kind != String && r.Type.Kind != Null) {
			return nil, mismatch()
		}
		out.Type = Type{Kind: String, NotNull: notNull}
		out.Eval = strict2(l, r, func(x, y any) (any, error) { return x.(string) + y.(string), nil })
		return out, nil
	case "=", "<>", "<", "<=", ">", ">=":
		cmp, err := comparer(l.Type, r.Type)
		if err != nil {
			return nil, mismatch()
		}
		op := e.Op
		out.Type = Type{Kind: Boolean, NotNull: notNull}
		out.Eval = strict2(l, r, func(x, y any) (any, error) {
			n := cmp(x, y)
			switch op {
			case "=":
				return n == 0, nil
			case "<>":
				return n != 0, nil
			case "<":
				return n < 0, nil
			case "<=":
				return n <= 0, nil
			case ">":
				return n > 0, nil
			}
			return n >= 0, nil
		})
		return out, nil
	}
	// + - * / %: numbers, or a timestamp and an interval.
	if (e.Op == "+" || e.Op == "-") && l.Type.temporal() && r.Type.Kind == Interval {
		sign := time.Duration(1)
		if e.Op == "-" {
			sign = -1
		}
		out.Type = Type{Kind: l.Type.Kind, Precision: l.Type.Precision, NotNull: notNull}
		out.Eval = strict2(l, r, func(x, y any) (any, error) { return x.(time.Time).Add(sign * y.(time.Duration)), nil })
		return out, nil
	}
	if e.Op == "+" && l.Type.Kind == Interval && r.Type.temporal() {
		out.Type = Type{Kind: r.Type.Kind, Precision: r.Type.Precision, NotNull: notNull}
		out.Eval = strict2(l, r, func(x, y any) (any, error) { return y.(time.Time).Add(x.(time.Duration)), nil })
		return out, nil
	}
	k, ok := promote(l.Type, r.Type)
	if !ok {
		return nil, mismatch()
	}
	op := e.Op
	out.Type = Type{Kind: k, NotNull: notNull}
	if k == Double {
		out.Eval = strict2(l, r, func(x, y any) (any, error) {
			a, b := asFloat(x), asFloat(y)
			switch op {
			case "+":
				return a + b, nil
			case "-":
				return a - b, nil
			case "*":
				return a * b, nil
			case "/":
				return a / b, nil // IEEE: a division by zero is an infinity, as Flink's DOUBLE
			}
			return math.Mod(a, b), nil
		})
		return out, nil
	}
	out.Eval = strict2(l, r, func(x, y any) (any, error) {
		a, b := asInt(x), asInt(y)
		var n int64
		switch op {
		case "+":
			n = a + b
		case "-":
			n = a - b
		case "*":
			n = a * b
		case "/", "%":
			if b == 0 {
				return nil, errDivision
			}
			if op == "/" {
				n = a / b // integers divide to an integer, as in Flink
			} else {
				n = a % b
			}
		}
		return ofKind(k, n), nil
	})
	return out, nil
}

// comparer compares values of the two types, or fails if they do not compare.
func comparer(a, b Type) (func(x, y any) int, error) {
	if _, ok := promote(a, b); ok {
		return func(x, y any) int {
			if _, xf := x.(float64); xf {
				return cmp.Compare(asFloat(x), asFloat(y))
			}
			if _, yf := y.(float64); yf {
				return cmp.Compare(asFloat(x), asFloat(y))
			}
			return cmp.Compare(asInt(x), asInt(y))
		}, nil
	}
	ka, kb := a.Kind, b.Kind
	if ka == Null {
		ka = kb
	}
	if kb == Null {
		kb = ka
	}
	if (Type{Kind: ka}).temporal() && (Type{Kind: kb}).temporal() {
		return func(x, y any) int { return x.(time.Time).Compare(y.(time.Time)) }, nil
	}
	if ka != kb {
		return nil, fmt.Errorf("%s and %s do not compare", a.Kind, b.Kind)
	}
	switch ka {
	case String:
		return func(x, y any) int { return strings.Compare(x.(string), y.(string)) }, nil
	case Boolean:
		return func(x, y any) int {
			bx, by := x.(bool), y.(bool)
			switch {
			case bx == by:
				return 0
			case !bx:
				return -1
			}
			return 1
		}, nil
	case Bytes:
		return func(x, y any) int { return strings.Compare(string(x.([]byte)), string(y.([]byte))) }, nil
	case Interval:
		return func(x, y any) int { return cmp.Compare(x.(time.Duration), y.(time.Duration)) }, nil
	}
	return nil, fmt.Errorf("%s values do not compare", ka)
}

func (c *compiler) unary(e *sqlparse.Unary) (*Expr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	out := &Expr{Type: x.Type, Const: x.Const}
	if e.Op == "NOT" {
		if x.Type.Kind != Boolean && x.Type.Kind != Null {
			return nil, errorAt(e.At, "NOT %s: NOT takes a BOOLEAN, not %s", e.X, x.Type.Kind)
		}
		out.Type.Kind = Boolean
		out.Eval = func(row []any) (any, error) {
			v, err := x.Eval(row)
			if err != nil || v == nil {
				return nil, err
			}
			return !v.(bool), nil
		}
		return out, nil
	}
	if !x.Type.numeric() && x.Type.Kind != Interval {
		return nil, errorAt(e.At, "-%s: minus takes a number, not %s", e.X, x.Type.Kind)
	}
	out.Eval = func(row []any) (any, error) {
		v, err := x.Eval(row)
		if err != nil || v == nil {
			return nil, err
		}
		switch v := v.(type) {
		case int32:
			return -v, nil
		case int64:
			return -v, nil
		case float64:
			return -v, nil
		case time.Duration:
			return -v, nil
		}
		return nil, fmt.Errorf("minus of %T", v)
	}
	return out, nil
}

func (c *compiler) isNull(e *sqlparse.IsNull) (*Expr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	if e.What != "NULL" && x.Type.Kind != Boolean && x.Type.Kind != Null {
		return nil, errorAt(e.At, "%s: IS %s takes a BOOLEAN, not %s", e, e.What, x.Type.Kind)
	}
	what, not := e.What, e.Not
	return &Expr{Type: Type{Kind: Boolean, NotNull: true}, Const: x.Const, Eval: func(row []any) (any, error) {
		v, err := x.Eval(row)
		if err != nil {
			return nil, err
		}
		var is bool
		switch what {
		case "NULL":
			is = v == nil
		case "TRUE":
			is = v == true
		default:
			is = v == false
		}
		return is != not, nil
	}}, nil
}

func (c *compiler) between(e *sqlparse.Between) (*Expr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	lo, err := c.compile(e.Lo)
	if err != nil {
		return nil, err
	}
	hi, err := c.compile(e.Hi)
	if err != nil {
		return nil, err
	}
	cl, err1 := comparer(x.Type, lo.Type)
	ch, err2 := comparer(x.Type, hi.Type)
	if err1 != nil || err2 != nil {
		return nil, errorAt(e.At, "%s: BETWEEN compares %s with %s and %s", e, x.Type.Kind, lo.Type.Kind, hi.Type.Kind)
	}
	not := e.Not
	return &Expr{Type: Type{Kind: Boolean, NotNull: !nullable(x.Type, lo.Type, hi.Type)}, Const: x.Const && lo.Const && hi.Const,
		Eval: func(row []any) (any, error) {
			v, err := x.Eval(row)
			if err != nil || v == nil {
				return nil, err
			}
			a, err := lo.Eval(row)
			if err != nil || a == nil {
				return nil, err
			}
			b, err := hi.Eval(row)
			if err != nil || b == nil {
				return nil, err
			}
			return (cl(v, a) >= 0 && ch(v, b) <= 0) != not, nil
		}}, nil
}

func (c *compiler) in(e *sqlparse.In) (*Expr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	type item struct {
		e   *Expr
		cmp func(a, b any) int
	}
	items := make([]item, len(e.List))
	for i, le := range e.List {
		ce, err := c.compile(le)
		if err != nil {
			return nil, err
		}
		cmp, err := comparer(x.Type, ce.Type)
		if err != nil {
			return nil, errorAt(le.Pos(), "%s IN (…): %s and %s do not compare", e.X, x.Type.Kind, ce.Type.Kind)
		}
		items[i] = item{ce, cmp}
	}
	not := e.Not
	return &Expr{Type: Type{Kind: Boolean}, Eval: func(row []any) (any, error) {
		v, err := x.Eval(row)
		if err != nil || v == nil {
			return nil, err
		}
		sawNull := false
		for _, it := range items {
			w, err := it.e.Eval(row)
			if err != nil {
				return nil, err
			}
			if w == nil {
				sawNull = true
			} else if it.cmp(v, w) == 0 {
				return !not, nil
			}
		}
		if sawNull {
			return nil, nil
		}
		return not, nil
	}}, nil
}

// likeRegexp turns a LIKE pattern (% any run, _ one character) into a regular expression.
func likeRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("(?s)^")
	for _, r := range p {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

func (c *compiler) like(e *sqlparse.Like) (*Expr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	p, err := c.compile(e.Pattern)
	if err != nil {
		return nil, err
	}
	if (x.Type.Kind != String && x.Type.Kind != Null) || (p.Type.Kind != String && p.Type.Kind != Null) {
		return nil, errorAt(e.At, "%s: LIKE takes strings, not %s and %s", e, x.Type.Kind, p.Type.Kind)
	}
	var fixed *regexp.Regexp
	if p.Const {
		if v, _ := p.Eval(nil); v != nil {
			if fixed, err = likeRegexp(v.(string)); err != nil {
				return nil, errorAt(e.Pattern.Pos(), "LIKE pattern %s: %v", e.Pattern, err)
			}
		}
	}
	not := e.Not
	return &Expr{Type: Type{Kind: Boolean, NotNull: !nullable(x.Type, p.Type)}, Eval: strict2(x, p, func(v, pat any) (any, error) {
		re := fixed
		if re == nil {
			var err error
			if re, err = likeRegexp(pat.(string)); err != nil {
				return nil, err
			}
		}
		return re.MatchString(v.(string)) != not, nil
	})}, nil
}
