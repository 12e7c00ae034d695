package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/eos"
)

// The worker's Kafka client: its options, under either guarantee, and the marks of a
// rebalance in progress.

// fetchMaxPartitionBytes is the most a fetch response carries for one input partition.
const fetchMaxPartitionBytes = 512 << 10

// connect makes the worker's client: a plain group consumer and producer under
// at-least-once, a transactional session under exactly-once.
func (w *worker) connect() error {
	cfg, plan := w.cfg, w.plan
	onAssigned, onRevoked, onLost := w.onAssigned, w.onRevoked, w.onLost
	if cfg.ExactlyOnce {
		onAssigned, onRevoked, onLost = w.onAssignedEOS, w.onRevokedEOS, w.onLostEOS
	}
	opts := []kgo.Opt{
		kgo.ClientID(fmt.Sprintf("%s-%s-%d", cfg.ApplicationID, cfg.ProcessID, w.index)),
		kgo.ConsumerGroup(cfg.ApplicationID),
		kgo.ConsumeTopics(plan.topics...),
		kgo.Balancers(w.bal),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(cfg.HeartbeatInterval),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// franz-go ≥ 1.22 rewinds one minute by default when there is no committed offset;
		// a stream processor starts at the beginning, as Kafka Streams does.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(onAssigned),
		kgo.OnPartitionsRevoked(onRevoked),
		kgo.OnPartitionsLost(onLost),
		kgo.RecordPartitioner(newPartitioner(plan.roundRobin, plan.byTask, plan.changelogs, plan.upstreams)),
		// No record delivery timeout: franz-go measures it from the record's timestamp,
		// and output records carry event times, which may be hours or years old (a
		// replay); they would time out before the first try. Commits bound the wait.
		kgo.ProducerLinger(5 * time.Millisecond),
		// Java's fetch.max.wait.ms. franz-go's 5 s default only matters for brokers that do
		// not answer a waiting fetch when data arrives (the embedded one), but there it
		// delays every hop through a repartition topic.
		kgo.FetchMaxWait(500 * time.Millisecond),
		// Transaction markers count in offsets: with them the position after a fetch is the
		// end the broker reports (time synchronization, sync.go), and a commit passes them.
		// They are consumed at the head of their queue, never processed (partition.settle).
		kgo.KeepControlRecords(),
		// Half of franz-go's (and Java's) 1 MiB per partition: a worker holds one fetch
		// response in flight and one buffered beside its queues, and records keep their
		// response alive until processed, so this halves the fetched bytes it holds. At
		// 512 KiB a partition still moves 25 MB/s over a 20 ms round trip; ClientOpts
		// can raise it. (The windowed join of the load harness: 155-160 MiB peak RSS
		// down to 120-129, the same records/s.)
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(fmt.Sprintf("%s-%d", cfg.InstanceID, w.index)))
	}
	opts = append(opts, w.clientOpts()...)
	if !cfg.ExactlyOnce {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("eddy: worker %d: client: %w", w.index, err)
		}
		w.guarantee, w.commitTimeout = eos.AtLeastOnce{}, commitTimeout
		w.setClient(cl)
		return nil
	}
	opts = append(opts,
		kgo.TransactionalID(eos.TransactionalID(cfg.ApplicationID, cfg.ProcessID, w.index)),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	opts = append(opts, kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) {
		w.gateWanted.CompareAndSwap(0, time.Now().UnixNano())
	}))
	sess, err := eos.NewSession(w.stop, opts...)
	if err != nil {
		return fmt.Errorf("eddy: worker %d: %w", w.index, err)
	}
	// Initialise the producer now, not at the first record: the new epoch fences the
	// predecessor with this transactional id and aborts its open transaction at once, so
	// restores, which wait for open transactions on the changelogs, need not wait out the
	// transaction timeout after a crash.
	ctx, cancel := context.WithTimeout(w.stop, 30*time.Second)
	defer cancel()
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		sess.Close()
		return fmt.Errorf("eddy: worker %d: initialising the transactional producer: %w", w.index, err)
	}
	w.pauseOnAssign = true
	w.sess.Store(sess)
	if w.revokedEarly.Swap(false) {
		sess.Revoked() // a callback of the new client's first join came first
	}
	w.guarantee = &eos.ExactlyOnce{Txn: sess}
	// Past the transaction timeout the broker aborts the transaction anyway; waiting
	// longer only delays the recovery.
	w.commitTimeout = min(commitTimeout, 2*cfg.TransactionTimeout)
	w.setClient(sess.Client())
	return nil
}

// startRebalance and endRebalance mark the worker as without an assignment (joining, or
// between a revocation and the next assignment) and as assigned again.
func (w *worker) startRebalance() {
	if !w.rebalancing.Swap(true) {
		w.cfg.Monitor.addRebalancing(1)
	}
}

func (w *worker) endRebalance() {
	if w.rebalancing.Swap(false) {
		w.cfg.Monitor.addRebalancing(-1)
	}
}

func (w *worker) setClient(cl *kgo.Client) {
	w.mu.Lock()
	w.cl, w.tx = cl, cl
	if v, ok := cl.OptValue(kgo.MaxBufferedRecords).(int64); ok {
		w.maxBuffered = v
	}
	w.mu.Unlock()
}

// adoptClientLocked sets w.cl from a rebalance callback: franz-go starts joining the group
// inside NewClient, so the first callback can run before newWorker has stored the client.
func (w *worker) adoptClientLocked(cl *kgo.Client) {
	if w.cl == nil {
		w.cl, w.tx = cl, cl
	}
}

// clientOpts are the options every client of the worker starts from: the brokers and the
// user's pass-through options (TLS, SASL).
func (w *worker) clientOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(w.cfg.Brokers...)}
	if w.plan.maxRecordBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(w.plan.maxRecordBytes))
	}
	return append(opts, w.cfg.ClientOpts...)
}
