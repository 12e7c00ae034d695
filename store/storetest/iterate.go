package storetest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// testIterateOrder checks plain byte order, with 0x00 and 0xff bytes and keys
// that are prefixes of others, written in random order over several batches.
func testIterateOrder(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	want := []string{ // in byte order
		"\x00",
		"\x00\x00",
		"\x00\x00\x00",
		"\x00\x01",
		"\x00\xff",
		"\x01",
		"\x01\x00",
		"A",
		"AB",
		"a",
		"ab",
		"abc",
		"b",
		"\x7f",
		"\x80",
		"\xfe\xff",
		"\xff",
		"\xff\x00",
		"\xff\xff",
		"\xff\xff\xff",
	}
	if !slices.IsSortedFunc(want, func(a, b string) int { return bytes.Compare([]byte(a), []byte(b)) }) {
		t.Fatal("test table is not in byte order")
	}
	shuffled := slices.Clone(want)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for len(shuffled) > 0 {
		n := min(3, len(shuffled))
		var batch store.Batch
		for _, k := range shuffled[:n] {
			batch.Put([]byte(k), []byte("v"+k))
		}
		mustWrite(t, b, &batch)
		shuffled = shuffled[n:]
	}
	got := collect(t, b, nil, nil)
	if len(got) != len(want) {
		t.Fatalf("Iterate returned %d keys, want %d: %v", len(got), len(want), got)
	}
	for i, p := range got {
		if string(p.key) != want[i] || string(p.value) != "v"+want[i] {
			t.Fatalf("pair %d = %v, want %x=%x", i, p, want[i], "v"+want[i])
		}
	}
}

// testIterateTaskPrefixes checks that fixed-width binary task prefixes keep
// tasks apart in a shared database: the range of task 1_3 holds neither
// 1_30's keys nor 1_300's. (With text prefixes "1_3" < "1_30" < "1_4", the
// range ["1_3", "1_4") would hold task 1_30 too.)
func testIterateTaskPrefixes(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	tasks := []struct{ sub, part uint32 }{{1, 3}, {1, 30}, {1, 300}, {13, 0}, {0, 13}, {1, 2}, {1, 4}}
	var batch store.Batch
	for _, task := range tasks {
		p := taskPrefix(task.sub, task.part, 7, 1)
		batch.Put(p, []byte("bare prefix"))
		for _, suffix := range []string{"", "\x00", "a", "b", "\xff", "\xff\xff"} {
			batch.Put(append(bytes.Clone(p), "k"+suffix...), []byte(fmt.Sprintf("%d_%d", task.sub, task.part)))
		}
	}
	// The same task, other store id and incarnation: outside the range too.
	batch.Put(append(taskPrefix(1, 3, 8, 1), 'k'), []byte("other store"))
	batch.Put(append(taskPrefix(1, 3, 7, 2), 'k'), []byte("next incarnation"))
	mustWrite(t, b, &batch)

	p := taskPrefix(1, 3, 7, 1)
	got := collect(t, b, p, prefixEnd(p))
	if len(got) != 7 {
		t.Fatalf("range of task 1_3 has %d keys, want 7: %v", len(got), got)
	}
	for _, kv := range got {
		if !bytes.HasPrefix(kv.key, p) {
			t.Fatalf("range of task 1_3 holds %x", kv.key)
		}
		if v := string(kv.value); v != "1_3" && v != "bare prefix" {
			t.Fatalf("range of task 1_3 holds %x=%q", kv.key, v)
		}
	}
	if err := b.DeleteRange(p, prefixEnd(p)); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, b, p, prefixEnd(p)); len(got) != 0 {
		t.Fatalf("after DeleteRange, task 1_3 still has %v", got)
	}
	// 6 other tasks × 7 keys, plus the other store and incarnation.
	if got := collect(t, b, nil, nil); len(got) != 6*7+2 {
		t.Fatalf("after deleting task 1_3, %d keys remain, want %d", len(got), 6*7+2)
	}
}

// boundsKeys is the data set of the bounds tests.
var boundsKeys = []string{"a", "b", "b\x00", "ba", "c", "d"}

