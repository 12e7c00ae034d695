package storetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// kv is a key and value, both copied out of the backend.
type kv struct {
	key, value []byte
}

func (p kv) String() string { return fmt.Sprintf("%x=%x", p.key, p.value) }

// write applies one batch of puts given as key, value, key, value, ….
func write(t *testing.T, b store.Backend, pairs ...string) {
	t.Helper()
	var batch store.Batch
	for i := 0; i < len(pairs); i += 2 {
		batch.Put([]byte(pairs[i]), []byte(pairs[i+1]))
	}
	mustWrite(t, b, &batch)
}

func mustWrite(t *testing.T, b store.Backend, batch *store.Batch) {
	t.Helper()
	if err := b.Write(batch); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func del(t *testing.T, b store.Backend, keys ...string) {
	t.Helper()
	var batch store.Batch
	for _, k := range keys {
		batch.Delete([]byte(k))
	}
	mustWrite(t, b, &batch)
}

// get returns a copy of key's value and whether it was present.
func get(t *testing.T, b store.Backend, key []byte) ([]byte, bool) {
	t.Helper()
	var value []byte
	found, err := b.Get(key, func(v []byte) error {
		value = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		t.Fatalf("Get(%x): %v", key, err)
	}
	return value, found
}

// wantValue fails unless key is present with value want.
func wantValue(t *testing.T, b store.Backend, key, want string) {
	t.Helper()
	got, found := get(t, b, []byte(key))
	if !found {
		t.Fatalf("Get(%q): missing, want %q", key, want)
	}
	if string(got) != want {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

// wantMissing fails unless key is absent.
func wantMissing(t *testing.T, b store.Backend, key string) {
	t.Helper()
	if got, found := get(t, b, []byte(key)); found {
		t.Fatalf("Get(%q) = %q, want missing", key, got)
	}
}

// collect returns copies of every pair in [lo, hi).
func collect(t *testing.T, b store.Backend, lo, hi []byte) []kv {
	t.Helper()
	it, err := b.Iterate(lo, hi)
	if err != nil {
		t.Fatalf("Iterate(%x, %x): %v", lo, hi, err)
	}
	defer closeIter(t, it)
	var out []kv
	for it.Next() {
		out = append(out, kv{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Iterate(%x, %x): Err: %v", lo, hi, err)
	}
	return out
}

// collectKeys returns the keys in [lo, hi) as strings.
func collectKeys(t *testing.T, b store.Backend, lo, hi []byte) []string {
	t.Helper()
	var keys []string
	for _, p := range collect(t, b, lo, hi) {
		keys = append(keys, string(p.key))
	}
	return keys
}

func closeIter(t *testing.T, it store.Iterator) {
	t.Helper()
	if err := it.Close(); err != nil {
		t.Errorf("Iterator.Close: %v", err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// bs turns an optional bound into bytes: "" stays nil (no bound).
func bs(s string, unbounded bool) []byte {
	if unbounded {
		return nil
	}
	return []byte(s)
}

// taskPrefix builds the fixed-width binary key prefix of a task's store the
// way the layers above do (sub-topology, partition, store id, incarnation,
// big-endian), so that task 1_3 never matches task 1_30.
func taskPrefix(subtopology, partition uint32, storeID uint16, incarnation uint32) []byte {
	p := binary.BigEndian.AppendUint32(nil, subtopology)
	p = binary.BigEndian.AppendUint32(p, partition)
	p = binary.BigEndian.AppendUint16(p, storeID)
	return binary.BigEndian.AppendUint32(p, incarnation)
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil if there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// numKey returns prefix followed by i as 8 big-endian bytes.
func numKey(prefix byte, i int) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefix}, uint64(i))
}
