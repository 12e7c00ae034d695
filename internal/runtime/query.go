package runtime

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/eddy-streams/eddy/internal/assign"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/store"
)

// Interactive queries read a running instance's stores from any goroutine. Each task's
// store slices are registered here when the task is built and marked ready once
// restored; closing the task (its partitions revoked or lost, the instance stopping)
// takes them out before they are released. A read goes to the database alone — the
// state as of the task's last commit, never its write buffer — so under exactly-once it
// never shows a value whose transaction has not committed.

var (
	// ErrNotHere is returned for a key whose task runs on another instance (or on none,
	// during a rebalance).
	ErrNotHere = errors.New("not on this instance")
	// ErrNotReady is returned for a key whose task is here but restoring its stores.
	ErrNotReady = errors.New("restoring on this instance")
	// ErrUnknownStore is returned for a name that is no store of the topology of the
	// kind asked for.
	ErrUnknownStore = errors.New("no such store")
)

type querySlot struct {
	store     string
	partition int32
}

type queryEntry struct {
	kv    *state.KV
	ready bool
}

// queries is the registry of an instance's queryable store slices.
type queries struct {
	mu sync.RWMutex
	// partitions is each queryable store's task count (its changelog's partitions), set
	// once the topics are planned; nil before.
	partitions map[string]int32
	subOf      map[string]int          // each queryable store's sub-topology
	stores     map[string]*graph.Store // each queryable store's kind and view
	slices     map[querySlot]*queryEntry
}

func (q *queries) setStores(partitions map[string]int32, subOf map[string]int, stores map[string]*graph.Store) {
	q.mu.Lock()
	q.partitions, q.subOf, q.stores, q.slices = partitions, subOf, stores, map[querySlot]*queryEntry{}
	q.mu.Unlock()
}

// slice finds partition's ready slice of store name of one of kinds.
func (q *queries) slice(name string, partition int32, kinds ...graph.StoreKind) (*state.KV, error) {
	if q.partitions == nil {
		return nil, fmt.Errorf("store %s: %w (the instance is not running)", name, ErrNotHere)
	}
	if st, ok := q.stores[name]; !ok || !slices.Contains(kinds, st.Kind) {
		return nil, fmt.Errorf("store %s: %w (%s)", name, ErrUnknownStore, kindsText(kinds))
	}
	e, ok := q.slices[querySlot{name, partition}]
	switch {
	case !ok:
		return nil, fmt.Errorf("store %s, partition %d: %w", name, partition, ErrNotHere)
	case !e.ready:
		return nil, fmt.Errorf("store %s, partition %d: %w", name, partition, ErrNotReady)
	}
	return e.kv, nil
}

func kindsText(kinds []graph.StoreKind) string {
	var parts []string
	for _, k := range kinds {
		parts = append(parts, k.String())
	}
	return "a " + strings.Join(parts, " or ") + " store"
}

// committedView is a slice as of its last commit, read-only, for a store's View.
type committedView struct{ kv *state.KV }

func (c committedView) Get(key []byte, fn func([]byte) error) (bool, error) {
	return c.kv.GetCommitted(key, fn)
}
func (c committedView) Range(lo, hi []byte) (store.Iterator, error) {
	return c.kv.RangeCommitted(lo, hi)
}
func (committedView) Put(_, _ []byte) {} // views only read
func (committedView) Delete([]byte)   {}

// QueryWindows calls each with the committed windows (or sessions) of partition's slice
// of window or session store name, as its view lists them.
func (m *Monitor) QueryWindows(name string, partition int32, each func(graph.StoreEntry) error) error {
	m.queries.mu.RLock()
	defer m.queries.mu.RUnlock()
	kv, err := m.queries.slice(name, partition, graph.WindowStore, graph.SessionStore)
	if err != nil {
		return err
	}
	if err := m.queries.stores[name].View(committedView{kv}, each); err != nil {
		return fmt.Errorf("store %s, partition %d: %w", name, partition, err)
	}
	return nil
}

// add registers task partition's slices, not ready.
func (q *queries) add(partition int32, stores map[string]*state.KV) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for name, kv := range stores {
		if _, ok := q.partitions[name]; ok && q.slices != nil {
			q.slices[querySlot{name, partition}] = &queryEntry{kv: kv}
		}
	}
}

// ready marks a task partition's slices restored.
func (q *queries) ready(partition int32, stores map[string]*state.KV) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for name := range stores {
		if e, ok := q.slices[querySlot{name, partition}]; ok {
			e.ready = true
		}
	}
}

