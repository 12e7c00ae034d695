package storetest

import (
	"testing"

	"github.com/eddy-streams/eddy/store"
)

func testPersistPutsAndDeletes(t *testing.T, h *reopener) {
	b := h.b
	write(t, b, "a", "1", "b", "2", "c", "3", "\x00", "zero", "\xff", "ff")
	var batch store.Batch
	batch.Put([]byte("empty"), nil)
	batch.Put([]byte("a"), []byte("1b"))
	batch.Delete([]byte("b"))
	mustWrite(t, b, &batch)

	b = h.cycle(t)
	wantValue(t, b, "a", "1b")
	wantMissing(t, b, "b")
	wantValue(t, b, "c", "3")
	wantValue(t, b, "empty", "")
	want := []string{"\x00", "a", "c", "empty", "\xff"}
	if got := collectKeys(t, b, nil, nil); !equalStrings(got, want) {
		t.Fatalf("keys after reopen = %q, want %q", got, want)
	}

	// And again, with writes made after the first reopen.
	del(t, b, "c")
	write(t, b, "b", "back")
	b = h.cycle(t)
	want = []string{"\x00", "a", "b", "empty", "\xff"}
	if got := collectKeys(t, b, nil, nil); !equalStrings(got, want) {
		t.Fatalf("keys after second reopen = %q, want %q", got, want)
	}
	wantValue(t, b, "b", "back")
}

func testPersistLargeBatch(t *testing.T, h *reopener) {
	var batch store.Batch
	fillLarge(&batch)
	mustWrite(t, h.b, &batch)
	checkLarge(t, h.cycle(t))
}

func testPersistLargeValue(t *testing.T, h *reopener) {
	values := largeValues()
	writeLargeValues(t, h.b, values)
	checkLargeValues(t, h.cycle(t), values)
}

func testPersistDeleteRange(t *testing.T, h *reopener) {
	var batch store.Batch
	for i := range 10_000 {
		batch.Put(numKey('d', i), []byte("v"))
	}
	batch.Put([]byte("e"), []byte("kept"))
	mustWrite(t, h.b, &batch)
	b := h.cycle(t) // the range is now in tables, not only in the memtable
	if err := b.DeleteRange([]byte("d"), []byte("e")); err != nil {
		t.Fatal(err)
	}
	b = h.cycle(t)
	if got := collectKeys(t, b, nil, nil); !equalStrings(got, []string{"e"}) {
		t.Fatalf("after DeleteRange and reopen: %d keys", len(got))
	}
}
