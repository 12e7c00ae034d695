package assign

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The harness runs rebalances the way a group does: each member writes its join metadata
// with its own Balancer, the leader balances, and each member parses its assignment.

// assignment is a balance result: member id → topic → partitions.
type assignment map[string]map[string][]int32

// testMember is one member as it joins a rebalance.
type testMember struct {
	id     string
	topics []string           // subscription; all sub-topologies' topics when nil
	owned  map[string][]int32 // what it owned going into the rebalance
	gen    int32
	// userData, when non-nil, replaces the UserData JoinGroupMetadata wrote; it stands in
	// for members of other versions or corrupt records.
	userData []byte
	// state is the local state the member's process reports; instance its instance id
	// (static membership), "" for none.
	state    []TaskOffsets
	instance string
	endpoint string
	// process is the member's process id, "process-<id>" when empty.
	process string
}

// joinMember encodes m as the coordinator hands it to the leader, with metadata written by
// the member's own Balancer, so the encoding is tested end to end.
func joinMember(t testing.TB, subs []Subtopology, m testMember) kmsg.JoinGroupResponseMember {
	t.Helper()
	topics := m.topics
	if topics == nil {
		for _, s := range subs {
			topics = append(topics, s.Topics...)
		}
	}
	topics = slices.Clone(topics)
	slices.Sort(topics) // franz-go sorts interests before JoinGroupMetadata
	owned := make(map[string][]int32, len(m.owned))
	for topic, ps := range m.owned {
		owned[topic] = slices.Sorted(slices.Values(ps))
	}
	var state func() []TaskOffsets
	if m.state != nil {
		state = func() []TaskOffsets { return m.state }
	}
	process := m.process
	if process == "" {
		process = "process-" + m.id
	}
	meta := NewBalancer(subs, MemberInfo{ProcessID: process, Endpoint: m.endpoint}, state).JoinGroupMetadata(topics, owned, m.gen)
	if m.userData != nil {
		var cm kmsg.ConsumerMemberMetadata
		if err := cm.ReadFrom(meta); err != nil {
			t.Fatalf("reading our own join metadata: %v", err)
		}
		cm.UserData = m.userData
		meta = cm.AppendTo(nil)
	}
	jm := kmsg.NewJoinGroupResponseMember()
	jm.MemberID = m.id
	jm.ProtocolMetadata = meta
	if m.instance != "" {
		jm.InstanceID = &m.instance
	}
	return jm
}

// balance runs one rebalance with leader as the group leader and returns each member's
// assignment as the member itself would parse it.
func balance(t testing.TB, leader *Balancer, subs []Subtopology, ms []testMember, topics map[string]int32) (assignment, error) {
	t.Helper()
	got, _, err := balanceAll(t, leader, subs, ms, topics)
	return got, err
}

// balanceAll is balance that also returns each member's replicas, as the member parses
// them from its assignment with a Balancer of its own.
func balanceAll(t testing.TB, leader *Balancer, subs []Subtopology, ms []testMember, topics map[string]int32) (assignment, map[string][]Replica, error) {
	t.Helper()
	joins := make([]kmsg.JoinGroupResponseMember, len(ms))
	for i, m := range ms {
		joins[i] = joinMember(t, subs, m)
	}
	mb, _, err := leader.MemberBalancer(joins)
	if err != nil {
		t.Fatalf("MemberBalancer: %v", err)
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		return nil, nil, err
	}
	got, reps := make(assignment), map[string][]Replica{}
	for _, sa := range into.IntoSyncAssignment() {
		member := NewBalancer(subs, MemberInfo{}, nil)
		a, err := member.ParseSyncAssignment(sa.MemberAssignment)
		if err != nil {
			t.Fatalf("ParseSyncAssignment(%s): %v", sa.MemberID, err)
		}
		got[sa.MemberID], reps[sa.MemberID] = a, member.Replicas()
	}
	return got, reps, nil
}

// mustBalance is balance for rebalances that must succeed.
func mustBalance(t testing.TB, leader *Balancer, subs []Subtopology, ms []testMember, topics map[string]int32) assignment {
	t.Helper()
	a, err := balance(t, leader, subs, ms, topics)
	if err != nil {
		t.Fatalf("BalanceOrError: %v", err)
	}
	return a
}

// advance returns the members as they rejoin after receiving a: each owns exactly what it
// was assigned (a cooperative member revokes what it lost and keeps the rest).
func advance(ms []testMember, a assignment, gen int32) []testMember {
	next := make([]testMember, len(ms))
	for i, m := range ms {
		m.owned = a[m.id]
		m.gen = gen
		next[i] = m
	}
	return next
}

