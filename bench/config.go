package bench

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Pipeline names one of the measured pipelines.
type Pipeline string

// The pipelines, in the order of the table.
const (
	// Raw is the ceiling: a franz-go group consumer piping every record to the output,
	// unchanged, without eddy.
	Raw Pipeline = "raw"
	// Stateless filters (Keep) and maps (Upper) each record.
	Stateless Pipeline = "stateless"
	// Count counts records by key in a store backed by a changelog and writes every
	// update of a count.
	Count Pipeline = "count"
	// CountAvro is Count over Avro values: the input's values as the Avro record AvroValue
	// (seq and text), which eddy decodes into a struct with serde.Avro before counting.
	// eddy only: Confluent's Avro serde for Kafka Streams is not on Maven Central.
	CountAvro Pipeline = "count-avro"
	// Windowed counts records by key in 1 s tumbling event-time windows (grace 0) and
	// writes each window's final count when it closes.
	Windowed Pipeline = "windowed"
	// SQLWindowed is Windowed written in SQL (package sql): the same 1 s tumbling count
	// by key, each window's row written as JSON (k, window_start, window_end, n). eddy
	// only: Kafka Streams has no SQL (its row in the table is Windowed's).
	SQLWindowed Pipeline = "sql-windowed"
	// Join enriches the input from a table: a stream-table left join with a table topic,
	// co-partitioned with the input, that holds one value per key (TableValue), stamped
	// before the input's first record; each output value is the input value, "|" and the
	// key's table value (Enrich).
	Join Pipeline = "join"
	// WindowedJoin is a windowed stream-stream inner join of two topics that split the
	// input's records in pairs (left: the even records, right: the odd ones; see
	// JoinStreamRecord) within JoinWindow either way, grace 0; each output value is the
	// left value, "|" and the right value (Pair).
	WindowedJoin Pipeline = "windowed-join"
)

// AllPipelines lists every pipeline in table order.
var AllPipelines = []Pipeline{Raw, Stateless, Count, CountAvro, Windowed, SQLWindowed, Join, WindowedJoin}

// Engine names what runs a pipeline.
type Engine string

// The engines.
const (
	// FranzGo runs the raw pipe only.
	FranzGo Engine = "franz-go"
	// Eddy is this library.
	Eddy Engine = "eddy"
	// KStreams is Apache Kafka Streams on the JVM.
	KStreams Engine = "kstreams"
)

// AllEngines lists every engine in table order.
var AllEngines = []Engine{FranzGo, Eddy, KStreams}

// Guarantee is a processing guarantee.
type Guarantee string

// The guarantees.
const (
	ALOS Guarantee = "alos" // at-least-once
	EOS  Guarantee = "eos"  // exactly-once (Kafka transactions; Kafka Streams' exactly_once_v2)
)

// AllGuarantees lists both guarantees in table order.
var AllGuarantees = []Guarantee{ALOS, EOS}

// Runs reports whether engine e runs pipeline p: the raw pipe is franz-go's alone, the
// others are eddy's and Kafka Streams'.
func Runs(e Engine, p Pipeline) bool {
	switch p {
	case Raw:
		return e == FranzGo
	case CountAvro, SQLWindowed:
		return e == Eddy
	}
	return e != FranzGo
}

// Config is one comparison's settings. The zero value is not usable; start from
// DefaultConfig.
type Config struct {
	Brokers    []string
	Records    int   // preloaded input records
	Keys       int   // key cardinality
	ValueSize  int   // value bytes (keys are "key-<n>")
	Partitions int32 // input and output partitions
	// Workers is eddy's Workers, Kafka Streams' num.stream.threads and the raw pipe's
	// consumer count: the cores the processing process may use.
	Workers int
	// CommitALOS and CommitEOS are the commit intervals under each guarantee, the same
	// for every engine.
	CommitALOS, CommitEOS time.Duration
	// KSCacheBytes is Kafka Streams' statestore.cache.max.bytes.
	KSCacheBytes int64
	// KSHeap is the JVM's -Xmx.
	KSHeap string
	// Compression is the producers' compression codec (none, snappy, lz4, zstd, gzip),
	// the same for every engine (franz-go's default is snappy, Kafka's Java producer's
	// none).
	Compression string
	// EventRate is the preloaded input's event-time rate: record i happens i/EventRate
	// seconds after the first. It sets how many records a 1 s window holds.
	EventRate int
	// JoinWindow is the windowed join's time difference, either way (Kafka Streams'
	// JoinWindows.ofTimeDifferenceWithNoGrace, eddy's JoinWindowsOf): whole milliseconds.
	JoinWindow time.Duration
	// LiveRate and LiveDuration shape the latency phase: records at LiveRate per second
	// for LiveWarmup, then LiveDuration measured. LiveDuration 0 skips latency.
	LiveRate                 int
	LiveWarmup, LiveDuration time.Duration
	// Timeout bounds one run (preload excluded).
	Timeout time.Duration
	// Verify reads each run's output back and checks it.
	Verify bool
	// ChildLogLevel is the level of eddy's logs in the children's log files.
	ChildLogLevel slog.Level
	// LatencyDump, when set, is a directory where each latency phase writes its samples
	// (event time and fetch time relative to the start of measurement, and latency, in
	// ms) as <run>.tsv.
	LatencyDump string

	Pipelines  []Pipeline
	Engines    []Engine
	Guarantees []Guarantee

	// Self is the harness executable, re-executed for the raw and eddy children.
	Self string
	// Jar is the Kafka Streams jar; Pom its project, built when the jar is stale.
	Jar, Pom string
	// Java is the java executable.
	Java string
	// WorkDir holds state directories and children's logs.
	WorkDir string
	// Command is the command line, printed with the table.
	Command string
}

