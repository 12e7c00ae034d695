package sqlplan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

func (c *compiler) args(call *sqlparse.Call) ([]*Expr, error) {
	out := make([]*Expr, len(call.Args))
	for i, a := range call.Args {
		x, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// scalar is a function of strict arguments (NULL in, NULL out) of fixed kinds.
type scalar struct {
	args []Kind // the arguments' kinds; Null accepts any
	min  int    // how many are required (the rest optional)
	out  func(args []Type) Type
	f    func(args []any) (any, error)
}

// volatile are the functions that give a new value at each call: never constants.
var volatile = map[string]bool{"RAND": true, "RAND_INTEGER": true}

func returns(k Kind) func([]Type) Type { return func([]Type) Type { return Type{Kind: k} } }

// scalars are the supported functions of one row, by name.
var scalars = map[string]scalar{
	"RAND": {[]Kind{}, 0, returns(Double), func([]any) (any, error) { return rand.Float64(), nil }},
	"RAND_INTEGER": {[]Kind{Int}, 1, returns(Int), func(a []any) (any, error) {
		n := asInt(a[0])
		if n <= 0 {
			return nil, fmt.Errorf("RAND_INTEGER(%d): the bound must be positive", n)
		}
		return int32(rand.Int64N(n)), nil
	}},
	"UPPER":       {[]Kind{String}, 1, returns(String), func(a []any) (any, error) { return strings.ToUpper(a[0].(string)), nil }},
	"LOWER":       {[]Kind{String}, 1, returns(String), func(a []any) (any, error) { return strings.ToLower(a[0].(string)), nil }},
	"TRIM":        {[]Kind{String}, 1, returns(String), func(a []any) (any, error) { return strings.TrimSpace(a[0].(string)), nil }},
	"CHAR_LENGTH": {[]Kind{String}, 1, returns(Int), func(a []any) (any, error) { return int32(utf8.RuneCountInString(a[0].(string))), nil }},
	"REPLACE": {[]Kind{String, String, String}, 3, returns(String), func(a []any) (any, error) {
		return strings.ReplaceAll(a[0].(string), a[1].(string), a[2].(string)), nil
	}},
	"SUBSTRING": {[]Kind{String, BigInt, BigInt}, 2, returns(String), substring},
	"CONCAT": {nil, 1, returns(String), func(a []any) (any, error) {
		var b strings.Builder
		for _, x := range a {
			b.WriteString(x.(string))
		}
		return b.String(), nil
	}},
	"ABS": {[]Kind{Double}, 1, func(t []Type) Type { return Type{Kind: t[0].Kind} }, func(a []any) (any, error) {
		switch v := a[0].(type) {
		case int32:
			return max(v, -v), nil
		case int64:
			return max(v, -v), nil
		}
		return math.Abs(a[0].(float64)), nil
	}},
	"MOD": {[]Kind{BigInt, BigInt}, 2, func(t []Type) Type { k, _ := promote(t[0], t[1]); return Type{Kind: k} }, func(a []any) (any, error) {
		if asInt(a[1]) == 0 {
			return nil, errDivision
		}
		n := asInt(a[0]) % asInt(a[1])
		if _, ok := a[0].(int32); ok {
			if _, ok := a[1].(int32); ok {
				return int32(n), nil
			}
		}
		return n, nil
	}},
	"POWER":        {[]Kind{Double, Double}, 2, returns(Double), func(a []any) (any, error) { return math.Pow(asFloat(a[0]), asFloat(a[1])), nil }},
	"SQRT":         {[]Kind{Double}, 1, returns(Double), func(a []any) (any, error) { return math.Sqrt(asFloat(a[0])), nil }},
	"ROUND":        {[]Kind{Double, Int}, 1, func(t []Type) Type { return Type{Kind: t[0].Kind} }, round},
	"HOUR":         {[]Kind{Timestamp}, 1, returns(BigInt), func(a []any) (any, error) { return int64(a[0].(time.Time).Hour()), nil }},
	"MINUTE":       {[]Kind{Timestamp}, 1, returns(BigInt), func(a []any) (any, error) { return int64(a[0].(time.Time).Minute()), nil }},
	"SECOND":       {[]Kind{Timestamp}, 1, returns(BigInt), func(a []any) (any, error) { return int64(a[0].(time.Time).Second()), nil }},
	"TO_TIMESTAMP": {[]Kind{String, String}, 1, func([]Type) Type { return Type{Kind: Timestamp, Precision: 3} }, toTimestamp},
	"TO_TIMESTAMP_LTZ": {[]Kind{BigInt, Int}, 1, func([]Type) Type { return Type{Kind: TimestampLTZ, Precision: 3} }, func(a []any) (any, error) {
		n, scale := asInt(a[0]), int64(3)
		if len(a) > 1 {
			scale = asInt(a[1])
		}
		switch scale {
		case 0:
			return time.Unix(n, 0).UTC(), nil
		case 3:
			return time.UnixMilli(n).UTC(), nil
		}
		return nil, fmt.Errorf("TO_TIMESTAMP_LTZ: precision %d (0 or 3)", scale)
	}},
	"DATE_FORMAT": {[]Kind{Timestamp, String}, 2, returns(String), func(a []any) (any, error) {
		return a[0].(time.Time).Format(javaLayout(a[1].(string))), nil
	}},
}

// accepts reports whether a value of type t may be an argument of kind want.
func accepts(want Kind, t Type) bool {
	switch {
	case t.Kind == Null || want == Null:
		return true
	case want == Double, want == BigInt:
		return t.numeric() && (want == Double || t.Kind != Double)
	case want == Int:
		return t.Kind == Int || t.Kind == BigInt
	case want == Timestamp:
		return t.temporal()
	}
	return t.Kind == want
}

func (c *compiler) call(e *sqlparse.Call) (*Expr, error) {
	switch e.Name {
	case "COALESCE":
		return c.coalesce(e)
	case "CURRENT_TIMESTAMP", "NOW", "LOCALTIMESTAMP", "PROCTIME":
		return &Expr{Type: Type{Kind: TimestampLTZ, Precision: 3, NotNull: true}, Eval: func([]any) (any, error) {
			return time.Now().UTC().Truncate(time.Millisecond), nil
		}}, nil
	case "COUNT", "SUM", "MIN", "MAX", "AVG":
		return nil, errorAt(e.At, "%s is an aggregate: it goes in a SELECT with GROUP BY or over a window, not in %s", e.Name, "a row's expression")
	}
	fn, ok := scalars[e.Name]
	if !ok {
		return nil, errorAt(e.At, "unknown function %s", e.Name)
	}
	if e.Star || e.Distinct {
		return nil, errorAt(e.At, "%s takes neither * nor DISTINCT", e.Name)
	}
	args, err := c.args(e)
	if err != nil {
		return nil, err
	}
	if len(args) < fn.min || fn.args != nil && len(args) > len(fn.args) {
		return nil, errorAt(e.At, "%s takes %s arguments, not %d", e.Name, arity(fn), len(args))
	}
	types := make([]Type, len(args))
	for i, a := range args {
		want := String // CONCAT
		if fn.args != nil {
			want = fn.args[i]
		}
		if !accepts(want, a.Type) {
			return nil, errorAt(e.Args[i].Pos(), "%s's argument %d is %s, want %s", e.Name, i+1, a.Type.Kind, want)
		}
		types[i] = a.Type
	}
	out := &Expr{Type: fn.out(types), Const: !volatile[e.Name]}
	for _, a := range args {
		out.Const = out.Const && a.Const
	}
	out.Type.NotNull = !nullable(types...)
	out.Eval = func(row []any) (any, error) {
		vals := make([]any, len(args))
		for i, a := range args {
			v, err := a.Eval(row)
			if err != nil || v == nil {
				return nil, err
			}
			vals[i] = v
		}
		return fn.f(vals)
	}
	return out, nil
}

func arity(fn scalar) string {
	switch {
	case fn.args == nil:
		return fmt.Sprintf("%d or more", fn.min)
	case fn.min == len(fn.args):
		return strconv.Itoa(fn.min)
	}
	return fmt.Sprintf("%d to %d", fn.min, len(fn.args))
}

func substring(a []any) (any, error) {
	r := []rune(a[0].(string))
	start := int(asInt(a[1])) // 1-based
	if start < 1 {
		start = 1
	}
	end := len(r)
	if len(a) > 2 {
		end = min(end, start-1+int(asInt(a[2])))
	}
	if start-1 >= end {
		return "", nil
	}
	return string(r[start-1 : end]), nil
}

func round(a []any) (any, error) {
	digits := int64(0)
	if len(a) > 1 {
		digits = asInt(a[1])
	}
	switch v := a[0].(type) {
	case int32, int64:
		return v, nil
	}
	p := math.Pow(10, float64(digits))
	return math.Round(a[0].(float64)*p) / p, nil
}

func toTimestamp(a []any) (any, error) {
	layout := "2006-01-02 15:04:05"
	if len(a) > 1 {
		layout = javaLayout(a[1].(string))
	}
	s := a[0].(string)
	t, err := time.Parse(layout, s)
	if err != nil && len(a) == 1 {
		t, err = time.Parse("2006-01-02 15:04:05.999999999", s)
	}
	if err != nil {
		return nil, fmt.Errorf("TO_TIMESTAMP(%q): %v", s, err)
	}
	return t.UTC(), nil
}

// javaLayout turns a Java date pattern (yyyy-MM-dd HH:mm:ss.SSS) into a Go layout.
func javaLayout(p string) string {
	r := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000")
	return r.Replace(p)
}

func (c *compiler) coalesce(e *sqlparse.Call) (*Expr, error) {
	args, err := c.args(e)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errorAt(e.At, "COALESCE takes at least one argument")
	}
	t, err := common(e.Args, args)
	if err != nil {
		return nil, err
	}
	t.NotNull = false
	for _, a := range args {
		t.NotNull = t.NotNull || a.Type.NotNull
	}
	return &Expr{Type: t, Eval: func(row []any) (any, error) {
		for _, a := range args {
			v, err := a.Eval(row)
			if err != nil || v != nil {
				return convert(v, t.Kind), err
			}
		}
		return nil, nil
	}}, nil
}

// common is the type values of xs (at the places es) all fit: numbers promote; others
// must be one kind.
func common(es []sqlparse.Expr, xs []*Expr) (Type, error) {
	t := Type{Kind: Null}
	for i, x := range xs {
		if x.Type.Kind == Null {
			continue
		}
		if t.Kind == Null {
			t = x.Type
			continue
		}
		if k, ok := promote(t, x.Type); ok {
			t.Kind = k
			continue
		}
		if t.temporal() && x.Type.temporal() {
			continue
		}
		if t.Kind != x.Type.Kind {
			return t, errorAt(es[i].Pos(), "%s is %s where the others are %s", es[i], x.Type.Kind, t.Kind)
		}
	}
	return t, nil
}

// convert makes a numeric value the Go type of kind k.
func convert(v any, k Kind) any {
	if v == nil {
		return nil
	}
	switch k {
	case Double:
		return asFloat(v)
	case BigInt:
		return asInt(v)
	}
	return v
}

func (c *compiler) caseExpr(e *sqlparse.Case) (*Expr, error) {
	var operand *Expr
	if e.Operand != nil {
		var err error
		if operand, err = c.compile(e.Operand); err != nil {
			return nil, err
		}
	}
	conds := make([]*Expr, len(e.Whens))
	results := make([]*Expr, 0, len(e.Whens)+1)
	resultExprs := make([]sqlparse.Expr, 0, len(e.Whens)+1)
	var cmps []func(a, b any) int
	for i, w := range e.Whens {
		cond, err := c.compile(w.Cond)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			cmp, err := comparer(operand.Type, cond.Type)
			if err != nil {
				return nil, errorAt(w.Cond.Pos(), "CASE %s WHEN %s: %s and %s do not compare", e.Operand, w.Cond, operand.Type.Kind, cond.Type.Kind)
			}
			cmps = append(cmps, cmp)
		} else if cond.Type.Kind != Boolean && cond.Type.Kind != Null {
			return nil, errorAt(w.Cond.Pos(), "WHEN %s: a condition is BOOLEAN, not %s", w.Cond, cond.Type.Kind)
		}
		conds[i] = cond
		r, err := c.compile(w.Result)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
		resultExprs = append(resultExprs, w.Result)
	}
	var elseExpr *Expr
	if e.Else != nil {
		var err error
		if elseExpr, err = c.compile(e.Else); err != nil {
			return nil, err
		}
		results = append(results, elseExpr)
		resultExprs = append(resultExprs, e.Else)
	}
	t, err := common(resultExprs, results)
	if err != nil {
		return nil, err
	}
	t.NotNull = elseExpr != nil && !nullable(typesOf(results)...)
	return &Expr{Type: t, Eval: func(row []any) (any, error) {
		var op any
		if operand != nil {
			var err error
			if op, err = operand.Eval(row); err != nil {
				return nil, err
			}
		}
		for i, cond := range conds {
			v, err := cond.Eval(row)
			if err != nil {
				return nil, err
			}
			hit := v == true
			if operand != nil {
				hit = op != nil && v != nil && cmps[i](op, v) == 0
			}
			if hit {
				r, err := results[i].Eval(row)
				return convert(r, t.Kind), err
			}
		}
		if elseExpr == nil {
			return nil, nil
		}
		r, err := elseExpr.Eval(row)
		return convert(r, t.Kind), err
	}}, nil
}

