package assign

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// memberInfoVersion is the first byte of an encoded MemberInfo. Later versions only append
// fields, so a leader that knows version 1 still reads the process id and worker from a
// newer member during a rolling upgrade. Version 2 appends the local state's tasks,
// version 3 the advertised endpoint.
const memberInfoVersion = 3

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
	// State lists the tasks whose state the member's process holds on its disk, each
	// with its offset sum (version 2; nil from a version 1 member). The leader prefers to
	// give a task no member owns to the process that holds its state.
	State []TaskOffsets
	// Endpoint is where the member's process serves interactive queries, host:port
	// (version 3; "" for none): the leader tells every member which endpoint holds each
	// task.
	Endpoint string
}

// TaskOffsets is a task's local state as a process reports it: the sum, over the task's
// store slices, of the changelog offset each one's checkpoint is at (Kafka Streams' task
// offset sum, KIP-441). Of two processes holding one task's state, the one with the
// higher sum has less of the changelog left to restore.
type TaskOffsets struct {
	Task TaskID
	Sum  int64
}

// AppendBinary appends the encoding of m to b and returns the result: a version byte (3),
// the process id as a uvarint length followed by its bytes, the worker as a varint, the
// number of State entries as a uvarint and each entry's sub-topology, partition and
// offset sum as varints, then the endpoint as a uvarint length and its bytes. It implements encoding.BinaryAppender and never fails. The
// encoding is compact because the coordinator stores every member's metadata in one
// record of about 1 MiB (a thousand tasks take about 10 KiB).
func (m MemberInfo) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, memberInfoVersion)
	b = binary.AppendUvarint(b, uint64(len(m.ProcessID)))
	b = append(b, m.ProcessID...)
	b = binary.AppendVarint(b, int64(m.Worker))
	b = binary.AppendUvarint(b, uint64(len(m.State)))
	for _, t := range m.State {
		b = binary.AppendVarint(b, int64(t.Task.Subtopology))
		b = binary.AppendVarint(b, int64(t.Task.Partition))
		b = binary.AppendVarint(b, t.Sum)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Endpoint)))
	return append(b, m.Endpoint...), nil
}

// MarshalBinary returns the encoding described at AppendBinary. It never fails.
func (m MemberInfo) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, 1+binary.MaxVarintLen64*3+len(m.ProcessID)+len(m.State)*12+len(m.Endpoint)))
}

// UnmarshalBinary decodes data written by AppendBinary of this or a later version. Bytes
// after the fields this version knows are ignored, for the sake of later versions. Any
// other malformed input returns an error wrapping ErrMemberInfo and leaves m unchanged.
func (m *MemberInfo) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrMemberInfo)
	}
	if data[0] < 1 {
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
	rest = rest[size:]
	var state []TaskOffsets
	if data[0] >= 2 {
		n, size := binary.Uvarint(rest)
		if size <= 0 {
			return fmt.Errorf("%w: bad task count", ErrMemberInfo)
		}
		rest = rest[size:]
		if n > uint64(len(rest))/3 { // each entry takes at least 3 bytes
			return fmt.Errorf("%w: %d tasks in %d bytes", ErrMemberInfo, n, len(rest))
		}
		for range n {
			var v [3]int64
			for i := range v {
				if v[i], size = binary.Varint(rest); size <= 0 {
					return fmt.Errorf("%w: bad task entry", ErrMemberInfo)
				}
				rest = rest[size:]
			}
			if int64(int(v[0])) != v[0] || int64(int32(v[1])) != v[1] {
				return fmt.Errorf("%w: task %d_%d out of range", ErrMemberInfo, v[0], v[1])
			}
			state = append(state, TaskOffsets{TaskID{int(v[0]), int32(v[1])}, v[2]})
		}
	}
	var endpoint string
	if data[0] >= 3 {
		n, size := binary.Uvarint(rest)
		if size <= 0 || n > uint64(len(rest)-size) {
			return fmt.Errorf("%w: bad endpoint", ErrMemberInfo)
		}
		endpoint = string(rest[size : size+int(n)])
	}
	m.ProcessID, m.Worker, m.State, m.Endpoint = process, int(worker), state, endpoint
	return nil
}
