package assign

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// memberInfoVersion is the first byte of an encoded MemberInfo. Later versions only append
// fields, so a leader that knows version 1 still reads the process id and worker from a
// newer member during a rolling upgrade.
const memberInfoVersion = 1

// ErrMemberInfo is returned by MemberInfo.UnmarshalBinary for data it cannot read. The
// balancer never fails on it: a member with unreadable data is treated as an unknown
// process and still assigned tasks.
var ErrMemberInfo = errors.New("assign: malformed member info")

// MemberInfo is what a member tells the group leader about itself, carried in the UserData
// of its join metadata. The process id lets the leader tell the workers of one process
// apart from those of another (several workers of a process share its local state).
type MemberInfo struct {
	// ProcessID identifies the eddy process (instance) the member runs in; it stays the
	// same across the process's rebalances.
	ProcessID string
	// Worker is the member's index among its process's workers.
	Worker int
}

// AppendBinary appends the encoding of m to b and returns the result: a version byte (1),
// the process id as a uvarint length followed by its bytes, and the worker as a varint. It
// implements encoding.BinaryAppender and never fails. The encoding is compact because the
// coordinator stores every member's metadata in one record of about 1 MiB.
func (m MemberInfo) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, memberInfoVersion)
	b = binary.AppendUvarint(b, uint64(len(m.ProcessID)))
	b = append(b, m.ProcessID...)
	b = binary.AppendVarint(b, int64(m.Worker))
	return b, nil
}

// MarshalBinary returns the encoding described at AppendBinary. It never fails.
func (m MemberInfo) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, 1+binary.MaxVarintLen64*2+len(m.ProcessID)))
}

// UnmarshalBinary decodes data written by AppendBinary of this or a later version. Bytes
// after the fields this version knows are ignored, for the sake of later versions. Any
// other malformed input returns an error wrapping ErrMemberInfo and leaves m unchanged.
func (m *MemberInfo) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrMemberInfo)
	}
	if data[0] < memberInfoVersion {
		return fmt.Errorf("%w: unknown version %d", ErrMemberInfo, data[0])
	}
	rest := data[1:]
	n, size := binary.Uvarint(rest)
	if size <= 0 {
		return fmt.Errorf("%w: bad process id length", ErrMemberInfo)
	}
	rest = rest[size:]
	// Compare in uint64 before converting: a huge length from a hostile or corrupt member
	// must not turn into a negative int or an allocation.
	if n > uint64(len(rest)) {
		return fmt.Errorf("%w: process id length %d exceeds the %d bytes left", ErrMemberInfo, n, len(rest))
	}
	process := string(rest[:n])
	rest = rest[n:]
	worker, size := binary.Varint(rest)
	if size <= 0 {
		return fmt.Errorf("%w: bad worker", ErrMemberInfo)
	}
	if int64(int(worker)) != worker {
		return fmt.Errorf("%w: worker %d out of range", ErrMemberInfo, worker)
	}
	m.ProcessID, m.Worker = process, int(worker)
	return nil
}
