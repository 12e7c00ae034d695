package topology_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/processor"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// pageViews builds a topology that uses every kind of node: sources, a merge of two
// streams, a split, a user processor, a repartition, a rebalance and static and per-record
// sinks.
func pageViews() *topology.Topology {
	t := topology.New()
	views := topology.From(t, "page-views", serde.String(), serde.String(), topology.Named("views"))
	clicks := topology.From(t, "clicks", serde.String(), serde.String())
	all := views.Merge(clicks)
	br := all.Split("by-device",
		topology.Branch[string, string]{Name: "mobile", Predicate: func(_, v string) bool { return strings.HasPrefix(v, "m:") }},
		topology.Branch[string, string]{Name: "other"},
	)
	lengths := topology.MapValues(br[0], func(v string) int64 { return int64(len(v)) })
	topology.To(lengths, "mobile-lengths", serde.String(), serde.Int64())
	byURL := topology.SelectKey(br[1], func(_, v string) string { return v }, topology.Named("url-as-key"))
	re := topology.Repartition(byURL, serde.String(), serde.String(), topology.Named("by-url"))
	tagged := topology.Process(re, "tag", func() processor.Processor[string, string, string, string] { return nil })
	spread := topology.Rebalance(tagged, serde.String(), serde.String())
	topology.ToTopic(spread, func(r processor.Record[string, string]) string { return "out-" + r.Key }, serde.String(), serde.String())
	return t
}

// joins builds one join of each family, with generated names (Kafka Streams' shapes):
// an outer stream-stream join, its right side re-keyed first; a stream-table join; a left
// table-table join of a table from a topic with an aggregation's table.
func joins() *topology.Topology {
	t := topology.New()
	s := serde.String()
	orders := topology.From(t, "orders", s, s)
	payments := topology.SelectKey(topology.From(t, "payments", s, s), func(_, v string) string { return v })
	paid := topology.OuterJoinStreams(orders, payments, topology.JoinWindowsOf(10*time.Minute), s, s, s,
		func(_, o string, _ bool, p string, _ bool) string { return o + p })
	customers := topology.TableFrom(t, "customers", s, s, "customers")
	enriched := topology.JoinTable(paid, customers, s, s, func(_, o, c string) string { return o + c })
	topology.To(enriched, "enriched", s, s)
	visits := topology.Count(topology.GroupByKey(topology.From(t, "visits", s, s), s, s), "visits")
	topology.To(topology.LeftJoinTables(customers, visits, func(_, c string, n int64, _ bool) string { return fmt.Sprint(c, n) }).ToStream(),
		"customer-visits", s, s)
	return t
}

func TestDescribeGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		build  func() *topology.Topology
		render func(*topology.Topology) (string, error)
	}{
		{"pageviews.describe.golden", pageViews, (*topology.Topology).Describe},
		{"pageviews.mermaid.golden", pageViews, (*topology.Topology).Mermaid},
		{"rebalanced-count.describe.golden", rebalancedCount, (*topology.Topology).Describe},
		{"joins.describe.golden", joins, (*topology.Topology).Describe},
		{"joins.mermaid.golden", joins, (*topology.Topology).Mermaid},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := tc.render(tc.build())
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./topology -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n%s", tc.file, path, got)
			}
		})
	}
}

// Building the same topology twice gives the same description: generated names and
// sub-topology ids are stable.
func TestDescribeIsStable(t *testing.T) {
	a, _ := pageViews().Describe()
	b, _ := pageViews().Describe()
	if a != b {
		t.Fatalf("two builds describe differently:\n%s\n---\n%s", a, b)
	}
}

