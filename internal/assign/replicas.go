package assign

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// Replication is how the balancer places warm copies of stateful tasks' state (Kafka
// Streams' standby replicas and warm-up replicas, KIP-441). The zero value places none.
type Replication struct {
	// Standbys is how many standby replicas each stateful task has, each on another
	// process than the task and than each other: a process tails the task's changelogs
	// into its own copy of the stores, so that if the task fails over to it, it restores
	// only what it has not tailed yet.
	Standbys int
	// MaxWarmups bounds the warm-up replicas of one plan (0: none, and tasks move at
	// once). When balance would move a stateful task to a process whose copy of its
	// state is more than AcceptableLag behind the owner's, the task stays where it is
	// and the new process gets a warm-up replica instead (past MaxWarmups it only stays,
	// for a later plan); the task moves in a later rebalance, once the warm-up caught up
	// (the member holding it rejoins then: Replica.WarmUp).
	MaxWarmups int
	// AcceptableLag is how far, in changelog records (offset sums), a process's copy of
	// a task's state may be behind its owner's and still count as caught up.
	AcceptableLag int64
}

// SetReplication sets how the balancer places replicas; call it before the balancer is in
// use.
func (b *Balancer) SetReplication(r Replication) { b.replication = r }

// Replica is a task whose state a member keeps warm without running it: a standby, or a
// warm-up that is to take the task over once caught up.
type Replica struct {
	Task TaskID
	// WarmUp says the replica is there to take the task over: once caught up, the member
	// rejoins the group so that the leader moves the task.
	WarmUp bool
}

// Replicas is the replicas of the last assignment this member received (none before).
func (b *Balancer) Replicas() []Replica {
	if r := b.replicas.Load(); r != nil {
		return *r
	}
	return nil
}

// replicaPlan places the replicas of one balance.
type replicaPlan struct {
	cfg     Replication
	members []member
	// process is each member's process: its ProcessID, or its member id when unknown
	// (a member of another version), so that it still counts as a process of its own.
	process []string
	// count is the replicas planned per member; warmups the warm-ups planned.
	count   []int
	warmups int
	plan    map[int][]Replica // member index → replicas
}

func newReplicaPlan(cfg Replication, members []member) *replicaPlan {
	r := &replicaPlan{cfg: cfg, members: members, process: make([]string, len(members)),
		count: make([]int, len(members)), plan: map[int][]Replica{}}
	for i, m := range members {
		r.process[i] = cmp.Or(m.info.ProcessID, "member:"+m.join.MemberID)
	}
	return r
}

// warmUp keeps a stateful task with its owner when balance moves it to a process whose
// state is not caught up, and plans a warm-up replica there instead, at most MaxWarmups
// per plan; past those the task stays with its owner too, for a later plan to warm up
// (KIP-441). A task nobody ran (owner -1) moves freely: it runs nowhere, so waiting
// would stop it. MaxWarmups 0 moves every task at once.
func (r *replicaPlan) warmUp(sub *Subtopology, placed, owner []int) {
	if len(owner) != len(placed) || r.cfg.MaxWarmups <= 0 {
		return // nothing placed (no member can run the sub-topology), or no warm-ups
	}
	for p := range placed {
		to, from := placed[p], owner[p]
		if to < 0 || from < 0 || to == from || r.process[to] == r.process[from] {
			continue
		}
		task := TaskID{Subtopology: sub.ID, Partition: int32(p)}
		if r.caughtUp(task, to, from) {
			continue
		}
		placed[p] = from
		r.members[to].total--
		r.members[from].total++
		if r.warmups < r.cfg.MaxWarmups {
			r.add(to, Replica{Task: task, WarmUp: true})
			r.warmups++
		}
	}
}

// caughtUp reports whether member to's process holds task's state within AcceptableLag of
// what member from's process holds (none counts as offset sum 0, so a task whose whole
// changelog is within the lag moves at once). A task whose owner reports no state (it
// never committed) is caught up anywhere.
func (r *replicaPlan) caughtUp(task TaskID, to, from int) bool {
	have, ok := r.members[from].held[task]
	if !ok {
		return true
	}
	return r.members[to].held[task] >= have-r.cfg.AcceptableLag
}

