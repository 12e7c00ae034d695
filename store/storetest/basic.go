package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

func testGetMissing(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	wantMissing(t, b, "nope")
	write(t, b, "a", "1")
	wantMissing(t, b, "nope")
	wantMissing(t, b, "a\x00") // a longer key is a different key
	called := false
	found, err := b.Get([]byte("nope"), func([]byte) error { called = true; return nil })
	if found || err != nil || called {
		t.Fatalf("Get(missing) = %v, %v, fn called %v; want false, nil, not called", found, err, called)
	}
}

func testGetPresent(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1", "b", "2", "\x00", "zero", "\xff\xff", "ff")
	wantValue(t, b, "a", "1")
	wantValue(t, b, "b", "2")
	wantValue(t, b, "\x00", "zero")
	wantValue(t, b, "\xff\xff", "ff")
}

func testGetNilFn(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1")
	if found, err := b.Get([]byte("a"), nil); !found || err != nil {
		t.Fatalf("Get(present, nil) = %v, %v; want true, nil", found, err)
	}
	if found, err := b.Get([]byte("b"), nil); found || err != nil {
		t.Fatalf("Get(missing, nil) = %v, %v; want false, nil", found, err)
	}
}

func testGetFnError(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1")
	boom := errors.New("boom")
	found, err := b.Get([]byte("a"), func([]byte) error { return boom })
	if !found || !errors.Is(err, boom) {
		t.Fatalf("Get with failing fn = %v, %v; want true, %v", found, err, boom)
	}
}

// testGetNested calls the backend from inside Get's fn, which the layers
// above may do (a processor reading two keys).
func testGetNested(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1", "b", "2")
	_, err := b.Get([]byte("a"), func(outer []byte) error {
		wantValue(t, b, "b", "2")
		write(t, b, "c", string(outer))
		if !bytes.Equal(outer, []byte("1")) {
			t.Errorf("outer value changed to %q by a nested call", outer)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, b, "c", "1")
}

func testPutOverwrite(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "k", "first")
	write(t, b, "k", "second, longer than the first")
	wantValue(t, b, "k", "second, longer than the first")
	write(t, b, "k", "3")
	wantValue(t, b, "k", "3")
	if got := collectKeys(t, b, nil, nil); !equalStrings(got, []string{"k"}) {
		t.Fatalf("keys after overwrites = %q, want [k]", got)
	}
}

func testDelete(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1", "b", "2")
	del(t, b, "a")
	wantMissing(t, b, "a")
	wantValue(t, b, "b", "2")
	del(t, b, "a", "never-there") // deleting a missing key is no error
	wantMissing(t, b, "never-there")
	write(t, b, "a", "again")
	wantValue(t, b, "a", "again")
}

func testBatchLastOpWins(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "gone", "old", "back", "old")
	var batch store.Batch
	batch.Put([]byte("twice"), []byte("1"))
	batch.Put([]byte("twice"), []byte("2"))
	batch.Put([]byte("put-del"), []byte("x"))
	batch.Delete([]byte("put-del"))
	batch.Delete([]byte("del-put"))
	batch.Put([]byte("del-put"), []byte("y"))
	batch.Delete([]byte("gone"))
	batch.Delete([]byte("back"))
	batch.Put([]byte("back"), []byte("new"))
	if batch.Len() != 9 {
		t.Fatalf("Len = %d, want 9 (operations, not keys)", batch.Len())
	}
	mustWrite(t, b, &batch)
	wantValue(t, b, "twice", "2")
	wantMissing(t, b, "put-del")
	wantValue(t, b, "del-put", "y")
	wantMissing(t, b, "gone")
	wantValue(t, b, "back", "new")
	want := []string{"back", "del-put", "twice"}
	if got := collectKeys(t, b, nil, nil); !equalStrings(got, want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
}

// testBatchCopies checks that Put and Delete copy their arguments.
func testBatchCopies(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	key, value := []byte("key1"), []byte("value1")
	var batch store.Batch
	batch.Put(key, value)
	key[3], value[5] = '2', '2'
	batch.Put(key, value)
	dk := []byte("key2")
	batch.Delete(dk)
	dk[3] = '9' // the delete still targets key2
	copy(key, "XXXX")
	copy(value, "XXXXXX")
	mustWrite(t, b, &batch)
	wantValue(t, b, "key1", "value1")
	wantMissing(t, b, "key2")
	wantMissing(t, b, "XXXX")
}

// testBatchReset reuses one batch: what was written must not change when the
// batch's memory is reused.
func testBatchReset(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	var batch store.Batch
	batch.Put([]byte("a"), []byte("1"))
	batch.Put([]byte("b"), []byte("2"))
	mustWrite(t, b, &batch)
	batch.Reset()
	if batch.Len() != 0 {
		t.Fatalf("Len after Reset = %d", batch.Len())
	}
	batch.Put([]byte("c"), []byte("3"))
	batch.Put([]byte("a"), []byte("overwritten"))
	mustWrite(t, b, &batch)
	batch.Reset()
	batch.Put([]byte("zzzzzzzz"), []byte("zzzzzzzz")) // reuses the bytes of a, c
	wantValue(t, b, "a", "overwritten")
	wantValue(t, b, "b", "2")
	wantValue(t, b, "c", "3")
	wantMissing(t, b, "zzzzzzzz")
}

func testEmptyBatch(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	mustWrite(t, b, &store.Batch{})
	if got := collectKeys(t, b, nil, nil); len(got) != 0 {
		t.Fatalf("keys after empty batch = %q", got)
	}
}

// testEmptyValue checks that an empty value is present, not missing.
func testEmptyValue(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	var batch store.Batch
	batch.Put([]byte("empty"), []byte{})
	batch.Put([]byte("nil"), nil)
	mustWrite(t, b, &batch)
	for _, k := range []string{"empty", "nil"} {
		calls := 0
		found, err := b.Get([]byte(k), func(v []byte) error {
			calls++
			if len(v) != 0 {
				t.Errorf("Get(%q) value = %q, want empty", k, v)
			}
			return nil
		})
		if err != nil || !found || calls != 1 {
			t.Fatalf("Get(%q) = %v, %v, fn called %d times; want true, nil, once", k, found, err, calls)
		}
	}
	got := collect(t, b, nil, nil)
	if len(got) != 2 || len(got[0].value) != 0 || len(got[1].value) != 0 {
		t.Fatalf("Iterate = %v, want two keys with empty values", got)
	}
	del(t, b, "empty")
	wantMissing(t, b, "empty")
}

func testInvalidKey(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	longest := bytes.Repeat([]byte{'k'}, store.MaxKeySize)
	for _, tc := range []struct {
		name string
		key  []byte
	}{
		{"empty", []byte{}},
		{"nil", nil},
		{"too long", bytes.Repeat([]byte{'k'}, store.MaxKeySize+1)},
		{"reserved prefix", []byte("!badger!head")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var batch store.Batch
			batch.Put([]byte("valid"), []byte("1"))
			batch.Put(tc.key, []byte("x"))
			if err := b.Write(&batch); !errors.Is(err, store.ErrInvalidKey) {
				t.Fatalf("Write(put %.20q) = %v, want ErrInvalidKey", tc.key, err)
			}
			batch.Reset()
			batch.Put([]byte("valid"), []byte("1"))
			batch.Delete(tc.key)
			if err := b.Write(&batch); !errors.Is(err, store.ErrInvalidKey) {
				t.Fatalf("Write(delete %.20q) = %v, want ErrInvalidKey", tc.key, err)
			}
			wantMissing(t, b, "valid") // nothing of a rejected batch is applied
			if _, err := b.Get(tc.key, nil); !errors.Is(err, store.ErrInvalidKey) {
				t.Fatalf("Get(%.20q) = %v, want ErrInvalidKey", tc.key, err)
			}
		})
	}
	var batch store.Batch
	batch.Put(longest, []byte("longest"))
	mustWrite(t, b, &batch)
	wantValue(t, b, string(longest), "longest")
}

