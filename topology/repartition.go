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
	return throughInternal(s, ks, vs, false, opts)
}

// Rebalance writes s round-robin over the partitions of an internal topic and returns the
// stream read back from it: it spreads a skewed stream evenly over the tasks downstream,
// at the price of the key grouping. A key's records reach several tasks after it, so a
// key-dependent operation downstream (GroupByKey, and what groups) repartitions by key
// first, as after SelectKey. Options as for Repartition.
func Rebalance[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], opts ...Option) Stream[K, V] {
	out := throughInternal(s, ks, vs, true, opts)
	out.keyChanged = true
	return out
}

func throughInternal[K, V any](s Stream[K, V], ks serde.Serde[K], vs serde.Serde[V], roundRobin bool, opts []Option) Stream[K, V] {
	c := configure(opts)
	if c.partitions < 0 {
		s.t.g.Errorf("repartition: partitions must be positive, got %d", c.partitions)
	}
	base := c.name
	if base == "" {
		prefix := "KSTREAM-REPARTITION"
		if roundRobin {
			prefix = "KSTREAM-REBALANCE"
		}
		base = s.t.g.NextName(prefix)
	}
	r := &graph.Repartition{Name: base + "-repartition", Partitions: c.partitions, RoundRobin: roundRobin}
	writer := &graph.Node{Name: base + "-repartition-sink", Kind: graph.Sink, Topics: []string{r.Name}, Internal: r}
	sink(s, writer, ks, vs, nil)
	reader := &graph.Node{Name: base + "-repartition-source", Kind: graph.Source, Topics: []string{r.Name}, Internal: r}
	out := source(s.t, reader, ks, vs)
	r.Writer, r.Reader = writer, reader
	s.t.g.AddRepartition(r)
	return out
}
