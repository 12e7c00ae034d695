package assign

import (
	"fmt"
	"slices"
	"testing"
)

// balanceReplicas is balanceAll with a leader that places replicas as r says.
func balanceReplicas(t *testing.T, r Replication, subs []Subtopology, ms []testMember, topics map[string]int32) (assignment, map[string][]Replica) {
	t.Helper()
	leader := NewBalancer(subs, MemberInfo{}, nil)
	leader.SetReplication(r)
	got, reps, err := balanceAll(t, leader, subs, ms, topics)
	if err != nil {
		t.Fatal(err)
	}
	return got, reps
}

// processOf maps member ids to their process as the test members set it.
func processOf(ms []testMember) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		out[m.id] = m.process
	}
	return out
}

// Each stateful task gets its standbys on other processes than its own and each other's,
// spread evenly; a process of two workers is one process; stateless tasks get none.
func TestStandbysOnOtherProcesses(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}, Stateful: true}, {ID: 1, Topics: []string{"plain"}}}
	topics := map[string]int32{"in": 6, "plain": 6}
	var ms []testMember
	for _, p := range []string{"p1", "p2", "p3"} {
		for w := range 2 {
			ms = append(ms, testMember{id: fmt.Sprintf("%s-w%d", p, w), process: p})
		}
	}
	a, reps := balanceReplicas(t, Replication{Standbys: 2}, subs, ms, topics)
	proc := processOf(ms)
	owners := taskOwners(subs, a)
	copies := map[TaskID][]string{}
	perProcess := map[string]int{}
	for id, rs := range reps {
		for _, r := range rs {
			if r.Task.Subtopology != 0 {
				t.Errorf("member %s has a replica of stateless task %s", id, r.Task)
			}
			if r.WarmUp {
				t.Errorf("member %s has a warm-up of %s; nothing moved", id, r.Task)
			}
			copies[r.Task] = append(copies[r.Task], proc[id])
			perProcess[proc[id]]++
		}
	}
	for p := range int32(6) {
		task := TaskID{0, p}
		got := copies[task]
		if len(got) != 2 {
			t.Fatalf("task %s has %d standbys, want 2: %v", task, len(got), got)
		}
		active := proc[owners[task][0]]
		if slices.Contains(got, active) || got[0] == got[1] {
			t.Errorf("task %s runs on %s and has standbys on %v: copies must be on distinct processes", task, active, got)
		}
	}
	for p, n := range perProcess {
		if n != 4 {
			t.Errorf("process %s holds %d standbys, want 4 of 12", p, n)
		}
	}
}

// With one process there is nowhere to put a standby; with more copies asked than other
// processes there is one copy per process.
func TestStandbysBoundedByProcesses(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}, Stateful: true}}
	topics := map[string]int32{"in": 4}
	one := []testMember{{id: "a", process: "p1"}, {id: "b", process: "p1"}}
	if _, reps := balanceReplicas(t, Replication{Standbys: 1}, subs, one, topics); len(reps["a"])+len(reps["b"]) != 0 {
		t.Errorf("one process got standbys: %v", reps)
	}
	two := []testMember{{id: "a", process: "p1"}, {id: "b", process: "p2"}}
	_, reps := balanceReplicas(t, Replication{Standbys: 3}, subs, two, topics)
	if n := len(reps["a"]) + len(reps["b"]); n != 4 {
		t.Errorf("two processes, 4 tasks, 3 standbys asked: %d standbys, want 4 (one each)", n)
	}
}

// A standby stays with the process that holds the task's state (the one it tailed), and
// when the task's owner goes, the task fails over to the process whose copy is most
// caught up.
func TestStandbysStayWarmAndTakeOver(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}, Stateful: true}}
	topics := map[string]int32{"in": 1}
	task := TaskID{0, 0}
	ms := []testMember{
		{id: "a", process: "p1", owned: map[string][]int32{"in": {0}}, state: []TaskOffsets{{task, 1000}}},
		{id: "b", process: "p2", state: []TaskOffsets{{task, 10}}},
		{id: "c", process: "p3", state: []TaskOffsets{{task, 990}}},
	}
	_, reps := balanceReplicas(t, Replication{Standbys: 1}, subs, ms, topics)
	if len(reps["c"]) != 1 || len(reps["b"]) != 0 {
		t.Fatalf("standby of %s: b has %v, c has %v; want it on c, which holds the most", task, reps["b"], reps["c"])
	}
	// a is gone: the task goes to c, its standby, not b.
	a, reps := balanceReplicas(t, Replication{Standbys: 1}, subs, ms[1:], topics)
	if got := taskOwners(subs, a)[task]; !slices.Equal(got, []string{"c"}) {
		t.Errorf("after the owner left, %s runs on %v; want c, the most caught-up standby", task, got)
	}
	if len(reps["b"]) != 1 {
		t.Errorf("after the failover b has replicas %v; want the new standby", reps["b"])
	}
}

