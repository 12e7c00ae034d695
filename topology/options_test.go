package topology_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// options are one valid instance of every Option, by the name errors give it.
var options = []struct {
	name string
	opt  topology.Option
}{
	{"Named", topology.Named("chosen")},
	{"Partitions", topology.Partitions(3)},
	{"Timestamps", topology.Timestamps(func(_, _ string, t time.Time) (time.Time, error) { return t, nil })},
	{"OutOfOrderness", topology.OutOfOrderness(time.Second)},
	{"IdleTimeout", topology.IdleTimeout(time.Second)},
	{"EmitUpdates", topology.EmitUpdates()},
	{"LateRecordsTo", topology.LateRecordsTo("late")},
	{"Stores", topology.Stores("side")},
}

type opts = []topology.Option

// operators lists every operator function that takes options, with the options it
// accepts; build applies the operator, with the options, to a stream of string keys and
// values read from "in" (whose key was changed, so grouping repartitions), or to a table.
var operators = []struct {
	name    string
	accepts []string
	build   func(t *topology.Topology, s topology.Stream[string, string], tbl topology.Table[string, string], o opts)
}{
	{"From", []string{"Named", "Timestamps", "OutOfOrderness", "IdleTimeout"}, func(t *topology.Topology, _ topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.From(t, "other", serde.String(), serde.String(), o...)
	}},
	{"FromTopics", []string{"Named", "Timestamps", "OutOfOrderness", "IdleTimeout"}, func(t *topology.Topology, _ topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.FromTopics(t, []string{"other", "more"}, serde.String(), serde.String(), o...)
	}},
	{"TableFrom", []string{"Named"}, func(t *topology.Topology, _ topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.TableFrom(t, "other", serde.String(), serde.String(), "other-table", o...)
	}},
	{"Filter", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		s.Filter(func(string, string) bool { return true }, o...)
	}},
	{"FilterNot", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		s.FilterNot(func(string, string) bool { return true }, o...)
	}},
	{"Peek", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		s.Peek(func(string, string) {}, o...)
	}},
	{"ForEach", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		s.ForEach(func(string, string) {}, o...)
	}},
	{"SelectKey", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.SelectKey(s, func(k, _ string) string { return k }, o...)
	}},
	{"Map", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.Map(s, func(k, v string) (string, string) { return k, v }, o...)
	}},
	{"MapValues", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.MapValues(s, func(v string) string { return v }, o...)
	}},
	{"FlatMap", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.FlatMap(s, func(string, string) []topology.KeyValue[string, string] { return nil }, o...)
	}},
	{"FlatMapValues", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.FlatMapValues(s, func(string) []string { return nil }, o...)
	}},
	{"TryFilter", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		s.TryFilter(func(string, string) (bool, error) { return true, nil }, o...)
	}},
	{"TryPeek", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		s.TryPeek(func(string, string) error { return nil }, o...)
	}},
	{"TryForEach", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		s.TryForEach(func(string, string) error { return nil }, o...)
	}},
	{"TrySelectKey", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.TrySelectKey(s, func(k, _ string) (string, error) { return k, nil }, o...)
	}},
	{"TryMap", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.TryMap(s, func(k, v string) (string, string, error) { return k, v, nil }, o...)
	}},
	{"TryMapValues", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.TryMapValues(s, func(v string) (string, error) { return v, nil }, o...)
	}},
	{"TryFlatMap", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.TryFlatMap(s, func(string, string) ([]topology.KeyValue[string, string], error) { return nil, nil }, o...)
	}},
	{"TryFlatMapValues", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.TryFlatMapValues(s, func(string) ([]string, error) { return nil, nil }, o...)
	}},
	{"Process", []string{"Stores"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.Process(s, "proc", func() processor.Processor[string, string, string, string] { return nil }, o...)
	}},
	{"To", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.To(s, "out", serde.String(), serde.String(), o...)
	}},
	{"ToTopic", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.ToTopic(s, func(processor.Record[string, string]) string { return "out" }, serde.String(), serde.String(), o...)
	}},
	{"Repartition", []string{"Named", "Partitions"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.Repartition(s, serde.String(), serde.String(), o...)
	}},
	{"Rebalance", []string{"Named", "Partitions"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.Rebalance(s, serde.String(), serde.String(), o...)
	}},
	{"GroupByKey", []string{"Named", "Partitions"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.GroupByKey(s, serde.String(), serde.String(), o...)
	}},
	{"GroupBy", []string{"Named", "Partitions"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.GroupBy(s, func(k, _ string) string { return k }, serde.String(), serde.String(), o...)
	}},
	{"Count", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.Count(grouped(s), "agg", o...)
	}},
	{"Reduce", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.Reduce(grouped(s), func(a, _ string) string { return a }, "agg", o...)
	}},
	{"Aggregate", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.Aggregate(grouped(s), func() int64 { return 0 }, func(string, string, int64) int64 { return 0 }, serde.Int64(), "agg", o...)
	}},
	{"WindowedCount", []string{"Named", "EmitUpdates", "LateRecordsTo"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.WindowedCount(topology.WindowBy(grouped(s), topology.TumblingWindows(time.Second)), "agg", o...)
	}},
	{"WindowedReduce", []string{"Named", "EmitUpdates", "LateRecordsTo"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.WindowedReduce(topology.WindowBy(grouped(s), topology.SlidingWindows(time.Second)), func(a, _ string) string { return a }, "agg", o...)
	}},
	{"WindowedAggregate", []string{"Named", "EmitUpdates", "LateRecordsTo"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.WindowedAggregate(topology.WindowBy(grouped(s), topology.HoppingWindows(time.Second, time.Second)),
			func() int64 { return 0 }, func(string, string, int64) int64 { return 0 }, serde.Int64(), "agg", o...)
	}},
	{"SessionCount", []string{"Named", "LateRecordsTo"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.SessionCount(topology.SessionBy(grouped(s), topology.Sessions(time.Second)), "agg", o...)
	}},
	{"SessionAggregate", []string{"Named", "LateRecordsTo"}, func(_ *topology.Topology, s topology.Stream[string, string], _ topology.Table[string, string], o opts) {
		topology.SessionAggregate(topology.SessionBy(grouped(s), topology.Sessions(time.Second)),
			func() int64 { return 0 }, func(string, string, int64) int64 { return 0 }, func(_ string, a, _ int64) int64 { return a }, serde.Int64(), "agg", o...)
	}},
	{"Table.ToStream", []string{"Named", "EmitUpdates"}, func(_ *topology.Topology, _ topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		tbl.ToStream(o...)
	}},
	{"Table.Filter", []string{"Named"}, func(_ *topology.Topology, _ topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		tbl.Filter(func(string, string) bool { return true }, o...)
	}},
	{"MapTableValues", []string{"Named"}, func(_ *topology.Topology, _ topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		topology.MapTableValues(tbl, func(v string) string { return v }, o...)
	}},
	{"JoinTable", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		topology.JoinTable(s, tbl, serde.String(), serde.String(), func(_, v, w string) string { return v + w }, o...)
	}},
	{"GroupTable", []string{"Named", "Partitions"}, func(_ *topology.Topology, _ topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		topology.GroupTable(tbl, func(k, v string) (string, string) { return v, k }, serde.String(), serde.String(), o...)
	}},
	{"CountTable", []string{"Named"}, func(_ *topology.Topology, _ topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		topology.CountTable(groupedTable(tbl), "agg", o...)
	}},
	{"ReduceTable", []string{"Named"}, func(_ *topology.Topology, _ topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		topology.ReduceTable(groupedTable(tbl), func(a, b string) string { return a + b }, func(a, _ string) string { return a }, "agg", o...)
	}},
	{"AggregateTable", []string{"Named"}, func(_ *topology.Topology, _ topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		topology.AggregateTable(groupedTable(tbl), func() int64 { return 0 }, func(string, string, int64) int64 { return 1 },
			func(string, string, int64) int64 { return 0 }, serde.Int64(), "agg", o...)
	}},
	{"LeftJoinTable", []string{"Named"}, func(_ *topology.Topology, s topology.Stream[string, string], tbl topology.Table[string, string], o opts) {
		topology.LeftJoinTable(s, tbl, serde.String(), serde.String(), func(_, v, w string, _ bool) string { return v + w }, o...)
	}},
}

