package storetest

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// fillLarge builds the large batch: largeBatchSize puts of key 'L'+i with
// value i (200k; 50k under the race detector), well past one Badger
// transaction, so Badger splits the batch; and, at its two ends, operations
// on the same keys, to check that the last operation wins across the split.
func fillLarge(batch *store.Batch) {
	batch.Put([]byte("first-put-then-deleted"), []byte("x"))
	batch.Put([]byte("first-put-then-overwritten"), []byte("old"))
	for i := range largeBatchSize {
		batch.Put(numKey('L', i), binary.BigEndian.AppendUint64(nil, uint64(i)))
	}
	batch.Delete([]byte("first-put-then-deleted"))
	batch.Put([]byte("first-put-then-overwritten"), []byte("new"))
}

// checkLarge verifies what fillLarge wrote.
func checkLarge(t *testing.T, b store.Backend) {
	t.Helper()
	wantMissing(t, b, "first-put-then-deleted")
	wantValue(t, b, "first-put-then-overwritten", "new")
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		i := r.IntN(largeBatchSize)
		v, found := get(t, b, numKey('L', i))
		if !found || binary.BigEndian.Uint64(v) != uint64(i) {
			t.Fatalf("key %d: found %v value %x", i, found, v)
		}
	}
	it, err := b.Iterate([]byte{'L'}, []byte{'M'})
	if err != nil {
		t.Fatal(err)
	}
	defer closeIter(t, it)
	n := 0
	for it.Next() {
		if !bytes.Equal(it.Key(), numKey('L', n)) || binary.BigEndian.Uint64(it.Value()) != uint64(n) {
			t.Fatalf("pair %d = %x=%x", n, it.Key(), it.Value())
		}
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != largeBatchSize {
		t.Fatalf("iterated %d keys, want %d", n, largeBatchSize)
	}
}

func testLargeBatch(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	var batch store.Batch
	fillLarge(&batch)
	mustWrite(t, b, &batch)
	checkLarge(t, b)
}

// largeValues are values around Badger's value threshold (1 MiB): the
// larger ones live in its value log, not in the LSM tree.
func largeValues() map[string][]byte {
	r := rand.NewChaCha8([32]byte{5, 6})
	out := map[string][]byte{}
	for _, size := range []int{1<<20 - 1, 1 << 20, 2 << 20, 3<<20 + 17} {
		v := make([]byte, size)
		_, _ = r.Read(v)
		out[string(binary.BigEndian.AppendUint32([]byte("big"), uint32(size)))] = v
	}
	return out
}

func writeLargeValues(t *testing.T, b store.Backend, values map[string][]byte) {
	t.Helper()
	var batch store.Batch
	for k, v := range values {
		batch.Put([]byte(k), v)
		batch.Put([]byte(k+"/small"), []byte("s"))
	}
	mustWrite(t, b, &batch)
}

func checkLargeValues(t *testing.T, b store.Backend, values map[string][]byte) {
	t.Helper()
	for k, want := range values {
		got, found := get(t, b, []byte(k))
		if !found || !bytes.Equal(got, want) {
			t.Fatalf("Get(%x): found %v, %d bytes, want %d bytes", k, found, len(got), len(want))
		}
		wantValue(t, b, k+"/small", "s")
	}
	n := 0
	for _, p := range collect(t, b, []byte("big"), []byte("bih")) {
		if want, ok := values[string(p.key)]; ok {
			n++
			if !bytes.Equal(p.value, want) {
				t.Fatalf("Iterate: value of %x differs (%d bytes, want %d)", p.key, len(p.value), len(want))
			}
		} else if string(p.value) != "s" {
			t.Fatalf("Iterate: %x=%q", p.key, p.value)
		}
	}
	if n != len(values) {
		t.Fatalf("Iterate found %d large values, want %d", n, len(values))
	}
}

func testLargeValue(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	values := largeValues()
	writeLargeValues(t, b, values)
	checkLargeValues(t, b, values)
}
