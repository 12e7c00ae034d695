// Package graph is the untyped skeleton of a topology, shared by the typed DSL in
// topology/ and the runtime: the nodes and their edges, the split into sub-topologies at
// repartition topics, internal topic names, the text and Mermaid descriptions, and the
// per-task instantiation (TaskBuild) through which the typed layer compiles each task's
// processor graph into closures.
//
// The typed layer owns the record types; this package never sees a key or a value. That
// keeps the record path free of interface boxing: the only dynamic step per record is the
// call from the runtime into a source's handler.
package graph

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Kind is what a node does.
type Kind int

// The node kinds.
const (
	Source Kind = iota
	Processor
	Sink
)

// Node is one source, processor or sink.
type Node struct {
	Name     string
	Kind     Kind
	Parents  []*Node
	Children []*Node

	// Topics are the topics a source reads, or the one topic a sink writes (empty for a
	// sink whose topic is chosen per record).
	Topics []string
	// Internal marks a source or sink of a repartition topic; its topic name is given
	// without the application id, which the runtime prefixes.
	Internal *Repartition

	// Stores are the names of the state stores the node uses.
	Stores []string

	// OutOfOrderness and IdleTimeout configure the watermarks of a source's partitions:
	// how far behind the highest event time seen records may still arrive, and after how
	// long without records a partition stops holding the watermark back (0: never).
	OutOfOrderness, IdleTimeout time.Duration
	// LateTopic is where a windowed aggregation sends late records ("" for none).
	LateTopic string

	// TableSource marks a source read as a table: its partitions never hold the watermark
	// back (a table's updates are state, not a timeline).
	TableSource bool
	// Spread is how a sink places its records on its topic's partitions.
	Spread Spread

	// Build compiles a source for one task. Only sources have it; the rest are compiled
	// by their parents in the typed layer.
	Build func(tb *TaskBuild) (Handler, error)

	index int // creation order, for deterministic ids
	sub   int
	// global is the global table the node shows (its source or its materializing step):
	// such nodes are in no sub-topology.
	global *Global
}

// Spread is how a sink places records: by key (the default, as Kafka's partitioner),
// round-robin whatever the key, or by task (task p writes partition p mod the count).
type Spread uint8

// The spreads.
const (
	ByKey Spread = iota
	RoundRobin
	ByTask
)

// Repartition is an internal topic written by one sub-topology and read by another.
type Repartition struct {
	// Name is the topic name without the application id: "<operator name>-repartition", or
	// a foreign-key join's "<name>-subscription-registration-topic" and
	// "<name>-subscription-response-topic".
	Name string
	// Partitions is the partition count the user asked for; 0 lets the runtime choose.
	Partitions int32
	// RoundRobin spreads records over partitions regardless of key (Rebalance); otherwise
	// records go to the partition of their key, as Kafka's default partitioner places them.
	RoundRobin bool
	// Writer and Reader are the sink and source nodes of the topic.
	Writer, Reader *Node
}

// Topic is the full internal topic name under an application id.
func (r *Repartition) Topic(applicationID string) string {
	return applicationID + "-" + r.Name
}

// Subtopology is a connected part of the graph: the nodes that records reach without
// passing through a topic. Its tasks are its partitions.
type Subtopology struct {
	ID    int
	Nodes []*Node // in creation order; sources first within that order is not implied
	// Sources are the source nodes, in creation order.
	Sources []*Node
}

// SourceTopics lists the topics the sub-topology reads, internal ones by their short
// name, in the order of its sources.
func (s *Subtopology) SourceTopics() []string {
	var ts []string
	for _, n := range s.Sources {
		ts = append(ts, n.Topics...)
	}
	return ts
}

// Graph is a topology's nodes. It is built once, single-threaded, by the typed layer and
// read-only afterwards.
type Graph struct {
	nodes   []*Node
	names   map[string]*Node
	topics  map[string]*Node // source topic → its source, to reject a topic read twice
	counter int
	err     error

	subs         []*Subtopology
	repartitions []*Repartition
	stores       map[string]*Store
	storeOrder   []*Store
	globals      []*Global
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{names: map[string]*Node{}, topics: map[string]*Node{}}
}

// Errorf records the first error made while building; Err returns it.
func (g *Graph) Errorf(format string, args ...any) {
	if g.err == nil {
		g.err = fmt.Errorf("topology: "+format, args...)
	}
}

// Err is the first error made while building, if any.
func (g *Graph) Err() error { return g.err }

// NextName returns a fresh automatic name, Kafka Streams style: PREFIX-0000000007.
func (g *Graph) NextName(prefix string) string {
	name := fmt.Sprintf("%s-%010d", prefix, g.counter)
	g.counter++
	return name
}

