package sqlplan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

var testScope = &Scope{Columns: []Column{
	{"t", "a", Type{Kind: Int, NotNull: true}, 0},
	{"t", "b", Type{Kind: BigInt}, 1},
	{"t", "d", Type{Kind: Double}, 2},
	{"t", "s", Type{Kind: String}, 3},
	{"t", "ts", Type{Kind: Timestamp, Precision: 3}, 4},
	{"t", "n", Type{Kind: Int}, 5},
	{"t", "flag", Type{Kind: Boolean}, 6},
	{"u", "c", Type{Kind: Int}, 7},
}}

var testRow = []any{int32(7), int64(3_000_000_000), 2.5, "Hello, World", time.Date(2026, 12, 3, 10, 42, 17, 123e6, time.UTC), nil, true, int32(1)}

func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return v.Format("2006-01-02 15:04:05.000")
	}
	return fmt.Sprintf("%v:%T", v, v)
}

// Expressions over a row: the type the planner knows and the value they give, NULLs and
// three-valued logic included.
func TestExpressions(t *testing.T) {
	for _, c := range []struct{ src, typ, val string }{
		{"a + 1", "INT NOT NULL", "8:int32"},
		{"a + b", "BIGINT", "3000000007:int64"},
		{"a * d", "DOUBLE", "17.5:float64"},
		{"a / 2", "INT NOT NULL", "3:int32"},
		{"a % 4", "INT NOT NULL", "3:int32"},
		{"-a", "INT NOT NULL", "-7:int32"},
		{"a + n", "INT", "NULL"},
		{"a > 5 AND s LIKE 'Hello%'", "BOOLEAN", "true:bool"},
		{"n > 1 AND FALSE", "BOOLEAN", "false:bool"},
		{"n > 1 OR TRUE", "BOOLEAN", "true:bool"},
		{"n > 1 OR FALSE", "BOOLEAN", "NULL"},
		{"NOT flag", "BOOLEAN", "false:bool"},
		{"n IS NULL", "BOOLEAN NOT NULL", "true:bool"},
		{"flag IS NOT TRUE", "BOOLEAN NOT NULL", "false:bool"},
		{"a BETWEEN 1 AND 7.0", "BOOLEAN NOT NULL", "true:bool"},
		{"a NOT BETWEEN 1 AND 6", "BOOLEAN NOT NULL", "true:bool"},
		{"a IN (1, 2, 7)", "BOOLEAN", "true:bool"},
		{"a IN (1, NULL)", "BOOLEAN", "NULL"},
		{"a NOT IN (1, 2)", "BOOLEAN", "true:bool"},
		{"s NOT LIKE '%W_rld'", "BOOLEAN", "false:bool"},
		{"s || '!'", "STRING", "Hello, World!:string"},
		{"UPPER(s)", "STRING", "HELLO, WORLD:string"},
		{"CHAR_LENGTH(s)", "INT", "12:int32"},
		{"SUBSTRING(s, 8)", "STRING", "World:string"},
		{"SUBSTRING(s, 1, 5)", "STRING", "Hello:string"},
		{"CONCAT(s, '-', 'x')", "STRING", "Hello, World-x:string"},
		{"REPLACE(s, 'World', 'eddy')", "STRING", "Hello, eddy:string"},
		{"COALESCE(n, a, 0)", "INT NOT NULL", "7:int32"},
		{"COALESCE(n, d)", "DOUBLE", "2.5:float64"},
		{"CASE WHEN a > 10 THEN 'big' WHEN a > 5 THEN 'mid' ELSE 'small' END", "STRING NOT NULL", "mid:string"},
		{"CASE a WHEN 7 THEN 1 END", "INT", "1:int32"},
		{"CASE WHEN n > 0 THEN 1 ELSE 2.5 END", "DOUBLE NOT NULL", "2.5:float64"},
		{"CAST(a AS STRING)", "STRING NOT NULL", "7:string"},
		{"CAST('42' AS BIGINT)", "BIGINT NOT NULL", "42:int64"},
		{"TRY_CAST('x' AS INT)", "INT", "NULL"},
		{"CAST(d AS INT)", "INT", "2:int32"},
		{"CAST(ts AS STRING)", "STRING", "2026-12-03 10:42:17.123:string"},
		{"ts - INTERVAL '5' SECOND", "TIMESTAMP(3)", "2026-12-03 10:42:12.123"},
		{"ts + INTERVAL '1.5' MINUTE", "TIMESTAMP(3)", "2026-12-03 10:43:47.123"},
		{"FLOOR(ts TO MINUTE)", "TIMESTAMP(3)", "2026-12-03 10:42:00.000"},
		{"CEIL(ts TO HOUR)", "TIMESTAMP(3)", "2026-12-03 11:00:00.000"},
		{"EXTRACT(HOUR FROM ts)", "BIGINT", "10:int64"},
		{"HOUR(ts)", "BIGINT", "10:int64"},
		{"ts > TO_TIMESTAMP('2026-12-01 00:00:00')", "BOOLEAN", "true:bool"},
		{"DATE_FORMAT(ts, 'yyyy-MM-dd HH:mm')", "STRING", "2026-12-03 10:42:string"},
		{"TO_TIMESTAMP_LTZ(1000, 3)", "TIMESTAMP_LTZ(3) NOT NULL", "1970-01-01 00:00:01.000"},
		{"u.c + t.a", "INT", "8:int32"},
		{"ROUND(d)", "DOUBLE", "3:float64"},
		{"MOD(b, 7)", "BIGINT", "4:int64"},
		{"3000000000 + 1", "BIGINT NOT NULL", "3000000001:int64"},
		{"1.5e1", "DOUBLE NOT NULL", "15:float64"},
	} {
		e, err := sqlparse.ParseExpr(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		x, err := Compile(e, testScope)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		v, err := x.Eval(testRow)
		if err != nil {
			t.Errorf("%s: Eval: %v", c.src, err)
			continue
		}
		if x.Type.String() != c.typ || show(v) != c.val {
			t.Errorf("%s = %s of type %s, want %s of type %s", c.src, show(v), x.Type, c.val, c.typ)
		}
	}
}

// What does not type-check fails at planning time, saying where and why; what fails on a
// row fails in Eval.
func TestExpressionErrors(t *testing.T) {
	for _, c := range []struct{ src, err string }{
		{"x + 1", "line 1, column 1: unknown column x (the columns here: a, b, d, s, ts, n, flag, c)"},
		{"a = 1 AND s + 1 > 0", "line 1, column 13: s + 1: cannot apply + to STRING and INT"},
		{"s = 1", "line 1, column 3: s = 1: cannot apply = to STRING and INT"},
		{"NOT a", "line 1, column 1: NOT a: NOT takes a BOOLEAN, not INT"},
		{"nope(a)", "line 1, column 1: unknown function NOPE"},
		{"UPPER(a)", "line 1, column 7: UPPER's argument 1 is INT, want STRING"},
		{"SUBSTRING(s)", "line 1, column 1: SUBSTRING takes 2 to 3 arguments, not 1"},
		{"COUNT(a) + 1", "line 1, column 1: COUNT is an aggregate: it goes in a SELECT with GROUP BY or over a window, not in a row's expression"},
		{"CASE WHEN a THEN 1 END", "line 1, column 11: WHEN a: a condition is BOOLEAN, not INT"},
		{"CASE WHEN flag THEN 1 ELSE 'x' END", "line 1, column 28: 'x' is STRING where the others are INT"},
		{"CAST(ts AS INT)", "line 1, column 1: CAST(ts AS INT): no cast from TIMESTAMP to INT"},
		{"CAST(a AS DECIMAL(10, 2))", "line 1, column 1: DECIMAL is not supported yet: use DOUBLE or BIGINT"},
		{"ts + INTERVAL '1' MONTH", "line 1, column 6: INTERVAL … MONTH is not supported: a window or a time difference needs a fixed length (MILLISECOND to WEEK)"},
		{"FLOOR(s TO DAY)", "line 1, column 1: FLOOR(s TO DAY): FLOOR takes a timestamp, not STRING"},
		{"s LIKE a", "line 1, column 3: (s LIKE a): LIKE takes strings, not STRING and INT"},
	} {
		e, err := sqlparse.ParseExpr(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		_, err = Compile(e, testScope)
		if err == nil || err.Error() != c.err {
			t.Errorf("%s: %v\nwant %s", c.src, err, c.err)
		}
	}
	// The ambiguous column: two tables have a.
	two := &Scope{Columns: []Column{{"t", "a", Type{Kind: Int}, 0}, {"u", "a", Type{Kind: Int}, 1}}}
	e, _ := sqlparse.ParseExpr("a + 1")
	if _, err := Compile(e, two); err == nil || !strings.Contains(err.Error(), "column a is ambiguous: t.a and u.a; qualify it") {
		t.Errorf("a + 1: %v", err)
	}
	for _, src := range []string{"a / (a - 7)", "CAST(s AS INT)"} {
		e, _ := sqlparse.ParseExpr(src)
		x, err := Compile(e, testScope)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.Eval(testRow); err == nil {
			t.Errorf("%s: no error on the row", src)
		}
	}
}
