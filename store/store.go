package store

import (
	"bytes"
	"errors"
)

// Backend is an instance's local key-value database, ordered by key bytes.
// Every task and worker of an instance shares one Backend; keys start with a
// fixed-width binary prefix that the caller builds, so tasks never see each
// other's keys.
//
// Keys must be valid (see [MaxKeySize] and [ErrInvalidKey]); values may be
// empty, and an empty value is present, not missing.
//
// A Backend is safe for concurrent use.
type Backend interface {
	// Get calls fn with key's value if key is present and reports whether it
	// was. The value is only valid inside fn and must not be modified: Badger
	// hands out its own buffer without copying, so copy what you keep. An
	// error returned by fn is returned by Get; fn may be nil to test for
	// presence only. An invalid key returns ErrInvalidKey.
	Get(key []byte, fn func(value []byte) error) (found bool, err error)

	// Iterate returns an iterator over the keys in [lo, hi) in ascending byte
	// order. lo == nil starts at the first key; hi == nil means no upper
	// bound. Iterate copies lo and hi. The caller must close the iterator.
	//
	// What an iterator sees of writes made while it is open depends on the
	// implementation (Badger: a snapshot taken at Iterate; Memory: see
	// [Memory]); it never returns a key twice, out of order, or outside
	// [lo, hi).
	Iterate(lo, hi []byte) (Iterator, error)

	// Write applies a batch: its operations in order, the last one on a key
	// winning. Whether a large batch is applied atomically depends on the
	// implementation (see [Badger.Write]); a caller that writes a checkpoint
	// covering the batch writes it in a separate, later Write. A batch with
	// an invalid key is rejected with ErrInvalidKey before anything is
	// applied. The batch may be reused as soon as Write returns.
	Write(b *Batch) error

	// DeleteRange removes every key in [lo, hi); hi == nil means no upper
	// bound. It is meant for dropping a task's old state off the hot path: it
	// may take a while, but it does not stop other operations for long, and
	// it is not atomic (a crash or error leaves part of the range deleted).
	DeleteRange(lo, hi []byte) error

	// Close closes the backend; every later call of any method returns
	// ErrClosed, and iterators still open end with ErrClosed. Close waits for
	// operations in flight. Close is idempotent: later calls return nil.
	Close() error
}

// Sizer is a Backend that estimates the bytes it keeps under a key prefix, for the
// metrics: Badger from its tables' metadata (what is still in its memtables is not
// counted), Memory exactly.
type Sizer interface {
	EstimateSize(prefix []byte) int64
}

// Iterator walks keys in ascending byte order. Typical use:
//
//	it, err := b.Iterate(lo, hi)
//	if err != nil { … }
//	defer it.Close()
//	for it.Next() {
//		use(it.Key(), it.Value())
//	}
//	if err := it.Err(); err != nil { … }
//
// An Iterator is not safe for concurrent use; different iterators are
// independent of each other.
type Iterator interface {
	// Next advances to the next key and reports whether there is one. It
	// returns false at the end, on an error (see Err) and after Close.
	Next() bool
	// Key returns the current key. It is valid until the next call of Next or
	// Close and must not be modified.
	Key() []byte
	// Value returns the current value. It is valid until the next call of
	// Next or Close and must not be modified.
	Value() []byte
	// Err returns the error that ended the iteration, or nil if it ended
	// because it reached the end of its range.
	Err() error
	// Close releases the iterator. It is idempotent and returns nil if the
	// backend was closed first.
	Close() error
}

// MaxKeySize is the longest key a Backend accepts. It is Badger's limit
// (a key's length is a uint16 in its tables, less room for its suffixes);
// Memory enforces it too, so that tests against Memory catch keys that would
// fail in production.
const MaxKeySize = 65000

// reservedPrefix starts Badger's internal keys; Badger rejects user keys that
// start with it, and so, for the same reason as MaxKeySize, does Memory.
// eddy's keys start with a binary task prefix, so they never collide with it.
var reservedPrefix = []byte("!badger!")

// ErrClosed is returned by every operation on a closed Backend, and by an
// iterator whose backend was closed under it. It is never safe to retry.
var ErrClosed = errors.New("store: closed")

// ErrInvalidKey is returned for an empty key, a key longer than MaxKeySize,
// or a key starting with "!badger!" (reserved by Badger). Retrying the same
// key fails again.
var ErrInvalidKey = errors.New("store: invalid key")

// validKey reports whether key is acceptable to every Backend.
func validKey(key []byte) bool {
	return len(key) > 0 && len(key) <= MaxKeySize && !bytes.HasPrefix(key, reservedPrefix)
}
