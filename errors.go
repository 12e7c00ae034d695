package eddy

import "errors"

// ErrClosed is returned by Run on an App that was closed or has run before.
var ErrClosed = errors.New("eddy: app closed")

// ErrStateDirInUse is returned by Run when another instance (in this process or another)
// holds the state directory of the same application. Two instances sharing one would
// share a process id, hence transactional ids, and one local database. Give each instance
// its own StateDir; retrying does not help while the other runs.
var ErrStateDirInUse = errors.New("eddy: state directory in use")
