// Package sprestore starts an application from a savepoint: it writes the savepoint's
// state into the application's changelog topics, its pending records into its internal
// topics, and its input offsets and watermarks into the application's group, so that the
// application's first Run restores that state and goes on from those offsets. The
// application (eddy.App.RestoreSavepoint) gives it the topology's layout; the savepoint is
// read with package savepoint.
package sprestore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/savepoint"
)

// Options are a restore's choices.
type Options struct {
	// AppID is the application restored into; Stores are its topology's stores (those
	// with changelogs), by name; Layout plans and creates its topics (runtime.PlanLayout).
	AppID  string
	Stores []string
	Layout func(context.Context) (*runtime.Layout, error)
	// ClientOpts are the clients' options: seed brokers, TLS, SASL.
	ClientOpts []kgo.Opt
	// AllowNonRestored lets the savepoint hold stores (and pending records of internal
	// topics) that the topology no longer has; they are left out. Otherwise that is an
	// error naming them.
	AllowNonRestored bool
	// Convert rewrites the values of the named stores: the savepoint's value of key in,
	// the new one out (nil: the entry is dropped).
	Convert map[string]func(key, value []byte) ([]byte, error)
	// InputOffsets maps the savepoint's offset of an input partition to the offset to
	// resume from on this cluster (nil: the same offset).
	InputOffsets func(topic string, partition int32, offset int64) (int64, error)
	// Replace deletes the application's group and its changelog and internal topics
	// before writing: the state it had is replaced by the savepoint's. Without it, an
	// application with state (committed offsets, or records in a changelog) is refused.
	Replace bool
}

// Report says what a restore wrote.
type Report struct {
	// Stores are the stores restored from the savepoint, in the topology's order.
	Stores []StoreReport
	// Empty are the topology's stores the savepoint does not have: they start empty.
	Empty []string
	// Dropped are the savepoint's stores and internal topics the topology does not have
	// (left out under AllowNonRestored), and its input topics the topology no longer reads.
	Dropped []string
	// Pending is the number of in-flight records written into internal topics.
	Pending int64
	// Offsets is the number of partitions whose offsets were committed.
	Offsets int
}

// StoreReport is one restored store.
type StoreReport struct {
	Name string
	// Entries is the number of entries written (after conversion).
	Entries int64
	// From and To are the store's task counts in the savepoint and now; they differ when
	// the store was rescaled (each key moved to its murmur2 partition).
	From, To int32
	// Converted reports whether a conversion function rewrote its values.
	Converted bool
}

// transactionTimeout bounds the restore's one transaction: Kafka's default
// transaction.max.timeout.ms is 15 minutes.
const transactionTimeout = 10 * time.Minute

// Restore writes sp into the application, as described in the package comment. The
// savepoint is checked whole first, and every mismatch with the topology is found before
// anything is written; the state and the pending records are written in one transaction,
// so a restore that fails half way leaves no state readable by the application, and the
// offsets are committed last.
func Restore(ctx context.Context, sp *savepoint.Savepoint, o Options) (Report, error) {
	var rep Report
	if err := sp.Verify(); err != nil {
		return rep, err
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.MetadataMinAge(10 * time.Millisecond)}, o.ClientOpts...)...)
	if err != nil {
		return rep, fmt.Errorf("eddy: restore: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := checkStopped(ctx, adm, o); err != nil {
		return rep, err
	}
	if err := matchStores(sp, o, &rep); err != nil {
		return rep, err
	}
	if o.Replace {
		if err := replace(ctx, adm, o); err != nil {
			return rep, err
		}
	}
	l, err := o.Layout(ctx)
	if err != nil {
		return rep, err
	}
	w := &writer{sp: sp, o: o, l: l, rep: &rep}
	if err := w.plan(ctx, adm); err != nil {
		return rep, err
	}
	offsets, err := w.offsets()
	if err != nil {
		return rep, err
	}
	if err := w.write(ctx); err != nil {
		return rep, err
	}
	resp, err := adm.CommitOffsets(ctx, o.AppID, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return rep, fmt.Errorf("eddy: restore: the state is written but committing the offsets of group %s failed: %w; "+
			"restore again with ReplaceState", o.AppID, err)
	}
	rep.Offsets = len(resp.Sorted())
	return rep, nil
}

