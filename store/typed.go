package store

// Bytes is one task's slice of one key-value store, as the runtime hands it to processors:
// reads see the task's uncommitted writes over the committed state; writes are buffered
// until the task commits, when they go to the changelog topic and then to the local
// database. Not safe for concurrent use: it belongs to its task's goroutine.
type Bytes interface {
	// Get calls fn with key's value, valid only inside fn, and reports whether there is one.
	Get(key []byte, fn func(value []byte) error) (found bool, err error)
	// Put sets key to value; both are copied.
	Put(key, value []byte)
	// Delete removes key.
	Delete(key []byte)
	// Range iterates the keys in [lo, hi) in byte order; nil bounds are open.
	Range(lo, hi []byte) (Iterator, error)
}

// KeyValue is a typed key-value store: a task's slice of a store declared with
// topology.NewKeyValueStore, opened in a processor's Init.
type KeyValue[K, V any] interface {
	// Get returns key's value and whether it has one.
	Get(key K) (value V, found bool, err error)
	// Put sets key to value.
	Put(key K, value V) error
	// Delete removes key.
	Delete(key K) error
	// Range iterates the keys in [from, to) in the byte order of their encoding; a nil bound
	// is open. Close the iterator when done.
	Range(from, to *K) (KeyValueIterator[K, V], error)
}

// KeyValueIterator walks a typed range. Key and Value are valid until the next Next.
type KeyValueIterator[K, V any] interface {
	Next() bool
	Key() K
	Value() V
	Err() error
	Close() error
}
