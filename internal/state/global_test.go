package state

import (
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// A global store's writes and checkpoints: staged writes (nil deletes) are seen by Get and
// Range without the prefix, checkpoints per partition read back, a wipe empties both at
// once, and neither the data nor the checkpoints are a task's slot that ReleaseAll and
// Cleanup would drop.
func TestGlobalStore(t *testing.T) {
	db := store.NewMemory()
	m := NewManager(db)
	defer m.Close()
	g, err := m.OpenGlobal("products")
	if err != nil {
		t.Fatal(err)
	}
	// A task store with the same key: the two never meet.
	kv, err := m.Open(0, 0, "counts")
	if err != nil {
		t.Fatal(err)
	}
	kv.Put([]byte("p1"), []byte("task"))
	if err := m.Commit([]*KV{kv}, []Checkpoint{{Offset: 1, Written: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	g.Stage(&b, []byte("p1"), []byte("apple"))
	g.Stage(&b, []byte("p2"), []byte("pear"))
	g.Stage(&b, []byte("p3"), []byte("fig"))
	g.Stage(&b, []byte("p2"), nil)
	if err := m.ApplyGlobal(g, &b); err != nil {
		t.Fatal(err)
	}
	id := [16]byte{7}
	cps := map[int32]Checkpoint{0: {TopicID: id, Offset: 12, Written: time.UnixMilli(1000)}, 3: {TopicID: id, Offset: 40, Written: time.UnixMilli(2000)}}
	if err := m.SaveGlobalCheckpoints(g, cps); err != nil {
		t.Fatal(err)
	}
	var v string
	if found, err := g.Get([]byte("p1"), func(b []byte) error { v = string(b); return nil }); err != nil || !found || v != "apple" {
		t.Errorf("Get(p1) = %q, %v, %v", v, found, err)
	}
	if found, _ := g.Get([]byte("p2"), nil); found {
		t.Error("p2 was deleted")
	}
	it, err := g.Range(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, it); got != "p1=apple p3=fig" {
		t.Errorf("Range = %q", got)
	}
	if it, err = g.Range([]byte("p2"), []byte("p4")); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, it); got != "p3=fig" {
		t.Errorf("Range [p2, p4) = %q", got)
	}
	got, err := m.GlobalCheckpoints(g)
	if err != nil || len(got) != 2 || got[0].Offset != 12 || got[3].Offset != 40 || got[3].TopicID != id ||
		got[3].Written.UnixMilli() != 2000 {
		t.Errorf("GlobalCheckpoints = %v, %v", got, err)
	}

	// At start every task slot with a checkpoint is released, and dropped by a cleanup:
	// the global store is not one of them.
	if err := m.ReleaseAll(time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := m.Cleanup(time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("Cleanup dropped %d slots (%v), want the task's only", n, err)
	}
	if found, _ := g.Get([]byte("p1"), nil); !found {
		t.Error("the cleanup of task slots dropped the global store's data")
	}
	if got, _ := m.GlobalCheckpoints(g); len(got) != 2 {
		t.Errorf("the cleanup of task slots dropped global checkpoints: %v", got)
	}

	// Reopened (a restart), the store has its data; wiped, it has neither data nor
	// checkpoints, and new writes go to the new incarnation.
	g2, err := m.OpenGlobal("products")
	if err != nil {
		t.Fatal(err)
	}
	if found, _ := g2.Get([]byte("p3"), nil); !found {
		t.Error("reopened: p3 missing")
	}
	if err := m.WipeGlobal(g2); err != nil {
		t.Fatal(err)
	}
	if found, _ := g2.Get([]byte("p3"), nil); found {
		t.Error("wiped: p3 still there")
	}
	if got, _ := m.GlobalCheckpoints(g2); len(got) != 0 {
		t.Errorf("wiped: checkpoints %v", got)
	}
	b.Reset()
	g2.Stage(&b, []byte("p9"), []byte("plum"))
	if err := m.ApplyGlobal(g2, &b); err != nil {
		t.Fatal(err)
	}
	g3, err := m.OpenGlobal("products")
	if err != nil {
		t.Fatal(err)
	}
	if it, err = g3.Range(nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, it); got != "p9=plum" {
		t.Errorf("after the wipe, reopened: %q", got)
	}
}

// Tasks read a global store concurrently while its reader writes it.
func TestGlobalStoreConcurrentReads(t *testing.T) {
	m := NewManager(store.NewMemory())
	defer m.Close()
	g, err := m.OpenGlobal("g")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := g.Get([]byte("k"), func([]byte) error { return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var b store.Batch
	for i := range 200 {
		b.Reset()
		g.Stage(&b, []byte("k"), []byte{byte(i)})
		if err := m.ApplyGlobal(g, &b); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