func typesOf(xs []*Expr) []Type {
	out := make([]Type, len(xs))
	for i, x := range xs {
		out[i] = x.Type
	}
	return out
}

func (c *compiler) cast(e *sqlparse.Cast) (*Expr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	to, err := TypeOf(e.Type, e.At)
	if err != nil {
		return nil, err
	}
	conv, err := caster(x.Type, to)
	if err != nil {
		return nil, errorAt(e.At, "%s: %v", e, err)
	}
	try := e.Try
	to.NotNull = x.Type.NotNull && !try
	return &Expr{Type: to, Const: x.Const, Eval: func(row []any) (any, error) {
		v, err := x.Eval(row)
		if err != nil || v == nil {
			return nil, err
		}
		out, err := conv(v)
		if err != nil && try {
			return nil, nil // TRY_CAST: NULL instead of the error
		}
		return out, err
	}}, nil
}

// caster converts values of type from to type to.
func caster(from, to Type) (func(any) (any, error), error) {
	switch {
	case from.Kind == to.Kind || from.Kind == Null:
		return func(v any) (any, error) { return v, nil }, nil
	case to.Kind == String:
		return func(v any) (any, error) { return formatValue(v), nil }, nil
	case from.numeric() && to.numeric():
		return func(v any) (any, error) {
			switch to.Kind {
			case Int:
				return int32(asInt(v)), nil
			case BigInt:
				return asInt(v), nil
			}
			return asFloat(v), nil
		}, nil
	case from.Kind == String && to.numeric():
		return func(v any) (any, error) {
			s := strings.TrimSpace(v.(string))
			if to.Kind == Double {
				return strconv.ParseFloat(s, 64)
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("CAST(%q AS %s): not an integer", s, to.Kind)
			}
			if to.Kind == Int {
				if n < math.MinInt32 || n > math.MaxInt32 {
					return nil, fmt.Errorf("CAST(%q AS INT): out of range", s)
				}
				return int32(n), nil
			}
			return n, nil
		}, nil
	case from.Kind == String && to.Kind == Boolean:
		return func(v any) (any, error) {
			switch strings.ToUpper(strings.TrimSpace(v.(string))) {
			case "TRUE":
				return true, nil
			case "FALSE":
				return false, nil
			}
			return nil, fmt.Errorf("CAST(%q AS BOOLEAN): not TRUE or FALSE", v)
		}, nil
	case from.Kind == String && to.temporal():
		return func(v any) (any, error) { return toTimestamp([]any{v}) }, nil
	case from.temporal() && to.temporal():
		return func(v any) (any, error) { return v, nil }, nil
	case from.Kind == String && to.Kind == Bytes:
		return func(v any) (any, error) { return []byte(v.(string)), nil }, nil
	}
	return nil, fmt.Errorf("no cast from %s to %s", from.Kind, to.Kind)
}

