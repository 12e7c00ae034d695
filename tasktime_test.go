package eddy_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// Three tasks, one per worker: one whose records cost CPU is busy; one whose output topic
// answers produce requests slowly (so its producer's buffer fills and produces block) is
// backpressured; one with no input is idle — each by its milliseconds per second, within
// a tolerance wide enough for a loaded machine.
func TestTaskTimeBusyBackpressuredIdle(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "flow", "flow-out", "empty", "empty-out", "slow-in", "slow-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Produce requests that write slow-out (by name, or by id in newer requests) wait
	// 400 ms, off the cluster's loop.
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	details, err := kadm.NewClient(admCl).ListTopics(t.Context(), "slow-out")
	admCl.Close()
	if err != nil {
		t.Fatal(err)
	}
	slowID := details["slow-out"].ID
	var sleeps atomic.Int64
	var mu sync.Mutex
	slept := map[*kmsg.ProduceRequest]bool{}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		mu.Lock()
		done := slept[pr]
		slept[pr] = true
		mu.Unlock()
		for _, tp := range pr.Topics {
			if (tp.Topic == "slow-out" || tp.TopicID == slowID) && !done {
				sleeps.Add(1)
				c.SleepControl(func() { time.Sleep(400 * time.Millisecond) })
			}
		}
		return nil, nil, false
	})
	brokers := c.ListenAddrs()

	top := topology.New()
	burn := func(v string) string {
		sum := sha256.Sum256([]byte(v))
		for range 1000 {
			sum = sha256.Sum256(sum[:])
		}
		return fmt.Sprintf("%x", sum[:4])
	}
	topology.To(topology.MapValues(topology.From(top, "flow", serde.String(), serde.String()), burn), "flow-out", serde.String(), serde.String())
	topology.To(topology.From(top, "empty", serde.String(), serde.String()), "empty-out", serde.String(), serde.String())
	topology.To(topology.From(top, "slow-in", serde.String(), serde.String()), "slow-out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("times"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()), eddy.Workers(3),
		eddy.Logger(testLogger(t)), eddy.ClientOpts(kgo.MaxBufferedRecords(100)))
	if err != nil {
		t.Fatal(err)
	}
	stop := runApp(t, app)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	waitState(t, app, eddy.Running)

	// Records keep coming to flow and slow-in for the window the rates cover, and more.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 7*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
			var recs []*kgo.Record
			for j := range 20 {
				v := fmt.Appendf(nil, "v%d-%d", i, j)
				recs = append(recs, &kgo.Record{Topic: "flow", Value: v}, &kgo.Record{Topic: "slow-in", Value: v})
			}
			for _, r := range recs {
				cl.Produce(ctx, r, nil)
			}
		}
	}

	t.Logf("slept %d produce requests", sleeps.Load())
	byTopic := map[string]eddy.TaskStatus{}
	workers := map[int]bool{}
	for _, task := range app.Status().Tasks {
		byTopic[task.Partitions[0].Topic] = task
		workers[task.Worker] = true
		t.Logf("task %s (%s, worker %d): busy %.0f, backpressured %.0f, idle %.0f ms/s; %.0f records/s, %s a record",
			task.ID, task.Partitions[0].Topic, task.Worker, task.Busy, task.Backpressured, task.Idle, task.RecordsPerSecond,
			time.Duration(task.ProcessLatency))
	}
	if len(workers) != 3 {
		t.Fatalf("the three tasks are not on three workers (%v): one worker's full buffer would block the others", workers)
	}
	for name, task := range byTopic {
		if sum := task.Busy + task.Backpressured + task.Idle; sum < 990 || sum > 1010 {
			t.Errorf("task %s (%s): the times add up to %.0f ms/s", task.ID, name, sum)
		}
	}
	if f := byTopic["flow"]; f.Busy < 50 || f.Busy <= f.Backpressured {
		t.Errorf("the CPU-bound task is not busy: %+v", f)
	}
	if s := byTopic["slow-in"]; s.Backpressured < 200 || s.Backpressured <= s.Busy {
		t.Errorf("the task with the slow output is not backpressured: %+v", s)
	}
	if e := byTopic["empty"]; e.Idle < 990 || e.Processed != 0 {
		t.Errorf("the task without input is not idle: %+v", e)
	}
}
