package topology

import (
	"fmt"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/graph"
)

// Option configures one operator. Each operator takes only the options that mean
// something to it (listed in its doc); any other is an error of the topology (Err, and so
// eddy.New) naming the operator and the option, never silently ignored.
type Option interface{ apply(*opConfig) }

// option is every Option: its kind, for the operator to check, and what it sets.
type option struct {
	kind optKind
	set  func(*opConfig)
	// invalid says what is wrong with the option's value ("" when nothing); the operator
	// it is given to reports it, so the error names both.
	invalid string
}

func (o option) apply(c *opConfig) {
	c.given |= o.kind
	if o.invalid != "" && c.invalid == "" {
		c.invalid = o.invalid
	}
	if o.set != nil {
		o.set(c)
	}
}

// optKind is a set of option kinds, one bit each.
type optKind uint16

const (
	optNamed optKind = 1 << iota
	optPartitions
	optTimestamps
	optOutOfOrderness
	optIdleTimeout
	optEmitUpdates
	optLateRecordsTo
	optStores
	optVersioned
	optGrace
	optOnDisk
	optSpread
	optLast = optSpread
)

// optNames are the options' names, by bit: optNames[i] is the option of kind 1<<i.
var optNames = [...]string{"Named", "Partitions", "Timestamps", "OutOfOrderness", "IdleTimeout", "EmitUpdates", "LateRecordsTo", "Stores",
	"Versioned", "Grace", "OnDisk", "SpreadRoundRobin/PartitionByTask"}

// String lists the kinds in k by their option's name: "Named, Partitions".
func (k optKind) String() string {
	var names []string
	for i, name := range optNames {
		if k&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "no options"
	}
	return strings.Join(names, ", ")
}

type opConfig struct {
	given   optKind // the kinds of the options given
	invalid string  // the first option value found wrong

	name       string
	partitions int32
	stores     []string

	// Sources: event time.
	extractor      any // func(K, V, time.Time) (time.Time, error) of the source's types
	outOfOrderness time.Duration
	idleTimeout    time.Duration

	// Windowed aggregations.
	emitUpdates bool
	lateTopic   string

	// Versioned tables and the joins that wait for them (versioned.go).
	history time.Duration
	grace   time.Duration

	// Stream-stream joins: the side stores in the database, not in memory.
	onDisk bool

	// A sink's partitioning.
	spread graph.Spread
}

// operator is an operator function that takes options. spec is the one list of which
// options each accepts; configure checks every operator's options against it.
type operator uint8

const (
	opFrom operator = iota
	opFromTopics
	opTableFrom
	opFilter
	opFilterNot
	opPeek
	opForEach
	opSelectKey
	opMap
	opMapValues
	opFlatMap
	opFlatMapValues
	opTryFilter
	opTryPeek
	opTryForEach
	opTrySelectKey
	opTryMap
	opTryMapValues
	opTryFlatMap
	opTryFlatMapValues
	opProcess
	opTo
	opToTopic
	opRepartition
	opRebalance
	opGroupByKey
	opGroupBy
	opCount
	opReduce
	opAggregate
	opWindowedCount
	opWindowedReduce
	opWindowedAggregate
	opSessionCount
	opSessionAggregate
	opTableToStream
	opTableFilter
	opMapTableValues
	opJoinTable
	opLeftJoinTable
	opGroupTable
	opCountTable
	opReduceTable
	opAggregateTable
	opJoinStreams
	opLeftJoinStreams
	opOuterJoinStreams
	opJoinTables
	opLeftJoinTables
	opOuterJoinTables
	opGlobalTableFrom
	opJoinGlobal
	opLeftJoinGlobal
	opJoinForeignKey
	opLeftJoinForeignKey
)

// The option sets operators share.
const (
	// A source's event time; a table's updates are state, not a timeline, so a table
	// source takes none of it.
	sourceOpts = optNamed | optTimestamps | optOutOfOrderness | optIdleTimeout
	// The internal topic's name and partition count.
	topicOpts = optNamed | optPartitions
	// Windows: final results or every change, and where late records go. Sessions emit
	// final results only.
	windowOpts  = optNamed | optEmitUpdates | optLateRecordsTo
	sessionOpts = optNamed | optLateRecordsTo
)

