package state

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// logged lists a buffer's changes for the changelog as key=value (key- for a deletion).
func logged(b *Buffer) map[string]string {
	out := map[string]string{}
	_ = b.Logged().Each(func(k string, v []byte, deleted bool) error {
		if deleted {
			out[k+"-"] = ""
		} else {
			out[k] = string(v)
		}
		return nil
	})
	return out
}

// Local keys go to the database and never to the changelog; a fresh local key deleted
// before the commit is forgotten, and one deleted after it is a local tombstone.
func TestBufferLocalKeys(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	kv, err := m.Open(0, 0, "s")
	if err != nil {
		t.Fatal(err)
	}
	kv.PutNew([]byte("r1"), []byte("a"))
	kv.PutNewLocal([]byte("x1"), nil)
	kv.PutNewLocal([]byte("x2"), nil)
	kv.DeleteLocal([]byte("x2")) // fresh: forgotten
	if got := logged(kv.Buffer()); len(got) != 1 || got["r1"] != "a" {
		t.Fatalf("logged changes %v, want only r1=a", got)
	}
	if n, l := kv.Buffer().Len(), kv.Buffer().Logs(); n != 2 || !l {
		t.Fatalf("Len %d, Logs %v; want 2 and true", n, l)
	}
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 1, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, kv, "x1"); !ok {
		t.Fatal("the committed local key is not in the database")
	}
	kv.DeleteLocal([]byte("x1"))
	kv.Delete([]byte("r1"))
	if got := logged(kv.Buffer()); len(got) != 1 || got["r1-"] != "" {
		t.Fatalf("logged changes %v, want only the tombstone of r1", got)
	}
	if !kv.Buffer().Logs() {
		t.Fatal("Logs is false with a tombstone of r1 buffered")
	}
	// A buffer of local keys only logs nothing, and its commit without a checkpoint
	// (offset -1) keeps the slice's checkpoint.
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 2, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	kv.PutNewLocal([]byte("x3"), nil)
	if kv.Buffer().Logs() {
		t.Fatal("Logs is true with local keys only")
	}
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: -1, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, kv, "x3"); !ok {
		t.Fatal("the local key of a commit without a checkpoint is not in the database")
	}
	if cp, ok, err := m.Checkpoint(kv); err != nil || !ok || cp.Offset != 2 {
		t.Fatalf("checkpoint %v, %v, %v; want offset 2 kept", cp, ok, err)
	}
}

// A restore derives the index's local keys from the restored keys: a put puts them, a
// deletion deletes them.
func TestRestoreDerivesIndex(t *testing.T) {
	for _, inMemory := range []bool{false, true} {
		m := NewManager(store.NewMemory())
		open := m.Open
		if inMemory {
			open = m.OpenInMemory
		}
		kv, err := open(0, 0, "s")
		if err != nil {
			t.Fatal(err)
		}
		kv.SetIndex(func(k []byte) []byte {
			if k[0] != 'r' {
				return nil
			}
			return append([]byte("i"), k[1:]...)
		})
		keys := [][]byte{[]byte("r1"), []byte("r2"), []byte("f"), []byte("r1")}
		values := [][]byte{[]byte("a"), []byte("b"), []byte("c"), nil}
		if err := m.ApplyRestored(kv, keys, values, Checkpoint{Offset: 4, Written: time.Now()}); err != nil {
			t.Fatal(err)
		}
		it, err := kv.Range(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := collect(t, it), "f=c i2= r2=b"; got != want {
			t.Errorf("in memory %v: restored %q, want %q", inMemory, got, want)
		}
		m.Close()
	}
}

// A slice kept in memory commits to its own memory, never to the database, checkpoint
// included: a new slice of the same store (a restart, or the task back after a move)
// finds no checkpoint and restores in full. Wipe and Release drop its memory.
func TestInMemorySlice(t *testing.T) {
	db := store.NewMemory()
	m := NewManager(db)
	defer m.Close()
	kv, err := m.OpenInMemory(0, 1, "join")
	if err != nil {
		t.Fatal(err)
	}
	if !kv.InMemory() {
		t.Fatal("InMemory is false")
	}
	kv.Put([]byte("k"), []byte("v"))
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 7, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if v, ok := get(t, kv, "k"); !ok || v != "v" {
		t.Fatalf("Get after commit = %q, %v", v, ok)
	}
	if cp, ok, err := m.Checkpoint(kv); err != nil || !ok || cp.Offset != 7 {
		t.Fatalf("checkpoint %v, %v, %v; want offset 7", cp, ok, err)
	}
	it, err := db.Iterate([]byte{nsData}, []byte{nsCheckpoint + 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, it); got != "" {
		t.Fatalf("the database has %q; a memory slice writes none of it", got)
	}
	again, err := m.OpenInMemory(0, 1, "join")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Checkpoint(again); ok {
		t.Fatal("a new memory slice has a checkpoint")
	}
	if err := m.Wipe(kv); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, kv, "k"); ok {
		t.Fatal("Wipe kept the data")
	}
	if _, ok, _ := m.Checkpoint(kv); ok {
		t.Fatal("Wipe kept the checkpoint")
	}
	m.Release(again)
	if n, err := m.Cleanup(time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("Cleanup wiped %d slots (%v); a memory slice leaves none", n, err)
	}
}
