package sqlparse

import (
	"fmt"
	"strings"
)

// Parse parses a script: statements separated by semicolons (the last may go without).
func Parse(src string) ([]Statement, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var out []Statement
	for {
		for p.acceptOp(";") {
		}
		if p.peek().kind == tokEOF {
			return out, nil
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		if p.peek().kind != tokEOF && !p.acceptOp(";") {
			return nil, p.expected("a semicolon between statements")
		}
	}
}

// ParseOne parses exactly one statement.
func ParseOne(src string) (Statement, error) {
	ss, err := Parse(src)
	if err != nil {
		return nil, err
	}
	if len(ss) != 1 {
		return nil, &Error{Pos{1, 1}, fmt.Sprintf("%d statements, want one", len(ss))}
	}
	return ss[0], nil
}

// ParseExpr parses one expression (as a computed column or a datagen field has).
func ParseExpr(src string) (Expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var e Expr
	err = p.catch(func() {
		e = p.expr()
		if p.peek().kind != tokEOF {
			p.expect("the end of the expression")
		}
	})
	return e, err
}

type parser struct {
	toks []token
	i    int
}

// bail is how the parser's helpers stop: a panic caught in statement, so that the grammar
// reads as a grammar rather than as error checks. It never leaves the package.
type bail struct{ err *Error }

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(pos Pos, format string, args ...any) {
	panic(bail{&Error{pos, fmt.Sprintf(format, args...)}})
}

func (p *parser) expected(what string) *Error {
	t := p.peek()
	return &Error{t.pos, fmt.Sprintf("expected %s, found %s", what, t.describe())}
}

func (p *parser) expect(what string) { panic(bail{p.expected(what)}) }

// isKw reports whether the next token is the keyword kw (any case).
func (p *parser) isKw(kw string) bool { return isKw(p.peek(), kw) }

func isKw(t token, kw string) bool { return t.kind == tokIdent && strings.EqualFold(t.text, kw) }

func (p *parser) acceptKw(kws ...string) bool {
	for i, kw := range kws {
		if !isKw(p.peekAt(i), kw) {
			return false
		}
	}
	p.i += len(kws)
	return true
}

func (p *parser) needKw(kws ...string) Pos {
	at := p.peek().pos
	for _, kw := range kws {
		if !p.acceptKw(kw) {
			p.expect(kw)
		}
	}
	return at
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tokOp && t.text == op
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) needOp(op string) {
	if !p.acceptOp(op) {
		p.expect(fmt.Sprintf("%q", op))
	}
}

// name reads a name: an identifier that is not a reserved word, or a quoted one.
func (p *parser) name(what string) string {
	t := p.peek()
	switch {
	case t.kind == tokQuoted:
		p.i++
		return t.text
	case t.kind == tokIdent && !keywords[strings.ToUpper(t.text)]:
		p.i++
		return t.text
	case t.kind == tokIdent:
		p.fail(t.pos, "expected %s, found the reserved word %s (quote it as `%s` to use it as a name)", what, strings.ToUpper(t.text), t.text)
	}
	p.expect(what)
	return ""
}

// qualifiedName reads name[.name…] (catalog.db.table), joined by dots.
func (p *parser) qualifiedName(what string) string {
	parts := []string{p.name(what)}
	for p.acceptOp(".") {
		parts = append(parts, p.name(what))
	}
	return strings.Join(parts, ".")
}

func (p *parser) str(what string) string {
	t := p.peek()
	if t.kind != tokString {
		p.expect(what)
	}
	p.i++
	return t.text
}

func (p *parser) statement() (s Statement, err error) {
	err = p.catch(func() { s = p.stmt() })
	return s, err
}

// catch runs f and returns the syntax error it bailed out with, if any.
func (p *parser) catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if b, ok := r.(bail); ok {
				err = b.err
				return
			}
			// A bug of the parser's own, not the text's: an error still, never a crash.
			err = &Error{p.peek().pos, fmt.Sprintf("internal error of the SQL parser: %v", r)}
		}
	}()
	f()
	return nil
}

