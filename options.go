package eddy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/processor"
)

// Opt configures an App. Options are validated together in New.
type Opt interface{ apply(*config) }

type optFunc func(*config)

func (f optFunc) apply(c *config) { f(c) }

type config struct {
	appID          string
	brokers        []string
	workers        int
	commitInterval time.Duration
	stateDir       string
	logger         *slog.Logger
	clientOpts     []kgo.Opt
	replication    int16
	maxQueued      int
	stateCache     int
	lowMemory      bool
	cleanupDelay   time.Duration
	onRestore      func(RestoreInfo)
	exactlyOnce    bool
	txnTimeout     time.Duration
	intervalSet    bool
	sessionTimeout time.Duration
	instanceID     string
	advertised     string
	heartbeat      time.Duration
	purgeInterval  time.Duration
	shutdown       time.Duration
	maxBuffered    int
	bounded        bool
	maxTaskIdle    time.Duration
	replicas       replicaConfig

	onDeserialization, onProcessing, onProduction ErrorPolicy

	onState    func(from, to State)
	registerer prometheus.Registerer
	httpAddr   string
}

func defaultConfig() config {
	return config{
		workers:        1,
		commitInterval: 30 * time.Second,
		stateDir:       filepath.Join(os.TempDir(), "eddy"),
		replication:    -1,
		maxQueued:      10000,
		stateCache:     state.DefaultCacheBytes,
		cleanupDelay:   10 * time.Minute,
		txnTimeout:     10 * time.Second,
		sessionTimeout: 45 * time.Second,
		heartbeat:      3 * time.Second,
		purgeInterval:  30 * time.Second,
		shutdown:       30 * time.Second,
		maxBuffered:    64 << 20,
		replicas:       defaultReplicas(),
	}
}

// ApplicationID names the application. It is the consumer group id, the prefix of every
// internal topic, and the directory of local state under StateDir. Every instance of one
// application must use the same id. A new id (no committed offsets) reads its inputs from
// the earliest offset, as Kafka Streams does; to start over, use a new id or reset the
// group's offsets. Required; letters, digits, '.', '_' and '-'.
func ApplicationID(id string) Opt { return optFunc(func(c *config) { c.appID = id }) }

// Brokers are the seed brokers ("host:port"). Required.
func Brokers(brokers ...string) Opt {
	return optFunc(func(c *config) { c.brokers = append(c.brokers, brokers...) })
}

// Workers is the number of workers in this instance: each is one consumer-group member and
// one goroutine driving its tasks (Kafka Streams' stream threads). Default 1.
func Workers(n int) Opt { return optFunc(func(c *config) { c.workers = n }) }

// CommitInterval is how often a worker flushes its output and commits the offsets of the
// records it processed. A shorter interval means less reprocessing after a crash and more
// commit requests. Default 30 s, as Kafka Streams under at-least-once.
func CommitInterval(d time.Duration) Opt {
	return optFunc(func(c *config) { c.commitInterval, c.intervalSet = d, true })
}

// ExactlyOnce makes processing exactly-once: each worker commits its output records, the
// changelog records of its stores and the offsets of the records it consumed in one Kafka
// transaction, and writes its local state only after the transaction committed. Input is
// read read_committed. Downstream consumers must read read_committed too. The commit
// interval defaults to 100 ms (each commit ends a transaction, and read_committed readers
// see output only then). Default: at-least-once.
func ExactlyOnce() Opt { return optFunc(func(c *config) { c.exactlyOnce = true }) }

// TransactionTimeout is the transaction timeout under ExactlyOnce: how long the broker
// keeps a transaction open before aborting it. After an instance dies with a transaction
// open, read_committed readers of its output partitions stall until the transaction is
// aborted — at once when the instance restarts (its transactional ids are stable), else
// after this timeout. It must exceed the commit interval and stay within the broker's
// transaction.max.timeout.ms. Default 10 s (franz-go's 40 s stalls readers four times as
// long).
func TransactionTimeout(d time.Duration) Opt { return optFunc(func(c *config) { c.txnTimeout = d }) }

