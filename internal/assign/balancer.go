package assign

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProtocolName is the name under which members offer this balancer in JoinGroup. The
// version is part of it because the coordinator only lets members that share a protocol
// into one group: a future incompatible way of assigning gets a new name, and a rolling
// upgrade offers both until every member knows the new one.
const ProtocolName = "eddy-tasks-v1"

// Errors set on the balance when the sub-topologies or the topics' metadata do not allow
// assigning tasks. The group's leader fails that rebalance; franz-go rejoins and balances
// again, so it is worth retrying only for ErrUnknownTopic (metadata not yet propagated).
var (
	// ErrNotCoPartitioned means the topics of one sub-topology have different partition
	// counts, so partition p of one has no partner in another.
	ErrNotCoPartitioned = errors.New("assign: topics of a sub-topology have different partition counts")
	// ErrUnknownTopic means the partition count of a sub-topology's topic is not known:
	// the topic does not exist or is missing from the metadata.
	ErrUnknownTopic = errors.New("assign: partition count unknown for topics")
	// ErrSubtopologies means the sub-topologies given to NewBalancer cannot be assigned:
	// an id is negative or repeated, or a topic belongs to two sub-topologies (its
	// partitions would be assigned twice).
	ErrSubtopologies = errors.New("assign: invalid sub-topologies")
)

// Balancer is a kgo.GroupBalancer that assigns whole tasks: partition p of every topic of a
// sub-topology goes to the same member. It is cooperative (KIP-429). The rules, in order:
//
//  1. Every task goes to exactly one member that subscribes to all of the task's topics;
//     a member lacking one of them gets none of the sub-topology's tasks. A sub-topology
//     that no member can run stays unassigned until one joins.
//  2. Per sub-topology, the eligible members' task counts differ by at most one, and the
//     extra tasks go to the members with the fewest tasks overall, so totals are even too.
//  3. A task stays with the member that owned its partitions if rule 2 allows.
//  4. The same members and metadata always give the same plan.
//
// Topics that members subscribe to but no sub-topology reads are not assigned.
//
// A plan never splits a task, with one exception it inherits rather than causes: a group
// coming from a balancer that split tasks. There the task goes to the member holding most
// of its partitions, which keeps them, and the rest follow in the next rebalance, once
// their holders have revoked them.
//
// A Balancer is safe for concurrent use; only the hosts of the last assignment change
// after NewBalancer.
type Balancer struct {
	// subs are the sub-topologies sorted by ID, each topic listed once.
	subs []Subtopology
	// topicSub maps a topic to the index in subs of the sub-topology reading it.
	topicSub map[string]int
	// info is this member's MemberInfo but its State, which state reads at each join
	// (nil: no state to report).
	info  MemberInfo
	state func() []TaskOffsets
	// hosts is the Hosts of the last assignment received.
	hosts atomic.Pointer[Hosts]
	// replication is how replicas are placed; replicas the replicas of the last
	// assignment received.
	replication Replication
	replicas    atomic.Pointer[[]Replica]
	// joining and synced, if set, learn when this member starts joining the group and
	// when it has its assignment (Observe).
	joining, synced func()
	// err is why subs cannot be balanced, or nil; it fails every balance this member
	// leads, because a plan built from them would assign a partition twice.
	err error
}

var (
	_ kgo.GroupBalancer           = (*Balancer)(nil)
	_ kgo.ConsumerBalancerBalance = (*Balancer)(nil)
)

