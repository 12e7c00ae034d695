package savepoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/runtime"
)

// lease is how long a pause holds without renewal: a taker that dies leaves the
// application paused this long at most.
const lease = 30 * time.Second

// pauseTimeout bounds the wait for every member to pause.
const pauseTimeout = 2 * time.Minute

// Take takes a savepoint of an application, running or stopped, into out. A stopped one
// is read as TakeStopped reads it. A running one is paused first through its control
// topic: every worker of every instance commits what it processed and stops processing
// (keeping its place in the group), and says so; the committed offsets, changelogs and
// internal topics then stand still, and are read as of that commit — a cut exact under
// either guarantee. The instances resume as soon as the savepoint is written, or when the
// taker's lease (30 s, renewed while it reads) runs out. The cut is checked: if anything
// moved while it was read (an instance that had not paused joined, say) the savepoint is
// refused, and no manifest is written. opts are the clients' options, as for TakeStopped.
func Take(ctx context.Context, appID string, out CreateFS, opts ...kgo.Opt) (Manifest, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return Manifest{}, fmt.Errorf("savepoint: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	members, err := groupMembers(ctx, adm, appID)
	if err != nil {
		return Manifest{}, err
	}
	if len(members) == 0 {
		return cut(ctx, adm, appID, out, opts)
	}
	topic := runtime.ControlTopic(appID)
	if t, err := adm.ListTopics(ctx, topic); err != nil || t[topic].Err != nil {
		return Manifest{}, fmt.Errorf("savepoint: application %s is running and has no control topic %s: its instances cannot be paused "+
			"(an eddy that predates running savepoints, or a bounded run): stop it and take the savepoint then", appID, topic)
	}
	p := &pause{cl: cl, adm: adm, appID: appID, topic: topic, id: newID()}
	if err := p.start(ctx); err != nil {
		return Manifest{}, err
	}
	defer p.resume(ctx)
	if err := p.waitAll(ctx); err != nil {
		return Manifest{}, err
	}
	before, err := p.still(ctx)
	if err != nil {
		return Manifest{}, err
	}
	// The manifest is written last: a cut that turns out to have moved must not be
	// complete, so it is read into a holding writer first.
	hold := &holdFS{out: out}
	m, err := cut(ctx, adm, appID, hold, opts)
	if err != nil {
		return Manifest{}, err
	}
	after, err := p.still(ctx)
	if err != nil {
		return Manifest{}, err
	}
	if moved := before.diff(after); moved != "" {
		return Manifest{}, fmt.Errorf("savepoint: application %s moved while its savepoint was read (%s); nothing was written: try again", appID, moved)
	}
	if err := p.renewErr(); err != nil {
		return Manifest{}, err
	}
	if err := hold.release(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// groupMembers lists the ids of the group's members.
func groupMembers(ctx context.Context, adm *kadm.Client, appID string) ([]string, error) {
	groups, err := adm.DescribeGroups(ctx, appID)
	if err != nil {
		return nil, fmt.Errorf("savepoint: describing group %s: %w", appID, err)
	}
	var ids []string
	for _, m := range groups[appID].Members {
		ids = append(ids, m.MemberID)
	}
	slices.Sort(ids)
	return ids, nil
}

// pause is one savepoint's pause of a running application.
type pause struct {
	cl           *kgo.Client
	adm          *kadm.Client
	appID, topic string
	id           string
	from         int64 // the control topic's end before the pause: acknowledgements come after

	stopRenew func()
	renewed   chan error
}

func (p *pause) send(ctx context.Context, c runtime.Control) error {
	b, _ := json.Marshal(c)
	if err := p.cl.ProduceSync(ctx, &kgo.Record{Topic: p.topic, Partition: 0, Value: b}).FirstErr(); err != nil {
		return fmt.Errorf("savepoint: writing to %s: %w", p.topic, err)
	}
	return nil
}

// start writes the pause and renews its lease until resume.
func (p *pause) start(ctx context.Context) error {
	ends, err := p.adm.ListEndOffsets(ctx, p.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("savepoint: offsets of %s: %w", p.topic, err)
	}
	end, _ := ends.Lookup(p.topic, 0)
	p.from = end.Offset
	if err := p.send(ctx, runtime.Control{Op: runtime.ControlPause, ID: p.id, Until: time.Now().Add(lease).UnixMilli()}); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	p.renewed = make(chan error, 1)
	p.stopRenew = cancel
	go func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if err := p.send(rctx, runtime.Control{Op: runtime.ControlPause, ID: p.id, Until: time.Now().Add(lease).UnixMilli()}); err != nil && rctx.Err() == nil {
					p.renewed <- fmt.Errorf("savepoint: renewing the pause: %w", err)
					return
				}
			}
		}
	}()
	return nil
}

// renewErr is the renewal's failure, if it failed: the pause may have ended.
func (p *pause) renewErr() error {
	select {
	case err := <-p.renewed:
		return err
	default:
		return nil
	}
}

