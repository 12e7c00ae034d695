// Package smoke holds the topology of eddy's exactly-once verification (see
// integration/smokeapp for its contract), shared by the smoke application and the
// benchmarks that compare the guarantees on it.
package smoke

import (
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Build returns the smoke topology over input.
func Build(input string) *topology.Topology {
	t := topology.New()
	in := topology.From(t, input, serde.String(), serde.String(), topology.Named("input"))
	topology.To(in, input+"-echo", serde.String(), serde.String(), topology.Named("echo"))

	nums := topology.MapValues(in, parse, topology.Named("parse"))
	sums := topology.Aggregate(topology.GroupByKey(nums, serde.String(), serde.Int64()),
		func() int64 { return 0 }, func(_ string, v, sum int64) int64 { return sum + v }, serde.Int64(), "sum")
	topology.To(topology.MapValues(sums.ToStream(), format), input+"-sum", serde.String(), serde.String(), topology.Named("sum-out"))

	byDigit := topology.SelectKey(nums, func(_ string, v int64) string { return strconv.FormatInt(mod10(v), 10) }, topology.Named("by-digit"))
	counts := topology.Count(topology.GroupByKey(byDigit, serde.String(), serde.Int64(), topology.Named("digits")), "count")
	topology.To(topology.MapValues(counts.ToStream(), format), input+"-count", serde.String(), serde.String(), topology.Named("count-out"))

	windows := topology.WindowedCount(topology.WindowBy(topology.GroupByKey(in, serde.String(), serde.String()),
		topology.TumblingWindows(time.Second)), "windows")
	topology.To(topology.Map(windows, func(k topology.Windowed[string], n int64) (string, string) {
		return k.Key + "@" + strconv.FormatInt(k.Start.UnixMilli(), 10), format(n)
	}, topology.Named("window-label")), input+"-windows", serde.String(), serde.String(), topology.Named("windows-out"))

	// A stream enriched from a table: each record with its key's profile, read from
	// <input>-profiles (co-partitioned with the input), or "-".
	profiles := topology.TableFrom(t, input+"-profiles", serde.String(), serde.String(), "profiles", topology.Named("profiles"))
	enriched := topology.LeftJoinTable(in, profiles, serde.String(), serde.String(), func(_, v, p string, found bool) string {
		if !found {
			p = "-"
		}
		return v + "|" + p
	}, topology.Named("enrich"))
	topology.To(enriched, input+"-enriched", serde.String(), serde.String(), topology.Named("enriched-out"))

	// A windowed stream-stream join: each even value with the odd values of its key at
	// most 100 ms away, or alone once its window has closed.
	parity := nums.Split("parity", topology.Branch[string, int64]{Name: "even", Predicate: func(_ string, v int64) bool { return v%2 == 0 }},
		topology.Branch[string, int64]{Name: "odd"})
	paired := topology.LeftJoinStreams(parity[0], parity[1], topology.JoinWindowsOf(100*time.Millisecond), serde.String(), serde.Int64(), serde.Int64(),
		func(_ string, even, odd int64, found bool) string {
			if !found {
				return format(even) + "|-"
			}
			return format(even) + "|" + format(odd)
		}, topology.Named("pair"))
	topology.To(paired, input+"-paired", serde.String(), serde.String(), topology.Named("paired-out"))
	return t
}

// Outputs are the suffixes of the output topics, and of the profiles topic the topology
// reads as a table, after the input topic's name.
var Outputs = []string{"-echo", "-sum", "-count", "-windows", "-enriched", "-paired", "-profiles"}

// parse reads the contract's decimal values; anything else counts as 0.
func parse(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func mod10(v int64) int64 { return ((v % 10) + 10) % 10 }

func format(n int64) string { return strconv.FormatInt(n, 10) }