func (p *parser) stmt() Statement {
	t := p.peek()
	switch {
	case isKw(t, "CREATE"):
		return p.createTable()
	case isKw(t, "ALTER"):
		return p.alterTable()
	case isKw(t, "DROP"):
		p.next()
		p.needKw("TABLE")
		d := &DropTable{At: t.pos}
		d.IfExists = p.acceptKw("IF", "EXISTS")
		d.Name = p.qualifiedName("a table name")
		return d
	case isKw(t, "SHOW"):
		p.next()
		p.needKw("TABLES")
		return &ShowTables{At: t.pos}
	case isKw(t, "DESCRIBE"), isKw(t, "DESC"):
		p.next()
		return &Describe{At: t.pos, Name: p.qualifiedName("a table name")}
	case isKw(t, "SET"), isKw(t, "RESET"):
		p.next()
		s := &Set{At: t.pos, Reset: isKw(t, "RESET")}
		if p.peek().kind == tokString {
			s.Key = p.str("a 'key'")
			if !s.Reset {
				p.needOp("=")
				s.Value = p.str("a 'value'")
			}
		}
		return s
	case isKw(t, "EXPLAIN"):
		p.next()
		inner := p.stmt()
		switch inner.(type) {
		case *QueryStatement, *Insert, *StatementSet:
		default:
			p.fail(inner.Pos(), "EXPLAIN takes a query, an INSERT or a statement set")
		}
		return &Explain{At: t.pos, Statement: inner}
	case isKw(t, "INSERT"):
		return p.insert()
	case isKw(t, "EXECUTE"), isKw(t, "BEGIN"):
		return p.statementSet()
	case isKw(t, "SELECT"), t.kind == tokOp && t.text == "(":
		return &QueryStatement{Query: p.query()}
	}
	p.expect("a statement (CREATE TABLE, INSERT INTO, SELECT, SET, SHOW TABLES, DESCRIBE, DROP TABLE, ALTER TABLE, EXPLAIN, EXECUTE STATEMENT SET)")
	return nil
}

func (p *parser) insert() *Insert {
	at := p.needKw("INSERT")
	if !p.acceptKw("INTO") {
		p.expect("INTO")
	}
	ins := &Insert{At: at, Table: p.qualifiedName("a table name")}
	ins.Query = p.query()
	return ins
}

// statementSet is EXECUTE STATEMENT SET BEGIN …; END, or BEGIN STATEMENT SET; …; END.
func (p *parser) statementSet() *StatementSet {
	at := p.peek().pos
	if p.acceptKw("EXECUTE") {
		p.needKw("STATEMENT", "SET", "BEGIN")
	} else {
		p.needKw("BEGIN", "STATEMENT", "SET")
		p.acceptOp(";")
	}
	set := &StatementSet{At: at}
	for {
		for p.acceptOp(";") {
		}
		if p.acceptKw("END") {
			break
		}
		if !p.isKw("INSERT") {
			p.expect("INSERT INTO or END (a statement set holds INSERT statements)")
		}
		set.Inserts = append(set.Inserts, p.insert())
		if !p.isKw("END") {
			p.needOp(";")
		}
	}
	if len(set.Inserts) == 0 {
		p.fail(at, "a statement set with no INSERT")
	}
	return set
}

