// Package assign balances eddy's consumer group by task instead of by partition.
//
// A task is (sub-topology, partition p). It reads partition p of every source topic of its
// sub-topology, and its state (a join window, an aggregate) holds records from all of them,
// so all those partitions must be consumed by one group member. franz-go's built-in
// balancers place each partition on its own: the cooperative-sticky balancer freely splits
// partition p of two co-partitioned topics across members, and the range balancer keeps
// them together only while every member subscribes to the same topics with equal partition
// counts. Balancer assigns whole tasks, so the partitions of a task always land together.
//
// Use it as the only balancer of the group's client:
//
//	b := assign.NewBalancer(subs, assign.MemberInfo{ProcessID: pid, Worker: 0})
//	cl, err := kgo.NewClient(kgo.ConsumerGroup(appID), kgo.ConsumeTopics(topics...), kgo.Balancers(b))
//
// and turn what OnPartitionsAssigned and OnPartitionsRevoked hand over into tasks with
// Balancer.Tasks.
//
// The balancer is cooperative (KIP-429): a task that moves is first revoked from its old
// owner in one rebalance and given to its new owner in the next, so no two members ever
// consume a task's partitions at the same time.
//
// It also places replicas of stateful tasks (Replication, Replica): standbys on other
// processes, and warm-ups that keep a task with its owner until the process it is to move
// to has caught up on its state (KIP-441).
package assign
