package bench

import (
	"fmt"
	"strconv"
	"time"
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
