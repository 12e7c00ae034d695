package joinref

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// GlobalInput is the input of a stream-global-table join: the table's records, all
// written before the application starts (a nil value deletes), and the stream's.
type GlobalInput struct {
	Table, Stream []*kgo.Record
}

// ProductOf is the global key of an order of GlobalInput: its value is
// "<product>:<quantity>".
func ProductOf(_, order string) string { return strings.SplitN(order, ":", 2)[0] }

// StreamGlobal is a stream-global-table join from its definition, for a table restored in
// full before the first stream record: each stream record joins the table's last value
// for its global key (ProductOf), in offset order; the stream's order and times do not
// matter. Each output is "key=value|table value", "-" for a missing one (left join
// only); sorted.
func StreamGlobal(in GlobalInput, left bool) []string {
	table := map[string]string{}
	for _, r := range in.Table {
		if r.Value == nil {
			delete(table, string(r.Key))
		} else {
			table[string(r.Key)] = string(r.Value)
		}
	}
	var out []string
	for _, s := range in.Stream {
		v, ok := table[ProductOf(string(s.Key), string(s.Value))]
		out = appendJoined(out, s, v, ok, left)
	}
	slices.Sort(out)
	return out
}

// RandomGlobal makes input for a stream-global-table join: products p0…p11 over the
// table topic's partitions (each product in one, so its updates keep their order), each
// updated and some deleted, p10 and p11 never written; orders o0… over the stream topic's
// partitions at random, naming a random product, at out-of-order times with ties.
func RandomGlobal(rng *rand.Rand, n int, streamTopic string, streamPartitions int32, tableTopic string, tablePartitions int32) GlobalInput {
	var in GlobalInput
	for i := range n {
		ts := time.UnixMilli(int64(1000 + i*10 - rng.IntN(40)))
		if rng.IntN(3) == 0 {
			p := rng.IntN(10)
			var v []byte
			if rng.IntN(6) > 0 {
				v = fmt.Appendf(nil, "name%d", i)
			}
			in.Table = append(in.Table, &kgo.Record{Topic: tableTopic, Partition: int32(p) % tablePartitions,
				Key: fmt.Appendf(nil, "p%d", p), Value: v, Timestamp: ts})
			continue
		}
		in.Stream = append(in.Stream, &kgo.Record{Topic: streamTopic, Partition: rng.Int32N(streamPartitions),
			Key: fmt.Appendf(nil, "o%d", i), Value: fmt.Appendf(nil, "p%d:%d", rng.IntN(12), i), Timestamp: ts})
	}
	return in
}
