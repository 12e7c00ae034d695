package savepoint

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/runtime"
	estore "github.com/eddy-streams/eddy/store"
)

// TakeStopped takes a savepoint of a stopped application into out: every store's state,
// read from its changelog topic up to the last stable offset (the state as of the last
// commit: under exactly-once the committed transactions, under at-least-once what the
// last commit flushed), the group's committed offsets, which that state corresponds to,
// and the partitions' times from the offsets' metadata. opts are the clients' options:
// the seed brokers (kgo.SeedBrokers), TLS, SASL.
//
// The application must be stopped (its group without members): a running one commits
// more state meanwhile, and the cut would not be consistent; that is refused (Take pauses
// a running application for its cut). Under
// exactly-once the changelogs' committed records and the offsets are one transaction's,
// so the cut is exact however the application stopped; under at-least-once it is exact
// after a clean stop (the last commit flushed the changelogs, then committed the
// offsets), while after a crash the changelogs may hold effects of records past the
// committed offsets, which a restore would then apply twice. Each
// changelog partition's latest values are gathered before its slice is written, in a
// temporary database on disk (under os.TempDir), not in memory: the disk must hold one
// changelog's state once more.
func TakeStopped(ctx context.Context, appID string, out CreateFS, opts ...kgo.Opt) (Manifest, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Manifest{}, fmt.Errorf("savepoint: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	groups, err := adm.DescribeGroups(ctx, appID)
	if err != nil {
		return Manifest{}, fmt.Errorf("savepoint: describing group %s: %w", appID, err)
	}
	if g, ok := groups[appID]; ok && len(g.Members) > 0 {
		return Manifest{}, fmt.Errorf("savepoint: application %s is running (%d members in its group): stop it first, or use Take, which pauses it", appID, len(g.Members))
	}
	return cut(ctx, adm, appID, out, opts)
}

// cut writes the savepoint of an application that stands still: stopped, or paused
// (Take).
func cut(ctx context.Context, adm *kadm.Client, appID string, out CreateFS, opts []kgo.Opt) (Manifest, error) {
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return Manifest{}, fmt.Errorf("savepoint: listing topics: %w", err)
	}
	m := Manifest{ApplicationID: appID, Created: time.Now().UTC()}
	prefix, suffix := appID+"-", "-changelog"
	var changelogs []string
	for _, t := range topics.Names() {
		if strings.HasPrefix(t, prefix) && strings.HasSuffix(t, suffix) && len(t) > len(prefix)+len(suffix) {
			changelogs = append(changelogs, t)
		}
	}
	slices.Sort(changelogs)
	internal := internalTopics(topics.Names(), prefix)
	// The last commit's transaction markers may still be on their way (they are written
	// after the commit returns): read once they are there.
	if err := runtime.WaitSettled(ctx, adm, slices.Concat(changelogs, internal), settleTimeout); err != nil {
		return Manifest{}, fmt.Errorf("savepoint: %w", err)
	}
	w := NewWriter(out)
	for _, topic := range changelogs {
		store := topic[len(prefix) : len(topic)-len(suffix)]
		n := int32(len(topics[topic].Partitions))
		m.Stores = append(m.Stores, Store{Name: store, Partitions: n})
		if err := copyChangelog(ctx, adm, w, topic, store, n, opts); err != nil {
			return Manifest{}, err
		}
	}
	offs, err := adm.FetchOffsets(kadm.RequireStable(ctx), appID)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("savepoint: fetching the committed offsets of %s: %w", appID, err)
	}
	for _, topic := range internal {
		n := int32(len(topics[topic].Partitions))
		short := topic[len(prefix):]
		m.Pending = append(m.Pending, Store{Name: short, Partitions: n})
		if err := copyPending(ctx, adm, w, topic, short, n, offs, opts); err != nil {
			return Manifest{}, err
		}
	}
	offs.Each(func(o kadm.OffsetResponse) {
		m.Offsets = append(m.Offsets, Offset{Topic: o.Topic, Partition: o.Partition, Offset: o.At})
		if ms, ok := runtime.OffsetMetaTime(o.Metadata); ok {
			m.Watermarks = append(m.Watermarks, Watermark{Topic: o.Topic, Partition: o.Partition, Millis: ms})
		}
	})
	slices.SortFunc(m.Offsets, func(a, b Offset) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	slices.SortFunc(m.Watermarks, func(a, b Watermark) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return w.Finish(m)
}

// settleTimeout bounds the wait for the markers of the application's last transactions.
const settleTimeout = 30 * time.Second

// internalSuffixes end the names of eddy's internal topics (graph.Repartition).
var internalSuffixes = []string{"-repartition", "-subscription-registration-topic", "-subscription-response-topic"}

// internalTopics lists the application's internal topics among names.
func internalTopics(names []string, prefix string) []string {
	var out []string
	for _, t := range names {
		if strings.HasPrefix(t, prefix) && slices.ContainsFunc(internalSuffixes, func(s string) bool {
			return strings.HasSuffix(t, s) && len(t) > len(prefix)+len(s)
		}) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// bounds lists topic's start offsets and last stable offsets.
func bounds(ctx context.Context, adm *kadm.Client, topic string) (starts, ends kadm.ListedOffsets, err error) {
	starts, err = adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err == nil {
		if ends, err = adm.ListCommittedOffsets(ctx, topic); err == nil {
			err = ends.Error()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("savepoint: offsets of %s: %w", topic, err)
	}
	return starts, ends, nil
}

// copyPending writes the records of internal topic that are past the group's committed
// offsets (or its start, for a partition without one) and below its last stable offset:
// written before the cut, not yet processed. Watermark markers are left out and eddy's
// watermark header is removed: the tasks that write the topic after a restore report
// their watermarks afresh.
func copyPending(ctx context.Context, adm *kadm.Client, w *Writer, topic, short string, n int32, offs kadm.OffsetResponses, opts []kgo.Opt) error {
	starts, ends, err := bounds(ctx, adm, topic)
	if err != nil {
		return err
	}
	from, to := map[int32]kgo.Offset{}, map[int32]int64{}
	for p := range n {
		start, _ := starts.Lookup(topic, p)
		at := start.Offset
		if o, ok := offs.Lookup(topic, p); ok && o.At > at {
			at = o.At
		}
		if end, _ := ends.Lookup(topic, p); end.Offset > at {
			from[p], to[p] = kgo.NewOffset().At(at), end.Offset
		}
	}
	if len(from) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // the last offset below the LSO may be a marker
		kgo.ConsumeResetOffset(kgo.NoResetOffset()))...)
	if err != nil {
		return fmt.Errorf("savepoint: client: %w", err)
	}
	defer cl.Close()
	out := map[int32]*SliceWriter{}
	closeAll := func() error {
		var errs []error
		for _, p := range slices.Sorted(maps.Keys(out)) {
			errs = append(errs, out[p].Close())
		}
		return errors.Join(errs...)
	}
	for len(to) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			_ = closeAll()
			return err
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = cmp.Or(ferr, fmt.Errorf("savepoint: reading %s/%d: %w", t, p, err))
		})
		if ferr != nil {
			_ = closeAll()
			return ferr
		}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			end, open := to[fp.Partition]
			for _, rec := range fp.Records {
				if !open || ferr != nil {
					return
				}
				if rec.Offset >= end {
					delete(to, fp.Partition)
					return
				}
				if rec.Offset == end-1 {
					delete(to, fp.Partition)
					open = false
				}
				if rec.Attrs.IsControl() || runtime.StripWatermark(rec) {
					continue
				}
				sw := out[fp.Partition]
				if sw == nil {
					if sw, ferr = w.PendingSlice(short, fp.Partition); ferr != nil {
						return
					}
					out[fp.Partition] = sw
				}
				r := Record{Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp}
				for _, h := range rec.Headers {
					r.Headers = append(r.Headers, Header{Key: h.Key, Value: h.Value})
				}
				ferr = sw.PutRecord(r)
			}
		})
		if ferr != nil {
			_ = closeAll()
			return ferr
		}
	}
	return closeAll()
}

