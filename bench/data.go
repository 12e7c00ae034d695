package bench

import (
	"fmt"
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/serde"
)

// The input records are deterministic, so both engines see the same bytes and the filter
// drops a fraction known in advance:
//
//   - key i is "key-<i mod keys>";
//   - value i is i in ten decimal digits, then lower-case letters up to the value size;
//   - record i's timestamp (its event time) is base + i/eventRate seconds.
//
// The pipelines' functions are Keep and Upper; bench/kstreams has the same in Java.

// minValueSize is the smallest value: the ten digits the filter reads.
const minValueSize = 10

const letters = "abcdefghijklmnopqrstuvwxyz"

// AppendKey appends the key of record i to dst.
func AppendKey(dst []byte, i, keys int) []byte {
	dst = append(dst, "key-"...)
	return strconv.AppendInt(dst, int64(i%keys), 10)
}

// AppendValue appends the value of record i, size bytes long (at least minValueSize), to
// dst.
func AppendValue(dst []byte, i, size int) []byte {
	dst = fmt.Appendf(dst, "%010d", i%10_000_000_000)
	for j := 0; j < size-minValueSize; j++ {
		dst = append(dst, letters[j%len(letters)])
	}
	return dst
}

// EventTime is record i's event time when events arrive at rate per second from base.
func EventTime(base time.Time, i, rate int) time.Time {
	return base.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
}

// Keep is the stateless pipeline's filter: it drops a record whose value's tenth byte is
// '0', which is record i with i mod 10 = 0.
func Keep(v []byte) bool { return len(v) > 9 && v[9] != '0' }

// Upper is the stateless pipeline's map: ASCII lower case to upper case, into a new slice
// (the producer keeps the output until the broker acknowledges it).
func Upper(v []byte) []byte {
	out := make([]byte, len(v))
	for i, c := range v {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// ExpectedKept is how many of records 0..n−1 Keep passes: all but those with i mod 10 = 0.
func ExpectedKept(n int) int {
	if n <= 0 {
		return 0
	}
	return n - (n+9)/10
}

// DistinctKeys is how many keys records 0..n−1 have.
func DistinctKeys(n, keys int) int { return min(n, keys) }

// The join pipelines' data, as deterministic as the input's:
//
//   - the join's table holds one record per key k < keys: key "key-<k>", value
//     TableValue(k), stamped a second before the input's first record, so that an engine
//     that processes by event time has the whole table before the first input record;
//   - the windowed join's two topics hold records 0..n−1 in pairs: record i goes to the
//     left topic when i is even and to the right one when it is odd, with the key of pair
//     i/2 ("key-<(i/2) mod keys>"), value i and the input's event time of record i, so each
//     left record has its partner on the right a fraction of a millisecond later, and the
//     key's other records 2·keys/eventRate seconds apart (0.2 s at the defaults).

// tableLead is how much earlier than the input's first record the table is stamped.
const tableLead = time.Second

// AppendTableValue appends the join table's value for key k to dst.
func AppendTableValue(dst []byte, k int) []byte {
	dst = append(dst, "profile-"...)
	return strconv.AppendInt(dst, int64(k), 10)
}

// Enrich is the join's value: the input value, "|" and the table value, or the input
// value and "|" when the table has none for the key (found false).
func Enrich(v, tableValue []byte, found bool) []byte {
	if !found {
		tableValue = nil
	}
	out := make([]byte, 0, len(v)+1+len(tableValue))
	return append(append(append(out, v...), '|'), tableValue...)
}

// Pair is the windowed join's value: the left value, "|" and the right value.
func Pair(left, right []byte) []byte {
	out := make([]byte, 0, len(left)+1+len(right))
	return append(append(append(out, left...), '|'), right...)
}

// JoinStreamRecord says where record i of the windowed join's input goes: to the left
// topic (i even) or the right one, and its key's index.
func JoinStreamRecord(i, keys int) (left bool, key int) {
	return i%2 == 0, (i / 2) % keys
}

// eventMillis is record i's timestamp in milliseconds, as the broker stores it.
func eventMillis(base time.Time, i, rate int) int64 { return EventTime(base, i, rate).UnixMilli() }

// JoinPairs is how many results the windowed inner join of records 0..n−1 gives, from the
// definition: every left record and right record of one key whose timestamps (in
// milliseconds, as stored) are at most window apart, either way, make one result. Each
// side's records of a key are in time order, so per key a sliding range of the other
// side's records counts them.
func JoinPairs(n, keys int, base time.Time, rate int, window time.Duration) int64 {
	w := window.Milliseconds()
	type sides struct{ left, right []int64 }
	byKey := make([]sides, keys)
	for i := range n {
		left, k := JoinStreamRecord(i, keys)
		ts := eventMillis(base, i, rate)
		if left {
			byKey[k].left = append(byKey[k].left, ts)
		} else {
			byKey[k].right = append(byKey[k].right, ts)
		}
	}
	var pairs int64
	for _, s := range byKey {
		lo, hi := 0, 0 // s.right[lo:hi] are within w of the current left record
		for _, t := range s.left {
			for lo < len(s.right) && s.right[lo] < t-w {
				lo++
			}
			hi = max(hi, lo)
			for hi < len(s.right) && s.right[hi] <= t+w {
				hi++
			}
			pairs += int64(hi - lo)
		}
	}
	return pairs
}

// AvroValue is the value of the count-avro pipeline's records: record i's sequence number
// and its plain value (AppendValue) as text.
type AvroValue struct {
	Seq  int64  `avro:"seq"`
	Text string `avro:"text"`
}

// AvroValues is the serde of AvroValue, its schema derived from the struct.
func AvroValues() (serde.Serde[AvroValue], error) {
	return serde.Avro[AvroValue](serde.AvroNamespace("eddy.bench"))
}

// avroValueSerde encodes the live phase's Avro values.
var avroValueSerde, avroValueErr = AvroValues()

// AppendAvroValue appends the Avro encoding of record i's AvroValue (its text size bytes)
// to dst, or nothing if the serde could not be made (AvroValues reports that first, when
// the pipeline's input is preloaded).
func AppendAvroValue(dst []byte, i, size int) []byte {
	if avroValueErr != nil {
		return dst
	}
	out, err := avroValueSerde.AppendEncode(dst, AvroValue{Seq: int64(i), Text: string(AppendValue(nil, i, size))})
	if err != nil {
		return dst
	}
	return out
}
