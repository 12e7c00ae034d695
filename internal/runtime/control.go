package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Savepoints of a running application (package savepoint, Take) pause it through its
// control topic, "<application id>-control" (one partition): the taker writes a pause
// with a lease, every instance reads it, each worker commits what it processed and stops
// processing (it keeps its group membership, and lets rebalances through), then writes
// an acknowledgement naming its group member. Once every member has acknowledged, the
// committed offsets, the changelogs and the internal topics stand still: they are one
// consistent cut under either guarantee, which the taker reads. A resume, or the lease
// running out (the taker died), lets the workers go on. The taker renews its lease while
// it reads.

// ControlTopic is the application's control topic.
func ControlTopic(appID string) string { return appID + "-control" }

// The control records' operations.
const (
	ControlPause  = "pause"  // taker: pause until Until, for savepoint ID
	ControlResume = "resume" // taker: savepoint ID is taken (or given up)
	ControlPaused = "paused" // worker: Member has committed and paused for ID
)

// Control is one record of the control topic (its value, JSON).
type Control struct {
	Op string `json:"op"`
	ID string `json:"id"`
	// Until ends a pause's lease, Unix milliseconds.
	Until int64 `json:"until,omitempty"`
	// Member is the group member that paused; Process its instance.
	Member  string `json:"member,omitempty"`
	Process string `json:"process,omitempty"`
}

// controlConfig is how the control topic is created: its records matter for a minute,
// and are deleted after a day.
var controlConfig = map[string]*string{
	"cleanup.policy": kadm.StringPtr("delete"),
	"retention.ms":   kadm.StringPtr("86400000"),
}

// createControl creates the control topic, or checks an existing one.
func createControl(ctx context.Context, adm *kadm.Client, appID string, replication int16) error {
	name := ControlTopic(appID)
	resp, err := adm.CreateTopic(ctx, 1, replication, controlConfig, name)
	if err == nil {
		err = resp.Err
	}
	if err == nil || errors.Is(err, errTopicExists) {
		return nil
	}
	return fmt.Errorf("eddy: creating the control topic %s: %w%s", name, err, createHint(err))
}

// maxLease bounds how far back an instance that starts looks for a pause in force.
const maxLease = 5 * time.Minute

// controller follows the control topic for an instance's workers.
type controller struct {
	cl      *kgo.Client
	topic   string
	process string

	mu      sync.Mutex
	id      string    // the pause in force ("" for none)
	until   time.Time // its lease
	changed chan struct{}
}

func newController(cfg *Config) (*controller, error) {
	topic := ControlTopic(cfg.ApplicationID)
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AfterMilli(time.Now().Add(-maxLease).UnixMilli())}}),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("eddy: control client: %w", err)
	}
	return &controller{cl: cl, topic: topic, process: cfg.ProcessID, changed: make(chan struct{})}, nil
}

// run follows the topic until ctx ends.
func (c *controller) run(ctx context.Context, log interface{ Warn(string, ...any) }) {
	defer c.cl.Close()
	for ctx.Err() == nil {
		fetches := c.cl.PollFetches(ctx)
		fetches.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				log.Warn("reading the control topic", "topic", t, "partition", p, "err", err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			var m Control
			if json.Unmarshal(r.Value, &m) != nil {
				log.Warn("an unreadable record in the control topic", "topic", r.Topic, "offset", r.Offset)
				return
			}
			c.apply(m)
		})
	}
}

func (c *controller) apply(m Control) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case m.Op == ControlPause && time.UnixMilli(m.Until).After(time.Now()):
		// A lease runs a few seconds; one that says more is cut short, so a bad record
		// cannot stop the application for long.
		c.id, c.until = m.ID, time.UnixMilli(min(m.Until, time.Now().Add(maxLease).UnixMilli()))
	case m.Op == ControlResume && m.ID == c.id:
		c.id = ""
	default:
		return
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// paused returns the pause in force, if any; nil-safe.
func (c *controller) paused() (id string, ok bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.id == "" || !time.Now().Before(c.until) {
		return "", false
	}
	return c.id, true
}

// wait returns when the pause changes, ctx ends, or after d.
func (c *controller) wait(ctx context.Context, d time.Duration) {
	c.mu.Lock()
	ch := c.changed
	c.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-ctx.Done():
	case <-t.C:
	}
}

// ack tells the taker that member has committed and paused for pause id.
func (c *controller) ack(ctx context.Context, id, member string) error {
	b, _ := json.Marshal(Control{Op: ControlPaused, ID: id, Member: member, Process: c.process})
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.cl.ProduceSync(actx, &kgo.Record{Topic: c.topic, Partition: 0, Value: b}).FirstErr(); err != nil {
		return fmt.Errorf("eddy: acknowledging the pause for savepoint %s on %s: %w", id, c.topic, err)
	}
	return nil
}

// pausedStep is one turn of the worker's loop while a savepoint pauses it: the first
// commits what it processed and acknowledges, every turn lets rebalances through (nothing
// is open) and waits for the pause to change. It reports false when the worker cannot
// pause yet: a transaction is open or the group is joining; then the loop goes on, and
// commits at once (commitDue).
func (w *worker) pausedStep(ctx context.Context, id string) (bool, error) {
	if w.guarantee.ProcessesAllPolled() && w.guarantee.Pending() || w.joiningGroup() {
		return false, nil
	}
	if w.pausedFor != id {
		if !w.guarantee.ProcessesAllPolled() {
			w.mu.Lock()
			err := w.commitLocked(ctx)
			w.mu.Unlock()
			if err != nil {
				return true, err
			}
		}
		member, _ := w.cl.GroupMetadata()
		if member == "" {
			w.ctl.wait(ctx, 100*time.Millisecond)
			return true, nil // not in the group yet: nothing to acknowledge for
		}
		if err := w.ctl.ack(ctx, id, member); err != nil {
			w.log.Warn("savepoint pause", "err", err)
			return true, nil // the taker gives up, or the next turn tries again
		}
		w.pausedFor = id
		w.log.Info("paused for a savepoint", "savepoint", id)
	}
	w.cl.AllowRebalance()
	w.ctl.wait(ctx, 100*time.Millisecond)
	return true, nil
}
