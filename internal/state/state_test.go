package state

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/store"
)

func collect(t *testing.T, it store.Iterator) string {
	t.Helper()
	defer it.Close()
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(parts, " ")
}

func get(t *testing.T, kv *KV, key string) (string, bool) {
	t.Helper()
	var v string
	found, err := kv.Get([]byte(key), func(b []byte) error { v = string(b); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return v, found
}

// Reads see the buffer over the database: buffered values shadow committed ones,
// tombstones hide them, and a range merges both in key order.
func TestBufferOverDatabase(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	kv, err := m.Open(1, 3, "counts")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "c", "e", "g"} {
		kv.Put([]byte(k), []byte(k+"0"))
	}
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 4, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if kv.Buffer().Len() != 0 {
		t.Fatalf("buffer not emptied by Commit")
	}
	kv.Put([]byte("b"), []byte("b1"))
	kv.Put([]byte("c"), []byte("c1"))
	kv.Delete([]byte("e"))
	kv.Put([]byte("h"), []byte{})

	for key, want := range map[string]string{"a": "a0", "b": "b1", "c": "c1", "g": "g0", "h": ""} {
		if v, ok := get(t, kv, key); !ok || v != want {
			t.Errorf("Get(%s) = %q, %v; want %q", key, v, ok, want)
		}
	}
	if _, ok := get(t, kv, "e"); ok {
		t.Error("a deleted key is still visible")
	}
	if got, want := collect(t, must(kv.Range(nil, nil))), "a=a0 b=b1 c=c1 g=g0 h="; got != want {
		t.Errorf("Range(all) = %q, want %q", got, want)
	}
	if got, want := collect(t, must(kv.Range([]byte("b"), []byte("g")))), "b=b1 c=c1"; got != want {
		t.Errorf("Range(b, g) = %q, want %q", got, want)
	}
	// After the commit the database holds the merged view, and the checkpoint follows.
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 9, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if got, want := collect(t, must(kv.Range(nil, nil))), "a=a0 b=b1 c=c1 g=g0 h="; got != want {
		t.Errorf("after commit Range = %q, want %q", got, want)
	}
	cp, ok, err := m.Checkpoint(kv)
	if err != nil || !ok || cp.Offset != 9 {
		t.Errorf("checkpoint = %+v, %v, %v; want offset 9", cp, ok, err)
	}
}

func must(it store.Iterator, err error) store.Iterator {
	if err != nil {
		panic(err)
	}
	return it
}

// Tasks 1_3 and 1_30 and the stores of one task never see each other's keys.
func TestSlicesAreIsolated(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	var kvs []*KV
	for _, s := range []struct {
		sub  int
		part int32
		name string
	}{{1, 3, "a"}, {1, 30, "a"}, {13, 0, "a"}, {1, 3, "b"}} {
		kv, err := m.Open(s.sub, s.part, s.name)
		if err != nil {
			t.Fatal(err)
		}
		kv.Put([]byte("k"), []byte(fmt.Sprintf("%d_%d/%s", s.sub, s.part, s.name)))
		kvs = append(kvs, kv)
	}
	cps := make([]Checkpoint, len(kvs))
	if err := m.Commit(kvs, cps); err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if got := collect(t, must(kv.Range(nil, nil))); strings.Count(got, "=") != 1 {
			t.Errorf("slice %v sees %q", kv.slot, got)
		}
	}
}

// Wipe empties a slice at once (new incarnation) and removes its checkpoint; a store keeps
// its id across a reopen of the manager.
func TestWipeAndStoreIDs(t *testing.T) {
	db := store.NewMemory()
	m := NewManager(db)
	kv, _ := m.Open(0, 0, "s")
	kv.Put([]byte("x"), []byte("1"))
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Wipe(kv); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, kv, "x"); ok {
		t.Error("wiped key still visible")
	}
	if _, ok, _ := m.Checkpoint(kv); ok {
		t.Error("checkpoint survived the wipe")
	}
	kv.Put([]byte("y"), []byte("2"))
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 2}}); err != nil {
		t.Fatal(err)
	}
	m.wipes.Wait()

	// A second manager on the same database: same ids, same incarnation, same data.
	m2 := NewManager(db)
	other, _ := m2.Open(0, 0, "t") // a new store gets a new id
	again, _ := m2.Open(0, 0, "s")
	if again.slot.store == other.slot.store {
		t.Fatal("two stores share an id")
	}
	if v, ok := get(t, again, "y"); !ok || v != "2" {
		t.Errorf("after reopen Get(y) = %q, %v", v, ok)
	}
	if _, ok := get(t, again, "x"); ok {
		t.Error("old incarnation visible after reopen")
	}
}

