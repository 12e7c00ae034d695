package sqlparse

import "strings"

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
	for p.err == nil {
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
		for p.err == nil {
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
	for p.err == nil {
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
	return nil
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
		for p.err == nil {
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