// A member joins a loaded group: the tasks balance would move to it stay with their owner,
// and it gets them as warm-ups (at most MaxWarmups: the others only stay, for later);
// once its copies are within AcceptableLag it gets the tasks themselves (after the owner
// revokes them, cooperative), and the task left over is warmed up in turn.
func TestWarmUpBeforeMoving(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}, Stateful: true}}
	topics := map[string]int32{"in": 6}
	var state []TaskOffsets
	for p := range int32(6) {
		state = append(state, TaskOffsets{TaskID{0, p}, 100_000})
	}
	r := Replication{MaxWarmups: 2, AcceptableLag: 1000}
	ms := []testMember{
		{id: "a", process: "p1", owned: map[string][]int32{"in": {0, 1, 2, 3, 4, 5}}, gen: 1, state: state},
		{id: "b", process: "p2"},
	}
	next := func(a assignment, gen int32) {
		ms[0].owned, ms[0].gen, ms[1].owned, ms[1].gen = a["a"], gen, a["b"], gen
	}
	a, reps := balanceReplicas(t, r, subs, ms, topics)
	if n := len(a["a"]["in"]); n != 6 {
		t.Errorf("a keeps %d tasks, want all 6 (balance moves 3: two are warmed up, one waits)", n)
	}
	warm := reps["b"]
	if len(warm) != 2 || !warm[0].WarmUp || !warm[1].WarmUp {
		t.Fatalf("b has replicas %v; want 2 warm-ups", warm)
	}
	if len(a["b"]["in"]) != 0 {
		t.Errorf("b runs %v; nothing was caught up", a["b"]["in"])
	}

	// b caught up on its warm-ups: they move (revoked first, then assigned), and the
	// third task gets its warm-up.
	next(a, 2)
	for _, w := range warm {
		ms[1].state = append(ms[1].state, TaskOffsets{w.Task, 99_500})
	}
	a, _ = balanceReplicas(t, r, subs, ms, topics)
	for _, w := range warm {
		if slices.Contains(a["a"]["in"], w.Task.Partition) {
			t.Errorf("task %s stays with a after b caught up", w.Task)
		}
	}
	next(a, 3)
	a, reps = balanceReplicas(t, r, subs, ms, topics)
	for _, w := range warm {
		if !slices.Contains(a["b"]["in"], w.Task.Partition) {
			t.Errorf("caught-up warm-up %s not given to b: b has %v", w.Task, a["b"]["in"])
		}
	}
	var third []Replica
	for _, rep := range reps["b"] {
		if rep.WarmUp {
			third = append(third, rep)
		}
	}
	if len(third) != 1 || len(a["a"]["in"]) != 4 || len(a["b"]["in"]) != 2 {
		t.Fatalf("a has %v, b has %v and warm-ups %v; want 4, 2 and the third task warming up", a["a"]["in"], a["b"]["in"], third)
	}

	// The third caught up: it moves too, and the tasks are even.
	next(a, 4)
	ms[1].state = append(ms[1].state, TaskOffsets{third[0].Task, 99_800})
	a, _ = balanceReplicas(t, r, subs, ms, topics)
	next(a, 5)
	a, reps = balanceReplicas(t, r, subs, ms, topics)
	if len(a["a"]["in"]) != 3 || len(a["b"]["in"]) != 3 {
		t.Errorf("after the warm-ups a has %v, b has %v; want 3 each", a["a"]["in"], a["b"]["in"])
	}
	for _, rep := range reps["b"] {
		if rep.WarmUp {
			t.Errorf("b has a warm-up of %s once the tasks are even", rep.Task)
		}
	}
}

// Replicas encode and read back; malformed ones are refused; an assignment without any
// (a leader of an earlier version) has none.
func TestReplicasEncoding(t *testing.T) {
	reps := []Replica{{Task: TaskID{0, 3}}, {Task: TaskID{2, 1}, WarmUp: true}}
	back, err := parseReplicas(appendReplicas(nil, reps))
	if err != nil || !slices.Equal(back, reps) {
		t.Errorf("replicas read back as %v, %v", back, err)
	}
	if got, err := parseReplicas(nil); got != nil || err != nil {
		t.Errorf("no bytes read as %v, %v", got, err)
	}
	for _, bad := range [][]byte{{5, 0}, {1, 0, 0}, {1, 0x80}} {
		if _, err := parseReplicas(bad); err == nil {
			t.Errorf("malformed replicas %v read without an error", bad)
		}
	}
}

// A stateful sub-topology no member can run (none subscribes to all its topics) gets
// neither tasks nor replicas, and the balance goes on for the others.
func TestReplicasOfUnassignableSubtopology(t *testing.T) {
	subs := []Subtopology{{ID: 0, Topics: []string{"in"}, Stateful: true}, {ID: 1, Topics: []string{"new"}, Stateful: true}}
	topics := map[string]int32{"in": 2, "new": 2}
	ms := []testMember{
		{id: "a", process: "p1", topics: []string{"in"}, owned: map[string][]int32{"in": {0, 1}}, gen: 1},
		{id: "b", process: "p2", topics: []string{"in"}},
	}
	a, reps := balanceReplicas(t, Replication{Standbys: 1, MaxWarmups: 2, AcceptableLag: 10}, subs, ms, topics)
	for id, rs := range reps {
		for _, r := range rs {
			if r.Task.Subtopology == 1 {
				t.Errorf("member %s has a replica of %s, which no member can run", id, r.Task)
			}
		}
	}
	if n := len(a["a"]["in"]) + len(a["b"]["in"]); n == 0 {
		t.Error("the runnable sub-topology's tasks were not placed")
	}
}