// NewBalancer returns a balancer for the sub-topologies subs, announcing info about this
// member to the group leader, with the local state that state reports at each join (nil:
// none). subs is copied. Invalid sub-topologies (see ErrSubtopologies) are reported when
// this member balances the group as its leader, since a kgo.GroupBalancer has no other
// place to fail.
func NewBalancer(subs []Subtopology, info MemberInfo, state func() []TaskOffsets) *Balancer {
	b := &Balancer{
		subs:     make([]Subtopology, 0, len(subs)),
		topicSub: make(map[string]int),
		info:     info,
		state:    state,
	}
	for _, s := range subs {
		topics := make([]string, 0, len(s.Topics))
		for _, t := range s.Topics {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
		b.subs = append(b.subs, Subtopology{ID: s.ID, Topics: topics, Stateful: s.Stateful})
	}
	slices.SortStableFunc(b.subs, func(x, y Subtopology) int { return cmp.Compare(x.ID, y.ID) })

	var errs []error
	for i, s := range b.subs {
		if s.ID < 0 {
			errs = append(errs, fmt.Errorf("%w: negative sub-topology id %d", ErrSubtopologies, s.ID))
		}
		if i > 0 && b.subs[i-1].ID == s.ID {
			errs = append(errs, fmt.Errorf("%w: sub-topology id %d used twice", ErrSubtopologies, s.ID))
		}
		for _, t := range s.Topics {
			if j, dup := b.topicSub[t]; dup {
				errs = append(errs, fmt.Errorf("%w: topic %q read by sub-topologies %d and %d", ErrSubtopologies, t, b.subs[j].ID, s.ID))
				continue
			}
			b.topicSub[t] = i
		}
	}
	b.err = errors.Join(errs...)
	return b
}

// Observe has joining called whenever this member starts joining the group (franz-go asks
// for its join metadata) and synced whenever it receives its assignment. Between the two
// the member's generation is changing: an offset commit made then carries the old one and
// is refused. Call it before the balancer is in use.
func (b *Balancer) Observe(joining, synced func()) { b.joining, b.synced = joining, synced }

// ProtocolName returns ProtocolName, "eddy-tasks-v1".
func (*Balancer) ProtocolName() string { return ProtocolName }

// IsCooperative returns true: members keep the tasks they are not losing through a
// rebalance, and a moving task is revoked before it is assigned elsewhere.
func (*Balancer) IsCooperative() bool { return true }

// JoinGroupMetadata returns a kmsg.ConsumerMemberMetadata version 3 holding the topic
// interests, the partitions this member owns (so the leader can keep tasks where they are
// and withhold those that move until they are revoked), the generation (so the leader can
// tell a stale claim from a current one) and this member's MemberInfo, with the local
// state as it is now, as UserData.
//
// The output is deterministic for the same state: Kafka compares it with the last one to
// decide whether a rejoin needs a rebalance.
func (b *Balancer) JoinGroupMetadata(interests []string, currentAssignment map[string][]int32, generation int32) []byte {
	if b.joining != nil {
		b.joining()
	}
	info := b.info
	if b.state != nil {
		info.State = slices.SortedFunc(slices.Values(b.state()), func(x, y TaskOffsets) int { return compareTasks(x.Task, y.Task) })
	}
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = interests
	meta.Generation = generation
	meta.UserData, _ = info.MarshalBinary() // MarshalBinary never fails
	meta.OwnedPartitions = make([]kmsg.ConsumerMemberMetadataOwnedPartition, 0, len(currentAssignment))
	for topic, partitions := range currentAssignment {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = topic
		owned.Partitions = partitions
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	// Map order is random; sort for the determinism Kafka relies on (KAFKA-12898).
	slices.SortFunc(meta.OwnedPartitions, func(x, y kmsg.ConsumerMemberMetadataOwnedPartition) int {
		switch {
		case x.Topic < y.Topic:
			return -1
		case x.Topic > y.Topic:
			return 1
		}
		return 0
	})
	return meta.AppendTo(nil)
}

// ParseSyncAssignment decodes the kmsg.ConsumerMemberAssignment the leader sent this
// member into topic → partitions, and keeps the Hosts and Replicas it carries. Unreadable
// ones (a leader of another version) are none: they only serve queries and warm state.
func (b *Balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	if b.synced != nil {
		defer b.synced()
	}
	var a kmsg.ConsumerMemberAssignment
	var reps []Replica
	if err := a.ReadFrom(assignment); err == nil {
		h, rest, err := parseHosts(a.UserData)
		if err != nil {
			h = Hosts{}
		} else if reps, err = parseReplicas(rest); err != nil {
			reps = nil
		}
		b.hosts.Store(&h)
	}
	b.replicas.Store(&reps)
	return kgo.ParseConsumerSyncAssignment(assignment)
}

// MemberBalancer parses the members' join metadata and returns the balancer the group
// leader runs, plus the topics whose partition counts it needs: every member's interests
// and every sub-topology's topics, so that a sub-topology's missing topic shows up as
// ErrUnknownTopic instead of being silently skipped.
func (b *Balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	if err != nil {
		return nil, nil, fmt.Errorf("assign: %w", err)
	}
	topics := cb.MemberTopics()
	for t := range b.topicSub {
		topics[t] = struct{}{}
	}
	return cb, topics, nil
}

// Tasks converts a partition assignment (topic → partitions, as franz-go hands it to
// OnPartitionsAssigned and OnPartitionsRevoked) into the tasks it touches, sorted by
// sub-topology and partition. Topics no sub-topology reads are ignored.
//
// A task is included if any of its partitions is in assigned. The balancer always moves
// a task's partitions together, so in practice any is all; where it is not (a group
// switching from another balancer), a task that lost one of its inputs must be closed, so
// counting it as revoked is the safe reading.
func (b *Balancer) Tasks(assigned map[string][]int32) []TaskID {
	var tasks []TaskID
	for topic, partitions := range assigned {
		i, ok := b.topicSub[topic]
		if !ok {
			continue
		}
		for _, p := range partitions {
			tasks = append(tasks, TaskID{Subtopology: b.subs[i].ID, Partition: p})
		}
	}
	slices.SortFunc(tasks, compareTasks)
	return slices.Compact(tasks)
}
