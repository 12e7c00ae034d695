package store

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// BadgerOptions configures OpenBadger. The zero value is the production
// profile, about 22 MiB of heap at open.
type BadgerOptions struct {
	// LowMemory selects a profile for tests and small tools: 8 MiB memtables
	// (at most 2), a 1 MiB block cache and 2 compactors, about 11 MiB of heap
	// at open instead of about 22 MiB. Default false: 16 MiB memtables (at
	// most 3), a 64 MiB block cache and Badger's 4 compactors.
	LowMemory bool

	// Logger receives Badger's logs at debug, info, warn and error level,
	// with the attributes store=badger and dir. Default nil: discarded.
	Logger *slog.Logger

	// SyncWrites makes every Write wait until its data is synced to disk.
	// Default false: a Write survives a crash of the process (its data is in
	// the OS page cache), but the latest writes may be lost if the machine
	// fails. That is acceptable because the changelog topics are the durable
	// copy and local state is a cache of them. One caveat: without syncing,
	// "a checkpoint written after its data never leads it" holds across a
	// process crash but is not guaranteed across a machine crash (Badger
	// replays each memtable's write-ahead log up to its first damaged entry,
	// which keeps the order within one log file, not across two).
	SyncWrites bool

	// ReadOnly opens the database for reading only, as a tool that inspects a stopped
	// instance's state does: writes fail, and nothing in the directory changes (the
	// write-ahead logs of a database that was not closed are replayed in memory). Badger
	// refuses it while another process has the database open, and where a log ends in a
	// torn write that only a writer may cut off (badger.ErrTruncateNeeded).
	ReadOnly bool
}

// The profiles. Badger's other defaults (4 KiB blocks, 2 MiB base tables,
// Snappy compression, bloom filters, all table indexes in memory) suit both.
const (
	// memTableSize: a quarter of Badger's default, the size of Kafka Streams'
	// RocksDB write buffers. Badger allocates each memtable's arena, about 1.3× its
	// size, on the Go heap when the memtable opens, and the garbage collector
	// lets the heap grow by as much again as is live, arena included: with
	// 64 MiB memtables an instance whose state was a few MiB peaked at ~170 MiB
	// (a stream-table join of 10k rows), at 16 MiB at ~105 MiB. The cost is
	// more, smaller L0 flushes; with the committed-value cache at 16 MiB a
	// count by key was as fast at 100k and 1M keys as with 64 MiB memtables
	// and an 8 MiB cache, at 60-70% of the memory (BENCHMARKS.md).
	memTableSize = 16 << 20
	// numMemtables: one mutable plus two waiting to flush, not Badger's 5:
	// a flush (sequential write) keeps up with commits in the common case.
	numMemtables = 3
	// blockCacheSize holds decompressed blocks for reads that miss the
	// memtables; recently committed values are also cached by the layer
	// above, so this need not be Badger's 256 MiB.
	blockCacheSize = 64 << 20

	lowMemTableSize   = 8 << 20
	lowNumMemtables   = 2
	lowCompactors     = 2 // Badger refuses 1; 0 would disable compaction
	lowValueLogSize   = 64 << 20
	lowBlockCacheSize = 1 << 20 // never 0: Badger panics at open with compression on and no block cache

	// maxValueThreshold: values up to this size stay in the LSM tree, where
	// compaction reclaims the space of overwritten and deleted values.
	// Larger ones go to the value log, which this package never
	// garbage-collects; Kafka's default record limit (1 MB) keeps changelog
	// values below it, so the value log stays (nearly) empty and a value-log
	// GC goroutine is not worth having.
	maxValueThreshold = 1 << 20
)

// valueThreshold returns the largest value threshold Badger accepts for a
// memtable size: at open it rejects a ValueThreshold above its maximal batch,
// which is 15% of MemTableSize (badger.checkAndSetOptions), and above 1 MiB.
func valueThreshold(memTableSize int64) int64 {
	return min(maxValueThreshold, memTableSize*15/100)
}

func (o BadgerOptions) badger(dir string) badger.Options {
	bo := badger.DefaultOptions(dir).
		WithNumVersionsToKeep(1).   // state is last-write-wins; old versions are garbage
		WithDetectConflicts(false). // one owner per key range; conflict tracking is pure cost
		WithSyncWrites(o.SyncWrites).
		WithMetricsEnabled(false). // Badger's metrics are process-global expvars; eddy uses Prometheus
		WithCompression(options.Snappy).
		WithLogger(nil).
		WithReadOnly(o.ReadOnly)
	if o.Logger != nil {
		bo = bo.WithLogger(badgerLogger{o.Logger.With("store", "badger", "dir", dir)})
	}
	if o.LowMemory {
		bo = bo.WithMemTableSize(lowMemTableSize).
			WithNumMemtables(lowNumMemtables).
			WithNumCompactors(lowCompactors).
			WithBlockCacheSize(lowBlockCacheSize).
			WithValueLogFileSize(lowValueLogSize)
	} else {
		bo = bo.WithMemTableSize(memTableSize).
			WithNumMemtables(numMemtables).
			WithBlockCacheSize(blockCacheSize)
	}
	return bo.WithValueThreshold(valueThreshold(bo.MemTableSize))
}