func (p *parser) createTable() *CreateTable {
	at := p.needKw("CREATE")
	p.acceptKw("TEMPORARY") // every table is the session's
	if !p.acceptKw("TABLE") {
		p.expect("TABLE (CREATE TABLE is the one CREATE statement)")
	}
	c := &CreateTable{At: at}
	c.IfNotExists = p.acceptKw("IF", "NOT", "EXISTS")
	c.Name = p.qualifiedName("a table name")
	if p.acceptOp("(") {
		for {
			switch {
			case p.isKw("WATERMARK"):
				if c.Watermark != nil {
					p.fail(p.peek().pos, "a second WATERMARK: a table has one")
				}
				c.Watermark = p.watermark()
			case p.isKw("PRIMARY"):
				pos := p.next().pos
				if c.PrimaryKey != nil {
					p.fail(pos, "a second PRIMARY KEY")
				}
				p.needKw("KEY")
				p.needOp("(")
				for {
					c.PrimaryKey = append(c.PrimaryKey, p.name("a column name"))
					if !p.acceptOp(",") {
						break
					}
				}
				p.needOp(")")
				if !p.acceptKw("NOT", "ENFORCED") {
					p.fail(p.peek().pos, "PRIMARY KEY needs NOT ENFORCED: eddy, like Flink, does not check keys it does not own")
				}
			default:
				c.Columns = append(c.Columns, p.column())
			}
			if p.acceptOp(")") {
				break
			}
			if !p.acceptOp(",") {
				p.expect(`"," or ")"`)
			}
		}
	}
	if p.acceptKw("WITH") {
		c.With = p.options()
	}
	if p.acceptKw("AS") {
		c.As = p.query()
	}
	if len(c.Columns) == 0 && c.As == nil {
		p.fail(at, "CREATE TABLE %s has no columns (give them, or AS SELECT …)", c.Name)
	}
	return c
}

func (p *parser) watermark() *Watermark {
	at := p.needKw("WATERMARK", "FOR")
	w := &Watermark{At: at, Column: p.name("the time column")}
	p.needKw("AS")
	w.Expr = p.expr()
	return w
}

func (p *parser) column() *Column {
	c := &Column{At: p.peek().pos, Name: p.name("a column name, WATERMARK or PRIMARY KEY")}
	if p.acceptKw("AS") {
		c.Computed = p.expr()
		return c
	}
	c.Type = p.dataType()
	if p.acceptKw("METADATA") {
		c.IsMetadata = true
		c.Metadata = c.Name
		if p.acceptKw("FROM") {
			c.Metadata = p.str("the metadata key ('timestamp', 'partition', 'offset', 'headers', …)")
		}
		c.Virtual = p.acceptKw("VIRTUAL")
	}
	return c
}

func (p *parser) dataType() *Type {
	t := p.peek()
	if t.kind != tokIdent {
		p.expect("a data type")
	}
	p.i++
	typ := &Type{Name: strings.ToUpper(t.text)}
	switch typ.Name {
	case "TIMESTAMP", "TIME":
		// TIMESTAMP(3) WITH LOCAL TIME ZONE is TIMESTAMP_LTZ(3).
		typ.Params = p.typeParams()
		if p.acceptKw("WITH", "LOCAL", "TIME", "ZONE") {
			typ.Name += "_LTZ"
		} else {
			p.acceptKw("WITHOUT", "TIME", "ZONE")
		}
	case "DOUBLE":
		p.acceptKw("PRECISION")
	default:
		typ.Params = p.typeParams()
	}
	if p.acceptKw("NOT", "NULL") {
		typ.NotNull = true
	} else {
		p.acceptKw("NULL")
	}
	return typ
}

func (p *parser) typeParams() []string {
	if !p.acceptOp("(") {
		return nil
	}
	var ps []string
	for {
		t := p.next()
		if t.kind != tokNumber {
			p.fail(t.pos, "expected a number in the type's parameters, found %s", t.describe())
		}
		ps = append(ps, t.text)
		if p.acceptOp(")") {
			return ps
		}
		p.needOp(",")
	}
}

func (p *parser) options() []Option {
	p.needOp("(")
	var opts []Option
	seen := map[string]bool{}
	for {
		at := p.peek().pos
		k := p.str("an option 'key'")
		if seen[k] {
			p.fail(at, "option '%s' given twice", k)
		}
		seen[k] = true
		p.needOp("=")
		opts = append(opts, Option{Key: k, Value: p.str("the option's 'value'")})
		if p.acceptOp(")") {
			return opts
		}
		p.needOp(",")
	}
}

func (p *parser) alterTable() *AlterTable {
	at := p.needKw("ALTER", "TABLE")
	a := &AlterTable{At: at, Name: p.qualifiedName("a table name")}
	p.needKw("ADD")
	paren := p.acceptOp("(")
	if p.isKw("WATERMARK") {
		a.Watermark = p.watermark()
	} else {
		a.Column = p.column()
	}
	if paren {
		p.needOp(")")
	}
	return a
}

