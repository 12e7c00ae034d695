// Package joinref computes joins from their definitions, for tests to compare eddy's
// output with: a reference model, written for clarity, not speed.
package joinref

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one input record of a stream-stream join: its side, key, value and time (ms).
type Record struct {
	Left       bool
	Key, Value string
	Time       int64
}

// Kind is a join's kind.
type Kind int

// The kinds of stream-stream joins.
const (
	Inner Kind = iota
	LeftOuter
	FullOuter
)

// Window is a join window in milliseconds: a left record at t joins the right records in
// [t − Before, t + After]; a record is late when its time plus Grace is at or behind the
// watermark.
type Window struct{ Before, After, Grace int64 }

// Format is how a test's joiner writes a result, and so how the model does: "l|r", with
// "-" for a missing side.
func Format(l string, hasL bool, r string, hasR bool) string {
	if !hasL {
		l = "-"
	}
	if !hasR {
		r = "-"
	}
	return l + "|" + r
}

type entry struct {
	Record
	joined bool
}

// StreamStream is the stream-stream join of the records of one task, in the order the
// task processes them, under an out-of-orderness bound of bound ms: the watermark is the
// highest time seen less bound less 1 ms, and a record is checked against the watermark
// as it was before it. Each result is "key=l|r@time" (see Format); the results are sorted.
// When self is set, each record is on both sides (a self-join: as a left record first,
// then as a right one). When end is set the input ends (a bounded run), closing every
// window. late lists the late records.
func StreamStream(recs []Record, w Window, kind Kind, bound int64, self, end bool) (out []string, late []Record) {
	var maxT int64
	seen := false
	return streamStream(recs, func(r Record) int64 {
		if !seen || r.Time > maxT {
			maxT, seen = r.Time, true
		}
		return maxT - bound - 1
	}, w, kind, self, end)
}

// StreamStreamTask is StreamStream over a task that reads several partitions (a join of
// two topics), each given in offset order, all of it on the broker before the task
// starts: by time synchronization the task takes, of the partitions' next records, the
// one with the lowest time (the first partition's on a tie), and its watermark is the
// lowest of the partitions' watermarks (each the partition's highest time less bound less
// 1 ms) once every partition has had a record.
func StreamStreamTask(parts [][]Record, w Window, kind Kind, bound int64, end bool) (out []string, late []Record) {
	var order []Record
	var from []int // from[i]: the partition of order[i]
	next := make([]int, len(parts))
	for {
		pick := -1
		for p := range parts {
			if next[p] < len(parts[p]) && (pick < 0 || parts[p][next[p]].Time < parts[pick][next[pick]].Time) {
				pick = p
			}
		}
		if pick < 0 {
			break
		}
		from = append(from, pick)
		order = append(order, parts[pick][next[pick]])
		next[pick]++
	}
	highest := make([]int64, len(parts))
	seen := make([]bool, len(parts))
	i := 0
	return streamStream(order, func(r Record) int64 {
		p := from[i]
		i++
		if !seen[p] || r.Time > highest[p] {
			highest[p], seen[p] = r.Time, true
		}
		low := int64(math.MaxInt64)
		for q := range parts {
			if !seen[q] {
				return math.MinInt64
			}
			low = min(low, highest[q]-bound-1)
		}
		return low
	}, w, kind, false, end)
}

// streamStream joins recs in order; watermark is told of each record, in order, and
// returns the watermark after it (a late record, behind it, cannot raise it).
func streamStream(recs []Record, watermark func(Record) int64, w Window, kind Kind, self, end bool) (out []string, late []Record) {
	wm := int64(math.MinInt64)
	var left, right []*entry
	emit := func(key, v string, t int64) { out = append(out, fmt.Sprintf("%s=%s@%d", key, v, t)) }
	closeUpTo := func(wm int64) {
		keep := func(es []*entry, after int64, alone bool) []*entry {
			var open []*entry
			for _, e := range es {
				if e.Time+after+w.Grace <= wm {
					if alone && !e.joined {
						if e.Left {
							emit(e.Key, Format(e.Value, true, "", false), e.Time)
						} else {
							emit(e.Key, Format("", false, e.Value, true), e.Time)
						}
					}
					continue
				}
				open = append(open, e)
			}
			return open
		}
		left = keep(left, w.After, kind != Inner)
		right = keep(right, w.Before, kind == FullOuter)
	}
	arrive := func(r Record) {
		mine, theirs := &left, &right
		back, ahead := w.Before, w.After
		if !r.Left {
			mine, theirs = &right, &left
			back, ahead = w.After, w.Before
		}
		e := &entry{Record: r}
		for _, o := range *theirs {
			if o.Key != r.Key || o.Time < r.Time-back || o.Time > r.Time+ahead {
				continue
			}
			e.joined, o.joined = true, true
			l, rv := r.Value, o.Value
			if !r.Left {
				l, rv = o.Value, r.Value
			}
			emit(r.Key, Format(l, true, rv, true), max(r.Time, o.Time))
		}
		if wm != math.MinInt64 && r.Time+ahead+w.Grace <= wm {
			keepsAlone := kind == FullOuter || (kind == LeftOuter && r.Left)
			if keepsAlone && !e.joined {
				if r.Left {
					emit(r.Key, Format(r.Value, true, "", false), r.Time)
				} else {
					emit(r.Key, Format("", false, r.Value, true), r.Time)
				}
			}
			return
		}
		*mine = append(*mine, e)
	}
	for _, r := range recs {
		switch {
		case wm != math.MinInt64 && r.Time+w.Grace <= wm:
			late = append(late, r)
		case self:
			r.Left = true
			arrive(r)
			r.Left = false
			arrive(r)
		default:
			arrive(r)
		}
		if next := watermark(r); next > wm {
			wm = next
			closeUpTo(wm)
		}
	}
	if end {
		closeUpTo(math.MaxInt64 / 2)
	}
	slices.Sort(out)
	return out, late
}

// RandomSides makes out-of-order input for a stream-stream join over two partitions: n
// records, keys k0…k5 (key i in partition i%2), each on a random side, at times that go
// back by up to 60 ms from a steady rise of 10 ms a record (with ties), and one in 25
// 2 s late.
func RandomSides(rng *rand.Rand, n int) [2][]Record {
	var in [2][]Record
	for i := range n {
		key := fmt.Sprintf("k%d", rng.IntN(6))
		ts := int64(10_000 + i*10 - rng.IntN(60))
		if rng.IntN(25) == 0 {
			ts -= 2000
		}
		p := int(key[1]-'0') % 2
		in[p] = append(in[p], Record{Left: rng.IntN(2) == 0, Key: key, Value: fmt.Sprintf("v%d", i), Time: ts})
	}
	return in
}

// Timed lists records as "key=value@time (ms)", sorted: how the tests compare a join's
// output with StreamStream's.
func Timed(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = fmt.Sprintf("%s=%s@%d", r.Key, r.Value, r.Timestamp.UnixMilli())
	}
	slices.Sort(out)
	return out
}