// resume ends the pause.
func (p *pause) resume(ctx context.Context) {
	p.stopRenew()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = p.send(rctx, runtime.Control{Op: runtime.ControlResume, ID: p.id})
}

// waitAll waits until every member of the group has acknowledged the pause.
func (p *pause) waitAll(ctx context.Context) error {
	cl, err := kgo.NewClient(append(p.cl.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.topic: {0: kgo.NewOffset().At(p.from)}}))...)
	if err != nil {
		return fmt.Errorf("savepoint: client: %w", err)
	}
	defer cl.Close()
	acked := map[string]bool{}
	deadline := time.Now().Add(pauseTimeout)
	for {
		members, err := groupMembers(ctx, p.adm, p.appID)
		if err != nil {
			return err
		}
		var waiting []string
		for _, m := range members {
			if !acked[m] {
				waiting = append(waiting, m)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("savepoint: %d of %d members of %s did not pause within %s (%s): they may be busy restoring or stuck; try again",
				len(waiting), len(members), p.appID, pauseTimeout, strings.Join(waiting, ", "))
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		fetches.EachRecord(func(r *kgo.Record) {
			var c runtime.Control
			if json.Unmarshal(r.Value, &c) == nil && c.Op == runtime.ControlPaused && c.ID == p.id {
				acked[c.Member] = true
			}
		})
	}
}

// stillness is what must not move while a paused application is read.
type stillness struct {
	members []string
	offsets map[string]int64 // "topic/partition" → committed offset, or end offset
}

func (a stillness) diff(b stillness) string {
	if !slices.Equal(a.members, b.members) {
		return fmt.Sprintf("the group's members changed from %d to %d", len(a.members), len(b.members))
	}
	for _, k := range slices.Sorted(maps.Keys(b.offsets)) {
		if a.offsets[k] != b.offsets[k] {
			return fmt.Sprintf("%s moved from %d to %d", k, a.offsets[k], b.offsets[k])
		}
	}
	return ""
}

// still reads the group's members and committed offsets, and the ends of the
// application's changelogs and internal topics.
func (p *pause) still(ctx context.Context) (stillness, error) {
	s := stillness{offsets: map[string]int64{}}
	state, err := p.stateTopics(ctx)
	if err != nil {
		return s, err
	}
	// The last commits' transaction markers may still be on their way.
	if err := runtime.WaitSettled(ctx, p.adm, state, settleTimeout); err != nil {
		return s, fmt.Errorf("savepoint: %w", err)
	}
	if s.members, err = groupMembers(ctx, p.adm, p.appID); err != nil {
		return s, err
	}
	offs, err := p.adm.FetchOffsets(kadm.RequireStable(ctx), p.appID)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return s, fmt.Errorf("savepoint: fetching the offsets of %s: %w", p.appID, err)
	}
	offs.Each(func(o kadm.OffsetResponse) { s.offsets[fmt.Sprintf("committed %s/%d", o.Topic, o.Partition)] = o.At })
	if len(state) == 0 {
		return s, nil
	}
	ends, err := p.adm.ListEndOffsets(ctx, state...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return s, fmt.Errorf("savepoint: offsets of %s: %w", strings.Join(state, ", "), err)
	}
	ends.Each(func(o kadm.ListedOffset) { s.offsets[fmt.Sprintf("the end of %s/%d", o.Topic, o.Partition)] = o.Offset })
	return s, nil
}

// stateTopics lists the application's changelogs and internal topics.
func (p *pause) stateTopics(ctx context.Context) ([]string, error) {
	topics, err := p.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("savepoint: listing topics: %w", err)
	}
	prefix := p.appID + "-"
	state := internalTopics(topics.Names(), prefix)
	for _, t := range topics.Names() {
		if strings.HasPrefix(t, prefix) && strings.HasSuffix(t, "-changelog") {
			state = append(state, t)
		}
	}
	return state, nil
}

// holdFS passes data files through to out but keeps the manifest until release: a cut
// found to have moved leaves no savepoint behind.
type holdFS struct {
	out      CreateFS
	manifest []byte
}

func (h *holdFS) Create(name string) (io.WriteCloser, error) {
	if name == ManifestName {
		return &heldFile{h: h}, nil
	}
	return h.out.Create(name)
}

func (h *holdFS) release() error {
	if h.manifest == nil {
		return errors.New("savepoint: no manifest was written")
	}
	w, err := h.out.Create(ManifestName)
	if err != nil {
		return fmt.Errorf("savepoint: creating the manifest: %w", err)
	}
	if _, err := w.Write(h.manifest); err != nil {
		_ = w.Close()
		return fmt.Errorf("savepoint: writing the manifest: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("savepoint: writing the manifest: %w", err)
	}
	return nil
}

type heldFile struct {
	h   *holdFS
	buf []byte
}

func (f *heldFile) Write(p []byte) (int, error) { f.buf = append(f.buf, p...); return len(p), nil }
func (f *heldFile) Close() error                { f.h.manifest = f.buf; return nil }