// query is select [UNION ALL select …], or ( query ).
func (p *parser) query() Query {
	q := p.queryTerm()
	for p.isKw("UNION") {
		at := p.next().pos
		if !p.acceptKw("ALL") {
			p.fail(p.peek().pos, "UNION without ALL is not supported: it would deduplicate; write UNION ALL")
		}
		q = &Union{At: at, Left: q, Right: p.queryTerm()}
	}
	return q
}

func (p *parser) queryTerm() Query {
	if p.acceptOp("(") {
		q := p.query()
		p.needOp(")")
		return q
	}
	return p.selectStmt()
}

func (p *parser) selectStmt() *Select {
	at := p.needKw("SELECT")
	s := &Select{At: at}
	s.Distinct = p.acceptKw("DISTINCT")
	p.acceptKw("ALL")
	for {
		s.Items = append(s.Items, p.selectItem())
		if !p.acceptOp(",") {
			break
		}
	}
	if !p.acceptKw("FROM") {
		p.expect("FROM (or \",\" and another column)")
	}
	s.From = p.from()
	if p.acceptKw("WHERE") {
		s.Where = p.expr()
	}
	if p.acceptKw("GROUP") {
		p.needKw("BY")
		for {
			s.GroupBy = append(s.GroupBy, p.expr())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("HAVING") {
		s.Having = p.expr()
	}
	return s
}

func (p *parser) selectItem() SelectItem {
	if p.acceptOp("*") {
		return SelectItem{Star: true}
	}
	// t.*
	if t := p.peek(); (t.kind == tokIdent || t.kind == tokQuoted) && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "." &&
		p.peekAt(2).kind == tokOp && p.peekAt(2).text == "*" {
		p.i += 3
		return SelectItem{Star: true, Qualifier: t.text}
	}
	it := SelectItem{Expr: p.expr()}
	if p.acceptKw("AS") {
		it.Alias = p.name("a column alias")
	} else if t := p.peek(); t.kind == tokQuoted || t.kind == tokIdent && !keywords[strings.ToUpper(t.text)] {
		it.Alias = p.name("a column alias")
	}
	return it
}

// from is a FROM item and its joins.
func (p *parser) from() From {
	f := p.fromItem()
	for {
		at := p.peek().pos
		kind := ""
		switch {
		case p.acceptKw("JOIN"), p.acceptKw("INNER", "JOIN"):
			kind = "INNER"
		case p.acceptKw("LEFT"), p.acceptKw("RIGHT"), p.acceptKw("FULL"):
			kind = strings.ToUpper(p.toks[p.i-1].text)
			p.acceptKw("OUTER")
			p.needKw("JOIN")
		case p.isKw("CROSS"):
			p.fail(at, "CROSS JOIN is not supported: a streaming cross join keeps every row of both sides; join ON a condition")
		case p.acceptOp(","):
			p.fail(at, "a join by comma is not supported: write JOIN … ON")
		default:
			return f
		}
		j := &Join{At: at, Kind: kind, Left: f, Right: p.fromItem()}
		if !p.acceptKw("ON") {
			p.expect("ON and the join condition")
		}
		j.On = p.expr()
		f = j
	}
}

func (p *parser) alias() string {
	if p.acceptKw("AS") {
		return p.name("an alias")
	}
	if t := p.peek(); t.kind == tokQuoted || t.kind == tokIdent && !keywords[strings.ToUpper(t.text)] {
		return p.name("an alias")
	}
	return ""
}

func (p *parser) fromItem() From {
	at := p.peek().pos
	switch {
	case p.isOp("("):
		p.next()
		q := p.query()
		p.needOp(")")
		return &SubqueryFrom{At: at, Query: q, Alias: p.alias()}
	case p.isKw("TABLE") && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "(":
		p.i += 2
		w := p.windowTVF(at)
		p.needOp(")")
		w.Alias = p.alias()
		return w
	}
	t := &TableRef{At: at, Name: p.qualifiedName("a table name or a subquery")}
	if p.acceptKw("FOR") {
		p.needKw("SYSTEM_TIME", "AS", "OF")
		t.AsOf = p.expr()
	}
	t.Alias = p.alias()
	return t
}

// windowArgs are each window function's interval parameters, by name, in order.
var windowArgs = map[string][]string{
	"TUMBLE":   {"SIZE"},
	"HOP":      {"SLIDE", "SIZE"},
	"CUMULATE": {"STEP", "SIZE"},
	"SESSION":  {"GAP"},
}

// windowTVF is TUMBLE(TABLE t, DESCRIPTOR(c), INTERVAL …) and the others, positional or
// with named arguments (DATA => TABLE t, TIMECOL => DESCRIPTOR(c), SIZE => INTERVAL …).
func (p *parser) windowTVF(at Pos) *WindowTVF {
	ft := p.next()
	w := &WindowTVF{At: at, Func: strings.ToUpper(ft.text)}
	names, ok := windowArgs[w.Func]
	if ft.kind != tokIdent || !ok {
		p.fail(ft.pos, "expected a window function (TUMBLE, HOP, CUMULATE or SESSION), found %s", ft.describe())
	}
	p.needOp("(")
	named := func(want string) {
		if p.peek().kind == tokIdent && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "=" && p.peekAt(2).kind == tokOp && p.peekAt(2).text == ">" {
			got := p.next()
			if !strings.EqualFold(got.text, want) {
				p.fail(got.pos, "expected the argument %s of %s here, found %s", want, w.Func, strings.ToUpper(got.text))
			}
			p.i += 2
			w.Named = true
		}
	}
	named("DATA")
	p.needKw("TABLE")
	w.Table = p.qualifiedName("the windowed table")
	if w.Func == "SESSION" && p.acceptKw("PARTITION") {
		p.needKw("BY")
		for {
			w.PartitionBy = append(w.PartitionBy, p.name("a column"))
			// A comma continues the columns unless the time column follows it.
			after := p.peekAt(1)
			if !p.isOp(",") || isKw(after, "DESCRIPTOR") || isKw(after, "TIMECOL") {
				break
			}
			p.next()
		}
	}
	p.needOp(",")
	named("TIMECOL")
	p.needKw("DESCRIPTOR")
	p.needOp("(")
	w.TimeCol = p.name("the time column")
	p.needOp(")")
	for _, n := range names {
		if !p.acceptOp(",") {
			p.fail(p.peek().pos, "%s needs its %s: expected \",\" and an INTERVAL, found %s", w.Func, n, p.peek().describe())
		}
		named(n)
		w.Args = append(w.Args, p.expr())
	}
	if p.acceptOp(",") {
		p.fail(p.peek().pos, "%s takes %d interval(s) (%s); a window offset is not supported", w.Func, len(names), strings.Join(names, ", "))
	}
	p.needOp(")")
	return w
}

// The expressions, from the loosest binding: OR, AND, NOT, comparisons and predicates,
// + - ||, * / %, unary minus, then the primaries.

func (p *parser) expr() Expr {
	l := p.and()
	for p.isKw("OR") {
		at := p.next().pos
		l = &Binary{At: at, Op: "OR", L: l, R: p.and()}
	}
	return l
}

func (p *parser) and() Expr {
	l := p.not()
	for p.isKw("AND") {
		at := p.next().pos
		l = &Binary{At: at, Op: "AND", L: l, R: p.not()}
	}
	return l
}

func (p *parser) not() Expr {
	if p.isKw("NOT") {
		at := p.next().pos
		return &Unary{At: at, Op: "NOT", X: p.not()}
	}
	return p.comparison()
}

var comparisons = map[string]bool{"=": true, "<>": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

func (p *parser) comparison() Expr {
	l := p.additive()
	for {
		t := p.peek()
		switch {
		case t.kind == tokOp && comparisons[t.text]:
			p.next()
			op := t.text
			if op == "!=" {
				op = "<>"
			}
			l = &Binary{At: t.pos, Op: op, L: l, R: p.additive()}
		case isKw(t, "IS"):
			p.next()
			is := &IsNull{At: t.pos, X: l, Not: p.acceptKw("NOT")}
			switch {
			case p.acceptKw("NULL"):
				is.What = "NULL"
			case p.acceptKw("TRUE"):
				is.What = "TRUE"
			case p.acceptKw("FALSE"):
				is.What = "FALSE"
			default:
				p.expect("NULL, TRUE or FALSE after IS")
			}
			l = is
		case isKw(t, "NOT") && (isKw(p.peekAt(1), "BETWEEN") || isKw(p.peekAt(1), "IN") || isKw(p.peekAt(1), "LIKE")):
			p.next()
			l = p.predicate(l, true)
		case isKw(t, "BETWEEN"), isKw(t, "IN"), isKw(t, "LIKE"):
			l = p.predicate(l, false)
		default:
			return l
		}
	}
}

func (p *parser) predicate(x Expr, not bool) Expr {
	t := p.next()
	switch strings.ToUpper(t.text) {
	case "BETWEEN":
		lo := p.additive()
		p.needKw("AND")
		return &Between{At: t.pos, X: x, Lo: lo, Hi: p.additive(), Not: not}
	case "IN":
		p.needOp("(")
		in := &In{At: t.pos, X: x, Not: not}
		if p.isKw("SELECT") {
			p.fail(p.peek().pos, "IN (SELECT …) is not supported: join instead")
		}
		for {
			in.List = append(in.List, p.expr())
			if p.acceptOp(")") {
				return in
			}
			p.needOp(",")
		}
	default: // LIKE
		return &Like{At: t.pos, X: x, Pattern: p.additive(), Not: not}
	}
}

func (p *parser) additive() Expr {
	l := p.multiplicative()
	for {
		t := p.peek()
		if t.kind != tokOp || (t.text != "+" && t.text != "-" && t.text != "||") {
			return l
		}
		p.next()
		l = &Binary{At: t.pos, Op: t.text, L: l, R: p.multiplicative()}
	}
}

func (p *parser) multiplicative() Expr {
	l := p.unary()
	for {
		t := p.peek()
		if t.kind != tokOp || (t.text != "*" && t.text != "/" && t.text != "%") {
			return l
		}
		p.next()
		l = &Binary{At: t.pos, Op: t.text, L: l, R: p.unary()}
	}
}

func (p *parser) unary() Expr {
	t := p.peek()
	if t.kind == tokOp && (t.text == "-" || t.text == "+") {
		p.next()
		x := p.unary()
		if t.text == "+" {
			return x
		}
		if n, ok := x.(*Literal); ok && n.Kind == "NUMBER" && !strings.HasPrefix(n.Text, "-") {
			return &Literal{At: t.pos, Kind: "NUMBER", Text: "-" + n.Text}
		}
		return &Unary{At: t.pos, Op: "-", X: x}
	}
	return p.primary()
}

// noParens are the functions called without parentheses.
var noParens = map[string]bool{"CURRENT_TIMESTAMP": true, "CURRENT_DATE": true, "CURRENT_TIME": true, "LOCALTIMESTAMP": true, "LOCALTIME": true}

// timeUnits are the units of intervals, FLOOR/CEIL … TO and EXTRACT.
var timeUnits = map[string]bool{"MILLISECOND": true, "SECOND": true, "MINUTE": true, "HOUR": true, "DAY": true, "WEEK": true, "MONTH": true, "QUARTER": true, "YEAR": true}

func (p *parser) unit(what string) string {
	t := p.peek()
	u := strings.ToUpper(t.text)
	if t.kind != tokIdent || !timeUnits[strings.TrimSuffix(u, "S")] {
		p.expect(what + " (SECOND, MINUTE, HOUR, DAY, …)")
	}
	p.next()
	return strings.TrimSuffix(u, "S")
}

func (p *parser) primary() Expr {
	t := p.peek()
	switch t.kind {
	case tokNumber:
		p.next()
		return &Literal{At: t.pos, Kind: "NUMBER", Text: t.text}
	case tokString:
		p.next()
		return &Literal{At: t.pos, Kind: "STRING", Text: t.text}
	case tokOp:
		if t.text == "(" {
			p.next()
			if p.isKw("SELECT") {
				p.fail(p.peek().pos, "a scalar subquery is not supported")
			}
			e := p.expr()
			p.needOp(")")
			return e
		}
		p.expect("an expression")
	case tokQuoted:
		return p.identOrCall()
	case tokEOF:
		p.expect("an expression")
	}
	up := strings.ToUpper(t.text)
	switch up {
	case "NULL":
		p.next()
		return &Literal{At: t.pos, Kind: "NULL", Text: "NULL"}
	case "TRUE", "FALSE":
		p.next()
		return &Literal{At: t.pos, Kind: "BOOLEAN", Text: up}
	case "INTERVAL":
		p.next()
		iv := &Interval{At: t.pos}
		neg := p.acceptOp("-")
		iv.Value = p.str("the interval's 'value' (INTERVAL '5' SECOND)")
		if neg {
			iv.Value = "-" + iv.Value
		}
		iv.Unit = p.unit("the interval's unit")
		if p.acceptKw("TO") {
			iv.Unit += " TO " + p.unit("the interval's last unit")
		}
		return iv
	case "CASE":
		return p.caseExpr()
	case "CAST", "TRY_CAST":
		p.next()
		p.needOp("(")
		c := &Cast{At: t.pos, X: p.expr(), Try: up == "TRY_CAST"}
		p.needKw("AS")
		c.Type = p.dataType()
		p.needOp(")")
		return c
	case "EXTRACT":
		if p.peekAt(1).kind == tokOp && p.peekAt(1).text == "(" {
			p.i += 2
			u := p.unit("the unit to extract")
			p.needKw("FROM")
			x := p.expr()
			p.needOp(")")
			return &TimeUnitCall{At: t.pos, Func: "EXTRACT", X: x, Unit: u}
		}
	case "FLOOR", "CEIL":
		if p.peekAt(1).kind == tokOp && p.peekAt(1).text == "(" {
			save := p.i
			p.i += 2
			x := p.expr()
			if p.acceptKw("TO") {
				u := p.unit("the unit to round to")
				p.needOp(")")
				return &TimeUnitCall{At: t.pos, Func: up, X: x, Unit: u}
			}
			p.i = save // FLOOR(x): a plain call
		}
	}
	if keywords[up] {
		p.fail(t.pos, "expected an expression, found the reserved word %s", up)
	}
	return p.identOrCall()
}

func (p *parser) identOrCall() Expr {
	t := p.next()
	up := strings.ToUpper(t.text)
	if t.kind == tokIdent && p.isOp("(") {
		p.next()
		c := &Call{At: t.pos, Name: up}
		if p.acceptOp("*") {
			c.Star = true
			p.needOp(")")
			return c
		}
		c.Distinct = p.acceptKw("DISTINCT")
		if !p.acceptOp(")") {
			for {
				c.Args = append(c.Args, p.expr())
				if p.acceptOp(")") {
					break
				}
				p.needOp(",")
			}
		}
		return c
	}
	if t.kind == tokIdent && noParens[up] {
		return &Call{At: t.pos, Name: up, NoParens: true}
	}
	id := &Ident{At: t.pos, Parts: []string{t.text}}
	for p.isOp(".") && (p.peekAt(1).kind == tokIdent || p.peekAt(1).kind == tokQuoted) {
		p.next()
		id.Parts = append(id.Parts, p.next().text)
	}
	return id
}

func (p *parser) caseExpr() Expr {
	at := p.needKw("CASE")
	c := &Case{At: at}
	if !p.isKw("WHEN") {
		c.Operand = p.expr()
	}
	for p.acceptKw("WHEN") {
		cond := p.expr()
		p.needKw("THEN")
		c.Whens = append(c.Whens, When{Cond: cond, Result: p.expr()})
	}
	if len(c.Whens) == 0 {
		p.expect("WHEN")
	}
	if p.acceptKw("ELSE") {
		c.Else = p.expr()
	}
	p.needKw("END")
	return c
}
