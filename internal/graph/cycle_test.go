package graph

import (
	"slices"
	"testing"
)

// through adds an internal topic written by a sink under from and read by a new source,
// which joins the sub-topology of store's users when store is not "".
func through(g *Graph, from *Node, topic, store string) *Node {
	r := &Repartition{Name: topic}
	w := g.Add(&Node{Name: topic + "-sink", Kind: Sink, Topics: []string{topic}, Internal: r}, from)
	src := g.Add(&Node{Name: topic + "-source", Kind: Source, Topics: []string{topic}, Internal: r})
	if store != "" {
		g.Connect(src, store)
	}
	r.Writer, r.Reader = w, src
	g.AddRepartition(r)
	return src
}

// Cycle finds sub-topologies that feed each other through internal topics, a sub-topology
// that reads what it writes, and nothing in a chain of repartitions.
func TestCycle(t *testing.T) {
	chain := New()
	a := chain.Add(&Node{Name: "a", Kind: Source, Topics: []string{"in"}})
	b := through(chain, a, "one", "")
	through(chain, b, "two", "")
	if c := chain.Cycle(); c != nil {
		t.Errorf("a chain: cycle %v", c)
	}

	pair := New()
	pair.AddStore("left")
	l := pair.Add(&Node{Name: "l", Kind: Source, Topics: []string{"left-in"}})
	pair.Connect(l, "left")
	r := through(pair, l, "sub", "")
	through(pair, r, "resp", "left") // read back in l's sub-topology
	if c := pair.Cycle(); !slices.Equal(c, []string{"sub", "resp"}) {
		t.Errorf("two sub-topologies feeding each other: cycle %v, want [sub resp]", c)
	}

	self := New()
	self.AddStore("s")
	s := self.Add(&Node{Name: "s", Kind: Source, Topics: []string{"in"}})
	self.Connect(s, "s")
	through(self, s, "loop", "s")
	if c := self.Cycle(); !slices.Equal(c, []string{"loop"}) {
		t.Errorf("a sub-topology reading what it writes: cycle %v, want [loop]", c)
	}
}
