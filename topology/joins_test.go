package topology_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Joins refuse what they cannot run when the topology is built, naming the join: a nil
// joiner (it would fail every record), a table joined with itself, a re-keyed stream
// joined without serdes for its repartition topic.
func TestJoinBuildErrors(t *testing.T) {
	s := serde.String()
	for _, c := range []struct {
		name  string
		build func(top *topology.Topology)
		want  string
	}{
		{"nil stream joiner", func(top *topology.Topology) {
			topology.JoinStreams[string, string, string, string](topology.From(top, "a", s, s), topology.From(top, "b", s, s),
				topology.JoinWindowsOf(time.Second), s, s, s, nil)
		}, "JoinStreams: the joiner is required"},
		{"nil left table joiner", func(top *topology.Topology) {
			topology.LeftJoinTable[string, string, string, string](topology.From(top, "a", s, s), topology.TableFrom(top, "b", s, s, "b"), s, s, nil)
		}, "LeftJoinTable: the joiner is required"},
		{"nil global joiner", func(top *topology.Topology) {
			topology.JoinGlobal[string, string, string, string, string](topology.From(top, "a", s, s), topology.GlobalTableFrom(top, "g", s, s, "g"),
				func(k, _ string) string { return k }, nil)
		}, "JoinGlobal: the joiner is required"},
		{"nil table joiner", func(top *topology.Topology) {
			topology.OuterJoinTables[string, string, string, string](topology.TableFrom(top, "a", s, s, "a"), topology.TableFrom(top, "b", s, s, "b"), nil)
		}, "OuterJoinTables: the joiner is required"},
		{"table with itself", func(top *topology.Topology) {
			tb := topology.TableFrom(top, "a", s, s, "a")
			topology.JoinTables(tb, tb, func(_, l, r string) string { return l + r })
		}, "a table joined with itself is not supported"},
		{"re-keyed stream without serdes", func(top *topology.Topology) {
			rekeyed := topology.SelectKey(topology.From(top, "a", s, s), func(_, v string) string { return v })
			topology.JoinTable(rekeyed, topology.TableFrom(top, "b", s, s, "b"), nil, nil, func(_, v, b string) string { return v + b })
		}, "key and value serdes are required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			top := topology.New()
			c.build(top)
			if err := top.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Err() = %v, want one saying %q", err, c.want)
			}
		})
	}
}

// A versioned table knows its serdes, as any table from a topic does: a foreign-key join
// of it builds without WithSerdes.
func TestVersionedTableKnowsItsSerdes(t *testing.T) {
	s := serde.String()
	top := topology.New()
	orders := topology.TableFrom(top, "orders", s, s, "orders", topology.Versioned(time.Hour))
	customers := topology.TableFrom(top, "customers", s, s, "customers")
	topology.JoinForeignKey(orders, customers, func(_, o string) (string, bool) { return o, true },
		func(_, o, c string) string { return o + c }, s, "enriched")
	if err := top.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
}
