package storetest

import (
	"testing"

	"github.com/eddy-streams/eddy/store"
)

func testDeleteRange(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	for _, tc := range boundsCases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			for _, k := range boundsKeys {
				write(t, b, k, "v"+k)
			}
			if err := b.DeleteRange(bs(tc.lo, tc.loNil), bs(tc.hi, tc.hiNil)); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, k := range boundsKeys {
				inside := false
				for _, d := range tc.inside {
					inside = inside || d == k
				}
				if inside {
					wantMissing(t, b, k)
				} else {
					want = append(want, k)
					wantValue(t, b, k, "v"+k)
				}
			}
			if got := collectKeys(t, b, nil, nil); !equalStrings(got, want) {
				t.Fatalf("after DeleteRange(%q, %q): keys %q, want %q", tc.lo, tc.hi, got, want)
			}
		})
	}
}

// testDeleteRangeLarge deletes a range far bigger than one transaction,
// between neighbours that must survive, and writes into it afterwards.
func testDeleteRangeLarge(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	b := newBackend(t)
	const n = 20_000
	var batch store.Batch
	for i := range n {
		batch.Put(numKey('m', i), []byte("v"))
	}
	batch.Put([]byte("l\xff\xff"), []byte("before"))
	batch.Put([]byte("m"), []byte("the bare lower bound"))
	batch.Put([]byte("n"), []byte("the upper bound"))
	mustWrite(t, b, &batch)
	if err := b.DeleteRange([]byte("m"), []byte("n")); err != nil {
		t.Fatal(err)
	}
	got := collectKeys(t, b, nil, nil)
	if want := []string{"l\xff\xff", "n"}; !equalStrings(got, want) {
		t.Fatalf("after DeleteRange: %d keys, first %q; want %q", len(got), got[:min(len(got), 5)], want)
	}
	write(t, b, string(numKey('m', 5)), "again")
	wantValue(t, b, string(numKey('m', 5)), "again")
	if _, found := get(t, b, numKey('m', 6)); found {
		t.Fatal("deleted key is back")
	}
}