// specs is the one list of each operator's name, as its users write it, and the options
// it accepts. Process takes no Named: its name is its second argument.
var specs = [...]struct {
	name    string
	accepts optKind
}{
	opFrom:              {"From", sourceOpts},
	opFromTopics:        {"FromTopics", sourceOpts},
	opTableFrom:         {"TableFrom", optNamed | optVersioned},
	opFilter:            {"Filter", optNamed},
	opFilterNot:         {"FilterNot", optNamed},
	opPeek:              {"Peek", optNamed},
	opForEach:           {"ForEach", optNamed},
	opSelectKey:         {"SelectKey", optNamed},
	opMap:               {"Map", optNamed},
	opMapValues:         {"MapValues", optNamed},
	opFlatMap:           {"FlatMap", optNamed},
	opFlatMapValues:     {"FlatMapValues", optNamed},
	opTryFilter:         {"TryFilter", optNamed},
	opTryPeek:           {"TryPeek", optNamed},
	opTryForEach:        {"TryForEach", optNamed},
	opTrySelectKey:      {"TrySelectKey", optNamed},
	opTryMap:            {"TryMap", optNamed},
	opTryMapValues:      {"TryMapValues", optNamed},
	opTryFlatMap:        {"TryFlatMap", optNamed},
	opTryFlatMapValues:  {"TryFlatMapValues", optNamed},
	opProcess:           {"Process", optStores},
	opTo:                {"To", optNamed | optSpread},
	opToTopic:           {"ToTopic", optNamed},
	opRepartition:       {"Repartition", topicOpts},
	opRebalance:         {"Rebalance", topicOpts},
	opGroupByKey:        {"GroupByKey", topicOpts},
	opGroupBy:           {"GroupBy", topicOpts},
	opCount:             {"Count", optNamed},
	opReduce:            {"Reduce", optNamed},
	opAggregate:         {"Aggregate", optNamed},
	opWindowedCount:     {"WindowedCount", windowOpts},
	opWindowedReduce:    {"WindowedReduce", windowOpts},
	opWindowedAggregate: {"WindowedAggregate", windowOpts},
	opSessionCount:      {"SessionCount", sessionOpts},
	opSessionAggregate:  {"SessionAggregate", sessionOpts},
	opTableToStream:     {"Table.ToStream", optNamed | optEmitUpdates},
	opTableFilter:       {"Table.Filter", optNamed},
	opMapTableValues:    {"MapTableValues", optNamed},
	opJoinTable:         {"JoinTable", optNamed | optGrace},
	opLeftJoinTable:     {"LeftJoinTable", optNamed | optGrace},
	opGroupTable:        {"GroupTable", topicOpts},
	opCountTable:        {"CountTable", optNamed},
	opReduceTable:       {"ReduceTable", optNamed},
	opAggregateTable:    {"AggregateTable", optNamed},
	opJoinStreams:       {"JoinStreams", optNamed | optLateRecordsTo | optOnDisk},
	opLeftJoinStreams:   {"LeftJoinStreams", optNamed | optLateRecordsTo | optOnDisk},
	opOuterJoinStreams:  {"OuterJoinStreams", optNamed | optLateRecordsTo | optOnDisk},
	opJoinTables:        {"JoinTables", optNamed},
	opLeftJoinTables:    {"LeftJoinTables", optNamed},
	opOuterJoinTables:   {"OuterJoinTables", optNamed},
	opGlobalTableFrom:   {"GlobalTableFrom", optNamed},
	opJoinGlobal:        {"JoinGlobal", optNamed},
	opLeftJoinGlobal:    {"LeftJoinGlobal", optNamed},

	// Foreign-key joins (fkjoin.go).
	opJoinForeignKey:     {"JoinForeignKey", optNamed},
	opLeftJoinForeignKey: {"LeftJoinForeignKey", optNamed},
}

// spec returns the operator's name and the options it accepts.
func (o operator) spec() (string, optKind) {
	if int(o) < len(specs) && specs[o].name != "" {
		return specs[o].name, specs[o].accepts
	}
	return fmt.Sprintf("operator(%d)", uint8(o)), 0
}