// testValueNotRetained checks the contract of Get's fn from the caller's
// side: a value copied inside fn stays correct whatever happens next, and
// each call sees its own value.
func testValueNotRetained(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", strings.Repeat("A", 100), "b", strings.Repeat("B", 100))
	a, _ := get(t, b, []byte("a"))
	bv, _ := get(t, b, []byte("b"))
	write(t, b, "a", strings.Repeat("Z", 100))
	del(t, b, "b")
	a2, _ := get(t, b, []byte("a"))
	if string(a) != strings.Repeat("A", 100) || string(bv) != strings.Repeat("B", 100) {
		t.Fatalf("copied values changed: a=%.10q b=%.10q", a, bv)
	}
	if string(a2) != strings.Repeat("Z", 100) {
		t.Fatalf("a after overwrite = %.10q", a2)
	}
}

func testClosed(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := b.Get([]byte("a"), nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Iterate(nil, nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Iterate after Close = %v, want ErrClosed", err)
	}
	var batch store.Batch
	batch.Put([]byte("b"), []byte("2"))
	if err := b.Write(&batch); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := b.Write(&store.Batch{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Write(empty) after Close = %v, want ErrClosed", err)
	}
	if err := b.DeleteRange(nil, nil); !errors.Is(err, store.ErrClosed) {
		t.Errorf("DeleteRange after Close = %v, want ErrClosed", err)
	}
	for range 2 {
		if err := b.Close(); err != nil {
			t.Errorf("second Close = %v, want nil", err)
		}
	}
}

func testCloseWithOpenIterator(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	write(t, b, "a", "1", "b", "2", "c", "3")
	it, err := b.Iterate(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || string(it.Key()) != "a" {
		t.Fatalf("first Next: key %q, err %v", it.Key(), it.Err())
	}
	unstarted, err := b.Iterate(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close with open iterators: %v", err)
	}
	for _, it := range []store.Iterator{it, unstarted} {
		if it.Next() {
			t.Fatalf("Next after the backend closed returned key %q", it.Key())
		}
		if !errors.Is(it.Err(), store.ErrClosed) {
			t.Fatalf("Err after the backend closed = %v, want ErrClosed", it.Err())
		}
		for range 2 {
			if err := it.Close(); err != nil {
				t.Fatalf("Iterator.Close after the backend closed = %v", err)
			}
		}
	}
}
