package assign

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// member is one group member as the leader sees it while balancing.
type member struct {
	join *kmsg.JoinGroupResponseMember
	meta *kmsg.ConsumerMemberMetadata
	// info is what the member told about itself; the zero value (unknown process) when
	// its UserData was unreadable, which must not keep the member from getting tasks.
	info MemberInfo
	// total counts the tasks planned for the member over the sub-topologies placed so
	// far; rule 2 gives each sub-topology's extra tasks to the lowest totals.
	total int
	// held is the offset sum of each task whose state the member's process holds.
	held map[TaskID]int64
	// order is what members sort by: the instance id of a static member, which stays
	// the same across its restarts, else the member id.
	order string
}

// claim is the member that owned a topic partition before this rebalance, by the
// generation it claimed it at.
type claim struct {
	member int // index into the sorted members, -1 for none
	gen    int32
}

// Balance computes the plan; it implements kgo.ConsumerBalancerBalance and is called by
// the ConsumerBalancer that MemberBalancer returns, with the partition count of each topic.
// On error it sets the error on cb and returns nil, failing the rebalance.
func (b *Balancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) (into kgo.IntoSyncAssignment) {
	// A bug here would panic in franz-go's group goroutine and take the whole process
	// down; fail this rebalance instead, saying why.
	defer func() {
		if r := recover(); r != nil {
			cb.SetError(fmt.Errorf("assign: balancing the group failed (a bug in eddy's balancer): %v", r))
			into = nil
		}
	}()
	counts, err := b.partitionCounts(topics)
	if err != nil {
		cb.SetError(err)
		return nil
	}

	// Rule 4: members sorted by instance id (static members) or member id, so the plan
	// does not depend on the order the coordinator listed them in, nor, for static
	// members, on the member ids a restart renews.
	members := make([]member, 0, len(cb.Members()))
	cb.EachMember(func(join *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		m := member{join: join, meta: meta, order: join.MemberID}
		if join.InstanceID != nil {
			m.order = *join.InstanceID
		}
		// Defensive: a member of another version or a corrupt record still runs tasks.
		var info MemberInfo
		if info.UnmarshalBinary(meta.UserData) == nil {
			m.info = info
			for _, t := range info.State {
				if m.held == nil {
					m.held = make(map[TaskID]int64, len(info.State))
				}
				m.held[t.Task] = t.Sum
			}
		}
		members = append(members, m)
	})
	slices.SortFunc(members, func(x, y member) int {
		return cmp.Or(strings.Compare(x.order, y.order), strings.Compare(x.join.MemberID, y.join.MemberID))
	})

	plan := cb.NewPlan()
	s := newScratch(len(members))
	r := newReplicaPlan(b.replication, members)
	for i := range b.subs {
		sub := &b.subs[i]
		placed, owner := b.placeSubtopology(sub, counts[i], members, s)
		if sub.Stateful {
			r.warmUp(sub, placed, owner)
		}
		for p, m := range placed {
			if m >= 0 {
				give(sub, int32(p), m, members, plan)
			}
		}
		if sub.Stateful {
			r.addStandbys(sub, placed, s.eligible)
		}
	}

	// A task whose owner changes is left out of this plan; its old owner revokes it and
	// rejoins, and the next rebalance hands it to the new owner.
	plan.AdjustCooperative(cb)
	return withHosts{plan: plan, hosts: appendHosts(nil, b.hostsOf(plan, members)), replicas: r.byMember()}
}