// checkStopped refuses a group with members, and, unless replacing, a group with
// committed offsets: a savepoint starts an application, it is not merged into one.
func checkStopped(ctx context.Context, adm *kadm.Client, o Options) error {
	var groups kadm.DescribedGroups
	err := retryCoordinator(ctx, func() (err error) {
		groups, err = adm.DescribeGroups(ctx, o.AppID)
		if err == nil {
			err = groups.Error()
		}
		if errors.Is(err, kerr.GroupIDNotFound) {
			return nil // no group: nothing runs
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("eddy: restore: describing group %s: %w", o.AppID, err)
	}
	if g, ok := groups[o.AppID]; ok && len(g.Members) > 0 {
		return fmt.Errorf("eddy: restore: application %s is running (%d members in its group): stop every instance first", o.AppID, len(g.Members))
	}
	if o.Replace {
		return nil
	}
	var offs kadm.OffsetResponses
	err = retryCoordinator(ctx, func() (err error) {
		offs, err = adm.FetchOffsets(ctx, o.AppID)
		if err == nil {
			err = offs.Error()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("eddy: restore: fetching the offsets of group %s: %w", o.AppID, err)
	}
	if sorted := offs.Sorted(); len(sorted) > 0 {
		return fmt.Errorf("eddy: restore: application %s has committed offsets already (%s/%d at %d, and %d more): it has state; "+
			"restore into a new application id, or replace its state with ReplaceState", o.AppID, sorted[0].Topic, sorted[0].Partition, sorted[0].At, len(sorted)-1)
	}
	return nil
}

// retryCoordinator retries fn while the group's coordinator is not ready (on a new
// cluster its offsets topic is created by the first request), for at most 30 s.
func retryCoordinator(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) || !(errors.Is(err, kerr.CoordinatorNotAvailable) ||
			errors.Is(err, kerr.CoordinatorLoadInProgress) || errors.Is(err, kerr.NotCoordinator)) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// matchStores pairs the savepoint's stores with the topology's by name.
func matchStores(sp *savepoint.Savepoint, o Options, rep *Report) error {
	var missing []string
	for _, st := range sp.Manifest.Stores {
		if !slices.Contains(o.Stores, st.Name) {
			missing = append(missing, st.Name)
		}
	}
	for name := range o.Convert {
		if _, ok := sp.Store(name); !ok {
			return fmt.Errorf("eddy: restore: a conversion is given for store %s, which the savepoint does not have (it has %s)", name, storeNames(sp))
		}
		if !slices.Contains(o.Stores, name) {
			return fmt.Errorf("eddy: restore: a conversion is given for store %s, which the topology does not have", name)
		}
	}
	if len(missing) > 0 && !o.AllowNonRestored {
		return fmt.Errorf("eddy: restore: the savepoint has state for stores the topology does not have: %s; "+
			"pin the stores' names (topology.Named, or the store's name) to match the savepoint's, or leave that state out with AllowNonRestoredState",
			strings.Join(missing, ", "))
	}
	rep.Dropped = append(rep.Dropped, missing...)
	for _, name := range o.Stores {
		if _, ok := sp.Store(name); !ok {
			rep.Empty = append(rep.Empty, name)
		}
	}
	return nil
}

func storeNames(sp *savepoint.Savepoint) string {
	var names []string
	for _, st := range sp.Manifest.Stores {
		names = append(names, st.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// replace deletes the application's group and its changelog and internal topics (as
// the current layout names them), and waits until they are gone.
func replace(ctx context.Context, adm *kadm.Client, o Options) error {
	if _, err := adm.DeleteGroup(ctx, o.AppID); err != nil && !isNoGroup(err) {
		return fmt.Errorf("eddy: restore: deleting group %s: %w", o.AppID, err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("eddy: restore: listing topics: %w", err)
	}
	var doomed []string
	prefix := o.AppID + "-"
	for _, t := range topics.Names() {
		rest, ok := strings.CutPrefix(t, prefix)
		if !ok {
			continue
		}
		changelog := strings.HasSuffix(rest, "-changelog") && slices.Contains(o.Stores, strings.TrimSuffix(rest, "-changelog"))
		internal := strings.HasSuffix(rest, "-repartition") || strings.HasSuffix(rest, "-subscription-registration-topic") ||
			strings.HasSuffix(rest, "-subscription-response-topic")
		if changelog || internal {
			doomed = append(doomed, t)
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	resp, err := adm.DeleteTopics(ctx, doomed...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("eddy: restore: deleting the topics of %s (%s): %w", o.AppID, strings.Join(doomed, ", "), err)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		listed, err := adm.ListTopics(ctx, doomed...)
		var left []string
		for _, d := range listed.Sorted() {
			if d.Err == nil {
				left = append(left, d.Topic)
			}
		}
		if err == nil && len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("eddy: restore: the topics of %s are still there a minute after their deletion: %s", o.AppID, strings.Join(left, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isNoGroup(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") || strings.Contains(err.Error(), "does not exist"))
}

// writer writes one savepoint into one layout.
type writer struct {
	sp  *savepoint.Savepoint
	o   Options
	l   *runtime.Layout
	rep *Report

	stores  []storeJob
	pending []pendingJob
	// starts and ends are the start and end offsets of the layout's sources before the
	// restore writes anything.
	starts, ends kadm.ListedOffsets
}

type storeJob struct {
	from savepoint.Store
	to   runtime.LayoutStore
}

type pendingJob struct {
	from savepoint.Store
	to   runtime.LayoutSource
}

// plan pairs everything up and refuses what cannot be restored, before anything is
// written: a changelog with records, a rescaled store of a kind that cannot move keys.
func (w *writer) plan(ctx context.Context, adm *kadm.Client) error {
	var changelogs []string
	for _, ls := range w.l.Stores {
		changelogs = append(changelogs, ls.Changelog)
		st, ok := w.sp.Store(ls.Name)
		if !ok {
			continue
		}
		if st.Partitions != ls.Partitions && ls.Kind != graph.KeyValueStore {
			return fmt.Errorf("eddy: restore: store %s had %d tasks in the savepoint and has %d now, and it is a %s store: "+
				"only key-value stores (tables, aggregations, key-value stores) move their keys to other partitions; "+
				"restore with the same partition count", ls.Name, st.Partitions, ls.Partitions, ls.Kind)
		}
		w.stores = append(w.stores, storeJob{from: st, to: ls})
	}
	if len(changelogs) > 0 {
		starts, err := adm.ListStartOffsets(ctx, changelogs...)
		if err == nil {
			err = starts.Error()
		}
		ends, err2 := adm.ListEndOffsets(ctx, changelogs...)
		if err = cmp.Or(err, err2); err == nil {
			err = ends.Error()
		}
		if err != nil {
			return fmt.Errorf("eddy: restore: offsets of the changelogs: %w", err)
		}
		var full error
		ends.Each(func(e kadm.ListedOffset) {
			if s, _ := starts.Lookup(e.Topic, e.Partition); e.Offset > s.Offset && full == nil {
				full = fmt.Errorf("eddy: restore: changelog %s partition %d holds records (offsets %d to %d): application %s has state; "+
					"restore into a new application id, or replace its state with ReplaceState", e.Topic, e.Partition, s.Offset, e.Offset, w.o.AppID)
			}
		})
		if full != nil {
			return full
		}
	}
	var sources []string
	for _, s := range w.l.Sources {
		sources = append(sources, s.Topic)
	}
	var err error
	if w.starts, err = adm.ListStartOffsets(ctx, sources...); err == nil {
		err = w.starts.Error()
	}
	if err == nil {
		if w.ends, err = adm.ListEndOffsets(ctx, sources...); err == nil {
			err = w.ends.Error()
		}
	}
	if err != nil {
		return fmt.Errorf("eddy: restore: offsets of the input topics: %w", err)
	}
	for _, p := range w.sp.Manifest.Pending {
		i := slices.IndexFunc(w.l.Sources, func(s runtime.LayoutSource) bool { return s.Internal == p.Name })
		if i < 0 {
			if len(p.Slices) > 0 && !w.o.AllowNonRestored {
				return fmt.Errorf("eddy: restore: the savepoint has records in flight in internal topic %s, which the topology no longer has; "+
					"leave them out with AllowNonRestoredState", p.Name)
			}
			w.rep.Dropped = append(w.rep.Dropped, p.Name)
			continue
		}
		w.pending = append(w.pending, pendingJob{from: p, to: w.l.Sources[i]})
	}
	return nil
}

// write writes the stores' entries to their changelogs and the pending records to their
// internal topics, in one transaction.
func (w *writer) write(ctx context.Context) (err error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), w.o.ClientOpts...),
		kgo.TransactionalID(w.o.AppID+"-savepoint-restore"),
		kgo.TransactionTimeout(transactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return fmt.Errorf("eddy: restore: producer: %w", err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("eddy: restore: beginning the transaction: %w", err)
	}
	defer func() {
		if err != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = cl.AbortBufferedRecords(actx)
			_ = cl.EndTransaction(actx, kgo.TryAbort)
		}
	}()
	var mu sync.Mutex
	var failed error
	produce := func(r *kgo.Record) error {
		mu.Lock()
		f := failed
		mu.Unlock()
		if f != nil {
			return f
		}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				failed = cmp.Or(failed, fmt.Errorf("eddy: restore: writing %s/%d: %w", r.Topic, r.Partition, err))
				mu.Unlock()
			}
		})
		return nil
	}
	now := time.Now()
	for _, j := range w.stores {
		if err := w.writeStore(j, now, produce); err != nil {
			return err
		}
	}
	for _, j := range w.pending {
		if err := w.writePending(j, produce); err != nil {
			return err
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("eddy: restore: flushing: %w", err)
	}
	if failed != nil {
		return failed
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("eddy: restore: committing the transaction: %w", err)
	}
	// The commit's markers are written after it returns; the application's restore reads
	// up to the last stable offset, so it must not start before they are there.
	var written []string
	for _, j := range w.stores {
		written = append(written, j.to.Changelog)
	}
	for _, j := range w.pending {
		written = append(written, j.to.Topic)
	}
	if err := runtime.WaitSettled(ctx, kadm.NewClient(cl), written, time.Minute); err != nil {
		return fmt.Errorf("eddy: restore: %w", err)
	}
	return nil
}

func (w *writer) writeStore(j storeJob, now time.Time, produce func(*kgo.Record) error) error {
	conv := w.o.Convert[j.to.Name]
	part := kgo.StickyKeyPartitioner(nil).ForTopic(j.to.Changelog)
	rescale := j.from.Partitions != j.to.Partitions
	sr := StoreReport{Name: j.to.Name, From: j.from.Partitions, To: j.to.Partitions, Converted: conv != nil}
	for _, f := range j.from.Slices {
		err := w.sp.Entries(j.to.Name, f.Partition, func(key, value []byte) error {
			k, v := clone(key), clone(value)
			if conv != nil {
				var err error
				if v, err = conv(k, v); err != nil {
					return fmt.Errorf("eddy: restore: converting store %s, partition %d, key %q: %w", j.to.Name, f.Partition, key, err)
				}
				if v == nil {
					return nil
				}
			}
			r := &kgo.Record{Topic: j.to.Changelog, Partition: f.Partition, Key: k, Value: v, Timestamp: now}
			if rescale {
				r.Partition = int32(part.Partition(r, int(j.to.Partitions)))
			}
			sr.Entries++
			return produce(r)
		})
		if err != nil {
			return err
		}
	}
	w.rep.Stores = append(w.rep.Stores, sr)
	return nil
}

func (w *writer) writePending(j pendingJob, produce func(*kgo.Record) error) error {
	keyed := kgo.StickyKeyPartitioner(nil).ForTopic(j.to.Topic)
	rescale := j.from.Partitions != j.to.Partitions
	next := 0
	for _, f := range j.from.Slices {
		err := w.sp.Records(j.from.Name, f.Partition, func(sr savepoint.Record) error {
			r := &kgo.Record{Topic: j.to.Topic, Partition: f.Partition, Key: clone(sr.Key), Value: clone(sr.Value), Timestamp: sr.Timestamp}
			for _, h := range sr.Headers {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: clone(h.Value)})
			}
			if rescale {
				if j.to.RoundRobin || r.Key == nil {
					r.Partition = int32(next % int(j.to.Partitions))
					next++
				} else {
					r.Partition = int32(keyed.Partition(r, int(j.to.Partitions)))
				}
			}
			w.rep.Pending++
			return produce(r)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// offsets are the offsets to commit: the savepoint's for the inputs it has (each
// partition's own; a partition it has not, one added since, from its start), with their
// times; the end before the restore for the internal topics, whose pending records come
// after it.
func (w *writer) offsets() (kadm.Offsets, error) {
	m := w.sp.Manifest
	saved, times := map[tp]int64{}, map[tp]int64{}
	for _, o := range m.Offsets {
		saved[tp{o.Topic, o.Partition}] = o.Offset
	}
	for _, wm := range m.Watermarks {
		times[tp{wm.Topic, wm.Partition}] = wm.Millis
	}
	read := map[string]bool{}
	out := kadm.Offsets{}
	for _, s := range w.l.Sources {
		old := s.Topic
		if s.Internal != "" {
			old = m.ApplicationID + "-" + s.Internal
		}
		read[old] = true
		oldCount := int32(0)
		for k := range saved {
			if k.topic == old {
				oldCount = max(oldCount, k.partition+1)
			}
		}
		for p := range s.Partitions {
			start, _ := w.starts.Lookup(s.Topic, p)
			end, _ := w.ends.Lookup(s.Topic, p)
			o := kadm.Offset{Topic: s.Topic, Partition: p, LeaderEpoch: -1}
			ms, timed := times[tp{old, p}]
			switch at, ok := saved[tp{old, p}]; {
			case s.Internal != "":
				o.At = end.Offset
				if oldCount != s.Partitions {
					ms, timed = minTime(times, old, oldCount)
				}
			case ok:
				if w.o.InputOffsets != nil {
					var err error
					if at, err = w.o.InputOffsets(s.Topic, p, at); err != nil {
						return nil, fmt.Errorf("eddy: restore: translating the offset %d of %s/%d: %w", at, s.Topic, p, err)
					}
				}
				if at < start.Offset || at > end.Offset {
					return nil, fmt.Errorf("eddy: restore: the savepoint resumes %s/%d at offset %d, outside the partition's offsets %d to %d on this cluster; "+
						"records were deleted since, or this is another cluster (translate the offsets with InputOffsets)", s.Topic, p, at, start.Offset, end.Offset)
				}
				o.At = at
			case oldCount > 0:
				o.At, timed = start.Offset, false // a partition added since the savepoint
			default:
				continue // an input the savepoint has not: the reset policy applies
			}
			if timed {
				o.Metadata = runtime.TimeMeta(ms)
			}
			out.Add(o)
		}
	}
	for k := range saved {
		if !read[k.topic] && !slices.Contains(w.rep.Dropped, k.topic) {
			w.rep.Dropped = append(w.rep.Dropped, k.topic)
		}
	}
	slices.Sort(w.rep.Dropped)
	return out, nil
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// minTime is the minimum time of the count partitions of topic, if they all have one: a
// rescaled internal topic's watermark until its writers report.
func minTime(times map[tp]int64, topic string, count int32) (int64, bool) {
	var least int64
	for p := range count {
		ms, ok := times[tp{topic, p}]
		if !ok {
			return 0, false
		}
		if p == 0 || ms < least {
			least = ms
		}
	}
	return least, count > 0
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
