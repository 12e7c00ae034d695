package sqlparse

import (
	"strings"
)

// quote writes a name as SQL needs it: bare when it is a plain identifier that is not a
// reserved word, else in backquotes (a backquote inside doubled).
func quote(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			plain = false
			break
		}
	}
	if plain && !keywords[strings.ToUpper(name)] {
		return name
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// quoteQualified quotes each part of a dotted name.
func quoteQualified(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = quote(p)
	}
	return strings.Join(parts, ".")
}

func str(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func join[T interface{ String() string }](xs []T, sep string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return strings.Join(parts, sep)
}

func (s *CreateTable) String() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE ")
	if s.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(quoteQualified(s.Name))
	var parts []string
	for _, c := range s.Columns {
		parts = append(parts, c.String())
	}
	if s.Watermark != nil {
		parts = append(parts, s.Watermark.String())
	}
	if s.PrimaryKey != nil {
		keys := make([]string, len(s.PrimaryKey))
		for i, k := range s.PrimaryKey {
			keys[i] = quote(k)
		}
		parts = append(parts, "PRIMARY KEY ("+strings.Join(keys, ", ")+") NOT ENFORCED")
	}
	if len(parts) > 0 {
		b.WriteString(" (\n  " + strings.Join(parts, ",\n  ") + "\n)")
	}
	if len(s.With) > 0 {
		opts := make([]string, len(s.With))
		for i, o := range s.With {
			opts[i] = str(o.Key) + " = " + str(o.Value)
		}
		b.WriteString(" WITH (\n  " + strings.Join(opts, ",\n  ") + "\n)")
	}
	if s.As != nil {
		b.WriteString(" AS " + s.As.String())
	}
	return b.String()
}

func (c *Column) String() string {
	if c.Computed != nil {
		return quote(c.Name) + " AS " + c.Computed.String()
	}
	out := quote(c.Name) + " " + c.Type.String()
	if c.IsMetadata {
		out += " METADATA"
		if c.Metadata != c.Name {
			out += " FROM " + str(c.Metadata)
		}
		if c.Virtual {
			out += " VIRTUAL"
		}
	}
	return out
}

func (t *Type) String() string {
	name := t.Name
	ltz := false
	if name == "TIMESTAMP_LTZ" && len(t.Params) > 0 {
		name, ltz = "TIMESTAMP", true
	}
	out := name
	if len(t.Params) > 0 {
		out += "(" + strings.Join(t.Params, ", ") + ")"
	}
	if ltz {
		out += " WITH LOCAL TIME ZONE"
	}
	if t.NotNull {
		out += " NOT NULL"
	}
	return out
}

func (w *Watermark) String() string {
	return "WATERMARK FOR " + quote(w.Column) + " AS " + w.Expr.String()
}

func (s *AlterTable) String() string {
	if s.Watermark != nil {
		return "ALTER TABLE " + quoteQualified(s.Name) + " ADD " + s.Watermark.String()
	}
	return "ALTER TABLE " + quoteQualified(s.Name) + " ADD " + s.Column.String()
}

func (s *DropTable) String() string {
	if s.IfExists {
		return "DROP TABLE IF EXISTS " + quoteQualified(s.Name)
	}
	return "DROP TABLE " + quoteQualified(s.Name)
}

func (s *ShowTables) String() string { return "SHOW TABLES" }

func (s *Describe) String() string { return "DESCRIBE " + quoteQualified(s.Name) }

func (s *Set) String() string {
	switch {
	case s.Reset && s.Key == "":
		return "RESET"
	case s.Reset:
		return "RESET " + str(s.Key)
	case s.Key == "":
		return "SET"
	}
	return "SET " + str(s.Key) + " = " + str(s.Value)
}

func (s *Explain) String() string { return "EXPLAIN " + s.Statement.String() }

func (s *Insert) String() string {
	return "INSERT INTO " + quoteQualified(s.Table) + " " + s.Query.String()
}

func (s *StatementSet) String() string {
	return "EXECUTE STATEMENT SET BEGIN\n" + join(s.Inserts, ";\n") + ";\nEND"
}

func (s *QueryStatement) String() string { return s.Query.String() }

func (q *Select) String() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.Distinct {
		b.WriteString("DISTINCT ")
	}
	items := make([]string, len(q.Items))
	for i, it := range q.Items {
		switch {
		case it.Star && it.Qualifier != "":
			items[i] = quote(it.Qualifier) + ".*"
		case it.Star:
			items[i] = "*"
		case it.Alias != "":
			items[i] = it.Expr.String() + " AS " + quote(it.Alias)
		default:
			items[i] = it.Expr.String()
		}
	}
	b.WriteString(strings.Join(items, ", "))
	b.WriteString(" FROM " + q.From.String())
	if q.Where != nil {
		b.WriteString(" WHERE " + q.Where.String())
	}
	if len(q.GroupBy) > 0 {
		b.WriteString(" GROUP BY " + join(q.GroupBy, ", "))
	}
	if q.Having != nil {
		b.WriteString(" HAVING " + q.Having.String())
	}
	return b.String()
}