// Add adds a node under the given parents. A name used twice is recorded as an error, as is
// a source topic that another source already reads.
func (g *Graph) Add(n *Node, parents ...*Node) *Node {
	if n.Name == "" {
		g.Errorf("a %s node has no name", n.Kind)
	}
	if _, dup := g.names[n.Name]; dup {
		g.Errorf("the name %q is used by two operators; names must be unique", n.Name)
	}
	g.names[n.Name] = n
	if n.Kind == Source {
		if len(n.Topics) == 0 {
			g.Errorf("source %s reads no topic", n.Name)
		}
		for _, t := range n.Topics {
			if t == "" {
				g.Errorf("source %s: empty topic name", n.Name)
			}
			if other, dup := g.topics[t]; dup {
				if gl, reader := other.global, n; gl != nil || n.global != nil {
					if gl == nil {
						gl, reader = n.global, other
					}
					g.Errorf("topic %q is read by global table %s and by source %s; a global table's topic cannot be read "+
						"by another source (as in Kafka Streams): join with the global table, or read the topic once as a stream or table",
						t, gl.Store, reader.Name)
				} else {
					g.Errorf("topic %q is read by two sources (%s and %s); read it once and share the stream", t, other.Name, n.Name)
				}
			}
			g.topics[t] = n
		}
	}
	n.index = len(g.nodes)
	n.Parents = parents
	for _, p := range parents {
		p.Children = append(p.Children, n)
	}
	g.nodes = append(g.nodes, n)
	g.subs = nil // invalidate
	return n
}

// AddRepartition registers an internal topic between a writer sink and a reader source.
func (g *Graph) AddRepartition(r *Repartition) {
	g.repartitions = append(g.repartitions, r)
	g.subs = nil
}

// Repartitions lists the internal repartition topics in creation order.
func (g *Graph) Repartitions() []*Repartition { return g.repartitions }

// Subtopologies splits the graph into its connected parts, numbered from 0 in the order of
// their first node, so ids are stable as long as the topology is built the same way.
func (g *Graph) Subtopologies() ([]*Subtopology, error) {
	if g.err != nil {
		return nil, g.err
	}
	if len(g.nodes) == len(g.globals)*2 {
		if len(g.globals) > 0 {
			return nil, errors.New("topology: only global tables: add a stream (topology.From) that reads them")
		}
		return nil, errors.New("topology: empty: add a source with topology.From")
	}
	if g.subs != nil {
		return g.subs, nil
	}
	parent := make([]int, len(g.nodes))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(x, y *Node) {
		a, b := find(x.index), find(y.index)
		if a != b {
			// The smaller index becomes the root, so a component's root is its first node.
			if a < b {
				parent[b] = a
			} else {
				parent[a] = b
			}
		}
	}
	for _, n := range g.nodes {
		for _, p := range n.Parents {
			union(n, p)
		}
	}
	// Nodes that share a store are in one sub-topology, as in Kafka Streams: a task owns
	// its slice of a store, so a stream joined with a table is processed by the tasks that
	// hold the table (and its topics must be co-partitioned with the table's).
	for _, st := range g.storeOrder {
		for _, u := range st.Users {
			union(st.Users[0], u)
		}
	}
	byRoot := map[int]*Subtopology{}
	var subs []*Subtopology
	for _, n := range g.nodes {
		if n.global != nil {
			continue // a global table makes no tasks
		}
		r := find(n.index)
		s, ok := byRoot[r]
		if !ok {
			s = &Subtopology{ID: len(subs)}
			byRoot[r] = s
			subs = append(subs, s)
		}
		n.sub = s.ID
		s.Nodes = append(s.Nodes, n)
		if n.Kind == Source {
			s.Sources = append(s.Sources, n)
		}
	}
	for _, s := range subs {
		if len(s.Sources) == 0 {
			return nil, fmt.Errorf("topology: sub-topology %d (%s) has no source", s.ID, s.Nodes[0].Name)
		}
	}
	g.subs = subs
	return subs, nil
}

// SubtopologyOf returns the id of the sub-topology holding n; Subtopologies must have run.
func (g *Graph) SubtopologyOf(n *Node) int { return n.sub }

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Source:
		return "source"
	case Processor:
		return "processor"
	case Sink:
		return "sink"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// sortedChildren returns n's children ordered by name, for stable descriptions.
func sortedChildren(n *Node) []*Node {
	cs := slices.Clone(n.Children)
	sort.Slice(cs, func(i, j int) bool { return cs[i].index < cs[j].index })
	return cs
}