// DefaultConfig returns the defaults: 1M records, 10k keys, 100-byte values.
func DefaultConfig() Config {
	return Config{
		Records:       1_000_000,
		Keys:          10_000,
		ValueSize:     100,
		Partitions:    4,
		Workers:       2,
		CommitALOS:    100 * time.Millisecond,
		CommitEOS:     100 * time.Millisecond,
		KSCacheBytes:  10 << 20,
		KSHeap:        "1g",
		Compression:   "none",
		EventRate:     100_000,
		JoinWindow:    100 * time.Millisecond,
		LiveRate:      5_000,
		LiveWarmup:    3 * time.Second,
		LiveDuration:  10 * time.Second,
		Timeout:       10 * time.Minute,
		Verify:        true,
		ChildLogLevel: slog.LevelWarn,
		Pipelines:     AllPipelines,
		Engines:       AllEngines,
		Guarantees:    AllGuarantees,
		Java:          "java",
	}
}

// CommitInterval is the commit interval under g.
func (c *Config) CommitInterval(g Guarantee) time.Duration {
	if g == EOS {
		return c.CommitEOS
	}
	return c.CommitALOS
}

// Validate checks the settings together.
func (c *Config) Validate() error {
	var bad []string
	if len(c.Brokers) == 0 {
		bad = append(bad, "no brokers: pass -brokers or set KAFKA_BOOTSTRAP")
	}
	if c.Records < 1 || c.Keys < 1 || c.Partitions < 1 || c.Workers < 1 {
		bad = append(bad, "records, keys, partitions and workers must be positive")
	}
	if c.ValueSize < minValueSize {
		bad = append(bad, fmt.Sprintf("value size %d: need at least %d bytes (the filter reads ten digits)", c.ValueSize, minValueSize))
	}
	if c.CommitALOS <= 0 || c.CommitEOS <= 0 {
		bad = append(bad, "commit intervals must be positive")
	}
	if c.EventRate < 1 || (c.LiveDuration > 0 && c.LiveRate < 1) {
		bad = append(bad, "event and live rates must be positive")
	}
	if c.JoinWindow < 0 || c.JoinWindow%time.Millisecond != 0 {
		bad = append(bad, fmt.Sprintf("join window %s: want whole milliseconds, at least 0", c.JoinWindow))
	}
	switch c.Compression {
	case "none", "snappy", "lz4", "zstd", "gzip":
	default:
		bad = append(bad, fmt.Sprintf("compression %q: want none, snappy, lz4, zstd or gzip", c.Compression))
	}
	if len(bad) > 0 {
		return fmt.Errorf("bench: %s", strings.Join(bad, "; "))
	}
	return nil
}

// ParsePipelines parses a comma-separated list of pipelines ("all" for every one).
func ParsePipelines(s string) ([]Pipeline, error) {
	return parseList(s, AllPipelines, "pipeline")
}

// ParseEngines parses a comma-separated list of engines ("all" for every one).
func ParseEngines(s string) ([]Engine, error) { return parseList(s, AllEngines, "engine") }

// ParseGuarantees parses a comma-separated list of guarantees ("all" for both).
func ParseGuarantees(s string) ([]Guarantee, error) {
	return parseList(s, AllGuarantees, "guarantee")
}

func parseList[T ~string](s string, all []T, what string) ([]T, error) {
	if s == "" || s == "all" {
		return all, nil
	}
	var out []T
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		found := false
		for _, v := range all {
			if string(v) == f {
				out, found = append(out, v), true
			}
		}
		if !found {
			return nil, fmt.Errorf("bench: unknown %s %q (want one of %v)", what, f, all)
		}
	}
	return out, nil
}