var boundsCases = []struct {
	lo, hi string
	loNil  bool
	hiNil  bool
	inside []string // the keys in [lo, hi)
	name   string
}{
	{loNil: true, hiNil: true, inside: boundsKeys, name: "unbounded"},
	{lo: "b", hi: "c", inside: []string{"b", "b\x00", "ba"}, name: "lo included, hi excluded"},
	{lo: "b\x00", hi: "ba", inside: []string{"b\x00"}, name: "zero byte"},
	{lo: "bb", hi: "d", inside: []string{"c"}, name: "lo absent"},
	{lo: "a", hi: "a\x00", inside: []string{"a"}, name: "one key"},
	{lo: "a", hi: "a", name: "lo == hi"},
	{lo: "c", hi: "b", name: "lo > hi"},
	{lo: "c", hiNil: true, inside: []string{"c", "d"}, name: "no upper bound"},
	{loNil: true, hi: "b", inside: []string{"a"}, name: "no lower bound"},
	{lo: "", hi: "b", inside: []string{"a"}, name: "empty lower bound"},
	{lo: "e", hiNil: true, name: "past the end"},
	{loNil: true, hi: "a", name: "before the start"},
	{lo: "\x00", hi: "\xff", inside: boundsKeys, name: "wide"},
}

func testIterateBounds(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	for _, k := range boundsKeys {
		write(t, b, k, "v"+k)
	}
	for _, tc := range boundsCases {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(t, b, bs(tc.lo, tc.loNil), bs(tc.hi, tc.hiNil))
			var keys []string
			for _, p := range got {
				keys = append(keys, string(p.key))
				if string(p.value) != "v"+string(p.key) {
					t.Errorf("value of %q = %q", p.key, p.value)
				}
			}
			if !equalStrings(keys, tc.inside) {
				t.Fatalf("Iterate(%q, %q) = %q, want %q", tc.lo, tc.hi, keys, tc.inside)
			}
		})
	}
}

func testIterateEmptyStore(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	if got := collect(t, b, nil, nil); len(got) != 0 {
		t.Fatalf("empty store iterates %v", got)
	}
	write(t, b, "a", "1")
	del(t, b, "a")
	if got := collect(t, b, nil, nil); len(got) != 0 {
		t.Fatalf("store with everything deleted iterates %v", got)
	}
}

