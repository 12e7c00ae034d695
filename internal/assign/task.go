package assign

import "strconv"

// Subtopology is one sub-topology's id and its source topics. Task (ID, p) reads partition
// p of every topic in Topics, so those topics must have equal partition counts.
type Subtopology struct {
	// ID is the sub-topology's number; it is the first half of its tasks' names.
	ID int
	// Topics are the sub-topology's source topics. A topic belongs to at most one
	// sub-topology: a partition can only be assigned once.
	Topics []string
	// Stateful says the sub-topology's tasks have state kept on disk and logged to
	// changelogs: they get replicas (Replication), and moving one costs a restore.
	Stateful bool
}

// TaskID names a task: sub-topology and partition.
type TaskID struct {
	// Subtopology is the ID of the task's sub-topology.
	Subtopology int
	// Partition is the partition the task reads from each of its sub-topology's topics.
	Partition int32
}

// String returns the task's name as Kafka Streams writes it, "0_3" for partition 3 of
// sub-topology 0; it names the task's state directory and appears in logs.
func (t TaskID) String() string {
	// strconv rather than fmt: this is called for every task on every rebalance and log
	// line, and fmt's reflection costs allocations for nothing.
	b := make([]byte, 0, 16)
	b = strconv.AppendInt(b, int64(t.Subtopology), 10)
	b = append(b, '_')
	b = strconv.AppendInt(b, int64(t.Partition), 10)
	return string(b)
}

// compareTasks orders tasks by sub-topology, then partition.
func compareTasks(a, b TaskID) int {
	if a.Subtopology != b.Subtopology {
		if a.Subtopology < b.Subtopology {
			return -1
		}
		return 1
	}
	switch {
	case a.Partition < b.Partition:
		return -1
	case a.Partition > b.Partition:
		return 1
	}
	return 0
}
