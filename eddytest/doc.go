// Package eddytest tests eddy topologies: a deterministic driver that runs a topology in
// memory, and a broker fixture for integration tests.
//
// # The driver
//
// New runs a topology on eddy's own runtime — the same tasks, operators, stores,
// watermarks, time synchronization, error policies, changelogs and commits as an App on a
// broker — over in-memory topics and a virtual clock. There is no broker, no goroutine
// and no sleep: each call does its work before it returns, and the same calls give the
// same output on every run.
//
//	func TestWordCount(t *testing.T) {
//		d := eddytest.New(t, Build(), eddytest.Partitions("text-lines", 4))
//		in := eddytest.Input(d, "text-lines", serde.String(), serde.String())
//		out := eddytest.Output(d, "word-counts", serde.String(), serde.Int64())
//		if err := in.Send("", "the cat and the hat"); err != nil {
//			t.Fatal(err)
//		}
//		for _, kv := range out.Latest() {
//			t.Log(kv.Key, kv.Value) // the 2, cat 1, and 1, hat 1
//		}
//	}
//
// Topics have one partition unless Partitions or DefaultPartitions says otherwise; a
// record goes to its key's partition (Kafka's murmur2) unless ToPartition names one.
// Each partition is a task, as on a broker, with its own watermark.
//
// Time: a record's event time is At's (else the virtual clock's now). SetWatermark raises
// a partition's watermark and SetIdle makes it idle, which closes windows and runs
// event-time punctuators at once; AdvanceTime moves the virtual wall clock, running
// wall-clock punctuators, idle timeouts and commits at the moments they are due.
//
// Guarantees: With passes eddy's options (ExactlyOnce, CommitInterval, the error
// policies, MaxTaskIdle). Under at-least-once output is visible at once; under
// exactly-once, as to a read_committed consumer, only once committed — call Commit, or
// AdvanceTime past the commit interval. A record that fails under the Fail policy makes
// Send return the *eddy.RecordError that Run would stop with; Skipped, DeadLetters and
// LateRecords show what the other policies and the window operators set aside.
//
// State: Store reads a key-value store (a table's, an aggregation's, or one of
// topology.NewKeyValueStore). Snapshot and FromSnapshot restart a driver from what a
// restart would find — the topics and the committed offsets; stores restore from their
// changelogs — after Close (a clean stop) or without it (a crash).
//
// Global tables are read before the tasks' next record, so a record sent after a table
// update meets it. The driver does not run bounded applications, and has one worker:
// rebalances and several instances are for tests on a broker. Offsets in topics written
// under exactly-once differ from a broker's: memory has no transaction markers, which
// take an offset each on a broker.
package eddytest
