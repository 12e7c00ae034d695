package runtime

import (
	"errors"
	"fmt"
	"sync"

	"github.com/eddy-streams/eddy/internal/assign"
	"github.com/eddy-streams/eddy/internal/state"
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
	// ErrUnknownStore is returned for a name that is no key-value store of the topology.
	ErrUnknownStore = errors.New("no such key-value store")
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
	subOf      map[string]int // each queryable store's sub-topology
	slices     map[querySlot]*queryEntry
}

func (q *queries) setStores(partitions map[string]int32, subOf map[string]int) {
	q.mu.Lock()
	q.partitions, q.subOf, q.slices = partitions, subOf, map[querySlot]*queryEntry{}
	q.mu.Unlock()
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

// QueryAll calls fn with every committed entry of this instance's ready slices of
// key-value store name, partition by partition in order, each in the byte order of the
// encoded keys. Slices restoring here are skipped; their partitions are listed in
// skipped (ErrNotReady's partitions), so a caller knows the scan is partial.
func (m *Monitor) QueryAll(name string, fn func(partition int32, key, value []byte) error) (skipped []int32, err error) {
	m.queries.mu.RLock()
	defer m.queries.mu.RUnlock()
	n, ok := m.queries.partitions[name]
	switch {
	case m.queries.partitions == nil:
		return nil, fmt.Errorf("store %s: %w (the instance is not running)", name, ErrNotHere)
	case !ok:
		return nil, fmt.Errorf("store %s: %w", name, ErrUnknownStore)
	}
	for p := range n {
		e, ok := m.queries.slices[querySlot{name, p}]
		if !ok {
			continue
		}
		if !e.ready {
			skipped = append(skipped, p)
			continue
		}
		it, err := e.kv.RangeCommitted(nil, nil)
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

// Query calls fn with the committed value of the encoded key in partition's slice of
// key-value store name, and reports whether there is one. The value is valid only
// inside fn. The slice must be here and restored (ErrNotHere, ErrNotReady).
func (m *Monitor) Query(name string, partition int32, key []byte, fn func(value []byte) error) (bool, error) {
	m.queries.mu.RLock()
	defer m.queries.mu.RUnlock() // held during the read: closing the task waits for it
	if m.queries.partitions == nil {
		return false, fmt.Errorf("store %s: %w (the instance is not running)", name, ErrNotHere)
	}
	if _, ok := m.queries.partitions[name]; !ok {
		return false, fmt.Errorf("store %s: %w", name, ErrUnknownStore)
	}
	e, ok := m.queries.slices[querySlot{name, partition}]
	switch {
	case !ok:
		return false, fmt.Errorf("store %s, partition %d: %w", name, partition, ErrNotHere)
	case !e.ready:
		return false, fmt.Errorf("store %s, partition %d: %w", name, partition, ErrNotReady)
	}
	found, err := e.kv.GetCommitted(key, fn)
	if err != nil {
		return false, fmt.Errorf("store %s, partition %d: %w", name, partition, err)
	}
	return found, nil
}
