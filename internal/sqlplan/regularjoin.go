package sqlplan

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/topology"
)

// regularJoin plans a regular join (INNER, LEFT, RIGHT or FULL) on equal keys, Flink's
// StreamingJoinOperator: both sides are repartitioned by the join key and kept in full,
// each row with its multiplicity, in a store per side; a row that comes (+I, +U) joins
// the other side's rows of its key that pass the ON condition and gives +I of each pair,
// one that goes (-U, -D) gives -D of each. An outer side's row with no partner gives +I of
// it with NULLs, taken back (-D) when its first partner comes and given again when its
// last goes. The result updates unless both inputs are append-only and the join is INNER.
// Its state grows with its inputs: nothing expires.
func (p *planner) regularJoin(j *sqlparse.Join, l, r *rel, scope *Scope, on *Expr, lkeys, rkeys []*Expr, kinds []Kind) (*rel, error) {
	keySerde := serde.Serde[[]any](binRow{kinds})
	outerL := j.Kind == "LEFT" || j.Kind == "FULL"
	outerR := j.Kind == "RIGHT" || j.Kind == "FULL"
	side := func(in *rel, keys []*Expr, name string, right bool) topology.Stream[[]any, sided] {
		outer := outerL && !right || outerR && right
		keyed := topology.Process(in.s, p.name(name), func() processor.Processor[[]any, Change, []any, Change] {
			return &joinKeyProc2{keys: keys, outer: outer}
		})
		moved := topology.Repartition(keyed, keySerde, serde.Serde[Change](changeSerde{binRow{in.kinds()}}),
			topology.Named(strings.ToLower(p.name(name+"-BY-KEY"))))
		return topology.MapValues(moved, func(c Change) sided { return sided{right: right, c: c} }, topology.Named(p.name(name+"-SIDE")))
	}
	left := side(l, lkeys, "JOIN-LEFT", false)
	right := side(r, rkeys, "JOIN-RIGHT", true)
	ls, rs := strings.ToLower(p.name("JOIN-LEFT-STORE")), strings.ToLower(p.name("JOIN-RIGHT-STORE"))
	topology.NewKeyValueStore(p.top, ls, serde.Bytes(), serde.Bytes())
	topology.NewKeyValueStore(p.top, rs, serde.Bytes(), serde.Bytes())
	nl, nr := len(l.scope.Columns), len(r.scope.Columns)
	lrows, rrows := binRow{l.kinds()}, binRow{r.kinds()}
	merged := left.MergeNamed(p.name("JOIN-MERGE"), right)
	out := &rel{scope: scope, rowtime: -1, updating: l.updating || r.updating || outerL || outerR,
		producer: "Join(joinType=[" + map[string]string{"INNER": "InnerJoin", "LEFT": "LeftOuterJoin", "RIGHT": "RightOuterJoin", "FULL": "FullOuterJoin"}[j.Kind] +
			"], where=[" + j.On.String() + "])"}
	if outerR || outerL {
		// NULLs where a side has no partner: its columns may be NULL.
		for i := range scope.Columns {
			if i < nl && outerR || i >= nl && outerL {
				scope.Columns[i].Type.NotNull = false
			}
		}
	}
	out.s = topology.Process(merged, p.name("JOIN"), func() processor.Processor[[]any, sided, []any, Change] {
		return &regularJoinProc{on: on, stores: [2]string{ls, rs}, outer: [2]bool{outerL, outerR}, widths: [2]int{nl, nr},
			rows: [2]binRow{lrows, rrows}, keys: binRow{kinds}}
	}, topology.Stores(ls, rs))
	return out, nil
}

// sided is a change of one side of a regular join.
type sided struct {
	right bool
	c     Change
}

// joinKeyProc2 keys each change by its join key. A NULL key equals nothing: an inner
// side's row with one is dropped; an outer side's goes on, keyed by its NULLs, so that
// the join gives it with NULLs (ON, checked on every pair, never holds for it).
type joinKeyProc2 struct {
	ctx   processor.Context[[]any, Change]
	keys  []*Expr
	outer bool
}

func (j *joinKeyProc2) Init(ctx processor.Context[[]any, Change]) error { j.ctx = ctx; return nil }
func (j *joinKeyProc2) Close() error                                    { return nil }

