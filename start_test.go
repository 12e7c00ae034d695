package eddy_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// On a fresh broker the group coordinator is not available for a moment (the offsets
// topic is being created), and reading committed offsets fails with
// COORDINATOR_NOT_AVAILABLE. A run starting then retries within a bound instead of
// failing, and reads the whole input: a bounded run returns, a streaming one keeps going.
func TestStartRetriesCoordinatorNotAvailable(t *testing.T) {
	for _, bounded := range []bool{true, false} {
		t.Run(fmt.Sprintf("bounded=%v", bounded), func(t *testing.T) { testStartRetries(t, bounded) })
	}
}

func testStartRetries(t *testing.T, bounded bool) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	var kvs [][2]string
	for i := range 30 {
		kvs = append(kvs, [2]string{fmt.Sprint("k", i), fmt.Sprint(i)})
	}
	produce(t, brokers, "in", kvs...)

	until := time.Now().Add(1500 * time.Millisecond)
	var refused atomic.Int32
	c.ControlKey(int16(kmsg.FindCoordinator), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if time.Now().After(until) {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		refused.Add(1)
		req := r.(*kmsg.FindCoordinatorRequest)
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.Version = req.Version
		resp.ErrorCode = 15 // COORDINATOR_NOT_AVAILABLE
		for _, k := range req.CoordinatorKeys {
			rc := kmsg.NewFindCoordinatorResponseCoordinator()
			rc.Key, rc.ErrorCode, rc.NodeID = k, 15, -1
			resp.Coordinators = append(resp.Coordinators, rc)
		}
		return resp, nil, true
	})

	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	opts := []eddy.Opt{eddy.ApplicationID("fresh"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()), eddy.Logger(testLogger(t))}
	if bounded {
		opts = append(opts, eddy.Bounded())
	}
	app, err := eddy.New(top, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if bounded {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := app.Run(ctx); err != nil {
			t.Fatalf("Run on a broker whose coordinator was not available at first: %v", err)
		}
	} else {
		stop := runApp(t, app)
		defer func() {
			if err := stop(); err != nil {
				t.Errorf("Run on a broker whose coordinator was not available at first: %v", err)
			}
		}()
	}
	if got := consume(t, brokers, "out", len(kvs), 30*time.Second); len(got) != len(kvs) {
		t.Fatalf("%d records out, want %d", len(got), len(kvs))
	}
	if refused.Load() == 0 {
		t.Fatal("no coordinator lookup was refused: the test did not test anything")
	}
}
