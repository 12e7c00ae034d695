package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Context returns the report's context lines: machine, versions, settings and command.
func (h *Harness) Context(ctx context.Context) []string {
	c := &h.cfg
	return []string{
		"machine: " + Machine(),
		fmt.Sprintf("versions: eddy %s, %s, franz-go %s; Kafka Streams %s on %s; broker %s",
			eddyVersion(), runtime.Version(), depVersion("github.com/twmb/franz-go"), KStreamsVersion(c.Pom),
			JavaVersion(c.Java), h.BrokerVersion(ctx)),
		fmt.Sprintf("input: %d records, %d keys, %d-byte values, %d partitions, event time %d records/s (1 s windows hold %d records)",
			c.Records, c.Keys, c.ValueSize, c.Partitions, c.EventRate, c.EventRate),
		fmt.Sprintf("joins: join = the input left-joined with a table of %d records (one per key, stamped 1 s before the input); "+
			"windowed-join = %d records in two topics (record i left when even, right when odd, with the key of pair i/2), inner join within ±%s, grace 0",
			c.Keys, c.Records, c.JoinWindow),
		fmt.Sprintf("settings: %d workers = num.stream.threads = raw pipe consumers; commit interval %s at-least-once, %s exactly-once (all engines); "+
			"Kafka Streams statestore.cache.max.bytes %d, -Xmx%s; producer compression %s (all engines)",
			c.Workers, c.CommitALOS, c.CommitEOS, c.KSCacheBytes, c.KSHeap, c.Compression),
		fmt.Sprintf("latency phase: %d records/s, %s warm-up, %s measured", c.LiveRate, c.LiveWarmup, c.LiveDuration),
		fmt.Sprintf("date: %s", time.Now().UTC().Format(time.RFC3339)),
		"command: `" + c.Command + "`",
	}
}

// Notes says what every number in the tables means.
func Notes() []string {
	return []string{
		"Each run is its own child process (the harness re-executed for franz-go and eddy, `java -jar` for Kafka Streams) with a fresh " +
			"application id, group, output topic and state directory, reading the same preloaded input from its start.",
		"rec/s = input records ÷ (completion − the child's first fetched record, which the child reports as `started <unix ns>`). " +
			"Completion is seen by the harness, polling every 20 ms: raw pipe, stateless and join at-least-once when the output's end offsets " +
			"reach the expected count; exactly-once, windowed and windowed-join when the group's committed offsets reach the input's end offsets " +
			"(both topics' for windowed-join; exactly-once output commits in the same transaction); count when that holds and the output has a record per key. " +
			"The join's input records are the stream's (its table's are not counted); the windowed join's are both topics'. " +
			"Where completion is a commit, the time includes waiting for the next commit (up to one commit interval).",
		"MB/s = input key and value bytes (10^6) per second over the same time.",
		"p50/p99 = end-to-end latency in a separate live phase: a fresh child on an empty topic, fed at the latency rate with records " +
			"stamped with the wall clock at produce time (event time); after the first output and the warm-up, latency = the time the " +
			"harness's read_committed consumer fetched an output record − its event time (the input timestamp, which every engine " +
			"propagates), or for windowed counts − the window's end, the earliest a final count can exist (for the windowed join, the result's " +
			"time is its later record's: the right one, produced just after its left partner). It includes the engines' " +
			"producer linger (eddy 5 ms, raw pipe 5 ms, Kafka Streams' default 100 ms) and, under exactly-once, the wait for the commit.",
		"peak RSS = the child's VmHWM (/proc/<pid>/status) read just before it is stopped; not ru_maxrss, which on Linux " +
			"carries the harness's own RSS into the child across the vfork+exec that starts it; CPU/rec = the child's user + system CPU time over its whole life (start-up, processing, and " +
			"the idle moments until it is stopped) ÷ input records; startup = exec to first fetched record.",
		"output = records read back (read_committed) from the output topic and checked: raw pipe and stateless exactly the expected " +
			"count; count: one final count per key summing to the input; windowed: no window twice; join: one output per input record, " +
			"none twice, each the input value + \"|\" + its key's table value (a record that found no table value fails the check: the table " +
			"is stamped before the input, so a join by event time always finds it); windowed-join: exactly the number of left-right pairs of " +
			"one key at most the window apart that the harness counts from the preloaded timestamps, none twice, each such a pair.",
		"eddy's Count emits every update (one output record per input record); its store buffers writes per commit interval " +
			"(changelog records deduplicated per key), like Kafka Streams' cache, but the cache also deduplicates the output, so Kafka " +
			"Streams writes fewer count records (compare the output column).",
		"Windowed counts use grace 0 and final results only on both sides (eddy: WindowedCount, out-of-orderness 0, watermark = max " +
			"event time − 1 ms; Kafka Streams: suppress(untilWindowCloses), TimeWindows.ofSizeWithNoGrace); the last window per partition " +
			"stays open at the end of the input.",
		"The join is a stream-table left join (eddy: TableFrom and LeftJoinTable; Kafka Streams: builder.table and KStream.leftJoin), " +
			"each table materialized in a store with a changelog; both engines process a task's records by timestamp, so the table's " +
			"come first. The windowed join is an inner join (eddy: JoinStreams with JoinWindowsOf(window), out-of-orderness 0; Kafka " +
			"Streams: KStream.join with JoinWindows.ofTimeDifferenceWithNoGrace), each side in a window store with a changelog; each left " +
			"record meets its partner, and its key's other records are 2 × keys ÷ event rate apart (0.2 s at the defaults). Keys are " +
			"strings and values bytes on both engines, joined into value + \"|\" + value.",
	}
}

// Machine describes the CPU, cores, memory and kernel.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%s, %d cores%s%s", cpu, runtime.NumCPU(), mem, kernel)
}

// eddyVersion is the commit the harness was built from.
func eddyVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				return rev[:min(12, len(rev))] + " (modified)"
			}
			return rev[:min(12, len(rev))]
		}
	}
	// go run builds without VCS stamps; ask git (read-only).
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return "unknown"
}

func depVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "unknown"
}
