package eddy

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/serde"
)

// Errors of interactive queries (KeyValueQuery.Get). They wrap the store's name and the
// key's partition; match them with errors.Is.
var (
	// ErrNotHere: the key's task runs on another instance, or on none while the group
	// rebalances. Ask the instance that holds it.
	ErrNotHere = runtime.ErrNotHere
	// ErrNotReady: the key's task is on this instance but still restoring its stores
	// (it just moved here); ask again shortly.
	ErrNotReady = runtime.ErrNotReady
	// ErrUnknownStore: the topology has no key-value store of that name.
	ErrUnknownStore = runtime.ErrUnknownStore
)

// KeyValueQuery reads a key-value store of a running App from outside its processors
// (Kafka Streams' interactive queries): a table's, a table aggregation's (Count, Reduce,
// Aggregate) or a topology.NewKeyValueStore. Make one with QueryKeyValue. It is safe for
// concurrent use by any number of goroutines.
//
// A read sees the store as of its task's last commit: never a write a later commit has
// not made durable, so under exactly-once never a value of a transaction that has not
// committed (and that a crash would roll back). Values are at most a commit interval
// old. Each key lives in one task, on one instance of the application: its partition is
// Kafka's murmur2 of the key's bytes (the store's key serde) modulo the store's
// partitions, as the records were partitioned; a key whose task is elsewhere is
// ErrNotHere, one whose task is still restoring here ErrNotReady.
type KeyValueQuery[K, V any] struct {
	app  *App
	name string
	ks   serde.Serde[K]
	vs   serde.Serde[V]
	part kgo.TopicPartitioner
}

// QueryKeyValue returns a query of app's key-value store name, whose keys and values the
// serdes read — the store's own serdes (for a Count, the grouping's key serde and
// serde.Int64()).
func QueryKeyValue[K, V any](app *App, name string, ks serde.Serde[K], vs serde.Serde[V]) *KeyValueQuery[K, V] {
	topic := changelog.Topic(app.cfg.appID, name)
	return &KeyValueQuery[K, V]{app: app, name: name,
		ks: serde.ForTopic(ks, topic, true), vs: serde.ForTopic(vs, topic, false),
		part: kgo.StickyKeyPartitioner(nil).ForTopic(topic)}
}

// KeyLocation is where a key of a store lives: its partition (its task's), whether this
// instance holds that task, and the AdvertisedAddress of the instance the group's last
// assignment gave it to ("" when that instance advertises none, or the task is between
// two owners in a rebalance).
type KeyLocation struct {
	Partition int32
	Local     bool
	Endpoint  string
}

// Location says where key lives (Kafka Streams' queryMetadataForKey).
func (q *KeyValueQuery[K, V]) Location(key K) (KeyLocation, error) {
	_, partition, err := q.partition(key)
	if err != nil {
		return KeyLocation{}, err
	}
	endpoint, local := q.app.monitor.Host(q.name, partition)
	return KeyLocation{Partition: partition, Local: local, Endpoint: endpoint}, nil
}

// partition encodes key and finds its partition.
func (q *KeyValueQuery[K, V]) partition(key K) ([]byte, int32, error) {
	k, err := q.ks.AppendEncode(nil, key)
	if err != nil {
		return nil, 0, fmt.Errorf("eddy: store %s: encoding a key: %w", q.name, err)
	}
	n, ok := q.app.monitor.Partitions(q.name)
	if !ok {
		// Not running, or no such store: Query says which.
		_, err := q.app.monitor.Query(q.name, 0, k, nil)
		return nil, 0, fmt.Errorf("eddy: %w", err)
	}
	return k, int32(q.part.Partition(&kgo.Record{Key: k}, int(n))), nil
}

// Get returns key's value as of its task's last commit, and whether it has one.
func (q *KeyValueQuery[K, V]) Get(key K) (value V, found bool, err error) {
	k, partition, err := q.partition(key)
	if err != nil {
		return value, false, err
	}
	var raw []byte
	found, err = q.app.monitor.Query(q.name, partition, k, func(v []byte) error {
		raw = append(make([]byte, 0, len(v)), v...)
		return nil
	})
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("eddy: %w", err)
		}
		return value, false, err
	}
	if value, err = q.vs.Decode(raw); err != nil {
		return value, false, fmt.Errorf("eddy: store %s: decoding the value of a key: %w", q.name, err)
	}
	return value, true, nil
}

