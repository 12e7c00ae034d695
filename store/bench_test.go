package store_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// benchBackends are the backends every benchmark runs against. Badger's
// open reopens an existing database, so a benchmark can load data, reopen
// and so read from tables rather than from the memtable.
var benchBackends = []struct {
	name string
	open func(tb testing.TB, dir string) store.Backend
}{
	{"memory", nil},
	{"badger", func(tb testing.TB, dir string) store.Backend { return openBadger(tb, dir, store.BadgerOptions{}) }},
	{"badger-lowmem", func(tb testing.TB, dir string) store.Backend {
		return openBadger(tb, dir, store.BadgerOptions{LowMemory: true})
	}},
}

// benchKey is a task-prefixed key like the layers above build: 14 bytes of
// prefix and an 8-byte suffix.
func benchKey(i int) []byte {
	k := make([]byte, 14, 22)
	k[3], k[7] = 1, 3 // sub-topology 1, partition 3
	return binary.BigEndian.AppendUint64(k, uint64(i))
}

var benchValue = bytes.Repeat([]byte("v"), 100)

// loaded returns a backend holding keys benchKey(0..n-1) with 100-byte
// values; a Badger one is reopened so that the data is in its tables.
func loaded(b *testing.B, open func(testing.TB, string) store.Backend, n int) store.Backend {
	b.Helper()
	dir := b.TempDir()
	var db store.Backend = store.NewMemory()
	if open != nil {
		db = open(b, dir)
	}
	var batch store.Batch
	for i := range n {
		batch.Put(benchKey(i), benchValue)
		if batch.Len() == 10_000 {
			if err := db.Write(&batch); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := db.Write(&batch); err != nil {
		b.Fatal(err)
	}
	if open != nil {
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		db = open(b, dir)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// BenchmarkGet reads present keys at random out of 100k, from Badger's
// tables (the path of a read that misses every cache above).
func BenchmarkGet(b *testing.B) {
	const n = 100_000
	for _, bb := range benchBackends {
		b.Run(bb.name, func(b *testing.B) {
			db := loaded(b, bb.open, n)
			keys := make([][]byte, 4096)
			r := rand.New(rand.NewPCG(1, 1))
			for i := range keys {
				keys[i] = benchKey(r.IntN(n))
			}
			var sum int
			fn := func(v []byte) error { sum += len(v); return nil }
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				found, err := db.Get(keys[i%len(keys)], fn)
				if err != nil || !found {
					b.Fatal(found, err)
				}
			}
			if sum == 0 {
				b.Fatal("no value read")
			}
		})
	}
}

// BenchmarkWrite1000 writes batches of 1000 puts (100-byte values) over a
// key space of 100k, as a commit of a busy task does.
func BenchmarkWrite1000(b *testing.B) {
	const n, size = 100_000, 1000
	for _, bb := range benchBackends {
		b.Run(bb.name, func(b *testing.B) {
			var db store.Backend = store.NewMemory()
			if bb.open != nil {
				db = bb.open(b, b.TempDir())
			}
			defer db.Close()
			var batch store.Batch
			r := rand.New(rand.NewPCG(2, 2))
			b.ReportAllocs()
			b.SetBytes(size * (22 + 100))
			for b.Loop() {
				batch.Reset()
				for range size {
					batch.Put(benchKey(r.IntN(n)), benchValue)
				}
				if err := db.Write(&batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/entry")
		})
	}
}

// BenchmarkIterate10k scans one task's 10k keys, in a database that holds
// other tasks' keys on both sides.
func BenchmarkIterate10k(b *testing.B) {
	const n = 10_000
	for _, bb := range benchBackends {
		b.Run(bb.name, func(b *testing.B) {
			dir := b.TempDir()
			var db store.Backend = store.NewMemory()
			if bb.open != nil {
				db = bb.open(b, dir)
			}
			var batch store.Batch
			task := func(part byte, i int) []byte { return append([]byte{0, 0, 0, 1, 0, 0, 0, part}, benchKey(i)[14:]...) }
			for _, part := range []byte{2, 3, 4} {
				for i := range n {
					batch.Put(task(part, i), benchValue)
				}
			}
			if err := db.Write(&batch); err != nil {
				b.Fatal(err)
			}
			if bb.open != nil {
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				db = bb.open(b, dir)
			}
			defer db.Close()
			lo, hi := []byte{0, 0, 0, 1, 0, 0, 0, 3}, []byte{0, 0, 0, 1, 0, 0, 0, 4}
			b.ReportAllocs()
			for b.Loop() {
				it, err := db.Iterate(lo, hi)
				if err != nil {
					b.Fatal(err)
				}
				count, size := 0, 0
				for it.Next() {
					count++
					size += len(it.Key()) + len(it.Value())
				}
				if err := it.Err(); err != nil {
					b.Fatal(err)
				}
				_ = it.Close()
				if count != n {
					b.Fatal(fmt.Sprint("iterated ", count))
				}
			}
		})
	}
}
