package sqlparse

import (
	"strings"
)

// Statement is one parsed statement. String writes it back as canonical SQL (keywords in
// upper case, names quoted only where they must be), which parses to the same statement.
type Statement interface {
	Pos() Pos
	String() string
}

// CreateTable is CREATE TABLE [IF NOT EXISTS] name (…) WITH (…) [AS query].
type CreateTable struct {
	At          Pos
	Name        string
	IfNotExists bool
	Columns     []*Column
	Watermark   *Watermark
	PrimaryKey  []string
	With        []Option
	As          Query // CREATE TABLE … AS SELECT; nil otherwise
}

// Column is a physical column (Type), a metadata column (Type and Metadata) or a computed
// one (Computed).
type Column struct {
	At       Pos
	Name     string
	Type     *Type
	Computed Expr
	// Metadata is the key of METADATA [FROM 'key'] (the column's name when no FROM),
	// Virtual its VIRTUAL flag; IsMetadata says the column is one.
	IsMetadata bool
	Metadata   string
	Virtual    bool
}

// Type is a data type: its name in upper case (STRING, VARCHAR, INT, BIGINT, DOUBLE,
// BOOLEAN, DECIMAL, TIMESTAMP, TIMESTAMP_LTZ, …), its parameters, and NOT NULL.
type Type struct {
	Name    string
	Params  []string
	NotNull bool
}

// Watermark is WATERMARK FOR column AS expression.
type Watermark struct {
	At     Pos
	Column string
	Expr   Expr
}

// Option is one 'key' = 'value' of a WITH clause.
type Option struct{ Key, Value string }

// AlterTable is ALTER TABLE name ADD (a column or a watermark).
type AlterTable struct {
	At        Pos
	Name      string
	Column    *Column
	Watermark *Watermark
}

// DropTable is DROP TABLE [IF EXISTS] name.
type DropTable struct {
	At       Pos
	Name     string
	IfExists bool
}

// ShowTables is SHOW TABLES.
type ShowTables struct{ At Pos }

// Describe is DESCRIBE name (or DESC name).
type Describe struct {
	At   Pos
	Name string
}

// Set is SET 'key' = 'value', or SET alone (list the settings); Reset is RESET ['key'].
type Set struct {
	At         Pos
	Key, Value string
	Reset      bool
}

// Explain is EXPLAIN statement (a query, an INSERT or a statement set).
type Explain struct {
	At        Pos
	Statement Statement
}

// Insert is INSERT INTO table query.
type Insert struct {
	At    Pos
	Table string
	Query Query
}

// StatementSet is EXECUTE STATEMENT SET BEGIN insert; … END (or BEGIN STATEMENT SET; … END):
// inserts run as one job.
type StatementSet struct {
	At      Pos
	Inserts []*Insert
}

// QueryStatement is a query on its own (the shell shows its result).
type QueryStatement struct{ Query Query }

// Query is a SELECT or a UNION ALL of queries.
type Query interface {
	Pos() Pos
	String() string
	query()
}

// Select is SELECT [DISTINCT] items FROM from [WHERE] [GROUP BY] [HAVING].
type Select struct {
	At       Pos
	Distinct bool
	Items    []SelectItem
	From     From
	Where    Expr
	GroupBy  []Expr
	Having   Expr
}

// SelectItem is expr [AS alias], or * (Star, with Qualifier for t.*).
type SelectItem struct {
	Expr      Expr
	Alias     string
	Star      bool
	Qualifier string
}

// Union is left UNION ALL right.
type Union struct {
	At          Pos
	Left, Right Query
}

// From is what a query reads: a table, a subquery, a window function or a join.
type From interface {
	Pos() Pos
	String() string
	from()
}

// TableRef is a table by name [FOR SYSTEM_TIME AS OF expr] [[AS] alias].
type TableRef struct {
	At    Pos
	Name  string
	AsOf  Expr
	Alias string
}

// SubqueryFrom is ( query ) [AS] alias.
type SubqueryFrom struct {
	At    Pos
	Query Query
	Alias string
}

// WindowTVF is TABLE(TUMBLE|HOP|CUMULATE|SESSION(TABLE t, DESCRIPTOR(col), intervals…))
// [[AS] alias]. Args are the intervals in the function's order (TUMBLE: size; HOP: slide,
// size; CUMULATE: step, size; SESSION: gap); Named says they were given by name
// (DATA => …, TIMECOL => …, SIZE => …). PartitionBy is SESSION's PARTITION BY columns.
type WindowTVF struct {
	At          Pos
	Func        string
	Table       string
	TimeCol     string
	Args        []Expr
	Named       bool
	PartitionBy []string
	Alias       string
}

// Join is left [INNER|LEFT|RIGHT|FULL [OUTER]] JOIN right ON cond.
type Join struct {
	At          Pos
	Kind        string // INNER, LEFT, RIGHT, FULL
	Left, Right From
	On          Expr
}

// Expr is an expression.
type Expr interface {
	Pos() Pos
	String() string
	expr()
}

// Ident is a column, maybe qualified (t.col): its parts as written.
type Ident struct {
	At    Pos
	Parts []string
}

// Literal is a string, number, boolean or NULL.
type Literal struct {
	At   Pos
	Kind string // STRING, NUMBER, BOOLEAN, NULL
	Text string // the string's value, the number or TRUE/FALSE as written (upper case)
}

// Interval is INTERVAL 'value' unit [TO unit].
type Interval struct {
	At    Pos
	Value string
	Unit  string // SECOND, MINUTE, …, DAY; or "DAY TO SECOND" and the like
}