func TestSubtopologiesSplitAtRepartitions(t *testing.T) {
	subs, err := pageViews().Graph().Subtopologies()
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, s := range subs {
		got = append(got, s.SourceTopics())
	}
	want := [][]string{{"page-views", "clicks"}, {"by-url-repartition"}, {"KSTREAM-REBALANCE-0000000004-repartition"}}
	if len(got) != len(want) {
		t.Fatalf("sub-topology sources = %v, want %v", got, want)
	}
	for i := range want {
		if strings.Join(got[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("sub-topology %d reads %v, want %v", i, got[i], want[i])
		}
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(*topology.Topology)
		want  string
	}{
		{"empty", func(*topology.Topology) {}, "empty"},
		{"topic read twice", func(t *topology.Topology) {
			topology.From(t, "a", serde.String(), serde.String())
			topology.From(t, "a", serde.String(), serde.String())
		}, `topic "a" is read by two sources`},
		{"duplicate name", func(t *topology.Topology) {
			s := topology.From(t, "a", serde.String(), serde.String())
			s.Filter(func(string, string) bool { return true }, topology.Named("x"))
			s.Peek(func(string, string) {}, topology.Named("x"))
		}, `the name "x" is used by two operators`},
		{"nil serde", func(t *topology.Topology) {
			topology.From[string, string](t, "a", nil, serde.String())
		}, "serdes are required"},
		{"unnamed branch", func(t *topology.Topology) {
			s := topology.From(t, "a", serde.String(), serde.String())
			s.Split("s", topology.Branch[string, string]{})
		}, "branch 0 has no name"},
		{"empty sink topic", func(t *topology.Topology) {
			topology.To(topology.From(t, "a", serde.String(), serde.String()), "", serde.String(), serde.String())
		}, "empty topic name"},
		{"negative partitions", func(t *topology.Topology) {
			topology.Repartition(topology.From(t, "a", serde.String(), serde.String()), serde.String(), serde.String(), topology.Partitions(-1))
		}, "partitions must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := topology.New()
			tc.build(top)
			_, err := top.Describe()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Describe error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// rebalancedCount counts by key after a Rebalance: the key grouping is gone, so GroupByKey
// repartitions by key (topic by-key-repartition) before the count.
func rebalancedCount() *topology.Topology {
	t := topology.New()
	in := topology.From(t, "in", serde.String(), serde.String())
	spread := topology.Rebalance(in, serde.String(), serde.String(), topology.Named("spread"))
	counts := topology.Count(topology.GroupByKey(spread, serde.String(), serde.String(), topology.Named("by-key")), "counts")
	topology.To(counts.ToStream(), "out", serde.String(), serde.Int64())
	return t
}

// After Rebalance every key-dependent operation repartitions by key first, as after
// SelectKey; a Repartition by key gives the grouping back, and a merge with a rebalanced
// stream loses it.
func TestRebalanceLosesKeyGrouping(t *testing.T) {
	count := func(s topology.Stream[string, string], opts ...topology.Option) {
		topology.Count(topology.GroupByKey(s, serde.String(), serde.String(), opts...), "counts")
	}
	byKey := topology.Named("by-key")
	for _, tc := range []struct {
		name  string
		build func(*topology.Topology)
		want  [][]string
	}{
		{"rebalance", func(t *topology.Topology) {
			count(topology.Rebalance(topology.From(t, "in", serde.String(), serde.String()), serde.String(), serde.String(), topology.Named("spread")), byKey)
		}, [][]string{{"in"}, {"spread-repartition"}, {"by-key-repartition"}}},
		{"rebalance then repartition", func(t *topology.Topology) {
			s := topology.Rebalance(topology.From(t, "in", serde.String(), serde.String()), serde.String(), serde.String(), topology.Named("spread"))
			count(topology.Repartition(s, serde.String(), serde.String(), topology.Named("regroup")))
		}, [][]string{{"in"}, {"spread-repartition"}, {"regroup-repartition"}}},
		{"merge with a rebalanced stream", func(t *topology.Topology) {
			a := topology.From(t, "a", serde.String(), serde.String())
			b := topology.Rebalance(topology.From(t, "b", serde.String(), serde.String()), serde.String(), serde.String(), topology.Named("spread"))
			count(a.Merge(b), byKey)
		}, [][]string{{"a", "spread-repartition"}, {"b"}, {"by-key-repartition"}}},
		{"filter after rebalance", func(t *topology.Topology) {
			s := topology.Rebalance(topology.From(t, "in", serde.String(), serde.String()), serde.String(), serde.String(), topology.Named("spread"))
			count(s.Filter(func(string, string) bool { return true }), byKey)
		}, [][]string{{"in"}, {"spread-repartition"}, {"by-key-repartition"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := topology.New()
			tc.build(top)
			subs, err := top.Graph().Subtopologies()
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for _, s := range subs {
				got = append(got, s.SourceTopics())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("sub-topologies read %v, want %v", got, tc.want)
			}
		})
	}
}