func testIterateHidesDeletes(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1", "b", "2", "c", "3", "d", "4")
	del(t, b, "a", "c")
	var batch store.Batch
	batch.Put([]byte("e"), []byte("5"))
	batch.Delete([]byte("e"))
	mustWrite(t, b, &batch)
	want := []string{"b", "d"}
	if got := collectKeys(t, b, nil, nil); !equalStrings(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	if got := collectKeys(t, b, []byte("c"), []byte("d")); len(got) != 0 {
		t.Fatalf("range holding only a deleted key iterates %q", got)
	}
}

func testIteratorLifecycle(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1")
	it, err := b.Iterate(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || string(it.Key()) != "a" || string(it.Value()) != "1" {
		t.Fatalf("first Next: %q=%q, err %v", it.Key(), it.Value(), it.Err())
	}
	for range 3 {
		if it.Next() {
			t.Fatalf("Next past the end returned %q", it.Key())
		}
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Err at the end = %v", err)
	}
	for range 2 {
		if err := it.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
	}
	if it.Next() {
		t.Fatal("Next after Close returned true")
	}

	// An iterator closed before its end, and one never advanced.
	write(t, b, "b", "2")
	early, err := b.Iterate(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !early.Next() {
		t.Fatal(early.Err())
	}
	closeIter(t, early)
	if early.Next() {
		t.Fatal("Next after an early Close returned true")
	}
	never, err := b.Iterate(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeIter(t, never)
	// The backend still works, and Close has nothing left to release.
	wantValue(t, b, "b", "2")
}

// testIteratorCopies keeps copies of every key and value across Next: the
// iterator may reuse its buffers, but the copies must stay right.
func testIteratorCopies(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	var batch store.Batch
	for i := range 1000 {
		batch.Put(numKey('k', i), []byte(fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte{'x'}, i%50))))
	}
	mustWrite(t, b, &batch)
	got := collect(t, b, nil, nil)
	if len(got) != 1000 {
		t.Fatalf("got %d pairs", len(got))
	}
	for i, p := range got {
		want := fmt.Sprintf("value-%d-%s", i, bytes.Repeat([]byte{'x'}, i%50))
		if !bytes.Equal(p.key, numKey('k', i)) || string(p.value) != want {
			t.Fatalf("pair %d = %v", i, p)
		}
	}
}

// testWriteDuringIteration writes into and around the range of an open
// iterator: overwrites ahead, deletes ahead and behind, inserts ahead. The
// iterator must not crash or return garbage: keys ascend, stay in range and
// are unique; values are ones that were written for that key; and every key
// present for the whole iteration is returned. (Whether it sees the writes
// is up to the implementation.)
func testWriteDuringIteration(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	const n = 200
	key := func(i int) string { return fmt.Sprintf("k%04d", i) }
	var batch store.Batch
	for i := range n {
		batch.Put([]byte(key(i)), []byte("old-"+key(i)))
	}
	mustWrite(t, b, &batch)

	deleted := map[string]bool{}
	lo, hi := []byte(key(0)), []byte(key(n))
	it, err := b.Iterate(lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	defer closeIter(t, it)
	seen := map[string]bool{}
	var prev []byte
	for i := 0; it.Next(); i++ {
		k, v := it.Key(), it.Value()
		if prev != nil && bytes.Compare(k, prev) <= 0 {
			t.Fatalf("key %q after %q", k, prev)
		}
		if bytes.Compare(k, lo) < 0 || bytes.Compare(k, hi) >= 0 {
			t.Fatalf("key %q outside [%q, %q)", k, lo, hi)
		}
		if sv := string(v); sv != "old-"+string(k) && sv != "new-"+string(k) && sv != "ins-"+string(k) {
			t.Fatalf("value of %q = %q", k, v)
		}
		prev = bytes.Clone(k)
		seen[string(k)] = true

		batch.Reset()
		j := 0
		fmt.Sscanf(string(k), "k%04d", &j)
		batch.Delete(k) // the current key: must not disturb the iterator
		deleted[string(k)] = true
		if j+3 < n {
			batch.Put([]byte(key(j+3)), []byte("new-"+key(j+3))) // overwrite ahead
		}
		if j%10 == 0 && j+7 < n {
			batch.Delete([]byte(key(j + 7))) // delete ahead
			deleted[key(j+7)] = true
		}
		ins := key(j+5) + "x" // insert between existing keys ahead
		batch.Put([]byte(ins), []byte("ins-"+ins))
		batch.Put([]byte("z-outside"+key(j)), []byte("outside"))
		if err := b.Write(&batch); err != nil {
			t.Fatalf("Write during iteration: %v", err)
		}
		if i > 10*n {
			t.Fatal("iteration does not end")
		}
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	for i := range n {
		if !deleted[key(i)] && !seen[key(i)] {
			t.Fatalf("key %q, present throughout, was not returned", key(i))
		}
	}
}

// testDeleteRangeDuringIteration deletes the whole range under an open
// iterator, then refills part of it.
func testDeleteRangeDuringIteration(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	var batch store.Batch
	for i := range 100 {
		batch.Put(numKey('r', i), numKey('v', i))
	}
	mustWrite(t, b, &batch)
	it, err := b.Iterate([]byte{'r'}, []byte{'s'})
	if err != nil {
		t.Fatal(err)
	}
	defer closeIter(t, it)
	var prev []byte
	for i := 0; it.Next(); i++ {
		k := it.Key()
		if prev != nil && bytes.Compare(k, prev) <= 0 {
			t.Fatalf("key %x after %x", k, prev)
		}
		if len(k) != 9 || k[0] != 'r' || !bytes.Equal(it.Value()[1:], k[1:]) {
			t.Fatalf("garbage pair %x=%x", k, it.Value())
		}
		prev = bytes.Clone(k)
		switch i {
		case 10:
			if err := b.DeleteRange([]byte{'r'}, []byte{'s'}); err != nil {
				t.Fatal(err)
			}
		case 11:
			write(t, b, string(numKey('r', 99)), string(numKey('v', 99)))
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
}