// formatValue writes a value as CAST(… AS STRING) does.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05.000")
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		if v {
			return "TRUE"
		}
		return "FALSE"
	}
	return fmt.Sprint(v)
}

var floorUnits = map[string]time.Duration{"MILLISECOND": time.Millisecond, "SECOND": time.Second, "MINUTE": time.Minute, "HOUR": time.Hour, "DAY": 24 * time.Hour}

func (c *compiler) timeUnit(e *sqlparse.TimeUnitCall) (*Expr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	if !x.Type.temporal() && x.Type.Kind != Null {
		return nil, errorAt(e.At, "%s: %s takes a timestamp, not %s", e, e.Func, x.Type.Kind)
	}
	unit := e.Unit
	if e.Func == "EXTRACT" {
		return &Expr{Type: Type{Kind: BigInt, NotNull: x.Type.NotNull}, Const: x.Const, Eval: func(row []any) (any, error) {
			v, err := x.Eval(row)
			if err != nil || v == nil {
				return nil, err
			}
			t := v.(time.Time)
			switch unit {
			case "YEAR":
				return int64(t.Year()), nil
			case "QUARTER":
				return int64(t.Month()-1)/3 + 1, nil
			case "MONTH":
				return int64(t.Month()), nil
			case "WEEK":
				_, w := t.ISOWeek()
				return int64(w), nil
			case "DAY":
				return int64(t.Day()), nil
			case "HOUR":
				return int64(t.Hour()), nil
			case "MINUTE":
				return int64(t.Minute()), nil
			case "SECOND":
				return int64(t.Second()), nil
			}
			return int64(t.Nanosecond() / 1e6), nil
		}}, nil
	}
	d, ok := floorUnits[unit]
	if !ok {
		return nil, errorAt(e.At, "%s(… TO %s) is not supported: MILLISECOND to DAY", e.Func, unit)
	}
	ceil := e.Func == "CEIL"
	return &Expr{Type: x.Type, Const: x.Const, Eval: func(row []any) (any, error) {
		v, err := x.Eval(row)
		if err != nil || v == nil {
			return nil, err
		}
		t := v.(time.Time)
		f := t.Truncate(d) // times are UTC: a day starts at midnight UTC
		if ceil && !f.Equal(t) {
			f = f.Add(d)
		}
		return f, nil
	}}, nil
}
