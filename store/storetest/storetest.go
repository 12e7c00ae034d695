// Package storetest is the conformance suite every [store.Backend] must pass,
// in the manner of watermill's pubsub/tests: one set of tests, run against
// each implementation from its own test file.
//
//	func TestMemory(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Backend { return store.NewMemory() }, nil)
//	}
package storetest

import (
	"testing"

	"github.com/eddy-streams/eddy/store"
)

// Run runs every conformance test against backends made by open. Each test
// opens its own backend(s) and closes them when it ends; tests run in
// parallel, so open must be safe to call from several goroutines and give
// independent backends (t.TempDir() per call does).
//
// reopen, if not nil, closes b and opens the same database again; the
// persistence tests run only then (Badger, not Memory).
func Run(t *testing.T, open func(t *testing.T) store.Backend, reopen func(t *testing.T, b store.Backend) store.Backend) {
	t.Helper()
	newBackend := func(t *testing.T) store.Backend {
		t.Helper()
		b := open(t)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend)
		})
	}
	if reopen == nil {
		return
	}
	for _, tc := range persistenceTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &reopener{b: open(t), reopen: reopen}
			t.Cleanup(func() { _ = h.b.Close() })
			tc.fn(t, h)
		})
	}
}

// reopener holds the current backend of a persistence test, which changes at
// every reopen.
type reopener struct {
	b      store.Backend
	reopen func(t *testing.T, b store.Backend) store.Backend
}

func (h *reopener) cycle(t *testing.T) store.Backend {
	t.Helper()
	h.b = h.reopen(t, h.b)
	return h.b
}

var tests = []struct {
	name string
	fn   func(t *testing.T, newBackend func(t *testing.T) store.Backend)
}{
	{"GetMissing", testGetMissing},
	{"BatchesMatchModel", testBatchesMatchModel},
	{"GetPresent", testGetPresent},
	{"GetNilFn", testGetNilFn},
	{"GetFnError", testGetFnError},
	{"GetNested", testGetNested},
	{"PutOverwrite", testPutOverwrite},
	{"Delete", testDelete},
	{"BatchLastOpWins", testBatchLastOpWins},
	{"BatchCopies", testBatchCopies},
	{"BatchReset", testBatchReset},
	{"EmptyBatch", testEmptyBatch},
	{"EmptyValue", testEmptyValue},
	{"InvalidKey", testInvalidKey},
	{"ValueNotRetained", testValueNotRetained},
	{"IterateOrder", testIterateOrder},
	{"IterateTaskPrefixes", testIterateTaskPrefixes},
	{"IterateBounds", testIterateBounds},
	{"IterateEmptyStore", testIterateEmptyStore},
	{"IterateHidesDeletes", testIterateHidesDeletes},
	{"IteratorLifecycle", testIteratorLifecycle},
	{"IteratorCopies", testIteratorCopies},
	{"WriteDuringIteration", testWriteDuringIteration},
	{"DeleteRangeDuringIteration", testDeleteRangeDuringIteration},
	{"DeleteRange", testDeleteRange},
	{"DeleteRangeLarge", testDeleteRangeLarge},
	{"LargeBatch", testLargeBatch},
	{"LargeValue", testLargeValue},
	{"Concurrent", testConcurrent},
	{"Closed", testClosed},
	{"CloseWithOpenIterator", testCloseWithOpenIterator},
}

var persistenceTests = []struct {
	name string
	fn   func(t *testing.T, h *reopener)
}{
	{"PersistPutsAndDeletes", testPersistPutsAndDeletes},
	{"PersistLargeBatch", testPersistLargeBatch},
	{"PersistLargeValue", testPersistLargeValue},
	{"PersistDeleteRange", testPersistDeleteRange},
}
