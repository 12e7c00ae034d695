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
	return t
}

// parse reads the contract's decimal values; anything else counts as 0.
func parse(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func mod10(v int64) int64 { return ((v % 10) + 10) % 10 }

func format(n int64) string { return strconv.FormatInt(n, 10) }
