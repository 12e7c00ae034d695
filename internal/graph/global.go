package graph

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/store"
)

// Global is a global table (Kafka Streams' GlobalKTable, the seed's broadcast): a topic
// that every instance reads in full, every partition, into a local store of its own. It
// is no part of any sub-topology and makes no tasks: the runtime's global reader fills the
// store, and any task reads it.
type Global struct {
	// Store is the store's name, unique among every store of the topology.
	Store string
	// Topic is the topic the table reads; no other source may read it.
	Topic string
	// Source and Materialize are the table's two nodes, for Describe and Mermaid (Kafka
	// Streams shows a global store as a source and the processor that writes the store).
	Source, Materialize *Node
	// Users are the nodes that read the store (stream-global-table joins), for Mermaid.
	Users []*Node
	// Decode checks one record of the topic and appends the store key it writes to dst:
	// the record's key decoded and encoded again with the table's key serde, so that
	// lookups, which encode the key they look for, find it. The value is checked by
	// decoding it; the store keeps its bytes as they are (null: the key is deleted). ok
	// is false for a record to ignore (a null key: a table has no row for it). A record
	// that does not decode gives a *RecordError of kind Deserialization, a panic of a
	// serde included. Decode is called by the reader of each App that runs the topology,
	// so it keeps no state between calls.
	Decode func(dst []byte, rec *kgo.Record) (key []byte, ok bool, err error)
}

// GlobalReader reads a global table's store: the instance's copy of the whole topic.
// Keys are the store keys Global.Decode makes. It is safe for concurrent use: every task
// reads it while the global reader writes it; a read sees the writes applied so far, and
// a Range a snapshot taken when it starts.
type GlobalReader interface {
	// Get calls fn with key's value, valid only inside fn, and reports whether there is one.
	Get(key []byte, fn func(value []byte) error) (found bool, err error)
	// Range iterates the keys in [lo, hi) in byte order; nil bounds are open.
	Range(lo, hi []byte) (store.Iterator, error)
}

// AddGlobal adds a global table: its nodes (a source of its topic and the materializing
// processor under it) and its store. The store name must be unused by any other store,
// and the topic unread by any other source.
func (g *Graph) AddGlobal(gl *Global) {
	gl.Source.global, gl.Materialize.global = gl, gl
	g.Add(gl.Source)
	g.Add(gl.Materialize, gl.Source)
	if gl.Store == "" {
		g.Errorf("global table %s needs a store name", gl.Topic)
		return
	}
	if _, dup := g.stores[gl.Store]; dup {
		g.Errorf("the store name %q is used twice; store names must be unique (global tables' included)", gl.Store)
		return
	}
	if g.stores == nil {
		g.stores = map[string]*Store{}
	}
	// Listed with the stores so that a name is used once, but not in storeOrder: a global
	// store has no changelog and belongs to no sub-topology.
	g.stores[gl.Store] = &Store{Name: gl.Store, Global: gl}
	g.globals = append(g.globals, gl)
}

// Globals lists the global tables in creation order.
func (g *Graph) Globals() []*Global { return g.globals }

// Global returns the global table whose store is name, or nil.
func (g *Graph) Global(name string) *Global {
	if s, ok := g.stores[name]; ok {
		return s.Global
	}
	return nil
}

// ReadGlobal records that node n reads the global store of gl (Describe lists it among
// n's stores). Unlike Connect it ties n to no sub-topology: every instance has the store.
func (g *Graph) ReadGlobal(n *Node, gl *Global) {
	gl.Users = append(gl.Users, n)
	n.Stores = append(n.Stores, gl.Store)
}
