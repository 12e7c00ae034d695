package topology

import (
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/serde"
)

// Repartition writes s to an internal topic, "<application id>-<name>-repartition",
// partitioned by key, and returns the stream read back from it. After it, all records with
// one key are processed by one task: use it after SelectKey or Map and before anything that
// must see a key's records together (GroupByKey does it for you when the key may have
// changed). The stream it returns is grouped by key again, even after Rebalance. The topic
// splits the topology into two sub-topologies.
//
// Options: Named (the topic and operator names) and Partitions (the topic's partition
// count; by default the largest partition count among the writing sub-topology's sources).
func Repartition[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Stream[K, V] {
	return throughInternal(s, ks, vs, byKey, s.t.configure(opRepartition, opts))
}

// Rebalance writes s round-robin over the partitions of an internal topic and returns the
// stream read back from it: it spreads a skewed stream evenly over the tasks downstream,
// at the price of the key grouping. A key's records reach several tasks after it, so a
// key-dependent operation downstream (GroupByKey, and what groups) repartitions by key
// first, as after SelectKey. Options as for Repartition.
func Rebalance[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Stream[K, V] {
	out := throughInternal(s, ks, vs, roundRobin, s.t.configure(opRebalance, opts))
	out.keyChanged = true
	return out
}

// spread is how an internal topic places records on its partitions.
type spread uint8

const (
	byKey      spread = iota // the partition of the key's bytes (murmur2), as Kafka's default partitioner
	roundRobin               // every partition in turn, whatever the key
)

// throughInternal writes s to an internal topic configured by c and reads it back.
func throughInternal[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], how spread, c opConfig) Stream[K, V] {
	base := c.name
	if base == "" {
		prefix := "KSTREAM-REPARTITION"
		if how == roundRobin {
			prefix = "KSTREAM-REBALANCE"
		}
		base = s.t.g.NextName(prefix)
	}
	r := &graph.Repartition{Name: base + "-repartition", Partitions: c.partitions, RoundRobin: how == roundRobin}
	return throughTopic(s, r, base+"-repartition", ks, vs, ks, vs)
}

// throughTopic writes s to the internal topic r, with a sink named name+"-sink" that
// encodes with ks and vs, and reads it back with a source named name+"-source" that decodes
// with kr and vr: the two sides may see the records as different types (a foreign-key
// join writes raw key bytes that its reader decodes as the left table's keys).
func throughTopic[K, V, KR, VR any](s Stream[K, V], r *graph.Repartition, name string,
	ks serde.Serde[K], vs serde.Serde[V], kr serde.Serde[KR], vr serde.Serde[VR]) Stream[KR, VR] {
	writer := &graph.Node{Name: name + "-sink", Kind: graph.Sink, Topics: []string{r.Name}, Internal: r}
	sink(s, writer, ks, vs, nil)
	reader := &graph.Node{Name: name + "-source", Kind: graph.Source, Topics: []string{r.Name}, Internal: r}
	out := source(s.t, reader, kr, vr)
	r.Writer, r.Reader = writer, reader
	s.t.g.AddRepartition(r)
	return out
}