// StateDir is the directory for this instance's local state, under which eddy keeps
// <application id>/: the process id (which names the instance to the group and, under
// exactly-once, to its transactional ids) and the state stores. Two instances on one
// machine need different directories: Run locks the directory, and a second instance
// fails at once with ErrStateDirInUse. Default: <os temp dir>/eddy.
func StateDir(dir string) Opt { return optFunc(func(c *config) { c.stateDir = dir }) }

// Logger receives eddy's logs. Default: none.
func Logger(l *slog.Logger) Opt { return optFunc(func(c *config) { c.logger = l }) }

// ClientOpts are passed to every franz-go client eddy makes, after eddy's own options: use
// them for what TLS and the SASL options do not cover (kgo.Dialer), client ids, timeouts of
// requests and connections, fetch and produce sizing, compression and linger (the workers'
// defaults: kgo.FetchMaxPartitionBytes 512 KiB, half franz-go's, which halves the fetched
// bytes they hold; kgo.ProducerLinger 5 ms). New rejects
// the options eddy sets itself and depends on — the group and its balancer, callbacks and
// protocol, the consumed topics, offsets and their commits, isolation level,
// transactions, the partitioner, idempotence and acks, session timeout and heartbeat
// (eddy.SessionTimeout and eddy.HeartbeatInterval instead), and a few more — with an error
// that names each and says why.
func ClientOpts(opts ...kgo.Opt) Opt {
	return optFunc(func(c *config) { c.clientOpts = append(c.clientOpts, opts...) })
}

// TLS connects to the brokers over TLS with cfg (nil: the system's roots, and the broker's
// host name checked), for every client eddy makes. It is kgo.DialTLSConfig; a custom
// dialer (kgo.Dialer, in ClientOpts) must not be given as well.
func TLS(cfg *tls.Config) Opt {
	return optFunc(func(c *config) {
		if cfg == nil {
			cfg = &tls.Config{}
		}
		c.clientOpts = append(c.clientOpts, kgo.DialTLSConfig(cfg))
	})
}

// SASLPlain authenticates to the brokers with SASL/PLAIN as user (sent in the clear: use
// it with TLS).
func SASLPlain(user, password string) Opt {
	return saslOpt(plain.Auth{User: user, Pass: password}.AsMechanism())
}

// SASLScramSHA512 authenticates to the brokers with SASL/SCRAM-SHA-512 as user.
func SASLScramSHA512(user, password string) Opt {
	return saslOpt(scram.Auth{User: user, Pass: password}.AsSha512Mechanism())
}

// SASLScramSHA256 authenticates to the brokers with SASL/SCRAM-SHA-256 as user.
func SASLScramSHA256(user, password string) Opt {
	return saslOpt(scram.Auth{User: user, Pass: password}.AsSha256Mechanism())
}

// SASL authenticates to the brokers with any franz-go SASL mechanism (OAUTHBEARER, AWS
// MSK IAM, ... from github.com/twmb/franz-go/pkg/sasl), for every client eddy makes.
func SASL(m sasl.Mechanism) Opt { return saslOpt(m) }

func saslOpt(m sasl.Mechanism) Opt {
	return optFunc(func(c *config) { c.clientOpts = append(c.clientOpts, kgo.SASL(m)) })
}

// SessionTimeout is how long the group coordinator waits for a worker's heartbeat before it
// takes the worker's tasks away and gives them to the others. It is the time a crashed
// instance (kill -9, a lost machine) holds its tasks: nothing of them is processed until it
// passes. A clean stop (cancelling Run, Close) leaves the group at once and does not wait
// for it. Shorter means faster failover; too short evicts healthy workers during a long
// garbage-collection pause or a network hiccup, and each eviction moves tasks. The broker
// bounds it (group.min.session.timeout.ms, 6 s by default, and
// group.max.session.timeout.ms). Default 45 s, Kafka's.
func SessionTimeout(d time.Duration) Opt { return optFunc(func(c *config) { c.sessionTimeout = d }) }

