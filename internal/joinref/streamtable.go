package joinref

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TableInput is one partition's input of a stream-table join: the table's updates (a nil
// value deletes) and the stream's records, each in offset order.
type TableInput struct {
	Table, Stream []*kgo.Record
}

// StreamTable is a stream-table join from its definition: per partition, records are
// taken in timestamp order across the table and the stream (offset order within each; a
// table update first on a tie), and a stream record joins the table's value for its key
// at that point. Each output is "key=stream value|table value", "-" for a missing table
// value (left join only); sorted.
func StreamTable(in []TableInput, left bool) []string {
	var out []string
	for _, p := range in {
		table := map[string]string{}
		i := 0
		for _, s := range p.Stream {
			for i < len(p.Table) && !p.Table[i].Timestamp.After(s.Timestamp) {
				if r := p.Table[i]; r.Value == nil {
					delete(table, string(r.Key))
				} else {
					table[string(r.Key)] = string(r.Value)
				}
				i++
			}
			v, ok := table[string(s.Key)]
			out = appendJoined(out, s, v, ok, left)
		}
	}
	slices.Sort(out)
	return out
}

// RandomStreamTable makes out-of-order, duplicate-timestamped input over two partitions:
// keys k0…k7, key i in partition i%2 of both topics (co-partitioned), table updates with
// deletions, stream records with keys the table never had. Within a partition records are
// in offset order, which is not time order.
func RandomStreamTable(rng *rand.Rand, n int, streamTopic, tableTopic string) []TableInput {
	in := make([]TableInput, 2)
	for i := range n {
		key := fmt.Sprintf("k%d", rng.IntN(8))
		p := int32(key[1]-'0') % 2
		ts := time.UnixMilli(int64(1000 + i*10 - rng.IntN(40))) // out of order, with ties
		if rng.IntN(3) == 0 {
			var v []byte
			if rng.IntN(5) > 0 {
				v = fmt.Appendf(nil, "c%d", i)
			}
			in[p].Table = append(in[p].Table, &kgo.Record{Topic: tableTopic, Partition: p, Key: []byte(key), Value: v, Timestamp: ts})
			continue
		}
		in[p].Stream = append(in[p].Stream, &kgo.Record{Topic: streamTopic, Partition: p, Key: []byte(key), Value: fmt.Appendf(nil, "o%d", i), Timestamp: ts})
	}
	return in
}

// appendJoined appends a stream record's result to out: "key=value|table value" when the
// table has one (ok), "key=value|-" when it has none and the join is a left join, nothing
// else.
func appendJoined(out []string, s *kgo.Record, v string, ok, left bool) []string {
	switch {
	case ok:
		return append(out, fmt.Sprintf("%s=%s|%s", s.Key, s.Value, v))
	case left:
		return append(out, fmt.Sprintf("%s=%s|-", s.Key, s.Value))
	}
	return out
}
