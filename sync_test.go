package eddy_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// enrichTopology is orders left-joined with the customers table, to "out" as
// "order|customer" ("-" when the table has no value); opts go to TableFrom.
func enrichTopology(opts ...topology.Option) *topology.Topology {
	top := topology.New()
	customers := topology.TableFrom(top, "customers", serde.String(), serde.String(), "customers", opts...)
	enriched := topology.LeftJoinTable(topology.From(top, "orders", serde.String(), serde.String()), customers,
		serde.String(), serde.String(), func(_, o, c string, found bool) string {
			if !found {
				c = "-"
			}
			return o + "|" + c
		})
	topology.To(enriched, "out", serde.String(), serde.String())
	return top
}

// produceEach produces each record alone and waits for it, so that each is its own batch
// (and, with a fetch limit of one byte, its own fetch).
func produceEach(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, r := range recs {
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// waitStable waits until group has a member and is stable: its partitions are assigned.
func waitStable(t *testing.T, brokers []string, group string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		gs, err := adm.DescribeGroups(t.Context(), group)
		if g, ok := gs[group]; err == nil && ok && g.State == "Stable" && len(g.Members) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s not stable within 30 s", group)
}

func rec(topic, key, value string, ts int64) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value), Timestamp: time.UnixMilli(ts)}
}

// A running join, caught up, gets an order; the customer's update, with an earlier time,
// comes a second later. With MaxTaskIdle the order waits for the table (an empty,
// caught-up partition) and meets the update; each record on the table restarts the wait,
// as in Kafka Streams; once a wait ran out and the table had nothing since, the next order
// does not wait again. With the default (0) the order does not wait for a caught-up table.
// In the test driver, on its virtual clock: the waits are exact. (The worker's poll
// waking when a wait ends is tested on the broker by TestMaxTaskIdleUnderExactlyOnce.)
func TestMaxTaskIdleWaitsForTheTable(t *testing.T) {
	for _, c := range []struct {
		name string
		idle time.Duration
		want []string
	}{
		{"MaxTaskIdle(5s)", 5 * time.Second, []string{"c1=o1|v1", "c2=o2|-"}},
		{"default", 0, []string{"c1=o1|-", "c2=o2|-"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := eddytest.New(t, enrichTopology(), eddytest.With(eddy.MaxTaskIdle(c.idle)))
			orders := eddytest.Input(d, "orders", serde.String(), serde.String())
			customers := eddytest.Input(d, "customers", serde.String(), serde.String())
			out := eddytest.Output(d, "out", serde.String(), serde.String())
			var got []string
			read := func() []string {
				for _, kv := range out.ReadKeyValues() {
					got = append(got, kv.Key+"="+kv.Value)
				}
				return got
			}
			must(t, orders.Send("c1", "o1", eddytest.At(time.UnixMilli(2000))))
			if c.idle == 0 {
				if got := read(); !slices.Equal(got, c.want[:1]) {
					t.Fatalf("without MaxTaskIdle the order went out as %v, want %v", got, c.want[:1])
				}
			}
			must(t, d.AdvanceTime(time.Second))
			if c.idle > 0 && len(read()) != 0 {
				t.Fatalf("the order went out after 1 s of a 5 s wait: %v", got)
			}
			must(t, customers.Send("c1", "v1", eddytest.At(time.UnixMilli(1000))))
			if c.idle > 0 {
				// The update restarted the wait: 5 s from now.
				must(t, d.AdvanceTime(c.idle-time.Millisecond))
				if len(read()) != 0 {
					t.Fatalf("the order went out before the restarted wait ended: %v", got)
				}
				must(t, d.AdvanceTime(time.Millisecond))
			}
			if got := read(); !slices.Equal(got, c.want[:1]) {
				t.Fatalf("after the wait: %v, want %v", got, c.want[:1])
			}
			must(t, orders.Send("c2", "o2", eddytest.At(time.UnixMilli(3000))))
			if got := read(); !slices.Equal(got, c.want) {
				t.Errorf("outputs %v, want %v", got, c.want)
			}
		})
	}
}

