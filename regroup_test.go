package eddy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// A table re-grouped and counted stays right when rows change group: users move between
// regions and some are deleted, and each region's last count is the number of users in it
// at the end (0 for a region emptied); the age sums (ReduceTable with a subtractor) too.
func TestGroupTableRetractsRowsThatMove(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"users": 3, "counts": 1, "ages": 1, "stats": 1})
	rng := rand.New(rand.NewPCG(3, 9))
	type user struct {
		region string
		age    int
	}
	final := map[string]user{}
	var recs []*kgo.Record
	for i := range 400 {
		u := fmt.Sprintf("u%d", rng.IntN(40))
		r := &kgo.Record{Topic: "users", Key: []byte(u), Timestamp: time.UnixMilli(int64(1000 + i))}
		if rng.IntN(6) == 0 {
			delete(final, u) // a deletion: a null value
		} else {
			nu := user{fmt.Sprintf("r%d", rng.IntN(5)), 20 + rng.IntN(50)}
			final[u] = nu
			r.Value = fmt.Appendf(nil, "%s,%d", nu.region, nu.age)
		}
		recs = append(recs, r)
	}
	// Keyed by user with Kafka's partitioner, so a user's updates stay in order.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	want, wantAges := map[string]int64{}, map[string]int64{}
	for i := range 5 {
		want[fmt.Sprintf("r%d", i)], wantAges[fmt.Sprintf("r%d", i)] = 0, 0
	}
	for _, u := range final {
		want[u.region]++
		wantAges[u.region] += int64(u.age)
	}

	top := topology.New()
	users := topology.TableFrom(top, "users", serde.String(), serde.String(), "users")
	byRegion := topology.GroupTable(users, func(_ string, v string) (string, int64) {
		var region string
		var age int64
		for i := range v {
			if v[i] == ',' {
				region = v[:i]
				age, _ = strconv.ParseInt(v[i+1:], 10, 64)
			}
		}
		return region, age
	}, serde.String(), serde.Int64(), topology.Named("by-region"))
	topology.To(topology.CountTable(byRegion, "users-per-region").ToStream(), "counts", serde.String(), serde.Int64())
	sums := topology.ReduceTable(byRegion, func(a, b int64) int64 { return a + b }, func(a, b int64) int64 { return a - b }, "ages-per-region")
	topology.To(sums.ToStream(), "ages", serde.String(), serde.Int64())
	// The same two figures in one aggregate, with a type of its own: "users,age sum".
	stats := topology.AggregateTable(byRegion, func() string { return "0,0" },
		func(_ string, age int64, agg string) string { return addStats(agg, 1, age) },
		func(_ string, age int64, agg string) string { return addStats(agg, -1, -age) },
		serde.String(), "stats-per-region")
	topology.To(stats.ToStream(), "stats", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("regroup"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "regroup", runApp(t, app), "users")
	for topic, w := range map[string]map[string]int64{"counts": want, "ages": wantAges} {
		last := map[string]int64{}
		for _, r := range readAll(t, brokers, topic) {
			n, err := serde.Int64().Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			last[string(r.Key)] = n
		}
		var got, exp []string
		for k, n := range last {
			got = append(got, fmt.Sprintf("%s=%d", k, n))
		}
		for k, n := range w {
			if _, seen := last[k]; seen || n != 0 {
				exp = append(exp, fmt.Sprintf("%s=%d", k, n))
			}
		}
		slices.Sort(got)
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Errorf("%s, last per region:\n got %v\nwant %v", topic, got, exp)
		}
	}
	last := map[string]string{}
	for _, r := range readAll(t, brokers, "stats") {
		last[string(r.Key)] = string(r.Value)
	}
	for region, n := range want {
		if got, seen := last[region]; (seen || n != 0) && got != fmt.Sprintf("%d,%d", n, wantAges[region]) {
			t.Errorf("stats of %s: %q, want %d users aged %d in all", region, got, n, wantAges[region])
		}
	}
	if len(last) == 0 {
		t.Error("no stats")
	}
}

// addStats adds n users of total age to an aggregate "users,age sum".
func addStats(agg string, n, age int64) string {
	var users, ages int64
	fmt.Sscanf(agg, "%d,%d", &users, &ages)
	return fmt.Sprintf("%d,%d", users+n, ages+age)
}