// grouped groups s by its key (s's key was changed, so through a repartition).
func grouped(s topology.Stream[string, string]) topology.Grouped[string, string] {
	return topology.GroupByKey(s, serde.String(), serde.String())
}

// Every operator with every option: the options an operator accepts build, the others
// are errors (Err, and so eddy.New) that name the operator and the option.
func TestOptionsThatDoNotApplyAreErrors(t *testing.T) {
	for _, op := range operators {
		for _, o := range options {
			t.Run(op.name+"/"+o.name, func(t *testing.T) {
				top := topology.New()
				in := topology.SelectKey(topology.From(top, "in", serde.String(), serde.String()), func(k, _ string) string { return k })
				topology.NewKeyValueStore(top, "side", serde.String(), serde.String())
				tbl := topology.TableFrom(top, "table", serde.String(), serde.String(), "table-store")
				op.build(top, in, tbl, opts{o.opt})
				err := top.Err()
				if slices.Contains(op.accepts, o.name) {
					if err != nil {
						t.Fatalf("%s with %s: %v, want it accepted", op.name, o.name, err)
					}
					return
				}
				want := op.name + ": option " + o.name + " does not apply"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("%s with %s: Err = %v, want one containing %q", op.name, o.name, err, want)
				}
			})
		}
	}
}

