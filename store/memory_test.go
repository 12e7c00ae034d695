package store_test

import (
	"testing"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Backend { return store.NewMemory() }, nil)
}

// TestMemoryIteratorSeesWritesAhead pins the semantics documented on Memory:
// not a snapshot, but a cursor that sees what lies ahead of it when it gets
// there.
func TestMemoryIteratorSeesWritesAhead(t *testing.T) {
	m := store.NewMemory()
	defer m.Close()
	put := func(kv ...string) {
		var b store.Batch
		for i := 0; i < len(kv); i += 2 {
			b.Put([]byte(kv[i]), []byte(kv[i+1]))
		}
		if err := m.Write(&b); err != nil {
			t.Fatal(err)
		}
	}
	put("b", "1", "d", "1", "f", "1")
	it, err := m.Iterate(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() || string(it.Key()) != "b" {
		t.Fatalf("first key %q", it.Key())
	}
	put("a", "behind", "c", "ahead", "d", "2")
	var del store.Batch
	del.Delete([]byte("f"))
	if err := m.Write(&del); err != nil {
		t.Fatal(err)
	}
	var got []string
	for it.Next() {
		got = append(got, string(it.Key())+"="+string(it.Value()))
	}
	want := []string{"c=ahead", "d=2"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("after writes: %q, want %q", got, want)
	}
}

// Memory's size estimate follows puts, overwrites, deletes and range deletes, in total
// and under a prefix.
func TestMemoryEstimateSize(t *testing.T) {
	m := store.NewMemory()
	defer m.Close()
	var b store.Batch
	b.Put([]byte("a/1"), []byte("xx"))
	b.Put([]byte("a/2"), []byte("yyyy"))
	b.Put([]byte("b/1"), []byte("z"))
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	check := func(prefix string, want int64) {
		t.Helper()
		if got := m.EstimateSize([]byte(prefix)); got != want {
			t.Errorf("EstimateSize(%q) = %d, want %d", prefix, got, want)
		}
	}
	check("", 3+2+3+4+3+1)
	check("a/", 3+2+3+4)
	b.Reset()
	b.Put([]byte("a/1"), []byte("xxxxx"))
	b.Delete([]byte("a/2"))
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	check("a/", 3+5)
	check("", 3+5+3+1)
	if err := m.DeleteRange([]byte("a/"), []byte("a0")); err != nil {
		t.Fatal(err)
	}
	check("", 3+1)
	check("a/", 0)
}