// copyChangelog writes the latest value of every key of each partition of topic (store's
// changelog) as the store's slice of that partition. The latest values are gathered in a
// temporary Badger database on disk, not in memory: a task's state may be larger than
// memory.
func copyChangelog(ctx context.Context, adm *kadm.Client, w *Writer, topic, store string, n int32, opts []kgo.Opt) error {
	starts, ends, err := bounds(ctx, adm, topic)
	if err != nil {
		return err
	}
	r, err := changelog.NewRestorer(slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp, err := os.MkdirTemp("", "eddy-savepoint-")
	if err != nil {
		return fmt.Errorf("savepoint: a temporary directory for %s: %w", topic, err)
	}
	defer os.RemoveAll(tmp)
	db, err := estore.OpenBadger(tmp, estore.BadgerOptions{LowMemory: true})
	if err != nil {
		return fmt.Errorf("savepoint: a temporary database for %s: %w", topic, err)
	}
	defer db.Close()
	var batch estore.Batch
	for p := range n {
		prefix := binary.BigEndian.AppendUint32(nil, uint32(p))
		from, _ := starts.Lookup(topic, p)
		to, _ := ends.Lookup(topic, p)
		tg := &changelog.Target{Topic: topic, Partition: p, From: from.Offset, To: to.Offset,
			Apply: func(keys, values [][]byte, _ int64) error {
				batch.Reset()
				for i, k := range keys {
					key := append(prefix[:4:4], k...)
					if values[i] == nil {
						batch.Delete(key)
					} else {
						batch.Put(key, values[i])
					}
				}
				return db.Write(&batch)
			}}
		for done := r.Add(tg); !done; {
			finished, err := r.Step(ctx, time.Second)
			if err != nil {
				return fmt.Errorf("savepoint: reading %s/%d: %w", topic, p, err)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			done = len(finished) > 0
		}
		if err := writeSlice(w, db, store, p, prefix); err != nil {
			return err
		}
	}
	return nil
}

// writeSlice writes the entries under prefix of db, if any, as store's slice of p.
func writeSlice(w *Writer, db *estore.Badger, store string, p int32, prefix []byte) error {
	end := binary.BigEndian.AppendUint32(nil, uint32(p)+1)
	it, err := db.Iterate(prefix, end)
	if err != nil {
		return err
	}
	defer it.Close()
	var sw *SliceWriter
	for it.Next() {
		if sw == nil {
			if sw, err = w.Slice(store, p); err != nil {
				return err
			}
		}
		if err := sw.Put(it.Key()[4:], it.Value()); err != nil {
			_ = sw.Close()
			return err
		}
	}
	if err := it.Err(); err != nil {
		if sw != nil {
			_ = sw.Close()
		}
		return fmt.Errorf("savepoint: the temporary database of %s: %w", store, err)
	}
	if sw == nil {
		return nil
	}
	return sw.Close()
}
