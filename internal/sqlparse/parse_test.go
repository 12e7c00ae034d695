package sqlparse

import (
	"os"
	"strings"
	"testing"
)

// readCases splits a testdata file into its cases, skipping # comments.
func readCases(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// Every statement of testdata/statements.txt parses to its canonical form, which parses
// back to itself.
func TestStatements(t *testing.T) {
	cases := strings.Split(readCases(t, "statements.txt"), "\n\n")
	if len(cases) < 20 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		in, want, ok := strings.Cut(c, "\n----\n")
		if !ok {
			t.Fatalf("a case without ----: %q", c)
		}
		s, err := ParseOne(in)
		if err != nil {
			t.Errorf("%s\n: %v", in, err)
			continue
		}
		if got := s.String(); got != want {
			t.Errorf("%s\nparsed to\n%s\nwant\n%s", in, got, want)
			continue
		}
		again, err := ParseOne(want)
		if err != nil || again.String() != want {
			t.Errorf("the canonical form\n%s\ndoes not parse back to itself: %v\n%v", want, err, again)
		}
	}
}

// Each bad statement of testdata/errors.txt fails with its error, which names the line,
// the column and what was wrong.
func TestErrors(t *testing.T) {
	lines := strings.Split(readCases(t, "errors.txt"), "\n")
	if len(lines)%2 != 0 {
		t.Fatal("errors.txt: a statement without its error")
	}
	for i := 0; i < len(lines); i += 2 {
		_, err := Parse(lines[i])
		if err == nil || err.Error() != lines[i+1] {
			t.Errorf("%s\n: %v\nwant %s", lines[i], err, lines[i+1])
		}
	}
}

// A script: several statements, comments, positions on later lines, and the parts of a
// CREATE TABLE as the planner reads them.
func TestScript(t *testing.T) {
	src := `-- the course's first table
CREATE TABLE clicks (
  user_id STRING, /* who */
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'datagen', 'rows-per-second' = '5');

SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;
SELECT nope(;`
	_, err := Parse(src)
	if err == nil || err.Error() != "line 9, column 13: expected an expression, found \";\"" {
		t.Fatalf("Parse = %v", err)
	}
	ss, err := Parse(strings.TrimSuffix(src, "SELECT nope(;"))
	if err != nil || len(ss) != 2 {
		t.Fatalf("Parse = %v, %v", ss, err)
	}
	ct := ss[0].(*CreateTable)
	if ct.Pos() != (Pos{2, 1}) || ct.Columns[1].At != (Pos{4, 3}) || ct.Watermark.Column != "ts" ||
		ct.Columns[1].Type.Params[0] != "3" || ct.With[1] != (Option{"rows-per-second", "5"}) {
		t.Errorf("CREATE TABLE: %+v", ct)
	}
	sel := ss[1].(*QueryStatement).Query.(*Select)
	if AliasOf(sel.From) != "clicks" || sel.Items[1].Expr.(*Call).Star != true || sel.At != (Pos{8, 1}) {
		t.Errorf("SELECT: %+v", sel)
	}
	if e, err := ParseExpr("price * 1.1e2 > 3"); err != nil || e.String() != "((price * 1.1e2) > 3)" {
		t.Errorf("ParseExpr = %v, %v", e, err)
	}
	if _, err := ParseExpr("a b"); err == nil || err.Error() != `line 1, column 3: expected the end of the expression, found "b"` {
		t.Errorf("ParseExpr(a b) = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range strings.Split(readCases(f, "statements.txt"), "\n\n") {
		in, _, _ := strings.Cut(c, "\n----\n")
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ss, err := Parse(src)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%q: %v", src, err)
			}
			return
		}
		for _, s := range ss {
			again, err := ParseOne(s.String())
			if err != nil || again.String() != s.String() {
				t.Fatalf("%q: %q does not parse back to itself: %v", src, s.String(), err)
			}
		}
	})
}
