package graph

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// Store is a state store declared in the topology: its name, and the nodes that use it.
// Every store is backed by a changelog topic "<application id>-<name>-changelog".
type Store struct {
	Name  string
	Users []*Node
	// Retention is set for window stores: their changelog is compacted and deleted after
	// it (cleanup.policy=compact,delete), as windows older than it are gone from the store.
	Retention time.Duration
	// InMemory keeps each task's slice in memory instead of the instance's database; a
	// task that starts on an instance restores it in full from the changelog.
	InMemory bool
	// Index, when set, derives from a logged key the local key its users keep beside it
	// (nil: none), which the changelog does not carry: a restore writes it (state.KV.SetIndex).
	Index func(key []byte) []byte
	// Global is set for a global table's store, which has no changelog and no users in
	// any sub-topology (see AddGlobal); Stores does not list it.
	Global *Global
	// Kind is what the store holds, for readers outside its operators (the test driver);
	// View, set for the windowed and versioned kinds, lists a task slice's entries as
	// their operator keeps them.
	Kind StoreKind
	View func(b store.Bytes, each func(StoreEntry) error) error
}

// StoreKind is what a store holds.
type StoreKind uint8

// The store kinds.
const (
	// KeyValueStore: keys and values as their serdes encode them (tables, aggregations,
	// NewKeyValueStore).
	KeyValueStore StoreKind = iota
	// WindowStore: the open windows of a tumbling, hopping or sliding aggregation.
	WindowStore
	// SessionStore: the open sessions of a session aggregation.
	SessionStore
	// VersionedStore: a versioned table's versions.
	VersionedStore
	// InternalStore: an operator's own bookkeeping (join buffers, subscriptions).
	InternalStore
)

func (k StoreKind) String() string {
	return [...]string{"key-value", "window", "session", "versioned", "internal"}[k]
}

// StoreEntry is one entry of a windowed or versioned store: the key and value bytes (as
// their serdes made them) and its time range in milliseconds, [Start, End) — a window's or
// session's span, or the time a version is valid (End is math.MaxInt64 for the latest);
// Deleted marks a version that is a deletion (no value).
type StoreEntry struct {
	Key, Value []byte
	Start, End int64
	Deleted    bool
}

// ChangelogTopic is the full name of the store's changelog topic.
func (s *Store) ChangelogTopic(applicationID string) string {
	return applicationID + "-" + s.Name + "-changelog"
}

// AddStore declares a store; a name used twice is an error.
func (g *Graph) AddStore(name string) *Store {
	if g.stores == nil {
		g.stores = map[string]*Store{}
	}
	if name == "" {
		g.Errorf("a store needs a name")
	}
	if _, dup := g.stores[name]; dup {
		g.Errorf("the store name %q is used twice; store names must be unique (global tables' included)", name)
	}
	s := &Store{Name: name}
	g.stores[name] = s
	g.storeOrder = append(g.storeOrder, s)
	return s
}

// Connect records that node n uses store name.
func (g *Graph) Connect(n *Node, name string) {
	s, ok := g.stores[name]
	if !ok {
		g.Errorf("%s uses store %q, which is not declared", n.Name, name)
		return
	}
	if s.Global != nil {
		g.Errorf("%s names global store %q in Stores; a global store is read from any processor without being named: "+
			"open it with GlobalTable.Store().Open in the processor's Init", n.Name, name)
		return
	}
	s.Users = append(s.Users, n)
	n.Stores = append(n.Stores, name)
}

// Stores lists the declared stores in declaration order.
func (g *Graph) Stores() []*Store { return g.storeOrder }

// StoresOf lists the stores used by the nodes of sub-topology id. A store is used by one
// sub-topology only: a task owns its slice of a store, and two sub-topologies would mean
// two tasks writing one slice.
func (g *Graph) StoresOf(sub int) ([]*Store, error) {
	if _, err := g.Subtopologies(); err != nil {
		return nil, err
	}
	var out []*Store
	for _, s := range g.storeOrder {
		if len(s.Users) == 0 {
			continue
		}
		first := s.Users[0].sub
		for _, u := range s.Users[1:] {
			if u.sub != first {
				return nil, fmt.Errorf("topology: store %q is used by %s (sub-topology %d) and %s (sub-topology %d); "+
					"a store belongs to one sub-topology", s.Name, s.Users[0].Name, first, u.Name, u.sub)
			}
		}
		if first == sub {
			out = append(out, s)
		}
	}
	return out, nil
}
