// Package sqlparse parses the Flink SQL subset eddy's SQL layer compiles (issue 17): the
// statements (CREATE TABLE with computed and metadata columns, watermarks, primary keys
// and WITH options; CREATE TABLE AS, ALTER TABLE ADD, DROP TABLE, SHOW TABLES, DESCRIBE,
// SET, EXPLAIN, INSERT INTO and statement sets) and queries (projections, expressions,
// WHERE, GROUP BY, HAVING, window table-valued functions, joins, UNION ALL, subqueries).
//
// It is a hand-written recursive-descent parser: every error names its line and column
// and what was expected there, which a generated parser's messages do not do as well; the
// grammar is small enough to read in three files (parse.go: statements; parse_query.go: queries, FROM, window functions; parse_expr.go: expressions). It parses only; planning and
// compiling to a topology are the next layer's.
package sqlparse

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a place in the text: line and column, both from 1 (columns count characters).
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("line %d, column %d", p.Line, p.Col) }

// Error is a syntax error at a place.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokIdent            // a name or a keyword, as written
	tokQuoted           // a `quoted` name
	tokString           // a 'string', unescaped
	tokNumber           // 12, 1.5, .5, 1e3
	tokOp               // punctuation and operators
)

type token struct {
	kind tokenKind
	text string
	pos  Pos
}

// describe is the token as an error message names it.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the statement"
	case tokString:
		return fmt.Sprintf("the string '%s'", t.text)
	case tokQuoted:
		return fmt.Sprintf("`%s`", t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

// lex splits src into tokens, dropping spaces and comments (-- to the end of the line,
// /* … */).
func lex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	advance := func(n int) {
		for _, r := range src[i : i+n] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		i += n
	}
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		pos := Pos{line, col}
		switch {
		case unicode.IsSpace(r):
			advance(size)
		case strings.HasPrefix(src[i:], "--"):
			n := strings.IndexByte(src[i:], '\n')
			if n < 0 {
				n = len(src) - i
			}
			advance(n)
		case strings.HasPrefix(src[i:], "/*"):
			n := strings.Index(src[i+2:], "*/")
			if n < 0 {
				return nil, &Error{pos, "a comment that is not closed (*/)"}
			}
			advance(n + 4)
		case r == '`' || r == '\'':
			// A 'string' or a `name`; the quote doubled stands for itself.
			q := src[i]
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(src[j:], q)
				if k < 0 {
					if q == '`' {
						return nil, &Error{pos, "a quoted name that is not closed (`)"}
					}
					return nil, &Error{pos, "a string that is not closed (')"}
				}
				b.WriteString(src[j : j+k])
				j += k + 1
				if j < len(src) && src[j] == q {
					b.WriteByte(q)
					j++
					continue
				}
				break
			}
			kind := tokString
			if q == '`' {
				kind = tokQuoted
			}
			toks = append(toks, token{kind, b.String(), pos})
			advance(j - i)
		case r >= '0' && r <= '9' || r == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for j = k; j < len(src) && src[j] >= '0' && src[j] <= '9'; j++ {
					}
				}
			}
			text := src[i:j]
			if strings.Count(text, ".") > 1 {
				return nil, &Error{pos, fmt.Sprintf("a number with two points: %s", text)}
			}
			toks = append(toks, token{tokNumber, text, pos})
			advance(j - i)
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if r2 != '_' && r2 != '$' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{tokIdent, src[i:j], pos})
			advance(j - i)
		default:
			op := ""
			for _, o := range []string{"<>", "!=", "<=", ">=", "||", "(", ")", ",", ".", ";", "*", "+", "-", "/", "%", "=", "<", ">"} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, &Error{pos, fmt.Sprintf("unexpected character %q", r)}
			}
			toks = append(toks, token{tokOp, op, pos})
			advance(len(op))
		}
	}
	return append(toks, token{tokEOF, "", Pos{line, col}}), nil
}
