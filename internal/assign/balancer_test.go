package assign

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestBalanceCoLocation(t *testing.T) {
	type shape struct {
		sizes, parts []int
	}
	var shapes []shape
	for size := 1; size <= 3; size++ {
		for parts := 1; parts <= 12; parts++ {
			shapes = append(shapes, shape{[]int{size}, []int{parts}})
		}
	}
	shapes = append(shapes,
		shape{[]int{1, 2, 3}, []int{1, 7, 12}},
		shape{[]int{3, 1, 2}, []int{5, 5, 5}},
		shape{[]int{2, 2, 2, 2}, []int{3, 1, 4, 11}},
	)
	for _, sh := range shapes {
		for n := 1; n <= 5; n++ {
			t.Run(fmt.Sprintf("topics%v/partitions%v/members%d", sh.sizes, sh.parts, n), func(t *testing.T) {
				subs, topics := layout(sh.sizes, sh.parts)
				ms := members(n)
				leader := NewBalancer(subs, MemberInfo{ProcessID: "leader"}, nil)
				first := mustBalance(t, leader, subs, ms, topics)
				checkPlan(t, subs, ms, topics, first, true)

				// Rule 3 in steady state: rejoining with the same owners changes nothing.
				ms = advance(ms, first, 1)
				second := mustBalance(t, leader, subs, ms, topics)
				checkPlan(t, subs, ms, topics, second, true)
				if !equalAssignments(first, second) {
					t.Errorf("steady-state rebalance moved tasks:\nfirst  %v\nsecond %v", first, second)
				}
			})
		}
	}
}

func TestBalanceMemberJoins(t *testing.T) {
	tests := []struct {
		sizes, parts []int
		before       int // members before one joins
	}{
		{[]int{1}, []int{12}, 1},
		{[]int{2}, []int{12}, 2},
		{[]int{3, 2, 1}, []int{12, 12, 12}, 2},
		{[]int{2, 1, 3}, []int{7, 5, 11}, 3},
		{[]int{1, 2}, []int{3, 1}, 4},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("topics%v/partitions%v/%d+1", tt.sizes, tt.parts, tt.before), func(t *testing.T) {
			subs, topics := layout(tt.sizes, tt.parts)
			all := members(tt.before + 1)
			joiner := all[tt.before]
			leader := NewBalancer(subs, MemberInfo{}, nil)

			old := all[:tt.before]
			start := mustBalance(t, leader, subs, old, topics)
			ms := append(advance(old, start, 1), joiner)

			// Round 1 after the join: the tasks the joiner is to get are revoked from their
			// owners but withheld from the joiner until the owners let go of them.
			r1 := mustBalance(t, leader, subs, ms, topics)
			checkPlan(t, subs, ms, topics, r1, false)
			if got := len(NewBalancer(subs, MemberInfo{}, nil).Tasks(r1[joiner.id])); got != 0 {
				t.Errorf("joiner got %d tasks while their owners still hold them: %v", got, r1[joiner.id])
			}
			before, after := taskOwners(subs, start), taskOwners(subs, r1)
			var withheld []TaskID
			for task, owners := range before {
				switch now := after[task]; {
				case len(now) == 0:
					withheld = append(withheld, task)
				case !slices.Equal(now, owners):
					t.Errorf("task %v moved between old members: %v → %v", task, owners, now)
				}
			}

			// Round 2: the owners have revoked; the joiner gets exactly what was withheld.
			ms = advance(ms, r1, 2)
			r2 := mustBalance(t, leader, subs, ms, topics)
			checkPlan(t, subs, ms, topics, r2, true)
			got := NewBalancer(subs, MemberInfo{}, nil).Tasks(r2[joiner.id])
			slices.SortFunc(withheld, compareTasks)
			if !slices.Equal(got, withheld) {
				t.Errorf("joiner got %v, want the withheld %v", got, withheld)
			}
			for _, m := range ms[:tt.before] {
				if !equalAssignments(assignment{m.id: r1[m.id]}, assignment{m.id: r2[m.id]}) {
					t.Errorf("%s changed in round 2: %v → %v", m.id, r1[m.id], r2[m.id])
				}
			}

			// Minimal movement: only the joiner's tasks moved, and per sub-topology it got
			// no more than the ceiling of its share (less would break balance, which
			// checkPlan covers).
			for _, s := range subs {
				n := int(topics[s.Topics[0]])
				if c := memberTasks(subs, r2)[joiner.id][s.ID]; c > (n+tt.before)/(tt.before+1) {
					t.Errorf("sub-topology %d: joiner got %d of %d tasks over %d members", s.ID, c, n, tt.before+1)
				}
			}

			// Round 3: settled.
			ms = advance(ms, r2, 3)
			r3 := mustBalance(t, leader, subs, ms, topics)
			if !equalAssignments(r2, r3) {
				t.Errorf("settled group moved tasks:\n%v\n%v", r2, r3)
			}
		})
	}
}

