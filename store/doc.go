// Package store is eddy's local state. At its base is a [Backend]: one
// ordered key-value database per application instance, shared by all its
// workers and tasks, written and read as bytes.
//
//	db, err := store.OpenBadger(dir, store.BadgerOptions{})
//	if err != nil { … }
//	defer db.Close()
//
//	var b store.Batch
//	b.Put(key, value)
//	b.Delete(other)
//	err = db.Write(&b) // apply in order; the last operation on a key wins
//
//	found, err := db.Get(key, func(v []byte) error {
//		// v is valid only in here: decode it or copy it
//		return nil
//	})
//
//	it, err := db.Iterate(lo, hi) // [lo, hi) in byte order
//	defer it.Close()
//	for it.Next() { … it.Key(), it.Value() … }
//	err = it.Err()
//
// Two implementations of [Backend] exist: [Badger] for running applications
// and [Memory] for tests; both pass the conformance suite in
// [github.com/eddy-streams/eddy/store/storetest].
//
// # The layers above
//
// A Backend knows nothing of tasks, stores or serdes. The interfaces that
// processors use ([Bytes], [KeyValue]) are declared in this package but
// implemented above it, on top of one Backend. The layers above:
//
//   - Every key starts with a fixed-width binary prefix (sub-topology,
//     partition, store id, incarnation) built by the caller, so the keys of
//     task 1_3 and task 1_30 never mix, and a task's slice is one key range.
//     A task is wiped by bumping its incarnation and deleting the old range
//     with [Backend.DeleteRange] in the background.
//   - Each task buffers its writes in memory during a transaction (deletes
//     as tombstones); reads see the buffer over the Backend, and range scans
//     merge the buffer with a Backend iterator.
//   - At commit, after the changelog records are committed to Kafka, the
//     buffer is applied here with one [Backend.Write], and then, in a
//     separate Write, the task's checkpoint (changelog position): a
//     checkpoint may lag the data it covers, never lead it, because a large
//     Badger batch is not atomic.
//
// So the Backend is a cache of the changelog topics: losing recent writes in
// a crash only means restoring a little more.
package store
