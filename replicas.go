package eddy

import (
	"fmt"
	"time"
)

// replicaConfig is how an instance replicates state (StandbyReplicas and the warm-up
// options).
type replicaConfig struct {
	standbys      int
	maxWarmups    int
	acceptableLag int64
	probing       time.Duration
}

// Kafka Streams' defaults: no standbys; warm-ups on, two at a time, 10,000 records of
// acceptable lag, a probing rebalance every 10 minutes.
func defaultReplicas() replicaConfig {
	return replicaConfig{maxWarmups: 2, acceptableLag: 10000, probing: 10 * time.Minute}
}

func (r replicaConfig) check() []error {
	var errs []error
	if r.standbys < 0 {
		errs = append(errs, fmt.Errorf("eddy: StandbyReplicas(%d): must not be negative", r.standbys))
	}
	if r.maxWarmups < 0 {
		errs = append(errs, fmt.Errorf("eddy: WarmupReplicas(%d, …): must not be negative (0 turns warm-ups off)", r.maxWarmups))
	}
	if r.acceptableLag < 0 {
		errs = append(errs, fmt.Errorf("eddy: WarmupReplicas(…, %d, …): the acceptable lag must not be negative", r.acceptableLag))
	}
	if r.probing <= 0 {
		errs = append(errs, fmt.Errorf("eddy: WarmupReplicas(…, %s): the probing interval must be positive", r.probing))
	}
	return errs
}

// StandbyReplicas gives each task that keeps state on disk n standby replicas (Kafka
// Streams' num.standby.replicas): n other instances each keep a copy of the task's stores,
// kept up to date by tailing the task's changelogs, with their own checkpoints. Copies
// are on distinct instances, never on the task's own: with fewer other instances than n,
// each other instance keeps one. When the instance running a task fails, the group
// gives the task to the instance whose copy is most caught up, which then restores only
// what its copy had not tailed yet — seconds instead of the minutes a full restore of a
// large store takes. The price is the copies' disk and the changelog reads. Stores kept
// in memory (a stream-stream join's windows) have no copies: they restore in full.
// Default 0.
func StandbyReplicas(n int) Opt { return optFunc(func(c *config) { c.replicas.standbys = n }) }

// WarmupReplicas sets how tasks with state move when the group rebalances (KIP-441, Kafka
// Streams' max.warmup.replicas, acceptable.recovery.lag and probing.rebalance.interval.ms).
// When balance would move a task to an instance whose copy of the task's state is more
// than acceptableLag changelog records behind its owner's, the task stays where it is
// and the instance first gets a warm-up replica of it (at most maxWarmups per rebalance),
// which tails the changelogs like a standby; once it is caught up, the instance rejoins
// the group and the task moves, restoring only the rest. Instances holding warm-ups
// also rejoin every probingInterval while they catch up. So adding an instance to a
// loaded group never stops a task for a long restore. maxWarmups 0 moves tasks at once.
// Default 2, 10000, 10 minutes.
func WarmupReplicas(maxWarmups int, acceptableLag int64, probingInterval time.Duration) Opt {
	return optFunc(func(c *config) {
		c.replicas.maxWarmups, c.replicas.acceptableLag, c.replicas.probing = maxWarmups, acceptableLag, probingInterval
	})
}