// Binary is l op r: + - * / % || = <> < <= > >= AND OR.
type Binary struct {
	At   Pos
	Op   string
	L, R Expr
}

// Unary is - x or NOT x.
type Unary struct {
	At Pos
	Op string
	X  Expr
}

// Call is name(args) — a function, an aggregate (COUNT(*) has Star, COUNT(DISTINCT x) has
// Distinct) — or a function with no parentheses (CURRENT_TIMESTAMP, with NoParens).
type Call struct {
	At       Pos
	Name     string // upper case
	Args     []Expr
	Star     bool
	Distinct bool
	NoParens bool
}

// Case is CASE [operand] WHEN … THEN … [ELSE …] END.
type Case struct {
	At      Pos
	Operand Expr
	Whens   []When
	Else    Expr
}

// When is one WHEN cond THEN result.
type When struct{ Cond, Result Expr }

// Cast is CAST(x AS type) (TRY_CAST with Try).
type Cast struct {
	At   Pos
	X    Expr
	Type *Type
	Try  bool
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	At        Pos
	X, Lo, Hi Expr
	Not       bool
}

// IsNull is x IS [NOT] NULL (and IS [NOT] TRUE/FALSE, with What).
type IsNull struct {
	At   Pos
	X    Expr
	Not  bool
	What string // NULL, TRUE, FALSE
}

// In is x [NOT] IN (list).
type In struct {
	At   Pos
	X    Expr
	List []Expr
	Not  bool
}

// Like is x [NOT] LIKE pattern.
type Like struct {
	At         Pos
	X, Pattern Expr
	Not        bool
}

// TimeUnitCall is FLOOR(x TO unit), CEIL(x TO unit) or EXTRACT(unit FROM x).
type TimeUnitCall struct {
	At   Pos
	Func string // FLOOR, CEIL, EXTRACT
	X    Expr
	Unit string
}

func (s *CreateTable) Pos() Pos    { return s.At }
func (s *AlterTable) Pos() Pos     { return s.At }
func (s *DropTable) Pos() Pos      { return s.At }
func (s *ShowTables) Pos() Pos     { return s.At }
func (s *Describe) Pos() Pos       { return s.At }
func (s *Set) Pos() Pos            { return s.At }
func (s *Explain) Pos() Pos        { return s.At }
func (s *Insert) Pos() Pos         { return s.At }
func (s *StatementSet) Pos() Pos   { return s.At }
func (s *QueryStatement) Pos() Pos { return s.Query.Pos() }
func (q *Select) Pos() Pos         { return q.At }
func (q *Union) Pos() Pos          { return q.At }
func (f *TableRef) Pos() Pos       { return f.At }
func (f *SubqueryFrom) Pos() Pos   { return f.At }
func (f *WindowTVF) Pos() Pos      { return f.At }
func (f *Join) Pos() Pos           { return f.At }
func (e *Ident) Pos() Pos          { return e.At }
func (e *Literal) Pos() Pos        { return e.At }
func (e *Interval) Pos() Pos       { return e.At }
func (e *Binary) Pos() Pos         { return e.At }
func (e *Unary) Pos() Pos          { return e.At }
func (e *Call) Pos() Pos           { return e.At }
func (e *Case) Pos() Pos           { return e.At }
func (e *Cast) Pos() Pos           { return e.At }
func (e *Between) Pos() Pos        { return e.At }
func (e *IsNull) Pos() Pos         { return e.At }
func (e *In) Pos() Pos             { return e.At }
func (e *Like) Pos() Pos           { return e.At }
func (e *TimeUnitCall) Pos() Pos   { return e.At }

func (*Select) query() {}
func (*Union) query()  {}

func (*TableRef) from()     {}
func (*SubqueryFrom) from() {}
func (*WindowTVF) from()    {}
func (*Join) from()         {}

func (*Ident) expr()        {}
func (*Literal) expr()      {}
func (*Interval) expr()     {}
func (*Binary) expr()       {}
func (*Unary) expr()        {}
func (*Call) expr()         {}
func (*Case) expr()         {}
func (*Cast) expr()         {}
func (*Between) expr()      {}
func (*IsNull) expr()       {}
func (*In) expr()           {}
func (*Like) expr()         {}
func (*TimeUnitCall) expr() {}

// AliasOf is the name a FROM item is known by in the query: its alias, else the table's
// name ("" for a subquery or join without one).
func AliasOf(f From) string {
	switch f := f.(type) {
	case *TableRef:
		if f.Alias != "" {
			return f.Alias
		}
		return f.Name
	case *SubqueryFrom:
		return f.Alias
	case *WindowTVF:
		return f.Alias
	}
	return ""
}

// keywords are the reserved words: a name spelled as one must be quoted (`select`).
var keywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`ADD ALL ALTER AND AS BEGIN BETWEEN BY CASE CAST CREATE CROSS
		DESC DESCRIBE DESCRIPTOR DISTINCT DROP ELSE END EXECUTE EXISTS EXPLAIN FALSE FOR FROM
		FULL GROUP HAVING IF IN INNER INSERT INTERVAL INTO IS JOIN LEFT LIKE METADATA NOT NULL
		ON OR OUTER PARTITION PRIMARY RESET RIGHT SELECT SET SHOW STATEMENT TABLE TABLES THEN
		TO TRUE TRY_CAST UNION VIRTUAL WATERMARK WHEN WHERE WITH`) {
		keywords[k] = true
	}
}
