// Package topology describes what an eddy application computes: a typed graph of sources
// (topics read), operators and sinks (topics written).
//
//	t := topology.New()
//	views := topology.From(t, "page-views", serde.String(), serde.JSON[PageView]())
//	slow := views.Filter(func(user string, v PageView) bool { return v.LoadMillis > 1000 })
//	urls := topology.MapValues(slow, func(v PageView) string { return v.URL })
//	topology.To(urls, "slow-pages", serde.String(), serde.String())
//
//	app, err := eddy.New(t, eddy.ApplicationID("slow-pages"), eddy.Brokers("localhost:9092"))
//
// Operations that change the key or value type are package functions (Map, MapValues,
// FlatMap, Process, …), because Go methods cannot add type parameters; operations that keep
// the types are methods (Filter, Peek, Merge, Split, …). No operation needs a type
// assertion or `any`.
//
// A user function that can fail a record returns an error through the Try form of its
// operator — TryMap, TryMapValues, TryFlatMap, TryFlatMapValues, TrySelectKey and the
// methods TryFilter, TryPeek, TryForEach — rather than panicking:
//
//	amounts := topology.TryMapValues(orders, func(v string) (int64, error) {
//		return strconv.ParseInt(v, 10, 64) // a bad amount fails this record only
//	}, topology.Named("parse-amount"))
//
// The error fails the record as a processing error of the operator, exactly as a panic or
// a Process error does, and eddy.OnProcessingError decides what follows: Fail (the
// default) stops Run with the operator and the record's topic/partition@offset, Skip
// counts it and goes on, DeadLetter writes the input record to a topic. The names are the
// plain operators' with a "Try" prefix, which reads as what the call does (try to map
// each value) and keeps the operator's name whole; the suffixes considered read worse
// (MapErr as mapping an error, MapE not at all). The plain forms stay for functions that
// cannot fail, which need no error result; a panic in them is still caught and told as
// the operator's failure.
//
// Options (Named, Partitions, Timestamps, …) configure one operator each. An operator takes
// only those that mean something to it — every one takes Named but Process, whose name is
// an argument; Partitions is for the operators that write an internal topic; EmitUpdates is
// for windows, not sessions — and any other is an error of the topology (Err, so
// eddy.New fails) naming the operator and the option, never ignored.
//
// State: GroupBy/GroupByKey then Count, Reduce or Aggregate make a Table kept in a store;
// TableFrom reads a topic as a table (Versioned: with each key's history); JoinTable and
// LeftJoinTable enrich a stream from a table (the two co-partitioned; the stream
// repartitioned first if its key changed; a versioned table read as of each record's time,
// Grace to wait for late updates);
// GroupTable re-groups a table for CountTable, ReduceTable and AggregateTable, which take a
// row that changes group out of its old one. GlobalTableFrom reads a topic as a table held
// whole by every instance; JoinGlobal and LeftJoinGlobal enrich a stream from it by a key
// taken from each record (no co-partitioning, no repartition), and processors read its
// store (GlobalStore.Open, read-only).
//
// Joins of two streams and of two tables: JoinStreams, LeftJoinStreams and
// OuterJoinStreams pair the records of one key whose times are within JoinWindows (each
// side kept in a store until no record that is not late could still join it; a record
// that joined nothing is emitted by a left or outer join only then); JoinTables,
// LeftJoinTables and OuterJoinTables make a table that follows updates of either side;
// JoinForeignKey and LeftJoinForeignKey join two tables keyed differently, by a key taken
// from the left table's value (no co-partitioning).
//
// A topology splits into sub-topologies at repartition topics (Repartition, Rebalance): the
// part before writes the topic, the part after reads it. Operators that share a store —
// a join and its table — are in one sub-topology. Each sub-topology runs as one task per
// partition of its input topics; Describe shows the split.
package topology
