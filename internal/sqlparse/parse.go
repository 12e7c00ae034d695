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

// parser reads tokens. Its first syntax error sticks (err): the helpers that fail set it
// and move to the end of the text, where every rule stops, and every loop ends on it, so
// the grammar reads as a grammar rather than as error checks.
type parser struct {
	toks []token
	i    int
	err  *Error
}

func (p *parser) peek() token { return p.peekAt(0) }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.peek()
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(pos Pos, format string, args ...any) {
	p.stop(&Error{pos, fmt.Sprintf(format, args...)})
}

// stop keeps the first error and skips to the end of the text.
func (p *parser) stop(e *Error) {
	if p.err == nil {
		p.err = e
	}
	p.i = len(p.toks) - 1
}

func (p *parser) expected(what string) *Error {
	t := p.peek()
	return &Error{t.pos, fmt.Sprintf("expected %s, found %s", what, t.describe())}
}

func (p *parser) expect(what string) { p.stop(p.expected(what)) }

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
		return ""
	}
	p.next()
	return t.text
}

func (p *parser) statement() (s Statement, err error) {
	err = p.catch(func() { s = p.stmt() })
	return s, err
}

// catch runs f and returns the syntax error it met, if any.
func (p *parser) catch(f func()) error {
	f()
	if p.err != nil {
		return p.err
	}
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
		case nil: // a syntax error inside, already kept
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
	for p.err == nil {
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
		for p.err == nil {
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
				for p.err == nil {
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
		return &Type{}
	}
	p.next()
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
	for p.err == nil {
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
	return nil
}

func (p *parser) options() []Option {
	p.needOp("(")
	var opts []Option
	seen := map[string]bool{}
	for p.err == nil {
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
	return nil
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
