package storetest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// testConcurrent runs writers, readers, scanners and a range deleter at once
// (run it with -race). Each writer owns a key range, like a task, and keeps a
// model of it; readers check that every value they see is well-formed for
// its key; at the end every range must equal its writer's model.
func testConcurrent(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	const (
		writers = 4
		rounds  = 100
		perTask = 50
	)
	// value encodes its key, so a reader can tell a right value from garbage.
	value := func(key []byte, round int) []byte {
		return fmt.Appendf(bytes.Clone(key), "@%d", round)
	}
	key := func(w, i int) []byte { return binary.BigEndian.AppendUint16([]byte{byte(w)}, uint16(i)) }

	// Every goroutine does a fixed amount of work rather than spin until the
	// writers finish: under the race detector, spinning readers on two cores
	// starve the writers for seconds.
	var wg sync.WaitGroup
	models := make([]map[string][]byte, writers)
	for w := range writers {
		models[w] = map[string][]byte{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			var batch store.Batch
			for round := range rounds {
				batch.Reset()
				for range 10 {
					k := key(w, r.IntN(perTask))
					if r.IntN(4) == 0 {
						batch.Delete(k)
						delete(models[w], string(k))
					} else {
						batch.Put(k, value(k, round))
						models[w][string(k)] = value(k, round)
					}
				}
				if err := b.Write(&batch); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}

	check := func(who string, k, v []byte) bool {
		if len(v) < len(k) || !bytes.Equal(v[:len(k)], k) || v[len(k)] != '@' {
			t.Errorf("%s: garbage %x=%q", who, k, v)
			return false
		}
		return true
	}
	for rd := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(rd), 8))
			for range 3000 {
				k := key(r.IntN(writers), r.IntN(perTask))
				if _, err := b.Get(k, func(v []byte) error {
					check("reader", k, v)
					return nil
				}); err != nil {
					t.Errorf("reader: %v", err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // scanner
		defer wg.Done()
		for range 200 {
			w := byte(rand.IntN(writers))
			it, err := b.Iterate([]byte{w}, []byte{w + 1})
			if err != nil {
				t.Errorf("scanner: %v", err)
				return
			}
			var prev []byte
			for it.Next() {
				if prev != nil && bytes.Compare(it.Key(), prev) <= 0 {
					t.Errorf("scanner: key %x after %x", it.Key(), prev)
				}
				check("scanner", it.Key(), it.Value())
				prev = append(prev[:0], it.Key()...)
			}
			if err := it.Err(); err != nil {
				t.Errorf("scanner: %v", err)
			}
			_ = it.Close()
		}
	}()
	wg.Add(1)
	go func() { // a task being dropped and refilled, next to the others
		defer wg.Done()
		var batch store.Batch
		for range 50 {
			batch.Reset()
			for i := range perTask {
				k := key(200, i)
				batch.Put(k, value(k, 0))
			}
			if err := b.Write(&batch); err != nil {
				t.Errorf("dropper: %v", err)
				return
			}
			if err := b.DeleteRange([]byte{200}, []byte{201}); err != nil {
				t.Errorf("dropper: %v", err)
				return
			}
		}
	}()

	wg.Wait()
	for w := range writers {
		got := collect(t, b, []byte{byte(w)}, []byte{byte(w + 1)})
		if len(got) != len(models[w]) {
			t.Fatalf("writer %d: %d keys, model has %d", w, len(got), len(models[w]))
		}
		for _, p := range got {
			if want := models[w][string(p.key)]; !bytes.Equal(p.value, want) {
				t.Fatalf("writer %d: %x=%q, model %q", w, p.key, p.value, want)
			}
		}
	}
	if got := collect(t, b, []byte{200}, []byte{201}); len(got) != 0 {
		t.Fatalf("dropped range still holds %d keys", len(got))
	}
}
