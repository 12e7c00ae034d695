package storetest

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// testBatchesMatchModel writes random batches — puts and deletes of keys present and
// absent, half of the batches in key order (a write buffer applied in order), half not —
// and checks after each that the backend holds exactly what a map would.
func testBatchesMatchModel(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	r := rand.New(rand.NewPCG(11, 12))
	model := map[string][]byte{}
	for round := range 60 {
		ops := map[string][]byte{} // nil: delete
		for range 1 + r.IntN(300) {
			k := fmt.Sprintf("k%04d", r.IntN(2000))
			if r.IntN(3) == 0 {
				ops[k] = nil
			} else {
				ops[k] = fmt.Appendf(nil, "v%d-%d", round, r.IntN(1000))
			}
		}
		keys := slices.Collect(maps.Keys(ops))
		if round%2 == 0 {
			slices.Sort(keys)
		}
		var batch store.Batch
		for _, k := range keys {
			if v := ops[k]; v == nil {
				batch.Delete([]byte(k))
				delete(model, k)
			} else {
				batch.Put([]byte(k), v)
				model[k] = v
			}
		}
		if err := b.Write(&batch); err != nil {
			t.Fatal(err)
		}
		it, err := b.Iterate([]byte("k"), []byte("l"))
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Sorted(maps.Keys(model))
		var got []string
		for it.Next() {
			k := string(it.Key())
			got = append(got, k)
			if !bytes.Equal(it.Value(), model[k]) {
				t.Fatalf("round %d: %s = %q, want %q", round, k, it.Value(), model[k])
			}
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: %d keys, want %d", round, len(got), len(want))
		}
	}
}