// The options GroupByKey takes are for the repartition topic it inserts; on a stream
// still partitioned by its key there is none, and they are errors, not silence. Option
// values are checked too.
func TestOptionValuesAndMisplacedGrouping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(t *topology.Topology, in topology.Stream[string, string])
		want  string
	}{
		{"GroupByKey Named without a repartition", func(_ *topology.Topology, in topology.Stream[string, string]) {
			topology.GroupByKey(in, serde.String(), serde.String(), topology.Named("g"))
		}, "GroupByKey g: Named applies to the repartition topic GroupByKey inserts, and there is none"},
		{"GroupByKey Partitions without a repartition", func(_ *topology.Topology, in topology.Stream[string, string]) {
			topology.GroupByKey(in, serde.String(), serde.String(), topology.Partitions(4))
		}, "GroupByKey: Partitions applies to the repartition topic GroupByKey inserts, and there is none"},
		{"Partitions(0)", func(_ *topology.Topology, in topology.Stream[string, string]) {
			topology.Repartition(in, serde.String(), serde.String(), topology.Partitions(0))
		}, "Repartition: Partitions(0): partitions must be positive"},
		{"negative OutOfOrderness", func(t *topology.Topology, _ topology.Stream[string, string]) {
			topology.From(t, "other", serde.String(), serde.String(), topology.OutOfOrderness(-time.Second))
		}, "From: OutOfOrderness(-1s) must not be negative"},
		{"negative IdleTimeout", func(t *topology.Topology, _ topology.Stream[string, string]) {
			topology.From(t, "other", serde.String(), serde.String(), topology.IdleTimeout(-time.Second))
		}, "From: IdleTimeout(-1s) must not be negative"},
		{"empty LateRecordsTo", func(_ *topology.Topology, in topology.Stream[string, string]) {
			g := topology.GroupByKey(in, serde.String(), serde.String())
			topology.WindowedCount(topology.WindowBy(g, topology.TumblingWindows(time.Second)), "w", topology.LateRecordsTo(""))
		}, `WindowedCount: LateRecordsTo(""): name the topic`},
		{"nil Timestamps", func(t *topology.Topology, _ topology.Stream[string, string]) {
			topology.From(t, "other", serde.String(), serde.String(), topology.Timestamps[string, string](nil))
		}, "From: Timestamps(nil)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := topology.New()
			tc.build(top, topology.From(top, "in", serde.String(), serde.String()))
			if err := top.Err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func groupedTable(t topology.Table[string, string]) topology.GroupedTable[string, string] {
	return topology.GroupTable(t, func(k, v string) (string, string) { return v, k }, serde.String(), serde.String())
}