// Known lag is waited for by default: the records of both partitions are on the broker
// when the join starts, and arrive one batch per fetch (a fetch limit of one byte; the
// embedded broker then returns one batch per response), so whichever partition the
// fetches serve first, a task that did not wait for the other's known records would
// process them out of time order: an order before the update it should meet, or after
// the one it should not. The default waits, and each order meets the table as of its
// time.
func TestDefaultWaitsForKnownLag(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 1, "customers": 1, "out": 1})
	produceEach(t, brokers, rec("orders", "k", "o1", 100), rec("orders", "k", "o2", 2000),
		rec("customers", "k", "va", 50), rec("customers", "k", "vb", 1000), rec("customers", "k", "vc", 1001))
	app, err := eddy.New(enrichTopology(), eddy.ApplicationID("lag"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.CommitInterval(50*time.Millisecond), eddy.LowMemoryState(), eddy.Logger(testLogger(t)),
		eddy.ClientOpts(kgo.FetchMaxPartitionBytes(1)))
	if err != nil {
		t.Fatal(err)
	}
	stopCaughtUp(t, brokers, "lag", runApp(t, app), "orders", "customers")
	if got, want := keyValues(readAll(t, brokers, "out")), []string{"k=o1|va", "k=o2|vc"}; !slices.Equal(got, want) {
		t.Errorf("outputs %v, want %v", got, want)
	}
}

// Under exactly-once a task that waits holds its records past the commit interval; the
// transaction commits only once they are processed, so every order goes out exactly once
// and joins the table as of its time.
func TestMaxTaskIdleUnderExactlyOnce(t *testing.T) {
	brokers := startEmbedded(t, map[string]int32{"orders": 1, "customers": 1, "out": 1})
	app, err := eddy.New(enrichTopology(), eddy.ApplicationID("sync-eos"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.ExactlyOnce(), eddy.MaxTaskIdle(2*time.Second), eddy.LowMemoryState(), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	waitStable(t, brokers, "sync-eos")
	produceEach(t, brokers, rec("orders", "c1", "o1", 2000))
	time.Sleep(500 * time.Millisecond) // five commit intervals with the order held
	produceEach(t, brokers, rec("customers", "c1", "v1", 1000))
	consume(t, brokers, "out", 1, 10*time.Second)
	stopCaughtUp(t, brokers, "sync-eos", stop, "orders", "customers")
	if got := keyValues(readAll(t, brokers, "out")); !slices.Equal(got, []string{"c1=o1|v1"}) {
		t.Errorf("outputs %v, want [c1=o1|v1]", got)
	}
}

// MaxTaskIdle under exactly-once must leave the transaction time to commit.
func TestMaxTaskIdleBoundUnderExactlyOnce(t *testing.T) {
	_, err := eddy.New(enrichTopology(), eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"), eddy.ExactlyOnce(),
		eddy.MaxTaskIdle(6*time.Second))
	if err == nil {
		t.Fatal("New accepted MaxTaskIdle(6s) with a 10 s transaction timeout")
	}
	t.Log(err)
	if _, err := eddy.New(enrichTopology(), eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"), eddy.ExactlyOnce(),
		eddy.MaxTaskIdle(6*time.Second), eddy.TransactionTimeout(20*time.Second)); err != nil {
		t.Fatalf("New with a 20 s transaction timeout: %v", err)
	}
}

// A bounded run of a versioned join with Grace and a long MaxTaskIdle ends, and at once:
// a partition at its end holds nothing back, and the end of input releases every order
// the grace buffer holds. The orders were written in a transaction, so the partition
// ends with its commit marker, which the run consumes to reach its end (the last stable
// offset, past the marker).
func TestBoundedJoinWithWaitsEnds(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly-once=%v", eos), func(t *testing.T) {
			brokers := startEmbedded(t, map[string]int32{"orders": 1, "customers": 1, "out": 1})
			producePartitioned(t, brokers, rec("customers", "c", "v1", 1000), rec("customers", "c", "v2", 3000))
			txn, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("orders-writer"))
			if err != nil {
				t.Fatal(err)
			}
			defer txn.Close()
			if err := txn.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := txn.ProduceSync(t.Context(), rec("orders", "c", "o1", 2000), rec("orders", "c", "o2", 500),
				rec("orders", "c", "o3", 4000)).FirstErr(); err != nil {
				t.Fatal(err)
			}
			if err := txn.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
			opts := []eddy.Opt{eddy.ApplicationID("bounded-join"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
				eddy.Bounded(), eddy.MaxTaskIdle(4 * time.Second), eddy.LowMemoryState(), eddy.Logger(testLogger(t))}
			if eos {
				opts = append(opts, eddy.ExactlyOnce())
			}
			app, err := eddy.New(versionedJoin(true, 2*time.Hour, false, topology.Grace(time.Hour)), opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			began := time.Now()
			if err := app.Run(ctx); err != nil {
				t.Fatalf("bounded run: %v", err)
			}
			if took := time.Since(began); took > 4*time.Second {
				t.Errorf("the bounded run took %s: it waited MaxTaskIdle for a partition at its end", took)
			}
			if got, want := keyValues(readAll(t, brokers, "out")), []string{"c=o1|v1", "c=o2|-", "c=o3|v2"}; !slices.Equal(got, want) {
				t.Errorf("outputs %v, want %v", got, want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