func TestBalanceMemberLeaves(t *testing.T) {
	subs, topics := layout([]int{2, 1, 3}, []int{12, 7, 5})
	leader := NewBalancer(subs, MemberInfo{}, nil)
	ms := members(4)
	start := mustBalance(t, leader, subs, ms, topics)
	ms = advance(ms, start, 1)

	left := ms[1]
	rest := slices.Delete(slices.Clone(ms), 1, 2)
	got := mustBalance(t, leader, subs, rest, topics)
	// Nobody left holds the departed member's tasks, so nothing is withheld.
	checkPlan(t, subs, rest, topics, got, true)
	for _, m := range rest {
		kept := NewBalancer(subs, MemberInfo{}, nil).Tasks(got[m.id])
		for _, task := range NewBalancer(subs, MemberInfo{}, nil).Tasks(m.owned) {
			if _, ok := slices.BinarySearchFunc(kept, task, compareTasks); !ok {
				t.Errorf("%s lost %v although only %s left", m.id, task, left.id)
			}
		}
	}
}

func TestBalanceKeepsBalancedOwners(t *testing.T) {
	// Ownerships a fresh balance would not have chosen, but balanced: they stay.
	tests := []struct {
		name         string
		sizes, parts []int
		owners       [][]int // owners[i][p]: the member owning task (i, p)
	}{
		{
			name:  "reversed and rotated",
			sizes: []int{2, 1}, parts: []int{6, 6},
			owners: [][]int{{0, 2, 1, 0, 2, 1}, {2, 1, 0, 2, 1, 0}},
		},
		{
			// A fresh balance gives m00 the extra task; here m01 has it, and keeps it.
			name:  "extra task on a later member",
			sizes: []int{3}, parts: []int{5},
			owners: [][]int{{0, 0, 1, 1, 1}},
		},
		{
			// Each sub-topology's extra task sits on another member; totals are even.
			name:  "extras spread over sub-topologies",
			sizes: []int{1, 2, 1}, parts: []int{4, 4, 4},
			owners: [][]int{{0, 1, 2, 2}, {0, 1, 1, 2}, {0, 0, 1, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subs, topics := layout(tt.sizes, tt.parts)
			n := 0
			for _, owners := range tt.owners {
				n = max(n, slices.Max(owners)+1)
			}
			ms := members(n)
			want := make(assignment)
			for i := range ms {
				ms[i].owned, ms[i].gen = make(map[string][]int32), 4
				want[ms[i].id] = ms[i].owned
			}
			for i, owners := range tt.owners {
				for p, m := range owners {
					for _, topic := range subs[i].Topics {
						ms[m].owned[topic] = append(ms[m].owned[topic], int32(p))
					}
				}
			}
			got := mustBalance(t, NewBalancer(subs, MemberInfo{}, nil), subs, ms, topics)
			checkPlan(t, subs, ms, topics, got, true)
			if !equalAssignments(got, want) {
				t.Errorf("balanced owners moved:\ngot  %v\nwant %v", got, want)
			}
		})
	}
}

func TestBalanceOverloadedOwner(t *testing.T) {
	// One member owns everything; two join. It keeps its share and loses the rest, which
	// reach the others one round later.
	subs, topics := layout([]int{2}, []int{9})
	ms := members(3)
	ms[0].owned, ms[0].gen = map[string][]int32{"s0-t0": {0, 1, 2, 3, 4, 5, 6, 7, 8}, "s0-t1": {0, 1, 2, 3, 4, 5, 6, 7, 8}}, 1
	leader := NewBalancer(subs, MemberInfo{}, nil)
	r1 := mustBalance(t, leader, subs, ms, topics)
	checkPlan(t, subs, ms, topics, r1, false)
	if c := memberTasks(subs, r1); c[ms[0].id][0] != 3 || c[ms[1].id][0] != 0 || c[ms[2].id][0] != 0 {
		t.Errorf("round 1 counts %v, want m00 keeping 3 and the rest withheld", c)
	}
	ms = advance(ms, r1, 2)
	r2 := mustBalance(t, leader, subs, ms, topics)
	checkPlan(t, subs, ms, topics, r2, true)
	if !equalAssignments(assignment{"m00": r1["m00"]}, assignment{"m00": r2["m00"]}) {
		t.Errorf("m00 changed in round 2: %v → %v", r1["m00"], r2["m00"])
	}
}

func TestBalanceStaleClaim(t *testing.T) {
	// m00 claims task 0_0 from generation 1, m01 from generation 5: m01 owns it now, and
	// the task stays there.
	subs, topics := layout([]int{2}, []int{2})
	ms := members(2)
	ms[0].owned, ms[0].gen = map[string][]int32{"s0-t0": {0}, "s0-t1": {0}}, 1
	ms[1].owned, ms[1].gen = map[string][]int32{"s0-t0": {0}, "s0-t1": {0}}, 5
	got := mustBalance(t, NewBalancer(subs, MemberInfo{}, nil), subs, ms, topics)
	checkPlan(t, subs, ms, topics, got, true)
	if tasks := NewBalancer(subs, MemberInfo{}, nil).Tasks(got["m01"]); !slices.Equal(tasks, []TaskID{{0, 0}}) {
		t.Errorf("m01 got %v, want [0_0]", tasks)
	}
}

func TestBalanceDeterministic(t *testing.T) {
	subs, topics := layout([]int{1, 2, 3}, []int{5, 7, 3})
	ms := members(4)
	ms[2].owned, ms[2].gen = map[string][]int32{"s1-t0": {1, 2}, "s1-t1": {1, 2}}, 3
	leader := NewBalancer(subs, MemberInfo{}, nil)
	encode := func(ms []testMember) []byte {
		joins := make([]kmsg.JoinGroupResponseMember, len(ms))
		for i, m := range ms {
			joins[i] = joinMember(t, subs, m)
		}
		mb, _, err := leader.MemberBalancer(joins)
		if err != nil {
			t.Fatal(err)
		}
		into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, sa := range into.IntoSyncAssignment() {
			fmt.Fprintf(&buf, "%s=%x\n", sa.MemberID, sa.MemberAssignment)
		}
		return buf.Bytes()
	}
	want := encode(ms)
	reversed := slices.Clone(ms)
	slices.Reverse(reversed)
	rotated := append(slices.Clone(ms[2:]), ms[:2]...)
	for _, order := range [][]testMember{ms, reversed, rotated} {
		if got := encode(order); !bytes.Equal(got, want) {
			t.Errorf("plan depends on member order:\n%s\nwant\n%s", got, want)
		}
	}
}

func TestBalanceErrors(t *testing.T) {
	tests := []struct {
		name     string
		subs     []Subtopology
		topics   map[string]int32
		want     error
		contains []string
	}{
		{
			name:     "partition counts differ",
			subs:     []Subtopology{{ID: 0, Topics: []string{"x"}}, {ID: 1, Topics: []string{"orders", "customers"}}},
			topics:   map[string]int32{"x": 2, "orders": 3, "customers": 4},
			want:     ErrNotCoPartitioned,
			contains: []string{"sub-topology 1", "orders has 3 partitions", "customers has 4 partitions"},
		},
		{
			name:     "topics missing",
			subs:     []Subtopology{{ID: 2, Topics: []string{"a", "b", "c"}}},
			topics:   map[string]int32{"a": 3},
			want:     ErrUnknownTopic,
			contains: []string{"sub-topology 2", "b, c"},
		},
		{
			name:     "topic in two sub-topologies",
			subs:     []Subtopology{{ID: 0, Topics: []string{"a"}}, {ID: 1, Topics: []string{"b", "a"}}},
			topics:   map[string]int32{"a": 1, "b": 1},
			want:     ErrSubtopologies,
			contains: []string{`"a"`, "0 and 1"},
		},
		{
			name:     "duplicate id",
			subs:     []Subtopology{{ID: 3, Topics: []string{"a"}}, {ID: 3, Topics: []string{"b"}}},
			topics:   map[string]int32{"a": 1, "b": 1},
			want:     ErrSubtopologies,
			contains: []string{"id 3 used twice"},
		},
		{
			name:     "negative id",
			subs:     []Subtopology{{ID: -1, Topics: []string{"a"}}},
			topics:   map[string]int32{"a": 1},
			want:     ErrSubtopologies,
			contains: []string{"negative"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := members(2)
			_, err := balance(t, NewBalancer(tt.subs, MemberInfo{}, nil), tt.subs, ms, tt.topics)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestBalanceUnreadableUserData(t *testing.T) {
	subs, topics := layout([]int{2, 1}, []int{6, 4})
	ms := members(4)
	ms[0].userData = []byte{0xff, 0xfe, 0xfd} // no valid varint
	ms[1].userData = []byte{}                 // empty
	ms[2].userData = []byte{0, 3, 'a'}        // version 0
	got := mustBalance(t, NewBalancer(subs, MemberInfo{}, nil), subs, ms, topics)
	checkPlan(t, subs, ms, topics, got, true)
	for _, m := range ms {
		if len(NewBalancer(subs, MemberInfo{}, nil).Tasks(got[m.id])) == 0 {
			t.Errorf("%s got no tasks", m.id)
		}
	}
}

func TestBalanceSubscriptions(t *testing.T) {
	subs := []Subtopology{
		{ID: 0, Topics: []string{"a"}},
		{ID: 1, Topics: []string{"b", "c"}},
		{ID: 2, Topics: []string{"d"}},
	}
	topics := map[string]int32{"a": 6, "b": 6, "c": 6, "d": 4}
	ms := []testMember{
		{id: "m0", topics: []string{"a", "b", "c"}, gen: -1},
		{id: "m1", topics: []string{"a", "b"}, gen: -1}, // lacks c: none of sub-topology 1
		{id: "m2", topics: []string{"a", "b", "c", "x"}, gen: -1},
	}
	leader := NewBalancer(subs, MemberInfo{}, nil)
	got := mustBalance(t, leader, subs, ms, topics)
	checkPlan(t, subs, ms, topics, got, false) // nobody can run sub-topology 2
	counts := memberTasks(subs, got)
	if counts["m1"][1] != 0 {
		t.Errorf("m1 lacks topic c but got %d tasks of sub-topology 1", counts["m1"][1])
	}
	if counts["m1"][0] != 2 || counts["m0"][1] != 3 || counts["m2"][1] != 3 {
		t.Errorf("counts %v, want m1 with 2 of sub-topology 0 and sub-topology 1 split 3/3", counts)
	}
	if owners := taskOwners(subs, got); len(owners[TaskID{2, 0}]) != 0 {
		t.Errorf("sub-topology 2 assigned to %v, but no member subscribes to d", owners[TaskID{2, 0}])
	}

	// m0 drops c from its subscription: its sub-topology 1 tasks are revoked first and
	// reach m2 one round later.
	ms = advance(ms, got, 1)
	ms[0].topics = []string{"a", "b"}
	r1 := mustBalance(t, leader, subs, ms, topics)
	checkPlan(t, subs, ms, topics, r1, false)
	if c := memberTasks(subs, r1); c["m0"][1] != 0 || c["m2"][1] != 3 {
		t.Errorf("after m0 unsubscribes, counts %v; want m0 none of sub-topology 1, m2 keeping its 3", c)
	}
	r2 := mustBalance(t, leader, subs, advance(ms, r1, 2), topics)
	if c := memberTasks(subs, r2); c["m2"][1] != 6 {
		t.Errorf("second round counts %v, want all 6 tasks of sub-topology 1 on m2", c)
	}
}

func TestMemberBalancerTopics(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"a", "b"}}, {ID: 1, Topics: []string{"c"}}}
	b := NewBalancer(subs, MemberInfo{}, nil)
	joins := []kmsg.JoinGroupResponseMember{joinMember(t, subs, testMember{id: "m", topics: []string{"a", "z"}})}
	_, topics, err := b.MemberBalancer(joins)
	if err != nil {
		t.Fatal(err)
	}
	// The leader needs the counts of all sub-topology topics to check co-partitioning,
	// not only of the topics members subscribe to.
	if got, want := slices.Sorted(maps.Keys(topics)), []string{"a", "b", "c", "z"}; !slices.Equal(got, want) {
		t.Errorf("topics = %v, want %v", got, want)
	}

	if _, _, err := b.MemberBalancer([]kmsg.JoinGroupResponseMember{{MemberID: "bad", ProtocolMetadata: []byte{0, 3}}}); err == nil {
		t.Error("unreadable consumer metadata: no error")
	}
}

func TestJoinGroupMetadata(t *testing.T) {
	info := MemberInfo{ProcessID: "proc-7", Worker: 2}
	b := NewBalancer([]Subtopology{{ID: 0, Topics: []string{"a", "b"}}}, info, nil)
	owned := map[string][]int32{"b": {1, 4}, "a": {1, 4}}
	data := b.JoinGroupMetadata([]string{"a", "b"}, owned, 12)
	if again := b.JoinGroupMetadata([]string{"a", "b"}, owned, 12); !bytes.Equal(data, again) {
		t.Error("JoinGroupMetadata is not deterministic")
	}

	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(data); err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if meta.Version != 3 || meta.Generation != 12 || !slices.Equal(meta.Topics, []string{"a", "b"}) {
		t.Errorf("metadata = version %d generation %d topics %v", meta.Version, meta.Generation, meta.Topics)
	}
	if len(meta.OwnedPartitions) != 2 || meta.OwnedPartitions[0].Topic != "a" || meta.OwnedPartitions[1].Topic != "b" ||
		!slices.Equal(meta.OwnedPartitions[0].Partitions, []int32{1, 4}) {
		t.Errorf("owned partitions = %+v, want a and b, sorted", meta.OwnedPartitions)
	}
	var got MemberInfo
	if err := got.UnmarshalBinary(meta.UserData); err != nil || !reflect.DeepEqual(got, info) {
		t.Errorf("UserData decodes to %+v, %v; want %+v", got, err, info)
	}
	if b.ProtocolName() != "eddy-tasks-v1" || !b.IsCooperative() {
		t.Errorf("ProtocolName %q, IsCooperative %v", b.ProtocolName(), b.IsCooperative())
	}
}

func BenchmarkBalance(b *testing.B) {
	subs, topics := layout([]int{2, 1, 3}, []int{64, 64, 64})
	ms := members(10)
	leader := NewBalancer(subs, MemberInfo{}, nil)
	// Steady state: every member owns what a fresh balance gave it, as in most rebalances.
	joins := make([]kmsg.JoinGroupResponseMember, len(ms))
	first := mustBalance(b, leader, subs, ms, topics)
	for i, m := range advance(ms, first, 1) {
		joins[i] = joinMember(b, subs, m)
	}
	b.ReportAllocs()
	for b.Loop() {
		mb, _, err := leader.MemberBalancer(joins)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBalanceReunitesSplitTask(t *testing.T) {
	// A group coming from a balancer that splits tasks: each task goes to the member
	// holding most of its partitions, and the rest follow once revoked.
	subs, topics := layout([]int{3}, []int{2})
	ms := members(2)
	ms[0].owned = map[string][]int32{"s0-t0": {0}, "s0-t1": {1}, "s0-t2": {1}}
	ms[1].owned = map[string][]int32{"s0-t0": {1}, "s0-t1": {0}, "s0-t2": {0}}
	ms[0].gen, ms[1].gen = 3, 3
	leader := NewBalancer(subs, MemberInfo{}, nil)
	r1 := mustBalance(t, leader, subs, ms, topics)
	// The held partitions stay; the moving ones are withheld for a round.
	want1 := assignment{
		"m00": {"s0-t1": {1}, "s0-t2": {1}},
		"m01": {"s0-t1": {0}, "s0-t2": {0}},
	}
	if !equalAssignments(r1, want1) {
		t.Errorf("round 1:\ngot  %v\nwant %v", r1, want1)
	}
	r2 := mustBalance(t, leader, subs, advance(ms, r1, 4), topics)
	checkPlan(t, subs, ms, topics, r2, true)
	want2 := assignment{
		"m00": {"s0-t0": {1}, "s0-t1": {1}, "s0-t2": {1}},
		"m01": {"s0-t0": {0}, "s0-t1": {0}, "s0-t2": {0}},
	}
	if !equalAssignments(r2, want2) {
		t.Errorf("round 2:\ngot  %v\nwant %v", r2, want2)
	}
}

// A task nobody claims goes to the member whose process holds its state, the most of
// it when several do; one whose state nobody holds fills the members below quota.
func TestBalanceFollowsLocalState(t *testing.T) {
	subs, topics := layout([]int{1}, []int{4})
	sum := func(p int32, n int64) TaskOffsets { return TaskOffsets{TaskID{0, p}, n} }
	ms := []testMember{
		{id: "a", state: []TaskOffsets{sum(3, 10)}},
		{id: "b", state: []TaskOffsets{sum(0, 500), sum(3, 900)}},
		{id: "c", state: []TaskOffsets{sum(0, 100), sum(1, 5)}},
	}
	got := mustBalance(t, NewBalancer(subs, MemberInfo{}, nil), subs, ms, topics)
	checkPlan(t, subs, ms, topics, got, true)
	owners := taskOwners(subs, got)
	want := map[TaskID]string{{0, 0}: "b", {0, 1}: "c", {0, 3}: "b"}
	for task, m := range want {
		if o := owners[task]; len(o) != 1 || o[0] != m {
			t.Errorf("task %s went to %v, want %s (whose process holds the most of its state)", task, o, m)
		}
	}
	if o := owners[TaskID{0, 2}]; len(o) != 1 || o[0] != "a" {
		t.Errorf("task 0_2, held by nobody, went to %v, want a (the member below quota)", o)
	}
	// A claim beats state: the owner keeps its task.
	ms[0].owned = map[string][]int32{"s0-t0": {0}}
	ms[0].gen = 3
	got = mustBalance(t, NewBalancer(subs, MemberInfo{}, nil), subs, ms, topics)
	if o := taskOwners(subs, got)[TaskID{0, 0}]; len(o) != 1 || o[0] != "a" {
		t.Errorf("claimed task 0_0 went to %v, want its owner a", o)
	}
}

// Static members sort by instance id: the same instances give the same plan whatever
// member ids their restarts were given.
func TestBalanceStaticMembersKeepTheirPlan(t *testing.T) {
	subs, topics := layout([]int{2}, []int{5, 3})
	ms := []testMember{{id: "m-1", instance: "host-b"}, {id: "m-2", instance: "host-a"}, {id: "m-3", instance: "host-c"}}
	first := mustBalance(t, NewBalancer(subs, MemberInfo{}, nil), subs, ms, topics)
	ms2 := []testMember{{id: "z-9", instance: "host-b"}, {id: "a-0", instance: "host-a"}, {id: "q-5", instance: "host-c"}}
	second := mustBalance(t, NewBalancer(subs, MemberInfo{}, nil), subs, ms2, topics)
	rename := map[string]string{"z-9": "m-1", "a-0": "m-2", "q-5": "m-3"}
	renamed := assignment{}
	for id, a := range second {
		renamed[rename[id]] = a
	}
	if !equalAssignments(first, renamed) {
		t.Errorf("plans differ with new member ids:\n%v\n%v", first, renamed)
	}
}

// Every member's assignment carries the plan's hosts: which endpoint runs each task.
func TestAssignmentsCarryHosts(t *testing.T) {
	subs, topics := layout([]int{1, 2}, []int{3, 2})
	ms := []testMember{{id: "a", endpoint: "a.local:80"}, {id: "b", endpoint: "b.local:80"}, {id: "c"}}
	leader := NewBalancer(subs, MemberInfo{}, nil)
	joins := make([]kmsg.JoinGroupResponseMember, len(ms))
	for i, m := range ms {
		joins[i] = joinMember(t, subs, m)
	}
	mb, _, err := leader.MemberBalancer(joins)
	if err != nil {
		t.Fatal(err)
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		t.Fatal(err)
	}
	endpoints := map[string]string{"a": "a.local:80", "b": "b.local:80"}
	for _, sa := range into.IntoSyncAssignment() {
		member := NewBalancer(subs, MemberInfo{}, nil)
		got, err := member.ParseSyncAssignment(sa.MemberAssignment)
		if err != nil {
			t.Fatal(err)
		}
		hosts := member.Hosts()
		want := 0
		for id, a := range into.(withHosts).plan.AsMemberIDMap() {
			for _, task := range member.Tasks(a) {
				if e, ok := endpoints[id]; ok {
					want++
					if hosts[task] != e {
						t.Errorf("member %s reads task %s on %q, want %q", sa.MemberID, task, hosts[task], e)
					}
				} else if _, ok := hosts[task]; ok {
					t.Errorf("task %s of member %s, which advertises nothing, has host %q", task, id, hosts[task])
				}
			}
		}
		if len(hosts) != want || want == 0 {
			t.Errorf("member %s reads %d hosts, want %d", sa.MemberID, len(hosts), want)
		}
		if len(got) == 0 && sa.MemberID != "c" {
			t.Errorf("member %s has no partitions", sa.MemberID)
		}
	}
	// Hosts encode deterministically and read back.
	h := Hosts{{0, 1}: "x:1", {1, 0}: "y:2", {0, 0}: "x:1"}
	if enc := appendHosts(nil, h); string(enc) != string(appendHosts(nil, maps.Clone(h))) {
		t.Error("equal hosts encode differently")
	} else if back, _, err := parseHosts(enc); err != nil || !maps.Equal(back, h) {
		t.Errorf("hosts read back as %v, %v", back, err)
	}
	if _, _, err := parseHosts([]byte{1, 9, 200}); err == nil {
		t.Error("malformed hosts read without an error")
	}
}