// StaticMembership makes the instance a static member of its group (Kafka's
// group.instance.id, KIP-345) under id: each worker joins as "<id>-<worker>". A static
// member that stops does not leave the group; the coordinator keeps its tasks for it
// until SessionTimeout passes, and an instance that starts again under the same id within
// that time gets them back at once — no rebalance, the other instances never stop, and
// its stores, still on its disk, restore nothing (or only what the changelogs gained).
// This is what a rolling restart or a deploy wants. Give every instance its own id that
// stays the same across its restarts (a pod's ordinal, a host name) and its own StateDir
// that outlives the restart, and set SessionTimeout above the time a restart takes (the
// broker caps it at group.max.session.timeout.ms, 30 min by default). The price: an
// instance that dies for good holds its tasks for the whole session timeout, and one
// scaled away is only removed then, or at once when an admin removes its members from the
// group (franz-go's kadm.LeaveGroup with the instance ids "<id>-<worker>", Java's
// Admin.removeMembersFromConsumerGroup). Two running instances under one id fence each
// other: the newer one takes over and the older one's Run fails.
func StaticMembership(id string) Opt { return optFunc(func(c *config) { c.instanceID = id }) }

// AdvertisedAddress is where this instance serves interactive queries, host:port (Kafka
// Streams' application.server): it travels in the group's join metadata, and after each
// rebalance every instance knows which address holds each task, so
// KeyValueQuery.Location can say where a key lives. eddy listens on nothing itself: the
// address is the service's own HTTP server (see KeyValueQuery.Handler).
func AdvertisedAddress(hostPort string) Opt {
	return optFunc(func(c *config) { c.advertised = hostPort })
}

// HeartbeatInterval is how often a worker tells the group coordinator it is alive; it must
// be shorter than the session timeout, and a third of it or less lets two heartbeats be
// lost before an eviction. Default 3 s, Kafka's.
func HeartbeatInterval(d time.Duration) Opt {
	return optFunc(func(c *config) { c.heartbeat = d })
}

// RepartitionPurgeInterval is how often a worker deletes the records of repartition topics
// that its tasks have consumed and committed (Kafka's DeleteRecords, as Kafka Streams'
// repartition.purge.interval.ms). Repartition topics are created without retention, so
// that a downstream task that falls behind never loses input; the purge is what keeps them
// from growing without bound. Under exactly-once only what a committed transaction
// consumed is deleted. The purge runs after a commit, so it happens at most once per
// commit interval too. Default 30 s; 0 turns it off (then the topics grow).
func RepartitionPurgeInterval(d time.Duration) Opt {
	return optFunc(func(c *config) { c.purgeInterval = d })
}

// MaxBufferedBytes bounds the memory of the instance's write buffers: the state changes of
// the records processed since the last commit, kept until the commit writes them to the
// changelogs and the local database. When a worker's buffers reach its share (the budget
// divided by Workers), it commits at once instead of waiting for the commit interval, so
// large values and a long interval cannot grow the buffers with the input. Under
// exactly-once the transaction commits after the records already polled, so the buffers
// may pass the budget by one poll. Default 64 MiB; 0 turns the bound off.
func MaxBufferedBytes(n int) Opt { return optFunc(func(c *config) { c.maxBuffered = n }) }

// ShutdownTimeout bounds a stop. Once Run's context ends (or Close is called), the final
// commit, the abort of an open transaction and the leaving of the group get this long in
// all; Run returns within it plus a moment to close the local state, whatever the
// brokers do. A stop that runs out of time returns an error saying so: what was not
// committed is processed again by the next owner of the tasks (under exactly-once, the
// open transaction is aborted). Default 30 s.
func ShutdownTimeout(d time.Duration) Opt { return optFunc(func(c *config) { c.shutdown = d }) }

// ReplicationFactor is the replication factor of the internal topics eddy creates. Default
// -1: the broker's default.replication.factor. Production needs 3 (with
// min.insync.replicas=2 on the broker).
func ReplicationFactor(n int16) Opt { return optFunc(func(c *config) { c.replication = n }) }

// MaxQueuedRecords is how many fetched, unprocessed records a task may hold before eddy
// pauses fetching its partitions as they receive more (backpressure); a partition resumes
// once the task holds half as many, or once its own queue is empty. The bound is the
// task's, shared by its input partitions, so a join of two topics holds no more than a
// task of one topic. Default 10000: about ten fetches of small records, so the client
// keeps fetching while the task works (at 1000 a single 1 MiB fetch of 100-byte records
// filled the queue, and every fetch waited for the queue to drain: half the throughput).
// Lower it for large records.
func MaxQueuedRecords(n int) Opt { return optFunc(func(c *config) { c.maxQueued = n }) }