// partitionCounts returns the partition count of each sub-topology (index as b.subs), or an
// error naming every sub-topology whose topics are unknown or not co-partitioned. The
// check runs in every balance, not only at start: a topic can gain partitions at any time.
func (b *Balancer) partitionCounts(topics map[string]int32) ([]int32, error) {
	if b.err != nil {
		return nil, b.err
	}
	counts := make([]int32, len(b.subs))
	var errs []error
	for i, s := range b.subs {
		var missing []string
		known, differ := false, false
		for _, t := range s.Topics {
			n, ok := topics[t]
			switch {
			case !ok:
				missing = append(missing, t)
			case !known:
				counts[i], known = n, true
			case n != counts[i]:
				differ = true
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("%w: sub-topology %d: %s", ErrUnknownTopic, s.ID, strings.Join(missing, ", ")))
		}
		if differ {
			var sb strings.Builder
			for _, t := range s.Topics {
				if n, ok := topics[t]; ok {
					if sb.Len() > 0 {
						sb.WriteString(", ")
					}
					fmt.Fprintf(&sb, "%s has %d partitions", t, n)
				}
			}
			errs = append(errs, fmt.Errorf("%w: sub-topology %d: %s", ErrNotCoPartitioned, s.ID, sb.String()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return counts, nil
}

// scratch holds per-member slices reused across sub-topologies, so a balance allocates
// them once rather than once per sub-topology.
type scratch struct {
	eligible []bool
	owned    []int // tasks of the current sub-topology each member owned before
	quota    []int // tasks of the current sub-topology each member is to get
	count    []int // tasks of the current sub-topology placed on each member so far
}

func newScratch(n int) *scratch {
	return &scratch{
		eligible: make([]bool, n),
		owned:    make([]int, n),
		quota:    make([]int, n),
		count:    make([]int, n),
	}
}

// placeSubtopology places the n tasks of sub: placed[p] is the member that runs task
// (sub, p), -1 for none; owner[p] the member that ran it before the rebalance, -1 for
// none (an unclaimed task's holder of state does not count: it runs nothing).
func (b *Balancer) placeSubtopology(sub *Subtopology, n int32, members []member, s *scratch) (placed, owner []int) {
	placed = make([]int, max(n, 0))
	for p := range placed {
		placed[p] = -1
	}
	if n <= 0 || len(sub.Topics) == 0 {
		return placed, nil
	}
	// Rule 1: only members subscribed to all of the sub-topology's topics can run its
	// tasks; a member on an older topology would not consume the others.
	var eligible []int
	for i := range members {
		s.eligible[i] = subscribesAll(members[i].meta.Topics, sub.Topics)
		s.owned[i], s.quota[i], s.count[i] = 0, 0, 0
		if s.eligible[i] {
			eligible = append(eligible, i)
		}
	}
	if len(eligible) == 0 {
		// Unassigned until a member that can run them joins, which triggers a rebalance.
		return placed, nil
	}

	owner, claimed := previousOwners(sub, n, members, s.eligible)
	for _, o := range owner {
		if o >= 0 {
			s.owned[o]++
		}
	}
	setQuotas(int(n), eligible, members, s)

	// Rule 3: a task stays with its previous owner while the owner is under its quota.
	// Partitions are visited in order, so an owner over quota keeps its lowest ones.
	free := make([]int32, 0, n)
	for p := range n {
		if o := owner[p]; o >= 0 && s.count[o] < s.quota[o] {
			placed[p] = o
			s.count[o]++
			continue
		}
		free = append(free, p)
	}

	// The tasks left had no owner (or holder of their state) that could keep them; they
	// fill the members below quota in member order.
	next := 0
	for _, p := range free {
		// Quotas sum to n and placed tasks never exceed them, so a member below quota
		// remains for every free task; the bound only keeps the loop total.
		for next < len(eligible) && s.count[eligible[next]] >= s.quota[eligible[next]] {
			next++
		}
		if next == len(eligible) {
			break
		}
		placed[p] = eligible[next]
		s.count[eligible[next]]++
	}
	for _, i := range eligible {
		members[i].total += s.count[i]
	}
	return placed, claimed
}

// give plans task (sub, p) on member i: partition p of every topic of sub.
func give(sub *Subtopology, p int32, i int, members []member, plan *kgo.BalancePlan) {
	for _, t := range sub.Topics {
		plan.AddPartition(members[i].join, t, p)
	}
}

// subscribesAll reports whether the sorted interests contain every topic.
func subscribesAll(interests, topics []string) bool {
	for _, t := range topics {
		if _, ok := slices.BinarySearch(interests, t); !ok {
			return false
		}
	}
	return true
}

// previousOwners returns, for each partition p of sub, the index of the eligible member
// that owned task (sub, p) before this rebalance, or -1; claimed is the same without the
// holders of state that stand in for missing owners (below).
//
// Per topic partition the claim with the highest generation wins (KIP-792): a member that
// missed rebalances may still claim partitions that since moved on. The task's owner is
// the member holding the most of its partitions, the lowest index on a tie; normally it
// holds all of them, but a group switching from another balancer may have split them.
//
// A task nobody claims (its owner restarted, or left) counts as owned by the eligible
// member whose process holds the most of its state (the highest offset sum, the lowest
// index on a tie): a restarted instance gets back the tasks whose stores it kept, and a
// task that moves goes where the least of its changelog is left to restore.
func previousOwners(sub *Subtopology, n int32, members []member, eligible []bool) (owner, claimed []int) {
	k := len(sub.Topics)
	claims := make([]claim, k*int(n)) // claims[ti*n+p]: topic sub.Topics[ti], partition p
	for i := range claims {
		claims[i].member = -1
	}
	for mi := range members {
		meta := members[mi].meta
		for _, owned := range meta.OwnedPartitions {
			ti := slices.Index(sub.Topics, owned.Topic)
			if ti < 0 {
				continue
			}
			for _, p := range owned.Partitions {
				if p < 0 || p >= n {
					continue // the topic shrank or the claim is corrupt
				}
				// Members are visited in order and only a strictly higher generation
				// replaces a claim, so equal claims resolve to the lowest index.
				c := &claims[ti*int(n)+int(p)]
				if c.member < 0 || meta.Generation > c.gen {
					*c = claim{member: mi, gen: meta.Generation}
				}
			}
		}
	}

	owner, claimed = make([]int, n), make([]int, n)
	for p := range int(n) {
		best, bestVotes := -1, 0
		for ti := range k {
			m := claims[ti*int(n)+p].member
			if m < 0 || !eligible[m] {
				continue
			}
			votes := 0
			for tj := range k {
				if claims[tj*int(n)+p].member == m {
					votes++
				}
			}
			if votes > bestVotes || votes == bestVotes && m < best {
				best, bestVotes = m, votes
			}
		}
		claimed[p] = best
		if best < 0 {
			best = holder(TaskID{Subtopology: sub.ID, Partition: int32(p)}, members, eligible)
		}
		owner[p] = best
	}
	return owner, claimed
}

// holder is the eligible member whose process holds the most of task's state, or -1.
func holder(task TaskID, members []member, eligible []bool) int {
	best, bestSum := -1, int64(0)
	for i := range members {
		sum, ok := members[i].held[task]
		if ok && eligible[i] && (best < 0 || sum > bestSum) {
			best, bestSum = i, sum
		}
	}
	return best
}

// setQuotas sets s.quota for the eligible members: n/len(eligible) each, and one more for
// n%len(eligible) of them (rule 2). The extra ones go to the members with the fewest tasks
// so far, which keeps totals within one when all members run all sub-topologies; among
// equals, to members that already own more than the base share (rule 3: fewer moves); then
// by member order (rule 4).
func setQuotas(n int, eligible []int, members []member, s *scratch) {
	base, extra := n/len(eligible), n%len(eligible)
	for _, i := range eligible {
		s.quota[i] = base
	}
	if extra == 0 {
		return
	}
	order := slices.Clone(eligible)
	slices.SortFunc(order, func(x, y int) int {
		if tx, ty := members[x].total, members[y].total; tx != ty {
			return tx - ty
		}
		// Owning more than base+1 earns nothing more: only base+1 can be kept.
		if ox, oy := min(s.owned[x], base+1), min(s.owned[y], base+1); ox != oy {
			return oy - ox
		}
		return x - y
	})
	for _, i := range order[:extra] {
		s.quota[i]++
	}
}
