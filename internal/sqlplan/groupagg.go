package sqlplan

import (
	"fmt"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/store"
)

// groupAggProc is a regular aggregation (Flink's GroupAggregate). Its store holds, under
// 0x00 and the group key, the group's accumulators and its row count; under 0x01, the
// aggregate's index, the group key and a value, how often a DISTINCT aggregate's group
// has that value. Each change updates its group: the first row gives +I, later ones -U of
// the old result and +U of the new (nothing when the result is the same), the last
// row's retraction -D. In batch mode nothing is emitted until the end of the input, which
// gives each group's final row once.
type groupAggProc struct {
	ctx   processor.Context[[]any, Change]
	plan  *aggPlan
	post  *rowFn // HAVING and the SELECT list
	store string
	batch bool
	kv    store.Bytes
	keys  binRow
	accs  binRow
	key   []byte
}

func (g *groupAggProc) Init(ctx processor.Context[[]any, Change]) (err error) {
	g.ctx = ctx
	g.kv, err = ctx.Store(g.store)
	return err
}

func (g *groupAggProc) Close() error { return nil }

func (g *groupAggProc) Process(rec processor.Record[[]any, Change]) error {
	var err error
	if g.key, err = g.keys.AppendEncode(append(g.key[:0], 0), rec.Key); err != nil {
		return err
	}
	var acc []any
	found, err := g.kv.Get(g.key, func(v []byte) (err error) {
		acc, err = g.accs.Decode(v)
		return err
	})
	if err != nil {
		return fmt.Errorf("aggregation: a group's accumulators: %w", err)
	}
	retract := rec.Value.Kind.retracts()
	if !found {
		if retract {
			return nil // nothing to take a row from
		}
		acc = append(g.plan.init(), int64(0))
	}
	var before []any
	if found && !g.batch {
		before = g.plan.row(rec.Key, acc)
	}
	sign := int64(1)
	if retract {
		sign = -1
	}
	for _, a := range g.plan.aggs {
		switch {
		case a.keepValues:
			if err := g.extreme(a, rec.Key, rec.Value.Row[a.argAt], acc, sign); err != nil {
				return err
			}
			continue
		case a.distinct:
			seen, err := g.count(distinctValues, a, rec.Key, rec.Value.Row[a.argAt], sign)
			if err != nil {
				return err
			}
			if !seen {
				continue
			}
		}
		g.plan.addOne(a, rec.Value.Row, acc, sign)
	}
	n := acc[len(acc)-1].(int64) + sign
	acc[len(acc)-1] = n
	if n <= 0 {
		g.kv.Delete(g.key)
		if g.batch {
			return nil
		}
		return g.emit(Delete, before, rec)
	}
	enc, err := g.accs.AppendEncode(nil, acc)
	if err != nil {
		return err
	}
	g.kv.Put(g.key, enc)
	if g.batch {
		return nil
	}
	after := g.plan.row(rec.Key, acc)
	if !found {
		return g.emit(Insert, after, rec)
	}
	if slices.EqualFunc(before, after, func(a, b any) bool { return equalValues(a, b) }) {
		return nil
	}
	if err := g.emit(UpdateBefore, before, rec); err != nil {
		return err
	}
	return g.emit(UpdateAfter, after, rec)
}

// The store's prefixes of value counts: a DISTINCT aggregate's, a retracting MIN's or MAX's.
const (
	distinctValues byte = 1
	keptValues     byte = 2
)

// count counts value v in (sign 1) or out of (-1) the group's values of aggregate a,
// under prefix, and reports whether that changed the set (the value came or went). NULLs
// are not counted (no aggregate counts them).
func (g *groupAggProc) count(prefix byte, a aggFn, key []any, v any, sign int64) (bool, error) {
	if v == nil {
		return false, nil
	}
	k, err := g.valuesOf(prefix, a, key)
	if err != nil {
		return false, err
	}
	if k, err = (binRow{[]Kind{a.arg.Type.Kind}}).AppendEncode(k, []any{v}); err != nil {
		return false, err
	}
	var n int64
	if _, err := g.kv.Get(k, func(b []byte) error {
		r, err := (binRow{[]Kind{BigInt}}).Decode(b)
		if err == nil {
			n = r[0].(int64)
		}
		return err
	}); err != nil {
		return false, err
	}
	n += sign
	switch {
	case n <= 0:
		g.kv.Delete(k)
		return n == 0, nil
	default:
		b, _ := (binRow{[]Kind{BigInt}}).AppendEncode(nil, []any{n})
		g.kv.Put(k, b)
		return n == 1, nil
	}
}

// valuesOf is the store prefix of the group's counted values of aggregate a.
func (g *groupAggProc) valuesOf(prefix byte, a aggFn, key []any) ([]byte, error) {
	return g.keys.AppendEncode([]byte{prefix, byte(a.accAt)}, key)
}

// extreme folds value v into (sign 1) or out of (-1) MIN or MAX a over an updating
// input: each value is counted; when the last of the current extreme goes, the next is
// the extreme of the values that remain (Flink's MinWithRetractAggFunction).
func (g *groupAggProc) extreme(a aggFn, key []any, v any, acc []any, sign int64) error {
	changed, err := g.count(keptValues, a, key, v, sign)
	if err != nil || !changed {
		return err
	}
	if sign > 0 {
		g.plan.fold(a, v, acc)
		return nil
	}
	if !equalValues(v, acc[a.accAt]) {
		return nil // a value other than the extreme went
	}
	lo, err := g.valuesOf(keptValues, a, key)
	if err != nil {
		return err
	}
	it, err := g.kv.Range(lo, prefixEnd(lo))
	if err != nil {
		return err
	}
	defer it.Close()
	acc[a.accAt] = nil
	codec := binRow{[]Kind{a.arg.Type.Kind}}
	for it.Next() {
		x, err := codec.Decode(it.Key()[len(lo):])
		if err != nil {
			return fmt.Errorf("%s: a kept value: %w", a.name, err)
		}
		g.plan.fold(a, x[0], acc)
	}
	return it.Err()
}

func (g *groupAggProc) emit(kind RowKind, row []any, rec processor.Record[[]any, Change]) error {
	row, keep, err := g.post.apply(row)
	if err != nil || !keep {
		return err
	}
	return g.ctx.Forward(processor.Record[[]any, Change]{Key: rec.Key, Value: Change{kind, row}, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// EndOfInput gives, in batch mode, each group's final row.
func (g *groupAggProc) EndOfInput() error {
	if !g.batch {
		return nil
	}
	now := time.Now()
	it, err := g.kv.Range([]byte{0}, []byte{1})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		key, err := g.keys.Decode(it.Key()[1:])
		if err != nil {
			return err
		}
		acc, err := g.accs.Decode(it.Value())
		if err != nil {
			return err
		}
		if err := g.emit(Insert, g.plan.row(key, acc), processor.Record[[]any, Change]{Key: key, Timestamp: now}); err != nil {
			return err
		}
	}
	return it.Err()
}
