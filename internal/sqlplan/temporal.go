package sqlplan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// temporalHistory is how long a temporal join's table keeps the versions it replaced: a
// row up to that much older than the table's newest update still finds the version of
// its time.
const temporalHistory = time.Hour

// temporalJoin plans l [LEFT] JOIN t FOR SYSTEM_TIME AS OF l.rowtime ON l.x = t.pk …,
// Flink's event-time temporal join: each left row meets the version of t's row for its
// key valid at the left row's time. t is an upsert-kafka table whose rowtime is its
// records' timestamp: eddy keeps its versions by that (TableFrom with Versioned), and a
// left row is joined when it is processed — a task processes the left and the table's
// partitions in timestamp order, so it meets the table as updated up to its time. The
// result is append-only; LEFT JOIN gives NULLs for a key with no version then.
func (p *planner) temporalJoin(j *sqlparse.Join, ref *sqlparse.TableRef) (*rel, error) {
	if j.Kind != "INNER" && j.Kind != "LEFT" {
		return nil, errorAt(j.At, "a temporal join is INNER or LEFT, not %s", j.Kind)
	}
	l, lw, err := p.from(j.Left)
	if err != nil {
		return nil, err
	}
	if lw != nil || l.updating {
		return nil, errorAt(j.At, "a temporal join's left side is an append-only table (not a window function, an upsert table or an aggregation)")
	}
	t, err := p.table(ref.Name, ref.At)
	if err != nil {
		return nil, err
	}
	if t.Connector != "upsert-kafka" {
		return nil, errorAt(ref.At, "FOR SYSTEM_TIME AS OF %s: a temporal join's table is versioned by its primary key: an upsert-kafka table, not %s", t.Name, t.Connector)
	}
	if w := t.Watermark; w == nil || t.Columns[w.Column].MetadataKey != "timestamp" {
		return nil, errorAt(ref.At, "FOR SYSTEM_TIME AS OF %s: eddy keeps a table's versions by its records' timestamps, so its rowtime must be them: "+
			"a column METADATA FROM 'timestamp' with the WATERMARK", t.Name)
	}
	asOf, err := Compile(ref.AsOf, l.scope)
	if err != nil {
		return nil, err
	}
	if l.rowtime < 0 || asOf.columnRef() != l.rowtime {
		return nil, errorAt(ref.AsOf.Pos(), "FOR SYSTEM_TIME AS OF %s: it must be the left side's time attribute (its WATERMARK's column)", ref.AsOf)
	}
	alias := sqlparse.AliasOf(ref)
	rs := t.Scope(alias)
	nl := len(l.scope.Columns)
	scope, on, err := joinScope(j, l.scope, rs)
	if err != nil {
		return nil, err
	}
	// Each primary key column of t equals an expression of the left row.
	keys := make([]*Expr, len(t.PrimaryKey))
	for _, c := range conjuncts(j.On) {
		b, ok := c.(*sqlparse.Binary)
		if !ok || b.Op != "=" {
			continue
		}
		for _, pair := range [][2]sqlparse.Expr{{b.L, b.R}, {b.R, b.L}} {
			r, err := Compile(pair[1], rs)
			if err != nil || r.columnRef() < 0 {
				continue
			}
			k := slices.Index(t.PrimaryKey, r.columnRef())
			x, err := Compile(pair[0], l.scope)
			if k < 0 || err != nil {
				continue
			}
			keys[k] = converting(x, t.Columns[t.PrimaryKey[k]].Type.Kind)
		}
	}
	for i, k := range keys {
		if k == nil {
			return nil, errorAt(j.On.Pos(), "a temporal join's ON equals each of %s's primary key columns to the left side: %s is missing", t.Name, t.Columns[t.PrimaryKey[i]].Name)
		}
	}
	read, err := p.c.reader(t, nil)
	if err != nil {
		return nil, err
	}
	width := len(t.Columns)
	table := topology.TableFrom(p.top, t.Options["topic"], serde.Bytes(), serde.Serde[[]any](rowSerde{codec: read.codecs.Value, width: width, value: true}),
		strings.ToLower(p.name("TEMPORAL-STORE")), topology.Versioned(temporalHistory))
	keyCodec := read.codecs.Key
	outer := j.Kind == "LEFT"
	keyedLeft := topology.Process(l.s, p.name("TEMPORAL-KEY"), func() processor.Processor[[]any, Change, []byte, []any] {
		return &temporalKeyProc{keys: keys, pk: t.PrimaryKey, width: width, codec: keyCodec, outer: outer}
	})
	// Moved to the table's tasks by key; a left join's rows with a NULL key come along
	// with a null Kafka key, and leave the join there with NULLs.
	moved := topology.Repartition(keyedLeft, serde.Bytes(), serde.Serde[[]any](binRow{l.kinds()}),
		topology.Named(strings.ToLower(p.name("TEMPORAL-BY-KEY"))))
	left := moved.Filter(func(k []byte, _ []any) bool { return k != nil })
	complete := func(lrow, trow []any) ([]any, error) {
		row := make([]any, width)
		copy(row, trow)
		for i, c := range t.PrimaryKey { // the key's columns, when the value leaves them out
			if row[c] == nil {
				row[c], _ = keys[i].Eval(lrow)
			}
		}
		if err := read.compute(row); err != nil {
			return nil, err
		}
		return append(slices.Clip(lrow), row...), nil
	}
	var joined topology.Stream[[]byte, []any]
	named := topology.Named(strings.ToLower(p.name("TEMPORAL-JOIN")))
	if j.Kind == "LEFT" {
		joined = topology.LeftJoinTable(left, table, serde.Bytes(), serde.Serde[[]any](binRow{l.kinds()}),
			func(_ []byte, lrow, trow []any, found bool) []any {
				if !found {
					return append(slices.Clip(lrow), make([]any, width)...)
				}
				row, err := complete(lrow, trow)
				if err != nil {
					return nil // temporalOnProc reports it
				}
				return row
			}, named)
	} else {
		joined = topology.JoinTable(left, table, serde.Bytes(), serde.Serde[[]any](binRow{l.kinds()}),
			func(_ []byte, lrow, trow []any) []any {
				row, err := complete(lrow, trow)
				if err != nil {
					return nil // temporalOnProc reports it
				}
				return row
			}, named)
	}
	out := &rel{scope: scope, rowtime: l.rowtime, keyCols: nil}
	out.s = topology.Process(joined, p.name("TEMPORAL-ON"), func() processor.Processor[[]byte, []any, []any, Change] {
		return &temporalOnProc{on: on, nl: nl, width: width, outer: outer, table: t.Name}
	})
	if outer {
		for i := nl; i < len(scope.Columns); i++ {
			scope.Columns[i].Type.NotNull = false // NULLs where no version is found
		}
		// A left row with a NULL key meets no version: it goes on with NULLs, beside the join.
		nulls := moved.Filter(func(k []byte, _ []any) bool { return k == nil })
		alone := topology.Process(nulls, p.name("TEMPORAL-NULL-KEY"), func() processor.Processor[[]byte, []any, []any, Change] {
			return &nullKeyProc{width: width}
		})
		out.s = out.s.MergeNamed(p.name("TEMPORAL-MERGE"), alone)
	}
	return out, nil
}

