package joinref

import (
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// JoinStreams is the stream-stream join of kind of two string streams within w, each
// result Format's row: the join the models compute.
func JoinStreams(kind Kind, left, right topology.Stream[string, string], w topology.JoinWindows, opts ...topology.Option) topology.Stream[string, string] {
	s := serde.String()
	switch kind {
	case Inner:
		return topology.JoinStreams(left, right, w, s, s, s, func(_, l, r string) string { return Format(l, true, r, true) }, opts...)
	case LeftOuter:
		return topology.LeftJoinStreams(left, right, w, s, s, s, func(_, l, r string, found bool) string { return Format(l, true, r, found) }, opts...)
	}
	return topology.OuterJoinStreams(left, right, w, s, s, s, func(_, l string, hasL bool, r string, hasR bool) string {
		return Format(l, hasL, r, hasR)
	}, opts...)
}

// GlobalTopology is the topology StreamGlobal models: the orders of topic orders enriched
// from the global table of topic products by an inner join (to topic inner) and a left
// join (to topic left), each output "order|product name", "-" for none.
func GlobalTopology(orders, products, inner, left string) *topology.Topology {
	s := serde.String()
	top := topology.New()
	stream := topology.From(top, orders, s, s)
	table := topology.GlobalTableFrom(top, products, s, s, "products")
	topology.To(topology.JoinGlobal(stream, table, ProductOf, func(_, o, p string) string { return o + "|" + p }), inner, s, s)
	topology.To(topology.LeftJoinGlobal(stream, table, ProductOf, func(_, o, p string, found bool) string {
		if !found {
			p = "-"
		}
		return o + "|" + p
	}), left, s, s)
	return top
}
