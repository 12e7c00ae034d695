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
// Options (Named, Partitions, Timestamps, …) configure one operator each. An operator takes
// only those that mean something to it — every one takes Named but Process, whose name is
// an argument; Partitions is for the operators that write an internal topic; EmitUpdates is
// for windows, not sessions — and any other is an error of the topology (Err, so
// eddy.New fails) naming the operator and the option, never ignored.
//
// A topology splits into sub-topologies at repartition topics (Repartition, Rebalance): the
// part before writes the topic, the part after reads it. Each sub-topology runs as one task
// per partition of its input topics; Describe shows the split.
package topology
