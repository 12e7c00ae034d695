package joinref

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TableUpdate is one update of a table-table join's input: on the left or the right
// table, a key's new value or its deletion, at a time (ms).
type TableUpdate struct {
	Left       bool
	Key, Value string
	Deleted    bool
	Time       int64
}

// TableTable is a table-table join of kind from its definition, over a task's two
// partitions (the left table's updates and the right's, each in offset order): the task
// takes, of the two next updates, the one with the lower time (the input has no tie
// across the sides), applies it to its table, and emits the key's row when the key is in
// the join after it ("key=+row@time", Format's row), or a deletion when it was in before
// and is no longer ("key=D@time"); an update whose key is in the join neither before nor
// after emits nothing. A key is in the join when both tables have it (inner), the left
// one does (left), or either does (outer). Sorted.
func TableTable(left, right []TableUpdate, kind Kind) []string {
	holds := func(hasL, hasR bool) bool {
		switch kind {
		case Inner:
			return hasL && hasR
		case LeftOuter:
			return hasL
		}
		return hasL || hasR
	}
	tables := [2]map[string]string{{}, {}} // left, right
	var out []string
	i, j := 0, 0
	for i < len(left) || j < len(right) {
		var u TableUpdate
		if j >= len(right) || i < len(left) && left[i].Time < right[j].Time {
			u, i = left[i], i+1
		} else {
			u, j = right[j], j+1
		}
		_, hadL := tables[0][u.Key]
		_, hadR := tables[1][u.Key]
		own := tables[1]
		if u.Left {
			own = tables[0]
		}
		if u.Deleted {
			delete(own, u.Key)
		} else {
			own[u.Key] = u.Value
		}
		lv, hasL := tables[0][u.Key]
		rv, hasR := tables[1][u.Key]
		switch {
		case holds(hasL, hasR):
			out = append(out, fmt.Sprintf("%s=+%s@%d", u.Key, Format(lv, hasL, rv, hasR), u.Time))
		case holds(hadL, hadR):
			out = append(out, fmt.Sprintf("%s=D@%d", u.Key, u.Time))
		}
	}
	slices.Sort(out)
	return out
}

// RandomTables makes n random updates of two co-partitioned tables over keys k0…k19 (key
// i in partition i%2 of both topics), a sixth of them deletions (of keys the table may
// not have), at times that go back by up to 40 ms (with ties within a side; the left
// table's times are even and the right's odd, so none across). It returns the records
// and each partition's updates of each side, in offset order.
func RandomTables(rng *rand.Rand, n int, leftTopic, rightTopic string) (recs []*kgo.Record, parts [2][2][]TableUpdate) {
	for i := range n {
		side := rng.IntN(2)
		k := rng.IntN(20)
		u := TableUpdate{Left: side == 0, Key: fmt.Sprintf("k%d", k), Time: int64(2*(1000+i*5-rng.IntN(20)) + side)}
		r := &kgo.Record{Topic: []string{leftTopic, rightTopic}[side], Partition: int32(k % 2), Key: []byte(u.Key),
			Timestamp: time.UnixMilli(u.Time)}
		if rng.IntN(6) == 0 {
			u.Deleted = true
		} else {
			u.Value = fmt.Sprintf("%c%d", "lr"[side], i)
			r.Value = []byte(u.Value)
		}
		recs = append(recs, r)
		parts[k%2][side] = append(parts[k%2][side], u)
	}
	return recs, parts
}
