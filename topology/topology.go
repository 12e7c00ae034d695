package topology

import (
	"github.com/eddy-streams/eddy/internal/graph"
)

// Topology is a processing graph under construction and, once built, the description that
// eddy.New runs. Build it from one goroutine; once handed to eddy.New it must not change.
type Topology struct {
	g *graph.Graph
}

// New returns an empty topology.
func New() *Topology {
	return &Topology{g: graph.New()}
}

// Err returns the first mistake made while building (a duplicate name, a topic read by two
// sources, …). eddy.New and Describe return it too.
func (t *Topology) Err() error { return t.g.Err() }

// Describe returns a readable text of the sub-topologies with their sources, processors,
// sinks and topics, in the shape of Kafka Streams' TopologyDescription. Internal topics are
// named without the application id prefix that the runtime adds.
func (t *Topology) Describe() (string, error) { return t.g.Describe() }

// Mermaid returns the topology as a Mermaid flowchart, one subgraph per sub-topology.
func (t *Topology) Mermaid() (string, error) { return t.g.Mermaid() }

// Graph gives eddy's runtime the compiled form of the topology. Its result type is
// internal to eddy and not part of the API a user builds on.
func (t *Topology) Graph() *graph.Graph { return t.g }
