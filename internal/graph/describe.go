package graph

import (
	"fmt"
	"strings"
)

// Describe renders the topology as text in the shape Kafka Streams' describe() uses, so
// people who know one can read the other: sub-topologies, then each node with its topics,
// its children (-->) and its parents (<--). Internal topics are shown by their short name
// (without the application id), which the runtime prefixes.
func (g *Graph) Describe() (string, error) {
	subs, err := g.Subtopologies()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("Topologies:\n")
	for _, s := range subs {
		fmt.Fprintf(&b, "   Sub-topology: %d\n", s.ID)
		for _, n := range s.Nodes {
			describeNode(&b, n)
		}
		b.WriteString("\n")
	}
	// Global tables after the sub-topologies, numbered on from them (the tasks' ids stay
	// those of the sub-topologies alone), in Kafka Streams' words.
	for i, gl := range g.globals {
		fmt.Fprintf(&b, "   Sub-topology: %d for global store (will not generate tasks)\n", len(subs)+i)
		describeNode(&b, gl.Source)
		describeNode(&b, gl.Materialize)
		b.WriteString("\n")
	}
	return b.String(), nil
}

// describeNode writes one node: its kind, name and topics or stores, its children (-->)
// and its parents (<--).
func describeNode(b *strings.Builder, n *Node) {
	switch n.Kind {
	case Source:
		fmt.Fprintf(b, "    Source: %s (topics: [%s])\n", n.Name, strings.Join(n.Topics, ", "))
	case Processor:
		fmt.Fprintf(b, "    Processor: %s (stores: [%s])\n", n.Name, strings.Join(n.Stores, ", "))
	case Sink:
		topic := "<chosen per record>"
		if len(n.Topics) == 1 {
			topic = n.Topics[0]
		}
		fmt.Fprintf(b, "    Sink: %s (topic: %s)\n", n.Name, topic)
	}
	if cs := sortedChildren(n); len(cs) > 0 {
		fmt.Fprintf(b, "      --> %s\n", joinNames(cs))
	}
	if len(n.Parents) > 0 {
		fmt.Fprintf(b, "      <-- %s\n", joinNames(n.Parents))
	}
}

// Mermaid renders the topology as a Mermaid flowchart: one subgraph per sub-topology,
// topics as stadium-shaped nodes, so a repartition shows as a topic between two subgraphs,
// and state stores as cylinders in their sub-topology, linked (dotted) to the processors
// that use them — a join's processors to both its stores.
func (g *Graph) Mermaid() (string, error) {
	subs, err := g.Subtopologies()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	topics := map[string]string{}
	topicID := func(t string) string {
		id, ok := topics[t]
		if !ok {
			id = fmt.Sprintf("t%d", len(topics))
			topics[t] = id
		}
		return id
	}
	var edges []string
	stores := map[string]string{}
	for _, s := range subs {
		fmt.Fprintf(&b, "  subgraph sub%d [Sub-topology %d]\n", s.ID, s.ID)
		for _, n := range s.Nodes {
			fmt.Fprintf(&b, "    %s[\"%s\"]\n", mermaidID(n), n.Name)
			for _, st := range n.Stores {
				if g.Global(st) != nil {
					continue // drawn with its global table's subgraph
				}
				id, ok := stores[st]
				if !ok {
					id = fmt.Sprintf("s%d", len(stores))
					stores[st] = id
					fmt.Fprintf(&b, "    %s[(\"%s\")]\n", id, st)
				}
				edges = append(edges, fmt.Sprintf("  %s -.- %s", mermaidID(n), id))
			}
			for _, c := range sortedChildren(n) {
				edges = append(edges, fmt.Sprintf("  %s --> %s", mermaidID(n), mermaidID(c)))
			}
			switch n.Kind {
			case Source:
				for _, t := range n.Topics {
					edges = append(edges, fmt.Sprintf("  %s --> %s", topicID(t), mermaidID(n)))
				}
			case Sink:
				for _, t := range n.Topics {
					edges = append(edges, fmt.Sprintf("  %s --> %s", mermaidID(n), topicID(t)))
				}
			}
		}
		b.WriteString("  end\n")
	}
	// A global table is a subgraph of its own, and a dotted edge, named by its store,
	// leads from the step that writes the store to each node that reads it: a lookup on
	// every instance, not a topic between tasks.
	for i, gl := range g.globals {
		id := len(subs) + i
		fmt.Fprintf(&b, "  subgraph sub%d [Sub-topology %d: global store %s]\n", id, id, gl.Store)
		for _, n := range []*Node{gl.Source, gl.Materialize} {
			fmt.Fprintf(&b, "    %s[\"%s\"]\n", mermaidID(n), n.Name)
		}
		b.WriteString("  end\n")
		edges = append(edges, fmt.Sprintf("  %s --> %s", topicID(gl.Topic), mermaidID(gl.Source)),
			fmt.Sprintf("  %s --> %s", mermaidID(gl.Source), mermaidID(gl.Materialize)))
		for _, u := range gl.Users {
			edges = append(edges, fmt.Sprintf("  %s -. %s .-> %s", mermaidID(gl.Materialize), gl.Store, mermaidID(u)))
		}
	}
	// Topics in first-use order, so the output is stable.
	ordered := make([]string, len(topics))
	for t, id := range topics {
		var i int
		fmt.Sscanf(id, "t%d", &i)
		ordered[i] = t
	}
	for i, t := range ordered {
		fmt.Fprintf(&b, "  t%d([\"%s\"])\n", i, t)
	}
	for _, e := range edges {
		b.WriteString(e)
		b.WriteString("\n")
	}
	return b.String(), nil
}

func mermaidID(n *Node) string { return fmt.Sprintf("n%d", n.index) }

func joinNames(ns []*Node) string {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.Name
	}
	return strings.Join(names, ", ")
}