// Slots released long enough ago are wiped; a slot opened again is not.
func TestCleanupReleased(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	keep, _ := m.Open(0, 1, "s")
	drop, _ := m.Open(0, 2, "s")
	for _, kv := range []*KV{keep, drop} {
		kv.Put([]byte("k"), []byte("v"))
	}
	if err := m.Commit([]*KV{keep, drop}, []Checkpoint{{Offset: 1}, {Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := m.ReleaseAll(time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open(0, 1, "s"); err != nil { // comes back
		t.Fatal(err)
	}
	n, err := m.Cleanup(time.Now().Add(-time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Cleanup = %d, %v; want 1 slot", n, err)
	}
	if _, ok := get(t, keep, "k"); !ok {
		t.Error("the slot that came back was wiped")
	}
	fresh, _ := m.Open(0, 2, "s")
	if _, ok := get(t, fresh, "k"); ok {
		t.Error("the released slot kept its data")
	}
}

// A slot two KVs hold open at once (a task's and a replica's, or a former owner's that
// has not closed yet) is released only when both are: one Release does not hand a slot
// in use to the cleaner.
func TestReleaseWaitsForEveryHolder(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	first, _ := m.Open(0, 1, "s")
	second, _ := m.Open(0, 1, "s")
	second.Put([]byte("k"), []byte("v"))
	if err := m.Commit([]*KV{second}, []Checkpoint{{Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	m.Release(first)
	if n, err := m.Cleanup(time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("Cleanup with a holder left = %d, %v; want nothing wiped", n, err)
	}
	if _, ok := get(t, second, "k"); !ok {
		t.Fatal("the slot still open was wiped")
	}
	m.Release(second)
	if n, err := m.Cleanup(time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("Cleanup after the last holder = %d, %v; want the slot", n, err)
	}
}

func TestCheckpointEncoding(t *testing.T) {
	c := Checkpoint{TopicID: [16]byte{1, 2, 3}, Offset: 1 << 40, Written: time.UnixMilli(1700000000123)}
	got, err := decodeCheckpoint(c.encode())
	if err != nil || got != c {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, c)
	}
	if _, err := decodeCheckpoint([]byte{9, 9}); err == nil {
		t.Error("a short checkpoint decoded")
	}
	if _, err := decodeCheckpoint(append(c.encode(), 0)); err == nil {
		t.Error("a checkpoint with a byte too many decoded")
	}
}

// countingBackend counts the point reads that reach the database.
type countingBackend struct {
	store.Backend
	gets int
}

func (c *countingBackend) Get(key []byte, fn func([]byte) error) (bool, error) {
	c.gets++
	return c.Backend.Get(key, fn)
}

// The committed-value cache: a key read or written before a commit is read after it
// without the database, absent keys included; values stay right through deletes, restores
// and wipes; and the cache keeps to its bound.
func TestCommittedValueCache(t *testing.T) {
	db := &countingBackend{Backend: store.NewMemory()}
	m := NewManager(db)
	m.CacheBytes = 4096
	defer m.Close()
	kv, err := m.Open(0, 0, "counts")
	if err != nil {
		t.Fatal(err)
	}
	commit := func() {
		t.Helper()
		if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 1, Written: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	kv.Put([]byte("a"), []byte("1"))
	kv.Put([]byte("b"), []byte("2"))
	commit()
	before := db.gets
	if v, ok := get(t, kv, "a"); !ok || v != "1" {
		t.Fatalf("Get(a) = %q, %v", v, ok)
	}
	if _, ok := get(t, kv, "zz"); ok {
		t.Fatal("Get(zz) found a value")
	}
	get(t, kv, "zz") // absent, now cached
	if db.gets != before+1 {
		t.Errorf("%d database reads for written and absent keys after a commit, want 1 (the first miss)", db.gets-before)
	}
	kv.Delete([]byte("a"))
	kv.Put([]byte("zz"), []byte("3"))
	commit()
	if _, ok := get(t, kv, "a"); ok {
		t.Error("a deleted key is visible after the commit")
	}
	if v, ok := get(t, kv, "zz"); !ok || v != "3" {
		t.Errorf("Get(zz) = %q, %v after it was written", v, ok)
	}
	// A restore writes to the database directly: the cache must not hide it.
	if err := m.ApplyRestored(kv, [][]byte{[]byte("b")}, [][]byte{[]byte("restored")}, Checkpoint{Offset: 5, Written: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if v, _ := get(t, kv, "b"); v != "restored" {
		t.Errorf("Get(b) = %q after a restore, want the restored value", v)
	}
	if err := m.Wipe(kv); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, kv, "b"); ok {
		t.Error("a wiped key is still visible")
	}
	// The bound: many keys, the cache stays within it.
	for i := range 500 {
		kv.Put(fmt.Appendf(nil, "key-%03d", i), []byte("some value"))
	}
	commit()
	if kv.cache.bytes > m.CacheBytes || len(kv.cache.m) == 0 {
		t.Errorf("cache holds %d bytes in %d entries, bound %d", kv.cache.bytes, len(kv.cache.m), m.CacheBytes)
	}
	for i := range 500 {
		if v, ok := get(t, kv, fmt.Sprintf("key-%03d", i)); !ok || v != "some value" {
			t.Fatalf("key-%03d = %q, %v", i, v, ok)
		}
	}
}

// A range over a buffer larger than one chunk of keys, with tombstones at chunk edges and
// keys in the database between buffered ones, sees every key once, in order.
func TestRangeOverLargeBuffer(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	kv, err := m.Open(0, 0, "big")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i += 3 {
		kv.Put(fmt.Appendf(nil, "k%04d", i), []byte("db"))
	}
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 1, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i < 1000; i += 3 {
		want[fmt.Sprintf("k%04d", i)] = "db"
	}
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("k%04d", i)
		switch {
		case i%64 == 63 || i%7 == 0:
			kv.Delete([]byte(k))
			delete(want, k)
		case i%2 == 0:
			kv.Put([]byte(k), []byte("buf"))
			want[k] = "buf"
		}
	}
	it, err := kv.Range([]byte("k0100"), []byte("k0900"))
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	prev := ""
	seen := 0
	for it.Next() {
		k := string(it.Key())
		if k <= prev {
			t.Fatalf("key %s after %s", k, prev)
		}
		prev = k
		if want[k] != string(it.Value()) {
			t.Errorf("%s = %q, want %q", k, it.Value(), want[k])
		}
		seen++
	}
	n := 0
	for k := range want {
		if k >= "k0100" && k < "k0900" {
			n++
		}
	}
	if seen != n {
		t.Errorf("range saw %d keys, want %d", seen, n)
	}
}

// A key written with PutNew and deleted before the commit is forgotten: no tombstone for
// the changelog or the database. A key written with Put, or written again after PutNew
// was committed, leaves a tombstone.
func TestPutNewDeletedIsForgotten(t *testing.T) {
	b := NewBuffer()
	b.PutNew([]byte("a"), []byte("1"))
	b.Put([]byte("a"), []byte("2")) // still new to the database
	b.Delete([]byte("a"))
	b.Put([]byte("b"), []byte("1"))
	b.Delete([]byte("b"))
	var seen []string
	b.Each(func(k string, _ []byte, deleted bool) error {
		seen = append(seen, fmt.Sprintf("%s:%v", k, deleted))
		return nil
	})
	if fmt.Sprint(seen) != "[b:true]" || b.Len() != 1 || b.Bytes() != 1 {
		t.Errorf("buffer holds %v (%d keys, %d bytes), want only b's tombstone", seen, b.Len(), b.Bytes())
	}
	if got := b.keysFrom(nil, "", false, nil, 10); fmt.Sprint(got) != "[b]" {
		t.Errorf("ordered keys %v, want [b]", got)
	}
}

// OffsetSums adds up, per task, the offsets its slices' checkpoints are at; a slice
// without a checkpoint holds nothing to report.
func TestOffsetSums(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	open := func(sub int, p int32, name string) *KV {
		kv, err := m.Open(sub, p, name)
		if err != nil {
			t.Fatal(err)
		}
		return kv
	}
	a, b, c := open(0, 1, "counts"), open(0, 1, "totals"), open(2, 0, "counts")
	open(1, 5, "never-committed")
	for _, kv := range []*KV{a, b, c} {
		kv.Put([]byte("k"), []byte("v"))
	}
	if err := m.Commit([]*KV{a, b, c}, []Checkpoint{{Offset: 40, Written: time.Now()}, {Offset: 2, Written: time.Now()}, {Offset: 7, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	got, err := m.OffsetSums()
	if err != nil {
		t.Fatal(err)
	}
	want := []TaskOffsets{{0, 1, 42}, {2, 0, 7}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("OffsetSums = %v, want %v", got, want)
	}
}

// GetCommitted reads the last commit only: a buffered write is invisible to it until
// the commit applies it, a buffered delete until then too.
func TestGetCommittedSkipsTheBuffer(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	kv, err := m.Open(0, 0, "counts")
	if err != nil {
		t.Fatal(err)
	}
	read := func() (string, bool) {
		var v string
		found, err := kv.GetCommitted([]byte("k"), func(b []byte) error { v = string(b); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return v, found
	}
	kv.Put([]byte("k"), []byte("1"))
	if v, found := read(); found {
		t.Fatalf("an uncommitted write is visible: %q", v)
	}
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 1, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	kv.Put([]byte("j"), []byte("buffered"))
	it, err := kv.RangeCommitted(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, it); got != "k=1" {
		t.Fatalf("RangeCommitted = %q, want only the committed k=1", got)
	}
	kv.Delete([]byte("k"))
	if v, found := read(); !found || v != "1" {
		t.Fatalf("after the commit, with a buffered delete: %q, %v; want the committed 1", v, found)
	}
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 2, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if v, found := read(); found {
		t.Fatalf("a committed delete still reads %q", v)
	}
}