// remove unregisters a task partition's slices.
func (q *queries) remove(partition int32, stores map[string]*state.KV) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for name := range stores {
		delete(q.slices, querySlot{name, partition})
	}
}

// queryable is the registry, or an unused one for a run without a monitor.
func (m *Monitor) queryable() *queries {
	if m == nil {
		return &queries{}
	}
	return &m.queries
}

// Partitions is the number of tasks (partitions) of key-value store name: a key's
// partition is its murmur2 hash modulo it. ok is false for an unknown store or before
// the instance has planned its topics.
func (m *Monitor) Partitions(name string) (n int32, ok bool) {
	m.queries.mu.RLock()
	defer m.queries.mu.RUnlock()
	n, ok = m.queries.partitions[name]
	return n, ok
}

// Host says where partition's slice of key-value store name is: here (local), or at
// the endpoint the group's last assignment names for its task ("" when no instance
// holding it advertises one, or it is unassigned while it moves).
func (m *Monitor) Host(name string, partition int32) (endpoint string, local bool) {
	m.queries.mu.RLock()
	_, local = m.queries.slices[querySlot{name, partition}]
	sub := m.queries.subOf[name]
	m.queries.mu.RUnlock()
	m.mu.Lock()
	workers := m.workers
	m.mu.Unlock()
	for _, w := range workers {
		if e := w.bal.Hosts()[assign.TaskID{Subtopology: sub, Partition: partition}]; e != "" {
			return e, local
		}
	}
	return "", local
}

// QueryRange calls fn with every committed entry of this instance's ready slices of
// key-value store name whose encoded key is in [lo, hi) (nil: unbounded), partition by
// partition in order, each in the byte order of the encoded keys. Slices restoring here
// are skipped; their partitions are listed in skipped (ErrNotReady's partitions), so a
// caller knows the scan is partial.
func (m *Monitor) QueryRange(name string, lo, hi []byte, fn func(partition int32, key, value []byte) error) (skipped []int32, err error) {
	m.queries.mu.RLock()
	defer m.queries.mu.RUnlock()
	if _, err := m.queries.slice(name, -1, graph.KeyValueStore); !errors.Is(err, ErrNotHere) || m.queries.partitions == nil {
		return nil, err // not running, or no such store
	}
	for p := range m.queries.partitions[name] {
		kv, err := m.queries.slice(name, p, graph.KeyValueStore)
		switch {
		case errors.Is(err, ErrNotHere) && m.queries.partitions != nil:
			continue // another instance's
		case errors.Is(err, ErrNotReady):
			skipped = append(skipped, p)
			continue
		case err != nil:
			return skipped, err
		}
		it, err := kv.RangeCommitted(lo, hi)
		if err != nil {
			return skipped, fmt.Errorf("store %s, partition %d: %w", name, p, err)
		}
		for it.Next() {
			if err := fn(p, it.Key(), it.Value()); err != nil {
				it.Close()
				return skipped, err
			}
		}
		err = it.Err()
		if cerr := it.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return skipped, fmt.Errorf("store %s, partition %d: %w", name, p, err)
		}
	}
	return skipped, nil
}

// Endpoints lists, for each partition of store name, the endpoint the group's last
// assignment names for its task ("" where none is known: it moves, or its instance
// advertises no address); nil for a store that is not queryable.
func (m *Monitor) Endpoints(name string) []string {
	m.queries.mu.RLock()
	n, ok := m.queries.partitions[name]
	sub := m.queries.subOf[name]
	m.queries.mu.RUnlock()
	if !ok {
		return nil
	}
	m.mu.Lock()
	workers := m.workers
	m.mu.Unlock()
	out := make([]string, n)
	for _, w := range workers {
		hosts := w.bal.Hosts()
		for p := range out {
			if e := hosts[assign.TaskID{Subtopology: sub, Partition: int32(p)}]; e != "" && out[p] == "" {
				out[p] = e
			}
		}
	}
	return out
}

// Query calls fn with the committed value of the encoded key in partition's slice of
// key-value store name, and reports whether there is one. The value is valid only
// inside fn. The slice must be here and restored (ErrNotHere, ErrNotReady).
func (m *Monitor) Query(name string, partition int32, key []byte, fn func(value []byte) error) (bool, error) {
	m.queries.mu.RLock()
	defer m.queries.mu.RUnlock() // held during the read: closing the task waits for it
	kv, err := m.queries.slice(name, partition, graph.KeyValueStore)
	if err != nil {
		return false, err
	}
	found, err := kv.GetCommitted(key, fn)
	if err != nil {
		return false, fmt.Errorf("store %s, partition %d: %w", name, partition, err)
	}
	return found, nil
}
