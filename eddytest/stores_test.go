package eddytest_test

import (
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

type window struct {
	key        string
	start, end int64 // seconds after t0
	n          int64
}

func windowsOf(t *testing.T, es []eddytest.WindowEntry[string, int64]) []window {
	t.Helper()
	out := make([]window, len(es))
	for i, e := range es {
		out[i] = window{e.Window.Key, int64(e.Window.Start.Sub(t0) / time.Second), int64(e.Window.End.Sub(t0) / time.Second), e.Value}
	}
	return out
}

// The open windows of each kind, read typed from their stores: what the aggregation
// holds before the watermark closes them, and nothing of a window once it is emitted.
func TestWindowAndSessionStores(t *testing.T) {
	for _, c := range []struct {
		name  string
		count func(topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64]
		open  []window // after records at 1 s, 4 s and 12 s (watermark 12 s − 1 ms: no out-of-orderness)
		left  []window // after the watermark reaches 14 s
	}{
		{"tumbling", func(g topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64] {
			return topology.WindowedCount(topology.WindowBy(g, topology.TumblingWindows(10*time.Second)), "s")
		}, []window{{"k", 10, 20, 1}}, []window{{"k", 10, 20, 1}}},
		{"hopping", func(g topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64] {
			return topology.WindowedCount(topology.WindowBy(g, topology.HoppingWindows(10*time.Second, 5*time.Second)), "s")
		}, []window{{"k", 5, 15, 1}, {"k", 10, 20, 1}}, []window{{"k", 10, 20, 1}}},
		{"sliding", func(g topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64] {
			return topology.WindowedCount(topology.WindowBy(g, topology.SlidingWindows(5*time.Second)), "s")
		}, []window{{"k", 7, 12, 1}}, nil},
		{"session", func(g topology.Grouped[string, string]) topology.Stream[topology.Windowed[string], int64] {
			return topology.SessionCount(topology.SessionBy(g, topology.Sessions(3*time.Second)), "s")
		}, []window{{"k", 12, 12, 1}}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			top := topology.New()
			s := topology.From(top, "in", serde.String(), serde.String())
			topology.To(topology.MapValues(c.count(topology.GroupByKey(s, serde.String(), serde.String())), func(n int64) int64 { return n }),
				"out", topology.WindowedSerde(serde.String()), serde.Int64())
			d := eddytest.New(t, top)
			in := eddytest.Input(d, "in", serde.String(), serde.String())
			for _, sec := range []int{1, 4, 12} {
				must(t, in.Send("k", "v", at(sec)))
			}
			ws := eddytest.WindowStore(d, "s", serde.String(), serde.Int64())
			all, err := ws.All()
			must(t, err)
			// Sessions end at their last record: [12 s, 12 s + 1 ms) shows as 12..12.
			if got := windowsOf(t, all); !slices.Equal(got, c.open) {
				t.Fatalf("open windows %v, want %v", got, c.open)
			}
			must(t, d.SetWatermark("in", 0, t0.Add(16*time.Second)))
			k, err := ws.Fetch("k")
			must(t, err)
			if got := windowsOf(t, k); !slices.Equal(got, c.left) {
				t.Fatalf("windows of k after the watermark moved: %v, want %v", got, c.left)
			}
			if _, err := eddytest.Store(d, "s", serde.String(), serde.Int64()).All(); err == nil {
				t.Fatal("a window store read as a key-value store")
			}
		})
	}
}

// A versioned table's versions, read typed: each valid from its record's time until the
// next one's, a deletion included, and AsOf answering by time.
func TestVersionedStore(t *testing.T) {
	top := topology.New()
	table := topology.TableFrom(top, "prices", serde.String(), serde.Int64(), "prices", topology.Versioned(time.Hour))
	orders := topology.From(top, "orders", serde.String(), serde.String())
	topology.To(topology.LeftJoinTable(orders, table, serde.String(), serde.String(),
		func(_ string, o string, p int64, found bool) int64 { return p }), "priced", serde.String(), serde.Int64())
	d := eddytest.New(t, top)
	prices := eddytest.Input(d, "prices", serde.String(), serde.Int64())
	must(t, prices.Send("tea", 3, at(10)))
	must(t, prices.Send("tea", 4, at(20)))
	must(t, prices.Delete("tea", at(30)))
	must(t, prices.Send("tea", 5, at(40)))
	vs := eddytest.VersionedStore(d, "prices", serde.String(), serde.Int64())
	got, err := vs.Versions("tea")
	must(t, err)
	want := []eddytest.Version[int64]{
		{Value: 5, From: t0.Add(40 * time.Second)},
		{Deleted: true, From: t0.Add(30 * time.Second), To: t0.Add(40 * time.Second)},
		{Value: 4, From: t0.Add(20 * time.Second), To: t0.Add(30 * time.Second)},
		{Value: 3, From: t0.Add(10 * time.Second), To: t0.Add(20 * time.Second)},
	}
	if len(got) != len(want) {
		t.Fatalf("versions %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Value != want[i].Value || got[i].Deleted != want[i].Deleted || !got[i].From.Equal(want[i].From) || !got[i].To.Equal(want[i].To) {
			t.Fatalf("version %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, c := range []struct {
		sec   int
		v     int64
		found bool
	}{{5, 0, false}, {15, 3, true}, {29, 4, true}, {35, 0, false}, {99, 5, true}} {
		v, found, err := vs.AsOf("tea", t0.Add(time.Duration(c.sec)*time.Second))
		must(t, err)
		if v != c.v || found != c.found {
			t.Errorf("AsOf(%d s) = %d, %v; want %d, %v", c.sec, v, found, c.v, c.found)
		}
	}
}