// StateCacheBytes bounds the cache of committed store values that each task keeps per
// store, so that reading a key again after a commit does not go to Badger (default 16 MiB;
// 0 turns it off). Reads of keys written since the last commit come from the write buffer
// either way.
func StateCacheBytes(n int) Opt { return optFunc(func(c *config) { c.stateCache = n }) }

// LowMemoryState opens the local database with small memtables and caches: for tests and
// small machines, at the cost of throughput. Default off.
func LowMemoryState() Opt { return optFunc(func(c *config) { c.lowMemory = true }) }

// StateCleanupDelay is how long the local state of a task that left this instance is kept
// in case the task comes back (then only the changelog records written since are
// restored). Default 10 minutes, as Kafka Streams' state.cleanup.delay.ms.
func StateCleanupDelay(d time.Duration) Opt { return optFunc(func(c *config) { c.cleanupDelay = d }) }

// OnRestore is called each time one task's store finishes restoring from its changelog,
// from the worker's goroutine: keep it fast. Restores are also logged.
func OnRestore(f func(RestoreInfo)) Opt { return optFunc(func(c *config) { c.onRestore = f }) }

// RestoreInfo describes a finished restore of one task's store, or of one partition of a
// global table (Global).
type RestoreInfo struct {
	Task processor.TaskID
	// Global says the store is a global table's (topology.GlobalTableFrom), restored from
	// its own topic; Task is then zero.
	Global    bool
	Store     string
	Topic     string // the changelog topic, or a global table's topic
	Partition int32
	// From and To are the changelog offsets replayed: [From, To).
	From, To int64
	// Restored is the number of records applied.
	Restored int64
	// Wiped reports whether the local state was discarded first (no usable checkpoint).
	Wiped bool
	// InMemory says the store keeps its state in memory (a stream-stream join's by
	// default, topology.OnDisk): it has no local checkpoint, so it always restores in full.
	InMemory bool
	Duration time.Duration
}

// Bounded makes Run process the inputs up to their ends as of the start (their last
// stable offsets), close every window as if time had ended, commit, and return: batch
// processing as a special case of streaming. It runs on one instance (with any number of
// workers, at-least-once or exactly-once); Run fails if the group has other members. The
// watermarks committed with the offsets stay the real ones, so a later run, bounded or
// not, goes on from where this one ended.
func Bounded() Opt { return optFunc(func(c *config) { c.bounded = true }) }

// TaskIdleDisabled, given to MaxTaskIdle, turns time synchronization off: a task
// processes whatever it has queued, without waiting for an empty input partition, even
// one whose records are on the broker (Kafka Streams' max.task.idle.ms = -1).
const TaskIdleDisabled time.Duration = -1

// MaxTaskIdle is how long a task whose input partitions are several (a stream joined
// with a table, merged topics) waits for one of them that has nothing queued before it
// processes the records of the others, as Kafka Streams' max.task.idle.ms (KIP-695). A
// task takes its records in timestamp order across its partitions, so that a stream
// record at time t meets the table as updated up to t; a record from the empty partition
// that comes later could be older than the ones processed meanwhile.
//
// Whatever d, a task waits for records it knows to be on the broker (the partition's
// position is behind the end its last fetch reported: the last stable offset under
// ExactlyOnce, the high watermark otherwise) until they are fetched. A partition that is
// caught up is waited for up to d, from the moment it holds a record back, until records
// arrive on it (when it runs empty again, the wait starts anew); after a wait ran out,
// later records do not wait for it until it has had records. With the default 0 a
// caught-up partition is not waited for at all. A partition of a
// repartition topic whose upstream tasks' watermark has reached the record is not waited
// for either (what comes at or before it is late), nor one that reached its end in a
// Bounded run. A negative d (TaskIdleDisabled) never waits, for anything.
//
// Waiting holds one task back, not the worker: the other tasks go on, and the worker
// polls with a deadline at the wait's end, not in a loop. Under ExactlyOnce a waiting
// task also holds its worker's transaction open (a transaction commits the offset of
// every record polled, so it cannot end while one is unprocessed): d may be at most half
// of what the commit interval leaves of TransactionTimeout, and a commit waits no longer
// than that; then the task processes what it holds. Records processed although a
// partition was empty after its wait ran out are counted in eddy_enforced_processing_total
// (label task), as Kafka Streams' enforced-processing-total.
func MaxTaskIdle(d time.Duration) Opt { return optFunc(func(c *config) { c.maxTaskIdle = d }) }