// configure applies the options given to operator op and records, as the topology's
// error, the first that op does not accept or whose value is wrong. It is the one place
// options are checked.
func (t *Topology) configure(op operator, opts []Option) opConfig {
	var c opConfig
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	name, accepts := op.spec()
	if extra := c.given &^ accepts; extra != 0 {
		first := extra & -extra
		hint := ""
		if op == opProcess && first == optNamed {
			hint = "; its name is Process's second argument"
		}
		t.g.Errorf("%s: option %s does not apply to %s (it takes %s%s)", op.label(c), first, name, accepts, hint)
	} else if c.invalid != "" {
		t.g.Errorf("%s: %s", op.label(c), c.invalid)
	}
	return c
}

// label names the operator in errors: its function, and its name when Named gave one.
func (o operator) label(c opConfig) string {
	name, accepts := o.spec()
	if c.name != "" && accepts&optNamed != 0 {
		return name + " " + c.name
	}
	return name
}

// nameFor returns the user's name if given, else a fresh generated one.
func (t *Topology) nameFor(c opConfig, prefix string) string {
	if c.name != "" {
		return c.name
	}
	return t.g.NextName(prefix)
}

// nodeName configures op's options and returns the name of its node.
func (t *Topology) nodeName(op operator, prefix string, opts []Option) string {
	return t.nameFor(t.configure(op, opts), prefix)
}

// Named gives an operator a stable name of your choice instead of a generated one
// (KSTREAM-FILTER-0000000003). Names appear in Describe and in errors, and a named
// Repartition or Rebalance names its topic "<application id>-<name>-repartition", so name
// those whose topics must survive changes to the rest of the topology. Every operator that
// takes options takes it, except Process, whose name is an argument.
func Named(name string) Option {
	o := option{kind: optNamed, set: func(c *opConfig) { c.name = name }}
	if name == "" {
		o.invalid = `Named(""): give a name, or leave Named out for a generated one`
	}
	return o
}

// Partitions sets the partition count of the topic a Repartition or Rebalance writes (or
// the one GroupByKey or GroupBy inserts). By default it is the partition count of the
// reading sub-topology's other inputs, else the largest among the writing sub-topology's
// inputs. n must be at least 1.
func Partitions(n int32) Option {
	o := option{kind: optPartitions, set: func(c *opConfig) { c.partitions = n }}
	if n < 1 {
		o.invalid = fmt.Sprintf("Partitions(%d): partitions must be positive", n)
	}
	return o
}

// Timestamps sets a source's event-time extractor (From, FromTopics): it receives each
// record's key, value and Kafka timestamp and returns the record's event time. By default
// the event time is the Kafka record's timestamp. An error fails the record (its topic,
// partition and offset are in the error). K and V must be the source's types.
func Timestamps[K, V any](extract func(key K, value V, recordTime time.Time) (time.Time, error)) Option {
	o := option{kind: optTimestamps, set: func(c *opConfig) { c.extractor = extract }}
	if extract == nil {
		o.invalid = "Timestamps(nil): give an extractor, or leave Timestamps out for the records' Kafka timestamps"
	}
	return o
}

// OutOfOrderness is how late, in event time, a source's records (From, FromTopics) may
// arrive behind the highest event time seen on their partition and still count: the
// partition's watermark is that highest time less this bound less 1 ms. Default 0
// (records in order).
func OutOfOrderness(d time.Duration) Option {
	o := option{kind: optOutOfOrderness, set: func(c *opConfig) { c.outOfOrderness = d }}
	if d < 0 {
		o.invalid = fmt.Sprintf("OutOfOrderness(%s) must not be negative", d)
	}
	return o
}

// IdleTimeout lets a source partition (From, FromTopics) that has had no record for d stop
// holding the task's watermark back, so one empty partition does not stall every window.
// When records arrive again it rejoins, and those behind the watermark are late. Default
// 0: never idle.
func IdleTimeout(d time.Duration) Option {
	o := option{kind: optIdleTimeout, set: func(c *opConfig) { c.idleTimeout = d }}
	if d < 0 {
		o.invalid = fmt.Sprintf("IdleTimeout(%s) must not be negative", d)
	}
	return o
}

// EmitUpdates makes a windowed aggregation (WindowedCount, WindowedReduce,
// WindowedAggregate) emit every change of a window's result, not only the final one when
// the window closes (the default). Sessions emit final results only. On Table.ToStream it
// asks for every update in a bounded run too, instead of each key's final value at the
// end of the run.
func EmitUpdates() Option {
	return option{kind: optEmitUpdates, set: func(c *opConfig) { c.emitUpdates = true }}
}

