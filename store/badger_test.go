package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/store"
	"github.com/eddy-streams/eddy/store/storetest"
)

func openBadger(t testing.TB, dir string, opts store.BadgerOptions) *store.Badger {
	t.Helper()
	b, err := store.OpenBadger(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBadger(t *testing.T) {
	dirs := sync.Map{} // backend → its directory, for reopen
	open := func(t *testing.T) store.Backend {
		dir := t.TempDir()
		b := openBadger(t, dir, store.BadgerOptions{LowMemory: true})
		dirs.Store(b, dir)
		return b
	}
	reopen := func(t *testing.T, b store.Backend) store.Backend {
		dir, ok := dirs.Load(b)
		if !ok {
			t.Fatal("reopen: unknown backend")
		}
		if err := b.Close(); err != nil {
			t.Fatalf("Close before reopen: %v", err)
		}
		nb := openBadger(t, dir.(string), store.BadgerOptions{LowMemory: true})
		dirs.Store(nb, dir)
		return nb
	}
	storetest.Run(t, open, reopen)
}

func TestOpenBadgerErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := store.OpenBadger(file, store.BadgerOptions{LowMemory: true})
	if err == nil || !strings.HasPrefix(err.Error(), "store: open badger at "+file+": ") {
		t.Fatalf("open on a file: %v", err)
	}

	// A database is open in one place at a time.
	db := filepath.Join(dir, "db")
	b := openBadger(t, db, store.BadgerOptions{LowMemory: true})
	defer b.Close()
	if _, err := store.OpenBadger(db, store.BadgerOptions{LowMemory: true}); err == nil {
		t.Fatal("second open of the same directory succeeded")
	}
}

func TestOpenBadgerCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app", "state")
	b := openBadger(t, dir, store.BadgerOptions{LowMemory: true})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

// TestBadgerLogger checks that Badger's logs reach the slog.Logger, with
// levels and without trailing newlines.
func TestBadgerLogger(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dir := t.TempDir()
	b := openBadger(t, dir, store.BadgerOptions{LowMemory: true, Logger: logger})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, "store=badger") || !strings.Contains(out, "dir="+dir) {
		t.Fatalf("no badger logs at info with attributes:\n%s", out)
	}
	if strings.Contains(out, `\n"`) {
		t.Fatalf("a message keeps its newline:\n%s", out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestBadgerCloseStopsGoroutines is the leak check: every goroutine Badger
// started is gone after Close.
func TestBadgerCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b := openBadger(t, t.TempDir(), store.BadgerOptions{LowMemory: true})
	var batch store.Batch
	for i := range 20_000 {
		batch.Put(fmt.Appendf(nil, "k%08d", i), []byte("v"))
	}
	if err := b.Write(&batch); err != nil {
		t.Fatal(err)
	}
	it, err := b.Iterate(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	it.Next()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before open, %d after close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBadgerCloseWaitsForGet closes the backend while a Get's fn holds a
// value: Close must wait, and a call made from fn meanwhile fails with
// ErrClosed instead of deadlocking.
func TestBadgerCloseWaitsForGet(t *testing.T) {
	b := openBadger(t, t.TempDir(), store.BadgerOptions{LowMemory: true})
	var batch store.Batch
	batch.Put([]byte("k"), bytes.Repeat([]byte("v"), 2<<20)) // in the value log
	if err := b.Write(&batch); err != nil {
		t.Fatal(err)
	}
	inFn, closed := make(chan struct{}), make(chan error)
	go func() {
		<-inFn
		closed <- b.Close()
	}()
	_, err := b.Get([]byte("k"), func(v []byte) error {
		close(inFn)
		// Wait until Close is waiting for us: then new calls are refused.
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := b.Get([]byte("k"), nil)
			if errors.Is(err, store.ErrClosed) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nested Get never saw ErrClosed: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
		select {
		case err := <-closed:
			return fmt.Errorf("Close returned %v while fn still runs", err)
		case <-time.After(50 * time.Millisecond):
		}
		if !bytes.Equal(v, bytes.Repeat([]byte("v"), 2<<20)) {
			return errors.New("value changed under fn")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// TestBadgerOpenHeap logs the heap that opening a database costs, for each
// profile. It asserts only a loose ordering; the figures go in the notes.
func TestBadgerOpenHeap(t *testing.T) {
	heap := func(opts store.BadgerOptions) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b := openBadger(t, t.TempDir(), opts)
		runtime.GC()
		runtime.ReadMemStats(&after)
		defer b.Close()
		return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
	}
	low := heap(store.BadgerOptions{LowMemory: true})
	def := heap(store.BadgerOptions{})
	t.Logf("heap at open: LowMemory %.1f MiB, default %.1f MiB", float64(low)/(1<<20), float64(def)/(1<<20))
	if low >= def {
		t.Errorf("LowMemory (%d B) is not smaller than the default (%d B)", low, def)
	}
}

// Badger's size estimate counts what reached its tables: after a reopen (Close flushes
// the memtables), the keys under a prefix weigh at least their bytes, and a prefix with
// no keys in any table weighs nothing.
func TestBadgerEstimateSize(t *testing.T) {
	dir := t.TempDir()
	b := openBadger(t, dir, store.BadgerOptions{LowMemory: true})
	var batch store.Batch
	value := make([]byte, 100)
	for i := range 1000 {
		batch.Put(fmt.Appendf(nil, "a/%04d", i), value)
	}
	if err := b.Write(&batch); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openBadger(t, dir, store.BadgerOptions{LowMemory: true})
	defer b.Close()
	if got := b.EstimateSize([]byte("a/")); got < 1000*106 {
		t.Errorf("EstimateSize(a/) = %d, want at least the %d bytes written", got, 1000*106)
	}
	if got := b.EstimateSize([]byte("z/")); got != 0 {
		t.Errorf("EstimateSize(z/) = %d, want 0", got)
	}
}
