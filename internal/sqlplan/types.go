// Package sqlplan plans eddy's SQL layer: the catalog of tables, the types of the Flink
// SQL subset and its expressions (checked at planning time and compiled once to a
// function of a row), and the planner that compiles queries and INSERTs into eddy
// topologies over changelogs (+I, -U, +U, -D). Rows are []any of Go values: bool, int32
// (INT), int64 (BIGINT), float64 (DOUBLE), string (STRING), []byte (BYTES), time.Time
// (TIMESTAMP, TIMESTAMP_LTZ, in UTC) and time.Duration (an INTERVAL); nil is NULL.
// Package sql is its public face; ARCHITECTURE.md's "SQL" section describes the plan.
package sqlplan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

// Kind is a type of the subset.
type Kind int

// The kinds.
const (
	Null Kind = iota // the type of the literal NULL, before it meets another
	Boolean
	Int
	BigInt
	Double
	String
	Bytes
	Timestamp    // TIMESTAMP(p): a time without zone, held in UTC
	TimestampLTZ // TIMESTAMP_LTZ(p)
	Interval
)

var kindNames = [...]string{"NULL", "BOOLEAN", "INT", "BIGINT", "DOUBLE", "STRING", "BYTES", "TIMESTAMP", "TIMESTAMP_LTZ", "INTERVAL"}

func (k Kind) String() string { return kindNames[k] }

// Type is a kind with its precision (timestamps) and nullability.
type Type struct {
	Kind      Kind
	Precision int // TIMESTAMP(3): 3
	NotNull   bool
}

func (t Type) String() string {
	s := t.Kind.String()
	if t.Kind == Timestamp || t.Kind == TimestampLTZ {
		s += "(" + strconv.Itoa(t.Precision) + ")"
	}
	if t.NotNull {
		s += " NOT NULL"
	}
	return s
}

func (t Type) numeric() bool  { return t.Kind == Int || t.Kind == BigInt || t.Kind == Double }
func (t Type) temporal() bool { return t.Kind == Timestamp || t.Kind == TimestampLTZ }

// TypeOf resolves a parsed data type.
func TypeOf(t *sqlparse.Type, at sqlparse.Pos) (Type, error) {
	out := Type{NotNull: t.NotNull}
	switch t.Name {
	case "BOOLEAN", "BOOL":
		out.Kind = Boolean
	case "INT", "INTEGER", "SMALLINT", "TINYINT":
		out.Kind = Int
	case "BIGINT":
		out.Kind = BigInt
	case "DOUBLE", "FLOAT", "REAL":
		out.Kind = Double
	case "STRING", "VARCHAR", "CHAR":
		out.Kind = String
	case "BYTES", "VARBINARY", "BINARY":
		out.Kind = Bytes
	case "TIMESTAMP", "TIMESTAMP_LTZ":
		out.Kind, out.Precision = Timestamp, 6
		if t.Name == "TIMESTAMP_LTZ" {
			out.Kind = TimestampLTZ
		}
		if len(t.Params) == 1 {
			p, err := strconv.Atoi(t.Params[0])
			if err != nil || p < 0 || p > 9 {
				return out, errorAt(at, "%s(%s): the precision is 0 to 9", t.Name, t.Params[0])
			}
			out.Precision = p
		}
	case "DECIMAL", "NUMERIC", "DEC":
		return out, errorAt(at, "DECIMAL is not supported yet: use DOUBLE or BIGINT")
	default:
		return out, errorAt(at, "unknown or unsupported type %s (the types: BOOLEAN, INT, BIGINT, DOUBLE, STRING, BYTES, TIMESTAMP(p), TIMESTAMP_LTZ(p))", t.Name)
	}
	return out, nil
}

// Error is a planning error at a place of the statement.
type Error struct {
	Pos sqlparse.Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

func errorAt(at sqlparse.Pos, format string, args ...any) error {
	return &Error{at, fmt.Sprintf(format, args...)}
}

// Column is a column a query can name: its name, the table (or alias) that has it, its
// type and its index in the row.
type Column struct {
	Table, Name string
	Type        Type
	Index       int
}

// Scope is the columns an expression sees.
type Scope struct {
	Columns []Column
	// Exprs are expressions, by their canonical text, that are columns of the scope: an
	// aggregation's output has its GROUP BY expressions and its aggregate calls so, for
	// the SELECT list and HAVING to name.
	Exprs map[string]int
	// Inner is the scope an aggregation read (nil elsewhere): a column of it that is not
	// here was neither grouped by nor aggregated.
	Inner *Scope
}

// lookup resolves a (maybe qualified) column name. Names are case-sensitive, as Flink's
// are; the error of an unknown one lists the columns there are.
func (s *Scope) lookup(id *sqlparse.Ident) (Column, error) {
	var table, name string
	switch len(id.Parts) {
	case 1:
		name = id.Parts[0]
	case 2:
		table, name = id.Parts[0], id.Parts[1]
	default:
		return Column{}, errorAt(id.At, "%s: a column is name or table.name", id)
	}
	var found []Column
	for _, c := range s.Columns {
		if c.Name == name && (table == "" || c.Table == table) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		if s.Inner != nil {
			if _, err := s.Inner.lookup(id); err == nil {
				return Column{}, errorAt(id.At, "%s is neither grouped by nor aggregated: add it to GROUP BY, or aggregate it", id)
			}
		}
		names := make([]string, len(s.Columns))
		for i, c := range s.Columns {
			names[i] = c.Name
		}
		return Column{}, errorAt(id.At, "unknown column %s (the columns here: %s)", id, strings.Join(names, ", "))
	}
	return Column{}, errorAt(id.At, "column %s is ambiguous: %s.%s and %s.%s; qualify it", id, found[0].Table, name, found[1].Table, name)
}
