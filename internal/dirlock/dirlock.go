// Package dirlock holds an exclusive lock on a directory for as long as one instance of an
// application uses it: two instances that share a state directory would share a process
// id, hence transactional ids (each would fence the other) and one Badger database (which
// refuses a second opener with an error that does not say what to do).
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrLocked is returned by Acquire when another process or instance holds the lock.
var ErrLocked = errors.New("dirlock: locked by another instance")

// Lock is a held lock; Release gives it up.
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes the lock file "LOCK" in dir, which must exist. It does not wait: a lock
// held elsewhere (by another process, or another instance in this process) is ErrLocked.
// The lock goes with the process, so a killed instance never leaves a stale one.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dirlock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f, path: path}, nil
}

// Release gives the lock up. It is safe to call on a nil Lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	err = errors.Join(err, l.f.Close())
	l.f = nil
	return err
}