func (j *joinKeyProc2) Process(rec processor.Record[[]any, Change]) error {
	key, ok, err := joinKey(j.keys, rec.Value.Row)
	if err != nil {
		return err
	}
	if !ok {
		if !j.outer {
			return nil
		}
		key = make([]any, len(j.keys))
	}
	return j.ctx.Forward(processor.Record[[]any, Change]{Key: key, Value: rec.Value, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

// regularJoinProc is a regular join's state and logic. Each side's store holds, under
// the join key's bytes and a row's bytes, the row's multiplicity (8 bytes).
type regularJoinProc struct {
	ctx    processor.Context[[]any, Change]
	on     *Expr
	stores [2]string
	kv     [2]store.Bytes
	outer  [2]bool
	widths [2]int
	rows   [2]binRow
	keys   binRow
}

func (j *regularJoinProc) Init(ctx processor.Context[[]any, Change]) error {
	j.ctx = ctx
	for i, name := range j.stores {
		var err error
		if j.kv[i], err = ctx.Store(name); err != nil {
			return err
		}
	}
	return nil
}

func (j *regularJoinProc) Close() error { return nil }

// stored is a row of one side with its multiplicity.
type stored struct {
	row []any
	n   int64
}

// rowsOf are side s's rows under the key's bytes.
func (j *regularJoinProc) rowsOf(s int, key []byte) ([]stored, error) {
	it, err := j.kv[s].Range(key, prefixEnd(key))
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []stored
	for it.Next() {
		row, err := j.rows[s].Decode(it.Key()[len(key):])
		if err != nil {
			return nil, err
		}
		out = append(out, stored{row, int64(binary.BigEndian.Uint64(it.Value()))})
	}
	return out, it.Err()
}

// pair is the output row of a left and a right row (either nil: NULLs).
func (j *regularJoinProc) pair(l, r []any) []any {
	out := make([]any, 0, j.widths[0]+j.widths[1])
	if l == nil {
		l = make([]any, j.widths[0])
	}
	if r == nil {
		r = make([]any, j.widths[1])
	}
	return append(append(out, l...), r...)
}

// matches reports whether a row of side s and a row of the other side pass ON.
func (j *regularJoinProc) matches(s int, own, other []any) (bool, error) {
	row := j.pair(own, other)
	if s == 1 {
		row = j.pair(other, own)
	}
	v, err := j.on.Eval(row)
	if err != nil {
		return false, fmt.Errorf("ON: %w", err)
	}
	return v == true, nil
}

func (j *regularJoinProc) Process(rec processor.Record[[]any, sided]) error {
	s, o := 0, 1
	if rec.Value.right {
		s, o = 1, 0
	}
	row, kind := rec.Value.c.Row, rec.Value.c.Kind
	key, err := j.keys.AppendEncode(nil, rec.Key)
	if err != nil {
		return err
	}
	rowKey, err := j.rows[s].AppendEncode(bytes.Clone(key), row)
	if err != nil {
		return err
	}
	emit := func(k RowKind, own, other []any) error {
		out := j.pair(own, other)
		if s == 1 {
			out = j.pair(other, own)
		}
		return j.ctx.Forward(processor.Record[[]any, Change]{Key: rec.Key, Value: Change{k, out}, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	// emitOther gives the other side's row alone (with NULLs for this side).
	emitOther := func(k RowKind, other []any) error {
		out := j.pair(nil, other)
		if s == 1 {
			out = j.pair(other, nil)
		}
		return j.ctx.Forward(processor.Record[[]any, Change]{Key: rec.Key, Value: Change{k, out}, Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	// The multiplicity of this row, before the change.
	var n int64
	if _, err := j.kv[s].Get(rowKey, func(v []byte) error { n = int64(binary.BigEndian.Uint64(v)); return nil }); err != nil {
		return err
	}
	retract := kind.retracts()
	if retract && n == 0 {
		return nil // nothing to take away
	}
	others, err := j.rowsOf(o, key)
	if err != nil {
		return err
	}
	var ownRows []stored
	if j.outer[o] {
		if ownRows, err = j.rowsOf(s, key); err != nil {
			return err
		}
	}
	// associations counts the rows of this side (with multiplicity) that other matches.
	associations := func(other []any) (int64, error) {
		var c int64
		for _, r := range ownRows {
			ok, err := j.matches(s, r.row, other)
			if err != nil {
				return 0, err
			}
			if ok {
				c += r.n
			}
		}
		return c, nil
	}
	matched := false
	var alone []stored // other rows left without a partner: given again with NULLs after
	for _, b := range others {
		ok, err := j.matches(s, row, b.row)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		matched = true
		if j.outer[o] {
			before, err := associations(b.row)
			if err != nil {
				return err
			}
			if !retract && before == 0 {
				for range b.n {
					if err := emitOther(Delete, b.row); err != nil {
						return err
					}
				}
			}
			if retract && before == 1 {
				alone = append(alone, b)
			}
		}
		k := Insert
		if retract {
			k = Delete
		}
		for range b.n {
			if err := emit(k, row, b.row); err != nil {
				return err
			}
		}
	}
	for _, b := range alone {
		for range b.n {
			if err := emitOther(Insert, b.row); err != nil {
				return err
			}
		}
	}
	if !matched && j.outer[s] {
		k := Insert
		if retract {
			k = Delete
		}
		if err := emit(k, row, nil); err != nil {
			return err
		}
	}
	if retract {
		n--
	} else {
		n++
	}
	if n == 0 {
		j.kv[s].Delete(rowKey)
	} else {
		j.kv[s].Put(rowKey, binary.BigEndian.AppendUint64(nil, uint64(n)))
	}
	return nil
}

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i]++; end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}
