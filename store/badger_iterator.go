package store

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

type badgerIterator struct {
	b      *Badger
	lo, hi []byte
	// txn and it are released once, by Close or by Badger.Close, whichever
	// comes first; both touch them only inside b's gate or after it drained.
	txn *badger.Txn
	it  *badger.Iterator
	// setValue is copyValue bound once, so Next allocates no closure.
	setValue func(value []byte) error

	started, done, closed bool
	key, value            []byte
	err                   error
}

func (it *badgerIterator) Next() bool {
	if it.done {
		return false
	}
	if !it.b.gate.enter() {
		it.finish(ErrClosed)
		return false
	}
	defer it.b.gate.leave()
	if it.started {
		it.it.Next()
	} else {
		it.it.Seek(it.lo)
		it.started = true
	}
	if !it.it.Valid() {
		it.finish(nil)
		return false
	}
	item := it.it.Item()
	key := item.Key() // Badger's copy, valid until Next
	if !before(key, it.hi) {
		it.finish(nil)
		return false
	}
	// The value is copied: one in the value log is valid only inside the
	// callback, and ours must stay valid until the next Next.
	if err := item.Value(it.setValue); err != nil {
		it.finish(fmt.Errorf("store: badger read value of %x: %w", key, err))
		return false
	}
	it.key = key
	return true
}

func (it *badgerIterator) copyValue(value []byte) error {
	it.value = append(it.value[:0], value...)
	return nil
}

func (it *badgerIterator) finish(err error) {
	it.done, it.err = true, err
	it.key, it.value = nil, it.value[:0]
}

func (it *badgerIterator) Key() []byte {
	return it.key
}

func (it *badgerIterator) Value() []byte {
	if it.key == nil {
		return nil
	}
	return it.value
}

func (it *badgerIterator) Err() error {
	return it.err
}

func (it *badgerIterator) Close() error {
	if it.closed {
		return nil
	}
	it.closed, it.done = true, true
	it.key = nil
	if !it.b.gate.enter() {
		return nil // Badger.Close has released it
	}
	defer it.b.gate.leave()
	it.b.iters.Lock()
	delete(it.b.iters.open, it)
	it.b.iters.Unlock()
	it.release()
	return nil
}

// release closes the Badger iterator and its read transaction.
func (it *badgerIterator) release() {
	if it.it != nil {
		it.it.Close()
		it.txn.Discard()
		it.it, it.txn = nil, nil
	}
}
