//go:build !unix

package dirlock

import "os"

// Without flock the lock is advisory only: the state database's own lock still refuses a
// second opener of a stateful application.
func lockFile(*os.File) error   { return nil }
func unlockFile(*os.File) error { return nil }
