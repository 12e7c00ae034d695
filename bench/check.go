package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outputCheck checks a run's output, record by record as it is read back, against what
// the input makes certain:
//
//   - raw pipe and stateless: exactly the expected count;
//   - count: one final count per key, summing to the input;
//   - windowed: no window twice, counts summing to at most the input;
//   - join: one output per input record, none twice, each the input value and its key's
//     table value (a record that found no table value is wrong: the table is stamped
//     before the input, so a join by event time always finds it);
//   - windowed join: exactly JoinPairs results, none twice, each a left and a right record
//     of one key at most the window apart.
type outputCheck struct {
	p      Pipeline
	e      Engine
	in     Input
	rate   int
	window int64 // ms

	n           int64
	undecodable int64
	dups        int64
	last        map[string]int64 // count: the last count per key
	windows     map[string]bool  // windowed: key and window start seen
	sum         int64            // windowed: the counts' sum
	seen        []bool           // join: input records seen
	pairs       map[[2]int64]bool
	wrong       int64 // joins: outputs that are not what their input records make
	noTable     int64 // join: outputs whose record found no table value
	firstWrong  string
}

func newOutputCheck(p Pipeline, e Engine, in Input, rate int, window time.Duration) *outputCheck {
	c := &outputCheck{p: p, e: e, in: in, rate: rate, window: window.Milliseconds()}
	switch p {
	case Count, CountAvro:
		c.last = map[string]int64{}
	case Windowed, SQLWindowed:
		c.windows = map[string]bool{}
	case Join:
		c.seen = make([]bool, in.Records)
	case WindowedJoin:
		c.pairs = make(map[[2]int64]bool, in.Pairs)
	}
	return c
}