func (r *replicaPlan) add(member int, rep Replica) {
	r.plan[member] = append(r.plan[member], rep)
	r.count[member]++
}

// addStandbys plans up to Standbys replicas of each placed task of sub, each on a process
// other than the task's and other replicas' (a warm-up counts as one), on members
// eligible for the sub-topology: first the processes that hold most of the task's state,
// so standbys stay where they are warm, then those with fewest replicas.
func (r *replicaPlan) addStandbys(sub *Subtopology, placed []int, eligible []bool) {
	if r.cfg.Standbys <= 0 {
		return
	}
	for p, active := range placed {
		if active < 0 {
			continue
		}
		task := TaskID{Subtopology: sub.ID, Partition: int32(p)}
		used := map[string]bool{r.process[active]: true}
		have := 0
		for m, reps := range r.plan {
			if slices.ContainsFunc(reps, func(x Replica) bool { return x.Task == task }) {
				used[r.process[m]] = true
				have++
			}
		}
		for ; have < r.cfg.Standbys; have++ {
			best := -1
			for i := range r.members {
				if !eligible[i] || used[r.process[i]] {
					continue
				}
				if best < 0 || r.better(task, i, best) {
					best = i
				}
			}
			if best < 0 {
				break // fewer processes than copies: a copy per process is the most
			}
			used[r.process[best]] = true
			r.add(best, Replica{Task: task})
		}
	}
}

// better reports whether member i is a better home for a standby of task than member j:
// more of the task's state, then fewer replicas, then member order.
func (r *replicaPlan) better(task TaskID, i, j int) bool {
	si, oki := r.members[i].held[task]
	sj, okj := r.members[j].held[task]
	if oki != okj {
		return oki
	}
	if oki && si != sj {
		return si > sj
	}
	if r.count[i] != r.count[j] {
		return r.count[i] < r.count[j]
	}
	return i < j // members are sorted (rule 4)
}

// byMember is the plan's replicas by member id, each member's sorted.
func (r *replicaPlan) byMember() map[string][]Replica {
	out := make(map[string][]Replica, len(r.plan))
	for m, reps := range r.plan {
		slices.SortFunc(reps, func(x, y Replica) int { return compareTasks(x.Task, y.Task) })
		out[r.members[m].join.MemberID] = reps
	}
	return out
}

// appendReplicas encodes a member's replicas after its assignment's hosts: their number
// as a uvarint, then each one's sub-topology and partition as varints and a flags byte
// (1: warm-up). A member of an earlier version reads the hosts and ignores the rest.
func appendReplicas(b []byte, reps []Replica) []byte {
	b = binary.AppendUvarint(b, uint64(len(reps)))
	for _, rep := range reps {
		b = binary.AppendVarint(b, int64(rep.Task.Subtopology))
		b = binary.AppendVarint(b, int64(rep.Task.Partition))
		var flags byte
		if rep.WarmUp {
			flags = 1
		}
		b = append(b, flags)
	}
	return b
}

// parseReplicas decodes what appendReplicas wrote; no bytes are no replicas (a leader of
// an earlier version).
func parseReplicas(data []byte) ([]Replica, error) {
	if len(data) == 0 {
		return nil, nil
	}
	bad := fmt.Errorf("assign: malformed replicas in an assignment")
	n, size := binary.Uvarint(data)
	if size <= 0 || n > uint64(len(data)-size)/3 {
		return nil, bad
	}
	rest := data[size:]
	reps := make([]Replica, 0, n)
	for range n {
		sub, s1 := binary.Varint(rest)
		if s1 <= 0 {
			return nil, bad
		}
		p, s2 := binary.Varint(rest[s1:])
		if s2 <= 0 || len(rest) < s1+s2+1 || int64(int32(p)) != p || int64(int(sub)) != sub {
			return nil, bad
		}
		reps = append(reps, Replica{Task: TaskID{int(sub), int32(p)}, WarmUp: rest[s1+s2]&1 != 0})
		rest = rest[s1+s2+1:]
	}
	return reps, nil
}