// Badger is a Backend on a Badger database in one directory. It is safe for
// concurrent use.
//
// Get reads values without copying them (item.Value); an iterator copies each
// value into a buffer it reuses, because Badger's value may live in the value
// log and be valid only inside a callback.
//
// Values of 1 MiB or more go to Badger's value log, which is never
// garbage-collected here: space taken by such a value stays taken after it is
// overwritten or deleted. Changelog records are limited to about 1 MB by
// Kafka's defaults, so this does not arise in practice.
type Badger struct {
	db  *badger.DB
	dir string
	// gate admits operations until Close, which waits for them: Badger must
	// not be closed under a read that holds one of its buffers.
	gate *gate

	closeOnce sync.Once

	iters struct {
		sync.Mutex
		// open holds the iterators not yet closed; Close releases them, since
		// Badger needs every read transaction discarded.
		open map[*badgerIterator]struct{}
	}
}

var _ Backend = (*Badger)(nil)

// OpenBadger opens (or creates) the Badger database in dir. Only one process
// may have it open at a time.
func OpenBadger(dir string, opts BadgerOptions) (*Badger, error) {
	db, err := badger.Open(opts.badger(dir))
	if err != nil {
		return nil, fmt.Errorf("store: open badger at %s: %w", dir, err)
	}
	b := &Badger{db: db, dir: dir, gate: newGate()}
	b.iters.open = make(map[*badgerIterator]struct{})
	return b, nil
}

// EstimateSize implements Sizer: the uncompressed size Badger's tables record for the
// keys under prefix, a table that holds other keys too counting whole. Writes still in
// the memtables (the last tens of megabytes) are not counted.
func (b *Badger) EstimateSize(prefix []byte) int64 {
	if !b.gate.enter() {
		return 0
	}
	defer b.gate.leave()
	_, uncompressed := b.db.EstimateSize(prefix)
	return int64(uncompressed)
}

// Get implements Backend. fn runs inside a read transaction on Badger's own
// buffer (no copy). fn may call b again.
func (b *Badger) Get(key []byte, fn func(value []byte) error) (bool, error) {
	if !validKey(key) {
		return false, ErrInvalidKey
	}
	if !b.gate.enter() {
		return false, ErrClosed
	}
	defer b.gate.leave()
	txn := b.db.NewTransaction(false)
	defer txn.Discard()
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: badger get: %w", err)
	}
	if fn == nil {
		return true, nil
	}
	// fn's own error comes back as it is.
	return true, item.Value(fn)
}

// Write implements Backend.
//
// A batch that fits one Badger transaction (MaxBatchCount entries and
// MaxBatchSize bytes: 15% of the memtable, about 9.6 MB by default and
// 1.2 MB with LowMemory) is written in one transaction and is atomic. A
// larger one goes through a badger.WriteBatch, which splits it into several
// transactions: then Write is not atomic, and a crash during it can leave
// part of the batch applied. That is why the layer above writes its
// checkpoint in a separate Write after the data: a checkpoint may lag its
// data, never lead it. When Write returns nil, the whole batch is applied
// (and synced, with SyncWrites).
func (b *Badger) Write(batch *Batch) error {
	if !b.gate.enter() {
		return ErrClosed
	}
	defer b.gate.leave()
	if err := batch.validate(); err != nil {
		return err
	}
	if err := b.write(batch); err != nil {
		return fmt.Errorf("store: badger write: %w", err)
	}
	return nil
}

// write applies batch, already validated. The caller holds the gate.
func (b *Badger) write(batch *Batch) error {
	if batch.Len() == 0 {
		return nil
	}
	if b.fitsTxn(batch) {
		err := b.writeTxn(batch)
		if !errors.Is(err, badger.ErrTxnTooBig) {
			return err
		}
		// The estimate was short; the WriteBatch below splits as needed.
	}
	return b.writeBatch(batch)
}

// fitsTxn reports whether batch fits one transaction by Badger's accounting
// (Txn.checkSize: key + value + 12 bytes per entry, fewer than MaxBatchCount
// entries and MaxBatchSize bytes). The estimate is high for values that go to
// the value log, which count only a pointer there.
func (b *Badger) fitsTxn(batch *Batch) bool {
	n := int64(batch.Len())
	return n < b.db.MaxBatchCount() && int64(len(batch.data))+12*n < b.db.MaxBatchSize()
}