// taskOwners maps each task to the members holding any of its partitions in a.
func taskOwners(subs []Subtopology, a assignment) map[TaskID][]string {
	b := NewBalancer(subs, MemberInfo{}, nil)
	owners := make(map[TaskID][]string)
	for _, id := range slices.Sorted(maps.Keys(a)) {
		for _, task := range b.Tasks(a[id]) {
			owners[task] = append(owners[task], id)
		}
	}
	return owners
}

// memberTasks counts the tasks per member per sub-topology in a.
func memberTasks(subs []Subtopology, a assignment) map[string]map[int]int {
	b := NewBalancer(subs, MemberInfo{}, nil)
	counts := make(map[string]map[int]int)
	for id, topics := range a {
		counts[id] = make(map[int]int)
		for _, task := range b.Tasks(topics) {
			counts[id][task.Subtopology]++
		}
	}
	return counts
}

func subscribes(subs []Subtopology, m testMember, s Subtopology) bool {
	if m.topics == nil {
		return true
	}
	for _, t := range s.Topics {
		if !slices.Contains(m.topics, t) {
			return false
		}
	}
	return true
}

// checkPlan checks the invariants every plan keeps: partition p of all a sub-topology's
// topics on one member, no partition twice, no task on a member lacking its topics. With
// complete, it also checks that every task is assigned, and balance: per sub-topology the
// eligible members' counts differ by at most one, and so do totals when every member is
// eligible for everything.
func checkPlan(t *testing.T, subs []Subtopology, ms []testMember, topics map[string]int32, a assignment, complete bool) {
	t.Helper()
	byID := make(map[string]testMember)
	for _, m := range ms {
		byID[m.id] = m
	}
	seen := make(map[string]map[int32]string)
	for id, tps := range a {
		for topic, ps := range tps {
			if seen[topic] == nil {
				seen[topic] = make(map[int32]string)
			}
			for _, p := range ps {
				if other, dup := seen[topic][p]; dup {
					t.Errorf("%s[%d] assigned to both %s and %s", topic, p, other, id)
				}
				seen[topic][p] = id
			}
		}
	}
	for _, s := range subs {
		for p := range topics[s.Topics[0]] {
			owner, ok := seen[s.Topics[0]][p]
			for _, topic := range s.Topics[1:] {
				if o, ok2 := seen[topic][p]; o != owner || ok2 != ok {
					t.Errorf("task %v split: %s[%d] on %q, %s[%d] on %q", TaskID{s.ID, p}, s.Topics[0], p, owner, topic, p, o)
				}
			}
			if ok && !subscribes(subs, byID[owner], s) {
				t.Errorf("task %v on %s, which does not subscribe to all of %v", TaskID{s.ID, p}, owner, s.Topics)
			}
			if complete && !ok {
				t.Errorf("task %v not assigned", TaskID{s.ID, p})
			}
		}
	}
	if !complete {
		return
	}
	counts := memberTasks(subs, a)
	everyoneEligible := true
	for _, s := range subs {
		lo, hi := -1, 0
		for _, m := range ms {
			if !subscribes(subs, m, s) {
				everyoneEligible = false
				continue
			}
			c := counts[m.id][s.ID]
			if lo < 0 || c < lo {
				lo = c
			}
			hi = max(hi, c)
		}
		if lo >= 0 && hi-lo > 1 {
			t.Errorf("sub-topology %d unbalanced: counts %v", s.ID, counts)
		}
	}
	if everyoneEligible && len(ms) > 0 {
		var totals []int
		for _, m := range ms {
			total := 0
			for _, c := range counts[m.id] {
				total += c
			}
			totals = append(totals, total)
		}
		if slices.Max(totals)-slices.Min(totals) > 1 {
			t.Errorf("totals unbalanced: %v", totals)
		}
	}
}

// layout builds sub-topologies: sizes[i] topics for sub-topology i, each with parts[i]
// partitions.
func layout(sizes, parts []int) ([]Subtopology, map[string]int32) {
	var subs []Subtopology
	topics := make(map[string]int32)
	for i, n := range sizes {
		s := Subtopology{ID: i}
		for j := range n {
			topic := fmt.Sprintf("s%d-t%d", i, j)
			s.Topics = append(s.Topics, topic)
			topics[topic] = int32(parts[i])
		}
		subs = append(subs, s)
	}
	return subs, topics
}

func members(n int) []testMember {
	ms := make([]testMember, n)
	for i := range ms {
		ms[i] = testMember{id: fmt.Sprintf("m%02d", i), gen: -1}
	}
	return ms
}

func equalAssignments(x, y assignment) bool {
	norm := func(a assignment) string {
		var sb strings.Builder
		for _, id := range slices.Sorted(maps.Keys(a)) {
			for _, topic := range slices.Sorted(maps.Keys(a[id])) {
				if len(a[id][topic]) > 0 {
					fmt.Fprintf(&sb, "%s/%s%v;", id, topic, slices.Sorted(slices.Values(a[id][topic])))
				}
			}
		}
		return sb.String()
	}
	return norm(x) == norm(y)
}