func (c *outputCheck) add(r *kgo.Record) {
	c.n++
	switch c.p {
	case Count, CountAvro:
		if len(r.Value) != 8 {
			c.undecodable++
			return
		}
		c.last[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
	case Windowed:
		// eddy's windowed key ends in start and end (8 bytes each), Kafka Streams' in the
		// start only.
		suffix := 16
		if c.e == KStreams {
			suffix = 8
		}
		if len(r.Key) < suffix || len(r.Value) != 8 {
			c.undecodable++
			return
		}
		w := string(r.Key[:len(r.Key)-suffix+8])
		if c.windows[w] {
			c.dups++
		}
		c.windows[w] = true
		c.sum += int64(binary.BigEndian.Uint64(r.Value))
	case SQLWindowed:
		var row sqlWindowRow
		if err := json.Unmarshal(r.Value, &row); err != nil || row.K != string(r.Key) {
			c.undecodable++
			return
		}
		w := row.K + "@" + row.WindowStart
		if c.windows[w] {
			c.dups++
		}
		c.windows[w] = true
		c.sum += row.N
	case Join:
		c.addEnriched(r)
	case WindowedJoin:
		c.addPair(r)
	}
}

// addEnriched checks one output of the join: key i's, value Enrich(value i, table value).
func (c *outputCheck) addEnriched(r *kgo.Record) {
	size := c.in.ValueSize
	if len(r.Value) < size+1 || r.Value[size] != '|' {
		c.undecodable++
		return
	}
	i, ok := c.index(r.Value[:size])
	if !ok {
		c.badf("value %q is no input value", r.Value)
		return
	}
	k := i % c.in.Keys
	tv := r.Value[size+1:]
	if !bytes.Equal(r.Key, AppendKey(nil, i, c.in.Keys)) || (len(tv) > 0 && !bytes.Equal(tv, AppendTableValue(nil, k))) {
		c.badf("record %d: key %q, value %q", i, r.Key, r.Value)
		return
	}
	if len(tv) == 0 {
		c.noTable++
	}
	if c.seen[i] {
		c.dups++
	}
	c.seen[i] = true
}

// addPair checks one output of the windowed join: a left record's value and a right
// one's, of the output's key, at most the window apart.
func (c *outputCheck) addPair(r *kgo.Record) {
	size := c.in.ValueSize
	if len(r.Value) != 2*size+1 || r.Value[size] != '|' {
		c.undecodable++
		return
	}
	li, okL := c.index(r.Value[:size])
	ri, okR := c.index(r.Value[size+1:])
	if !okL || !okR {
		c.badf("value %q is no pair of input values", r.Value)
		return
	}
	leftL, kl := JoinStreamRecord(li, c.in.Keys)
	leftR, kr := JoinStreamRecord(ri, c.in.Keys)
	d := eventMillis(c.in.Base, li, c.rate) - eventMillis(c.in.Base, ri, c.rate)
	if !leftL || leftR || kl != kr || !bytes.Equal(r.Key, AppendKey(nil, kl, c.in.Keys)) || d > c.window || -d > c.window {
		c.badf("records %d and %d: key %q, %d ms apart", li, ri, r.Key, d)
		return
	}
	p := [2]int64{int64(li), int64(ri)}
	if c.pairs[p] {
		c.dups++
	}
	c.pairs[p] = true
}

// index is the input record whose value v is, if it is one.
func (c *outputCheck) index(v []byte) (int, bool) {
	i, err := strconv.Atoi(string(v[:min(len(v), minValueSize)]))
	if err != nil || i < 0 || i >= c.in.Records || !bytes.Equal(v, AppendValue(nil, i, c.in.ValueSize)) {
		return 0, false
	}
	return i, true
}

func (c *outputCheck) badf(format string, args ...any) {
	if c.wrong == 0 {
		c.firstWrong = fmt.Sprintf(format, args...)
	}
	c.wrong++
}

// verdict is "ok" (or "ok, " and a detail), or what was wrong.
func (c *outputCheck) verdict() string {
	var problems []string
	want := func(n int64, what string) {
		if c.n != n {
			problems = append(problems, fmt.Sprintf("want %d %s", n, what))
		}
	}
	switch c.p {
	case Raw:
		want(int64(c.in.Records), "records")
	case Stateless:
		want(int64(c.in.Kept), "records")
	case Count, CountAvro:
		for _, n := range c.last {
			c.sum += n
		}
		if keys := DistinctKeys(c.in.Records, c.in.Keys); len(c.last) != keys {
			problems = append(problems, fmt.Sprintf("%d keys, want %d", len(c.last), keys))
		}
		if c.sum != int64(c.in.Records) {
			problems = append(problems, fmt.Sprintf("final counts sum to %d, want %d", c.sum, c.in.Records))
		}
	case Windowed, SQLWindowed:
		if c.dups > 0 {
			problems = append(problems, fmt.Sprintf("%d windows emitted twice", c.dups))
		}
		if c.sum > int64(c.in.Records) {
			problems = append(problems, fmt.Sprintf("counts sum to %d, more than the input", c.sum))
		}
	case Join:
		want(int64(c.in.Records), "records")
		missing := 0
		for _, seen := range c.seen {
			if !seen {
				missing++
			}
		}
		if missing > 0 {
			problems = append(problems, fmt.Sprintf("%d input records without an output", missing))
		}
		if c.dups > 0 {
			problems = append(problems, fmt.Sprintf("%d input records joined twice", c.dups))
		}
		if c.noTable > 0 {
			problems = append(problems, fmt.Sprintf("%d records found no table value", c.noTable))
		}
	case WindowedJoin:
		want(c.in.Pairs, "results")
		if c.dups > 0 {
			problems = append(problems, fmt.Sprintf("%d pairs joined twice", c.dups))
		}
	}
	if c.wrong > 0 {
		problems = append(problems, fmt.Sprintf("%d records wrong (first: %s)", c.wrong, c.firstWrong))
	}
	if c.undecodable > 0 {
		problems = append(problems, fmt.Sprintf("%d records undecodable", c.undecodable))
	}
	if len(problems) > 0 {
		return strings.Join(problems, "; ")
	}
	if c.p == Windowed || c.p == SQLWindowed {
		return fmt.Sprintf("ok, counts sum to %d", c.sum)
	}
	return "ok"
}

// sqlWindowRow is a row of the SQLWindowed pipeline's output.
type sqlWindowRow struct {
	K           string `json:"k"`
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
	N           int64  `json:"n"`
}