func (b *Badger) writeTxn(batch *Batch) error {
	txn := b.db.NewTransaction(true)
	defer txn.Discard()
	// One allocation for all entries instead of one per Set. Badger keeps
	// pointers to them, and to the batch's bytes, only until Commit returns.
	entries := make([]badger.Entry, batch.Len())
	for i := range entries {
		key, value, del := batch.op(i)
		var err error
		if del {
			err = txn.Delete(key)
		} else {
			entries[i].Key, entries[i].Value = key, value
			err = txn.SetEntry(&entries[i])
		}
		if err != nil {
			return err
		}
	}
	return txn.Commit()
}

func (b *Badger) writeBatch(batch *Batch) error {
	wb := b.db.NewWriteBatch()
	// After Flush, Cancel does nothing; before it (an error), it waits for
	// the parts already committing, so none outlives the batch's bytes.
	defer wb.Cancel()
	entries := make([]badger.Entry, batch.Len())
	for i := range entries {
		key, value, del := batch.op(i)
		var err error
		if del {
			err = wb.Delete(key)
		} else {
			entries[i].Key, entries[i].Value = key, value
			err = wb.SetEntry(&entries[i])
		}
		if err != nil {
			return err
		}
	}
	return wb.Flush()
}

// deleteChunk is how many keys DeleteRange deletes per transaction: few
// enough to fit one transaction in the LowMemory profile (MaxBatchCount is
// about 13k there) and to keep each step short, many enough to amortise the
// commit.
const deleteChunk = 4096

// DeleteRange implements Backend. It never uses Badger's DropPrefix, which
// blocks every writer until it has rewritten the affected tables: it scans
// the keys (without values) and deletes them in transactions of deleteChunk
// keys, each under a fresh read transaction, so writers interleave and no
// old snapshot is held. Keys written into the range while it runs may or
// may not be deleted. Close waits for the current chunk only.
func (b *Badger) DeleteRange(lo, hi []byte) error {
	var batch Batch
	start := clone(lo)
	for {
		more, err := b.deleteChunk(&batch, start, hi)
		if err != nil || !more {
			return err
		}
		// Resume right after the last key deleted: its successor in byte
		// order is the key with a zero byte appended.
		last, _, _ := batch.op(batch.Len() - 1)
		start = append(append(start[:0], last...), 0)
		batch.Reset()
	}
}

// deleteChunk deletes up to deleteChunk keys in [lo, hi) and reports whether
// there may be more.
func (b *Badger) deleteChunk(batch *Batch, lo, hi []byte) (more bool, err error) {
	if !b.gate.enter() {
		return false, ErrClosed
	}
	defer b.gate.leave()
	txn := b.db.NewTransaction(false)
	// The zero IteratorOptions fetch no values.
	it := txn.NewIterator(badger.IteratorOptions{Prefix: commonPrefix(lo, hi)})
	for it.Seek(lo); it.Valid() && batch.Len() < deleteChunk; it.Next() {
		key := it.Item().Key()
		if !before(key, hi) {
			break
		}
		batch.Delete(key)
	}
	it.Close()
	txn.Discard()
	if batch.Len() == 0 {
		return false, nil
	}
	if err := b.write(batch); err != nil {
		return false, fmt.Errorf("store: badger delete range: %w", err)
	}
	return batch.Len() == deleteChunk, nil
}

// commonPrefix returns the longest common prefix of lo and hi, which every
// key in [lo, hi) shares; Badger uses it to skip tables outside it. With no
// upper bound there is none.
func commonPrefix(lo, hi []byte) []byte {
	if hi == nil {
		return nil
	}
	n := 0
	for n < len(lo) && n < len(hi) && lo[n] == hi[n] {
		n++
	}
	return lo[:n:n]
}

// Close implements Backend: it waits for operations in flight, releases the
// iterators still open, and closes Badger, which flushes its memtable.
func (b *Badger) Close() error {
	var err error
	b.closeOnce.Do(func() {
		b.gate.close()
		b.iters.Lock()
		for it := range b.iters.open {
			it.release()
		}
		b.iters.open = nil
		b.iters.Unlock()
		if cerr := b.db.Close(); cerr != nil {
			err = fmt.Errorf("store: close badger at %s: %w", b.dir, cerr)
		}
	})
	return err
}

// Iterate implements Backend. The iterator reads a snapshot taken at
// Iterate: writes made after it are not seen.
func (b *Badger) Iterate(lo, hi []byte) (Iterator, error) {
	if !b.gate.enter() {
		return nil, ErrClosed
	}
	defer b.gate.leave()
	it := &badgerIterator{b: b, lo: clone(lo), hi: clone(hi)}
	it.txn = b.db.NewTransaction(false)
	// Zero options: no value prefetching, which would start a goroutine
	// per item; values are read in Next.
	it.it = it.txn.NewIterator(badger.IteratorOptions{Prefix: commonPrefix(it.lo, it.hi)})
	it.setValue = it.copyValue
	b.iters.Lock()
	b.iters.open[it] = struct{}{}
	b.iters.Unlock()
	return it, nil
}
