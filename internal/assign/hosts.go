package assign

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Hosts says which endpoint (MemberInfo.Endpoint) runs each task, as the group leader
// planned it: what interactive queries ask to find the instance that holds a key
// (Kafka Streams' StreamsMetadata). The leader puts it in every member's assignment
// (ConsumerMemberAssignment.UserData), so each member knows it after each rebalance. A
// task in no entry is unassigned (moving in a cooperative rebalance) or runs on a member
// that advertises no endpoint.
type Hosts map[TaskID]string

const hostsVersion = 1

// appendHosts encodes h: a version byte, the number of endpoints, then each endpoint
// (uvarint length, bytes) with its number of tasks and each task's sub-topology and
// partition as varints; endpoints sorted, tasks sorted, so equal plans encode equally.
func appendHosts(b []byte, h Hosts) []byte {
	byEndpoint := map[string][]TaskID{}
	for t, e := range h {
		byEndpoint[e] = append(byEndpoint[e], t)
	}
	b = append(b, hostsVersion)
	b = binary.AppendUvarint(b, uint64(len(byEndpoint)))
	for _, e := range slices.Sorted(maps.Keys(byEndpoint)) {
		tasks := byEndpoint[e]
		slices.SortFunc(tasks, compareTasks)
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
		b = binary.AppendUvarint(b, uint64(len(tasks)))
		for _, t := range tasks {
			b = binary.AppendVarint(b, int64(t.Subtopology))
			b = binary.AppendVarint(b, int64(t.Partition))
		}
	}
	return b
}

// parseHosts decodes what appendHosts wrote and returns the bytes after it; empty data is
// no hosts.
func parseHosts(data []byte) (Hosts, []byte, error) {
	h := Hosts{}
	if len(data) == 0 {
		return h, nil, nil
	}
	if data[0] != hostsVersion {
		return nil, nil, fmt.Errorf("assign: hosts of unknown version %d", data[0])
	}
	rest := data[1:]
	uvarint := func() (uint64, bool) {
		n, size := binary.Uvarint(rest)
		if size <= 0 {
			return 0, false
		}
		rest = rest[size:]
		return n, true
	}
	varint := func() (int64, bool) {
		n, size := binary.Varint(rest)
		if size <= 0 {
			return 0, false
		}
		rest = rest[size:]
		return n, true
	}
	bad := fmt.Errorf("assign: malformed hosts in an assignment")
	endpoints, ok := uvarint()
	if !ok || endpoints > uint64(len(rest)) {
		return nil, nil, bad
	}
	for range endpoints {
		n, ok := uvarint()
		if !ok || n > uint64(len(rest)) {
			return nil, nil, bad
		}
		e := string(rest[:n])
		rest = rest[n:]
		tasks, ok := uvarint()
		if !ok || tasks > uint64(len(rest))/2 {
			return nil, nil, bad
		}
		for range tasks {
			sub, ok1 := varint()
			p, ok2 := varint()
			if !ok1 || !ok2 || int64(int32(p)) != p || int64(int(sub)) != sub {
				return nil, nil, bad
			}
			h[TaskID{int(sub), int32(p)}] = e
		}
	}
	return h, rest, nil
}

// withHosts is a plan whose every assignment carries the plan's hosts as UserData, and
// after them the member's replicas.
type withHosts struct {
	plan     *kgo.BalancePlan
	hosts    []byte
	replicas map[string][]Replica // by member id
}

func (w withHosts) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := w.plan.IntoSyncAssignment()
	for i := range out {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(out[i].MemberAssignment); err != nil {
			continue // franz-go wrote it: it reads
		}
		a.UserData = appendReplicas(slices.Clip(w.hosts), w.replicas[out[i].MemberID])
		out[i].MemberAssignment = a.AppendTo(nil)
	}
	return out
}

// hostsOf is the endpoints of the tasks in plan.
func (b *Balancer) hostsOf(plan *kgo.BalancePlan, members []member) Hosts {
	endpoint := map[string]string{}
	for _, m := range members {
		if m.info.Endpoint != "" {
			endpoint[m.join.MemberID] = m.info.Endpoint
		}
	}
	h := Hosts{}
	for id, assigned := range plan.AsMemberIDMap() {
		if e, ok := endpoint[id]; ok {
			for _, t := range b.Tasks(assigned) {
				h[t] = e
			}
		}
	}
	return h
}

// Hosts is the hosts map of the last assignment this member received (empty before).
func (b *Balancer) Hosts() Hosts {
	if h := b.hosts.Load(); h != nil {
		return *h
	}
	return Hosts{}
}