var validAppID = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// validate checks the options together and says what to change.
func (c *config) validate() error {
	var errs []error
	switch {
	case c.appID == "":
		errs = append(errs, errors.New("eddy: ApplicationID is required"))
	case !validAppID.MatchString(c.appID) || len(c.appID) > 200:
		errs = append(errs, fmt.Errorf("eddy: ApplicationID %q: use at most 200 letters, digits, '.', '_' and '-' (it prefixes topic names)", c.appID))
	}
	var brokers []string
	for _, b := range c.brokers {
		for _, s := range strings.Split(b, ",") {
			if s = strings.TrimSpace(s); s != "" {
				brokers = append(brokers, s)
			}
		}
	}
	c.brokers = brokers
	if len(c.brokers) == 0 {
		errs = append(errs, errors.New("eddy: Brokers is required (for a local try, start one with the embedded package)"))
	}
	if c.workers < 1 {
		errs = append(errs, fmt.Errorf("eddy: Workers(%d): need at least 1", c.workers))
	}
	if c.commitInterval <= 0 {
		errs = append(errs, fmt.Errorf("eddy: CommitInterval(%s): must be positive", c.commitInterval))
	}
	if c.stateDir == "" {
		errs = append(errs, errors.New("eddy: StateDir is empty"))
	}
	if c.replication == 0 || c.replication < -1 {
		errs = append(errs, fmt.Errorf("eddy: ReplicationFactor(%d): use -1 (broker default) or at least 1", c.replication))
	}
	if c.exactlyOnce && !c.intervalSet {
		c.commitInterval = 100 * time.Millisecond
	}
	if c.txnTimeout <= 0 || (c.exactlyOnce && c.txnTimeout <= c.commitInterval) {
		errs = append(errs, fmt.Errorf("eddy: TransactionTimeout(%s): must be positive and longer than the commit interval (%s)",
			c.txnTimeout, c.commitInterval))
	}
	if limit := (c.txnTimeout - c.commitInterval) / 2; c.exactlyOnce && c.maxTaskIdle > limit {
		errs = append(errs, fmt.Errorf("eddy: MaxTaskIdle(%s) with ExactlyOnce: a waiting task holds the worker's transaction open, "+
			"so it may wait at most (TransactionTimeout − CommitInterval)/2 = %s; lower MaxTaskIdle or raise TransactionTimeout (%s)",
			c.maxTaskIdle, limit, c.txnTimeout))
	}
	if c.cleanupDelay < 0 {
		errs = append(errs, fmt.Errorf("eddy: StateCleanupDelay(%s): must not be negative", c.cleanupDelay))
	}
	if c.stateCache < 0 {
		errs = append(errs, fmt.Errorf("eddy: StateCacheBytes(%d): must not be negative", c.stateCache))
	}
	if c.maxQueued < 1 {
		errs = append(errs, fmt.Errorf("eddy: MaxQueuedRecords(%d): need at least 1", c.maxQueued))
	}
	if c.maxBuffered < 0 {
		errs = append(errs, fmt.Errorf("eddy: MaxBufferedBytes(%d): must not be negative (0 turns the bound off)", c.maxBuffered))
	}
	if c.shutdown <= 0 {
		errs = append(errs, fmt.Errorf("eddy: ShutdownTimeout(%s): must be positive", c.shutdown))
	}
	if c.purgeInterval < 0 {
		errs = append(errs, fmt.Errorf("eddy: RepartitionPurgeInterval(%s): must not be negative (0 turns the purge off)", c.purgeInterval))
	}
	if c.sessionTimeout <= 0 || c.heartbeat <= 0 || c.heartbeat >= c.sessionTimeout {
		errs = append(errs, fmt.Errorf("eddy: SessionTimeout(%s), HeartbeatInterval(%s): both must be positive, the interval shorter than the timeout",
			c.sessionTimeout, c.heartbeat))
	}
	errs = append(errs, c.replicas.check()...)
	if err := checkClientOpts(c.clientOpts); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validatePolicies()...)
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}