// nullKeyProc gives the left rows whose key has a NULL, with NULLs for the table's columns.
type nullKeyProc struct {
	ctx   processor.Context[[]any, Change]
	width int
}

func (n *nullKeyProc) Init(ctx processor.Context[[]any, Change]) error { n.ctx = ctx; return nil }
func (n *nullKeyProc) Close() error                                    { return nil }

func (n *nullKeyProc) Process(rec processor.Record[[]byte, []any]) error {
	row := append(slices.Clip(rec.Value), make([]any, n.width)...)
	return n.ctx.Forward(processor.Record[[]any, Change]{Value: Change{Insert, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// temporalKeyProc keys each left row by the table's key bytes for its key values.
type temporalKeyProc struct {
	ctx   processor.Context[[]byte, []any]
	outer bool
	keys  []*Expr
	pk    []int
	width int
	codec RowCodec
}

func (k *temporalKeyProc) Init(ctx processor.Context[[]byte, []any]) error { k.ctx = ctx; return nil }
func (k *temporalKeyProc) Close() error                                    { return nil }

func (k *temporalKeyProc) Process(rec processor.Record[[]any, Change]) error {
	key, ok, err := joinKey(k.keys, rec.Value.Row)
	if err != nil {
		return err
	}
	if !ok { // a NULL key meets no version: an inner join drops the row, a left one keeps it
		if !k.outer {
			return nil
		}
		return k.ctx.Forward(processor.Record[[]byte, []any]{Value: rec.Value.Row, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	row := make([]any, k.width)
	for i, v := range key {
		row[k.pk[i]] = v
	}
	kb, err := k.codec.Encode(nil, row)
	if err != nil {
		return fmt.Errorf("temporal join key: %w", err)
	}
	return k.ctx.Forward(processor.Record[[]byte, []any]{Key: kb, Value: rec.Value.Row, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// temporalOnProc checks the whole ON condition on each joined row: an inner join drops
// a row that fails it, a left join keeps the left row with NULLs.
type temporalOnProc struct {
	ctx       processor.Context[[]any, Change]
	on        *Expr
	nl, width int
	outer     bool
	table     string
}

func (t *temporalOnProc) Init(ctx processor.Context[[]any, Change]) error { t.ctx = ctx; return nil }
func (t *temporalOnProc) Close() error                                    { return nil }

func (t *temporalOnProc) Process(rec processor.Record[[]byte, []any]) error {
	row := rec.Value
	if row == nil {
		return fmt.Errorf("temporal join with %s: a computed column of the table's row failed", t.table)
	}
	keep, err := t.on.Eval(row)
	if err != nil {
		return fmt.Errorf("ON: %w", err)
	}
	if keep != true {
		if !t.outer {
			return nil
		}
		row = append(slices.Clip(row[:t.nl]), make([]any, t.width)...)
	}
	return t.ctx.Forward(processor.Record[[]any, Change]{Value: Change{Insert, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
}