func (q *Union) String() string {
	return q.Left.String() + " UNION ALL " + q.Right.String()
}

func withAlias(s, alias string) string {
	if alias == "" {
		return s
	}
	return s + " AS " + quote(alias)
}

func (f *TableRef) String() string {
	s := quoteQualified(f.Name)
	if f.AsOf != nil {
		s += " FOR SYSTEM_TIME AS OF " + f.AsOf.String()
	}
	return withAlias(s, f.Alias)
}

func (f *SubqueryFrom) String() string { return withAlias("("+f.Query.String()+")", f.Alias) }

func (f *WindowTVF) String() string {
	names := windowArgs[f.Func]
	arg := func(name, v string) string {
		if f.Named {
			return name + " => " + v
		}
		return v
	}
	table := "TABLE " + quoteQualified(f.Table)
	if len(f.PartitionBy) > 0 {
		cols := make([]string, len(f.PartitionBy))
		for i, c := range f.PartitionBy {
			cols[i] = quote(c)
		}
		table += " PARTITION BY " + strings.Join(cols, ", ")
	}
	args := []string{arg("DATA", table), arg("TIMECOL", "DESCRIPTOR("+quote(f.TimeCol)+")")}
	for i, a := range f.Args {
		args = append(args, arg(names[i], a.String()))
	}
	return withAlias("TABLE("+f.Func+"("+strings.Join(args, ", ")+"))", f.Alias)
}

func (f *Join) String() string {
	kind := f.Kind + " JOIN"
	if f.Kind == "INNER" {
		kind = "JOIN"
	}
	return f.Left.String() + " " + kind + " " + f.Right.String() + " ON " + f.On.String()
}

func (e *Ident) String() string {
	parts := make([]string, len(e.Parts))
	for i, p := range e.Parts {
		parts[i] = quote(p)
	}
	return strings.Join(parts, ".")
}

func (e *Literal) String() string {
	if e.Kind == "STRING" {
		return str(e.Text)
	}
	return e.Text
}

func (e *Interval) String() string {
	v := e.Value
	if strings.HasPrefix(v, "-") {
		return "INTERVAL -" + str(v[1:]) + " " + e.Unit
	}
	return "INTERVAL " + str(v) + " " + e.Unit
}

// Binary and unary expressions are written in parentheses, so that the text says the
// tree whatever the precedence (and parses back to it).
func (e *Binary) String() string { return "(" + e.L.String() + " " + e.Op + " " + e.R.String() + ")" }

func (e *Unary) String() string {
	if e.Op == "NOT" {
		return "(NOT " + e.X.String() + ")"
	}
	return "(-" + e.X.String() + ")"
}

func (e *Call) String() string {
	switch {
	case e.NoParens:
		return e.Name
	case e.Star:
		return e.Name + "(*)"
	case e.Distinct:
		return e.Name + "(DISTINCT " + join(e.Args, ", ") + ")"
	}
	return e.Name + "(" + join(e.Args, ", ") + ")"
}

func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if e.Operand != nil {
		b.WriteString(" " + e.Operand.String())
	}
	for _, w := range e.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Result.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE " + e.Else.String())
	}
	return b.String() + " END"
}

func (e *Cast) String() string {
	name := "CAST"
	if e.Try {
		name = "TRY_CAST"
	}
	return name + "(" + e.X.String() + " AS " + e.Type.String() + ")"
}

func not(b bool) string {
	if b {
		return " NOT"
	}
	return ""
}

func (e *Between) String() string {
	return "(" + e.X.String() + not(e.Not) + " BETWEEN " + e.Lo.String() + " AND " + e.Hi.String() + ")"
}

func (e *IsNull) String() string { return "(" + e.X.String() + " IS" + not(e.Not) + " " + e.What + ")" }

func (e *In) String() string {
	return "(" + e.X.String() + not(e.Not) + " IN (" + join(e.List, ", ") + "))"
}

func (e *Like) String() string {
	return "(" + e.X.String() + not(e.Not) + " LIKE " + e.Pattern.String() + ")"
}

func (e *TimeUnitCall) String() string {
	if e.Func == "EXTRACT" {
		return "EXTRACT(" + e.Unit + " FROM " + e.X.String() + ")"
	}
	return e.Func + "(" + e.X.String() + " TO " + e.Unit + ")"
}
