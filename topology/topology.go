package topology

import (
	"time"

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

// Option configures one operator.
type Option interface{ apply(*opConfig) }

type opConfig struct {
	name       string
	partitions int32
	stores     []string

	// Sources: event time.
	extractor      any // func(K, V, time.Time) (time.Time, error) of the source's types
	outOfOrderness time.Duration
	idleTimeout    time.Duration

	// Windowed aggregations.
	emitUpdates bool
	lateTopic   string
}

type optionFunc func(*opConfig)

func (f optionFunc) apply(c *opConfig) { f(c) }

// Named gives an operator a stable name of your choice instead of a generated one
// (KSTREAM-FILTER-0000000003). Names appear in Describe and in errors, and a named
// Repartition or Rebalance names its topic "<application id>-<name>-repartition", so name
// those whose topics must survive changes to the rest of the topology.
func Named(name string) Option { return optionFunc(func(c *opConfig) { c.name = name }) }

// Partitions sets the partition count of the topic a Repartition or Rebalance writes. By
// default it is the largest partition count among the source topics of the sub-topology
// that writes it.
func Partitions(n int32) Option { return optionFunc(func(c *opConfig) { c.partitions = n }) }

// Timestamps sets a source's event-time extractor: it receives each record's key, value
// and Kafka timestamp and returns the record's event time. By default the event time is
// the Kafka record's timestamp. An error fails the record (its topic, partition and offset
// are in the error). K and V must be the source's types.
func Timestamps[K, V any](extract func(key K, value V, recordTime time.Time) (time.Time, error)) Option {
	return optionFunc(func(c *opConfig) { c.extractor = extract })
}

// OutOfOrderness is how late, in event time, a source's records may arrive behind the
// highest event time seen on their partition and still count: the partition's watermark
// is that highest time less this bound less 1 ms. Default 0 (records in order).
func OutOfOrderness(d time.Duration) Option {
	return optionFunc(func(c *opConfig) { c.outOfOrderness = d })
}

// IdleTimeout lets a source partition that has had no record for d stop holding the
// task's watermark back, so one empty partition does not stall every window. When records
// arrive again it rejoins, and those behind the watermark are late. Default 0: never idle.
func IdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *opConfig) { c.idleTimeout = d })
}

func configure(opts []Option) opConfig {
	var c opConfig
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// nameFor returns the user's name if given, else a fresh generated one.
func (t *Topology) nameFor(c opConfig, prefix string) string {
	if c.name != "" {
		return c.name
	}
	return t.g.NextName(prefix)
}