// LateRecordsTo sends the records a windowed or session aggregation rejects as late (every
// window they belong to is already final) to topic, with their key, value and timestamp,
// encoded with the grouping's serdes. By default late records are dropped; either way they
// are counted. The topic must exist before Run.
func LateRecordsTo(topic string) Option {
	o := option{kind: optLateRecordsTo, set: func(c *opConfig) { c.lateTopic = topic }}
	if topic == "" {
		o.invalid = `LateRecordsTo(""): name the topic, or leave LateRecordsTo out to drop late records`
	}
	return o
}

// Stores connects declared stores to a Process operator, so its processors can Open them.
func Stores(names ...string) Option {
	return option{kind: optStores, set: func(c *opConfig) { c.stores = append(c.stores, names...) }}
}

// Versioned makes TableFrom keep each key's history, not only its latest value: every
// version (a value or a deletion, with its timestamp) for historyRetention of the table's
// time, as Kafka Streams' versioned key-value stores (KIP-889). A stream joined with the
// table (JoinTable, LeftJoinTable) then meets, for a record at time t, the version valid
// at t, whatever order the records arrive in, and may wait for late table updates
// (Grace). The table's time is the highest timestamp of its updates; lookups and updates
// older than that less historyRetention find or keep nothing (an update that old is
// dropped and counted as late, see App.LateRecords(store)). An update older than the
// key's latest version goes into its history but is not passed downstream as a new value
// (KIP-914). historyRetention must be at least 1 ms.
func Versioned(historyRetention time.Duration) Option {
	o := option{kind: optVersioned, set: func(c *opConfig) { c.history = historyRetention }}
	if historyRetention < time.Millisecond {
		o.invalid = fmt.Sprintf("Versioned(%s): the history retention must be at least 1 ms", historyRetention)
	}
	return o
}

// OnDisk keeps a stream-stream join's records (JoinStreams, LeftJoinStreams,
// OuterJoinStreams) in the instance's Badger database instead of in memory. By default
// each task keeps its two sides' records in memory: they live only while they can still
// join (a join window and its grace), every commit is applied there, and the changelog
// topics stay the durable copy, from which a task restores both sides in full when it
// starts on an instance (after a restart or a rebalance), as Kafka Streams does for its
// in-memory window stores. Choose OnDisk when the records a join window holds do not fit
// in memory (long windows at a high rate); it costs a database write and read for every
// record that outlives a commit, and a restart restores from the local checkpoint.
func OnDisk() Option {
	return option{kind: optOnDisk, set: func(c *opConfig) { c.onDisk = true }}
}

// SpreadRoundRobin makes To write its records to the topic's partitions in turn, whatever
// their keys, as Flink's 'round-robin' sink partitioner (records without a key are spread
// anyway; this spreads keyed ones too, so one key's records land on several partitions).
func SpreadRoundRobin() Option {
	return option{kind: optSpread, set: func(c *opConfig) { c.spread = graph.RoundRobin }}
}

// PartitionByTask makes To write task p's records to partition p modulo the topic's
// partition count, whatever their keys, as Flink's 'fixed' sink partitioner (each
// parallel instance writes one partition): the output keeps the input's partitioning.
func PartitionByTask() Option {
	return option{kind: optSpread, set: func(c *opConfig) { c.spread = graph.ByTask }}
}

// Grace makes a stream-table join (JoinTable, LeftJoinTable) with a versioned table
// (Versioned) wait before it joins each stream record: a record at time t is kept in a
// buffer (a store with a changelog, so it survives a crash) until the task's watermark
// reaches t + d, then joined with the table's version valid at t, so table updates that
// arrive up to d late in event time still count (KIP-923). Records leave the buffer in
// timestamp order; one that is already that late when it arrives is joined at once. d must
// not be negative, nor longer than the table's history retention; Grace on a join with a
// table that is not versioned is an error.
func Grace(d time.Duration) Option {
	o := option{kind: optGrace, set: func(c *opConfig) { c.grace = d }}
	if d < 0 {
		o.invalid = fmt.Sprintf("Grace(%s) must not be negative", d)
	}
	return o
}
