package sqlparse

import "strings"

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
	for p.err == nil {
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
	return nil
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
		for p.err == nil {
			in.List = append(in.List, p.expr())
			if p.acceptOp(")") {
				return in
			}
			p.needOp(",")
		}
	default: // LIKE
		return &Like{At: t.pos, X: x, Pattern: p.additive(), Not: not}
	}
	return nil
}

func (p *parser) additive() Expr {
	l := p.multiplicative()
	for p.err == nil {
		t := p.peek()
		if t.kind != tokOp || (t.text != "+" && t.text != "-" && t.text != "||") {
			return l
		}
		p.next()
		l = &Binary{At: t.pos, Op: t.text, L: l, R: p.multiplicative()}
	}
	return nil
}

func (p *parser) multiplicative() Expr {
	l := p.unary()
	for p.err == nil {
		t := p.peek()
		if t.kind != tokOp || (t.text != "*" && t.text != "/" && t.text != "%") {
			return l
		}
		p.next()
		l = &Binary{At: t.pos, Op: t.text, L: l, R: p.unary()}
	}
	return nil
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
			for p.err == nil {
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