// KeyValue is one entry of a store.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// Local returns every entry of the store that this instance holds, as of each task's
// last commit: task by task in partition order, each in the byte order of the encoded
// keys. The other instances hold the rest: ask each (Handler without a key). Tasks
// restoring here are not read: an error matching ErrNotReady lists their partitions,
// with the entries of the others.
func (q *KeyValueQuery[K, V]) Local() ([]KeyValue[K, V], error) { return q.scan(nil, nil) }

// Range returns the entries this instance holds whose key is from from (included) to to
// (excluded), as of each task's last commit, in the order Local gives them. The order is
// that of the encoded keys' bytes (the key serde's: strings in their byte order;
// serde.Int64 and the other fixed-size integer serdes big-endian, so negative numbers
// after positive ones). A key's partition depends on its hash, so every instance holds
// part of any range: ask each, or the Handler with scope=all.
func (q *KeyValueQuery[K, V]) Range(from, to K) ([]KeyValue[K, V], error) {
	lo, err := q.ks.AppendEncode([]byte{}, from)
	if err != nil {
		return nil, fmt.Errorf("eddy: store %s: encoding the range's start: %w", q.name, err)
	}
	hi, err := q.ks.AppendEncode([]byte{}, to)
	if err != nil {
		return nil, fmt.Errorf("eddy: store %s: encoding the range's end: %w", q.name, err)
	}
	return q.scan(lo, hi)
}

// scan returns the entries here with encoded keys in [lo, hi) (nil: unbounded).
func (q *KeyValueQuery[K, V]) scan(lo, hi []byte) ([]KeyValue[K, V], error) {
	var out []KeyValue[K, V]
	skipped, err := q.app.monitor.QueryRange(q.name, lo, hi, func(_ int32, k, v []byte) error {
		key, err := q.ks.Decode(k)
		if err != nil {
			return fmt.Errorf("store %s: decoding a key: %w", q.name, err)
		}
		value, err := q.vs.Decode(v)
		if err != nil {
			return fmt.Errorf("store %s: decoding the value of a key: %w", q.name, err)
		}
		out = append(out, KeyValue[K, V]{key, value})
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("eddy: %w", err)
	}
	if len(skipped) > 0 {
		return out, fmt.Errorf("eddy: store %s, partitions %v: %w", q.name, skipped, ErrNotReady)
	}
	return out, nil
}

// WindowQuery reads a window or session store of a running App — a windowed or session
// aggregation's (WindowedCount, WindowedAggregate, SessionAggregate, …) — as
// KeyValueQuery reads a key-value store: as of the key's task's last commit, on the
// instance that holds it. Make one with QueryWindows.
type WindowQuery[K, V any] struct {
	kv *KeyValueQuery[K, V] // the name, serdes and partitioner
}

// WindowValue is one open window (or session) of a key and its aggregate: [Start, End).
type WindowValue[V any] struct {
	Start, End time.Time
	Value      V
}

// QueryWindows returns a query of app's window or session store name, whose keys and
// aggregates the serdes read.
func QueryWindows[K, V any](app *App, name string, ks serde.Serde[K], vs serde.Serde[V]) *WindowQuery[K, V] {
	return &WindowQuery[K, V]{kv: QueryKeyValue(app, name, ks, vs)}
}

// Fetch returns key's windows still in the store (a window leaves it once final and
// emitted, or past its grace with EmitUpdates), by start. Errors as KeyValueQuery.Get's.
func (q *WindowQuery[K, V]) Fetch(key K) ([]WindowValue[V], error) {
	k, partition, err := q.kv.partition(key)
	if err != nil {
		return nil, err
	}
	var out []WindowValue[V]
	err = q.kv.app.monitor.QueryWindows(q.kv.name, partition, func(e graph.StoreEntry) error {
		if !bytes.Equal(e.Key, k) {
			return nil
		}
		v, err := q.kv.vs.Decode(e.Value)
		if err != nil {
			return fmt.Errorf("store %s: decoding an aggregate: %w", q.kv.name, err)
		}
		out = append(out, WindowValue[V]{Start: time.UnixMilli(e.Start), End: time.UnixMilli(e.End), Value: v})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eddy: %w", err)
	}
	slices.SortStableFunc(out, func(a, b WindowValue[V]) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// Location says where key lives.
func (q *WindowQuery[K, V]) Location(key K) (KeyLocation, error) { return q.kv.Location(key) }
