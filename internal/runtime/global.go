package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/internal/state"
	"github.com/eddy-streams/eddy/store"
)

// Global tables (DESIGN §13; Kafka Streams' GlobalKTable and its global stream thread).
// Each instance runs one global reader for all its global tables: its own client, in no
// group, that reads every partition of every global topic into the instance's copy of the
// table's store, with the application's isolation level (read_committed under
// exactly-once). Run restores every global store to the ends its topic has at start
// (last stable offsets under read_committed, high watermarks otherwise) before it starts
// any worker, so no task processes a record before the global tables are complete; then
// the reader follows the topics while the workers run (a bounded run stops at the ends
// of the start, as it does for its inputs). The topic is its own changelog: the reader's
// checkpoint is its position in each partition, in the local database, written after the
// data it covers, so a restart goes on from there. A checkpoint is trusted as a task's is
// (changelog.Trusted: the same topic id, inside the log, younger than the topic's
// delete.retention.ms); if any partition's is not, the store is wiped and read again from
// the start. Records that do not decode meet the OnDeserializationError policy; a
// dead-lettered one is written by the reader's own client (every instance reads every
// record, so each dead-letters it).

// globalTopic is what the plan knows of a global table's topic.
type globalTopic struct {
	g               *graph.Global
	partitions      int32
	id              [16]byte
	deleteRetention time.Duration
}

// planGlobals checks the global tables' topics (missing ones fail as missing inputs do)
// and records their partition counts, ids and delete.retention.ms.
func (p *topicPlan) planGlobals(ctx context.Context, adm *kadm.Client, g *graph.Graph) error {
	gls := g.Globals()
	if len(gls) == 0 {
		return nil
	}
	topics := make([]string, len(gls))
	for i, gl := range gls {
		topics[i] = gl.Topic
	}
	if err := p.describe(ctx, adm, topics, "global table"); err != nil {
		return err
	}
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("eddy: describing global table topics: %w", err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return describeConfigsError(err, "the global table topics", topics)
	}
	retention := map[string]time.Duration{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key != "delete.retention.ms" {
				continue
			}
			if ms, err := strconv.ParseInt(c.MaybeValue(), 10, 64); err == nil {
				retention[rc.Name] = time.Duration(ms) * time.Millisecond
			}
		}
	}
	for _, gl := range gls {
		d := details[gl.Topic]
		dr, ok := retention[gl.Topic]
		if !ok {
			dr = 24 * time.Hour // the broker's default
		}
		p.globals = append(p.globals, &globalTopic{g: gl, partitions: p.partitions[gl.Topic], id: d.ID, deleteRetention: dr})
	}
	return nil
}

// globalTable is one global table as the reader keeps it.
type globalTable struct {
	*globalTopic
	slice *state.Global
	batch store.Batch // staged writes of the current poll
	// pos is the next offset to read in each partition; applied is pos as of the last
	// write of the store, saved as of the last checkpoint (-1: none yet). A checkpoint
	// writes applied, never pos: it must not lead its data.
	pos, applied, saved []int64
}

// globalReader is the instance's reader of its global tables. Its goroutine (restore,
// then follow) is its only user, except for store, which the workers call.
type globalReader struct {
	cfg    *Config
	log    *slog.Logger
	mgr    *state.Manager
	cl     *kgo.Client
	tables []*globalTable
	// byTopic and byStore are fixed once made: the workers read byStore concurrently.
	byTopic, byStore map[string]*globalTable

	key []byte // a record's store key, reused
	// produceSync writes a dead letter and waits for its acknowledgement (the client's,
	// or the test driver's topics).
	produceSync func(context.Context, *kgo.Record) error
	// checkpointed is when checkpoints were last written, refreshed when every one was:
	// a checkpoint's age counts against the topic's delete.retention.ms, so the unmoved
	// ones are written again now and then, and at the end of the run.
	checkpointed, refreshed time.Time
}

// checkpointRefresh is how often the checkpoints of partitions without new records are
// written again (with the time of the write): well within the default 24 h
// delete.retention.ms, past which a restart could not trust them.
const checkpointRefresh = time.Hour

// globalPollRecords bounds one poll of the global reader.
const globalPollRecords = 10000

// newGlobalReader opens the stores of the plan's global tables and the reader's client;
// nil when the topology has none.
func newGlobalReader(cfg *Config, plan *topicPlan, mgr *state.Manager) (*globalReader, error) {
	if len(plan.globals) == 0 {
		return nil, nil
	}
	r, err := openGlobalTables(cfg, plan, mgr)
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...)
	opts = append(opts,
		kgo.ClientID(fmt.Sprintf("%s-%s-global", cfg.ApplicationID, cfg.ProcessID)),
		// Positions move over transaction markers too, so a partition whose tail is a
		// marker is seen to reach its end.
		kgo.KeepControlRecords(),
		// The checkpoint was checked against the log start: a position that falls out of
		// the log later (records deleted before they were read) is an error, not a silent
		// jump (Kafka Streams' global consumer has auto.offset.reset=none too).
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if cfg.ExactlyOnce {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("eddy: global table client: %w", err)
	}
	r.cl = cl
	r.produceSync = func(ctx context.Context, rec *kgo.Record) error { return cl.ProduceSync(ctx, rec).FirstErr() }
	return r, nil
}

// openGlobalTables makes a reader of the plan's global tables with their stores open,
// and no client yet.
func openGlobalTables(cfg *Config, plan *topicPlan, mgr *state.Manager) (*globalReader, error) {
	r := &globalReader{cfg: cfg, log: cfg.Logger.With("component", "global"), mgr: mgr,
		byTopic: map[string]*globalTable{}, byStore: map[string]*globalTable{}}
	for _, gt := range plan.globals {
		slice, err := mgr.OpenGlobal(gt.g.Store)
		if err != nil {
			return nil, fmt.Errorf("eddy: opening global store %s: %w", gt.g.Store, err)
		}
		t := &globalTable{globalTopic: gt, slice: slice, pos: make([]int64, gt.partitions),
			applied: make([]int64, gt.partitions), saved: make([]int64, gt.partitions)}
		r.tables = append(r.tables, t)
		r.byTopic[gt.g.Topic], r.byStore[gt.g.Store] = t, t
	}
	return r, nil
}

// store is the named global store for a task; an error names a store the topology does
// not have. Safe for concurrent use.
func (r *globalReader) store(name string) (graph.GlobalReader, error) {
	if r != nil {
		if t, ok := r.byStore[name]; ok {
			return t.slice, nil
		}
	}
	return nil, fmt.Errorf("eddy: the topology has no global store %q (a GlobalStore of another topology?)", name)
}

// close closes the reader's client.
func (r *globalReader) close() { r.cl.Close() }

// restore brings every global store up to the ends its topic has now: from the
// checkpoints when they are trusted, else from the start after wiping the store. It
// returns when all are there, or when ctx ends.
func (r *globalReader) restore(ctx context.Context) error {
	started := time.Now()
	var topics []string
	for _, t := range r.tables {
		topics = append(topics, t.g.Topic)
	}
	var starts, ends kadm.ListedOffsets
	err := retryStart(ctx, func(ctx context.Context) error {
		var err error
		starts, ends, err = r.listOffsets(ctx, topics)
		return err
	})
	if err != nil {
		return err
	}
	offsets := map[string]map[int32]kgo.Offset{}
	from := map[*globalTable][]int64{}
	wiped := map[*globalTable]bool{}
	for _, t := range r.tables {
		trusted, err := r.plan(t, starts, ends, started)
		if err != nil {
			return err
		}
		if !trusted {
			if err := r.mgr.WipeGlobal(t.slice); err != nil {
				return err
			}
			wiped[t] = true
		}
		offsets[t.g.Topic] = map[int32]kgo.Offset{}
		from[t] = make([]int64, t.partitions)
		for p := range t.partitions {
			if !trusted {
				s, _ := starts.Lookup(t.g.Topic, p)
				t.pos[p] = s.Offset
			}
			t.applied[p], t.saved[p], from[t][p] = t.pos[p], -1, t.pos[p]
			offsets[t.g.Topic][p] = kgo.NewOffset().At(t.pos[p])
		}
	}
	r.cl.AddConsumePartitions(offsets)
	restored := map[*globalTable][]int64{}
	for _, t := range r.tables {
		restored[t] = make([]int64, t.partitions)
	}
	lastLog := time.Now()
	for !r.reached(ends) {
		if ctx.Err() != nil {
			return r.checkpoint() // stopped: what was read is kept for the next start
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := r.cl.PollRecords(pctx, globalPollRecords)
		cancel()
		err := r.apply(ctx, fetches, func(t *globalTable, p int32) { restored[t][p]++ })
		if err != nil {
			return errors.Join(err, r.checkpoint())
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			r.log.Info("restoring global tables", "records", sum(restored), "rate", float64(sum(restored))/time.Since(started).Seconds())
		}
	}
	if err := r.checkpoint(); err != nil {
		return err
	}
	for _, t := range r.tables {
		for p := range t.partitions {
			end, _ := ends.Lookup(t.g.Topic, p)
			info := RestoreInfo{Global: true, Store: t.g.Store, Topic: t.g.Topic, Partition: p,
				From: from[t][p], To: end.Offset, Restored: restored[t][p], Wiped: wiped[t], Duration: time.Since(started)}
			r.log.Info("global store restored", "store", info.Store, "partition", p, "records", info.Restored,
				"from", info.From, "to", info.To, "wiped", info.Wiped, "duration", info.Duration)
			if r.cfg.OnRestore != nil {
				r.cfg.OnRestore(info)
			}
		}
	}
	return nil
}

func sum(m map[*globalTable][]int64) int64 {
	var n int64
	for _, ns := range m {
		for _, x := range ns {
			n += x
		}
	}
	return n
}

// listOffsets lists the log starts of the global topics and their ends as this reader
// sees them: last stable offsets under read_committed, high watermarks otherwise.
func (r *globalReader) listOffsets(ctx context.Context, topics []string) (starts, ends kadm.ListedOffsets, err error) {
	adm := kadm.NewClient(r.cl)
	if starts, err = adm.ListStartOffsets(ctx, topics...); err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("eddy: start offsets of global table topics: %w", err)
	}
	if r.cfg.ExactlyOnce {
		ends, err = adm.ListCommittedOffsets(ctx, topics...)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topics...)
	}
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("eddy: end offsets of global table topics: %w", err)
	}
	return starts, ends, nil
}

// plan sets t's positions from its checkpoints and reports whether they may be used: every
// partition's checkpoint is trusted (changelog.Trusted), and there is at least one. A
// partition without one while others have theirs is new (the topic grew): it reads from
// its start.
func (r *globalReader) plan(t *globalTable, starts, ends kadm.ListedOffsets, now time.Time) (bool, error) {
	cps, err := r.mgr.GlobalCheckpoints(t.slice)
	if err != nil {
		return false, fmt.Errorf("eddy: global store %s: reading checkpoints: %w", t.g.Store, err)
	}
	if len(cps) == 0 {
		return false, nil
	}
	for p := range t.partitions {
		s, _ := starts.Lookup(t.g.Topic, p)
		cp, ok := cps[p]
		if !ok {
			t.pos[p] = s.Offset
			continue
		}
		e, _ := ends.Lookup(t.g.Topic, p)
		log := changelog.Log{TopicID: t.id, Start: s.Offset, End: e.Offset, DeleteRetention: t.deleteRetention}
		if !changelog.Trusted(cp.TopicID, cp.Offset, cp.Written, log, now) {
			r.log.Info("global store checkpoint not usable; reading the topic again", "store", t.g.Store, "partition", p,
				"checkpoint", cp.Offset, "start", s.Offset, "end", e.Offset, "written", cp.Written)
			return false, nil
		}
		t.pos[p] = cp.Offset
	}
	return true, nil
}

// reached reports whether every partition's position is at its end.
func (r *globalReader) reached(ends kadm.ListedOffsets) bool {
	for _, t := range r.tables {
		for p := range t.partitions {
			if e, _ := ends.Lookup(t.g.Topic, p); t.pos[p] < e.Offset {
				return false
			}
		}
	}
	return true
}

// follow applies the global topics' new records until ctx ends, checkpointing at the
// commit interval and once more at the end.
func (r *globalReader) follow(ctx context.Context) error {
	every := max(r.cfg.CommitInterval, 100*time.Millisecond)
	for {
		pctx, cancel := context.WithTimeout(ctx, every)
		fetches := r.cl.PollRecords(pctx, globalPollRecords)
		cancel()
		if ctx.Err() != nil {
			r.refreshed = time.Time{} // the last ones of the run: all of them, as of now
			return r.checkpoint()
		}
		if err := r.apply(ctx, fetches, nil); err != nil {
			if ctx.Err() != nil {
				// Stopped during a dead-letter write: the position has not passed the
				// record, so the next start meets it again. (So does one that failed.)
				err = nil
			}
			return errors.Join(err, r.checkpoint())
		}
		if time.Since(r.checkpointed) >= every {
			if err := r.checkpoint(); err != nil {
				return err
			}
		}
	}
}

// apply writes a poll's records to their stores, in offset order per partition, and
// moves the positions past them; onRecord, if set, is told of each record applied. A
// record that fails under the Fail policy stops it there: what came before is written,
// and the error (a *RecordFailure) is returned.
func (r *globalReader) apply(ctx context.Context, fetches kgo.Fetches, onRecord func(*globalTable, int32)) error {
	for _, fe := range fetches.Errors() {
		switch {
		case errors.Is(fe.Err, context.DeadlineExceeded), errors.Is(fe.Err, context.Canceled):
		case errors.Is(fe.Err, kgo.ErrClientClosed):
			return fe.Err
		case isAuthorization(fe.Err):
			return fetchAuthorization(fe.Err, fe.Topic, fe.Partition, r.cfg.ApplicationID)
		case errors.Is(fe.Err, kerr.OffsetOutOfRange):
			store := fe.Topic
			if t := r.byTopic[fe.Topic]; t != nil {
				store = t.g.Store
			}
			return fmt.Errorf("eddy: global table %s: the next record to read of %s/%d is no longer in the topic "+
				"(records deleted before this instance read them); restart the instance to read the table again: %w",
				store, fe.Topic, fe.Partition, fe.Err)
		default:
			// The client retries; worth a line, not a stop.
			r.log.Warn("global table fetch error", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
	}
	var failure error
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		t := r.byTopic[fp.Topic]
		if t == nil || failure != nil || fp.Partition >= t.partitions {
			return
		}
		for _, rec := range fp.Records {
			if rec.Offset < t.pos[fp.Partition] {
				continue
			}
			if !rec.Attrs.IsControl() {
				key, ok, err := t.g.Decode(r.key[:0], rec)
				if err != nil {
					if failure = r.failed(ctx, t, rec, err); failure != nil {
						return
					}
				} else if ok {
					r.key = key
					t.slice.Stage(&t.batch, key, rec.Value)
					if onRecord != nil {
						onRecord(t, fp.Partition)
					}
				}
			}
			t.pos[fp.Partition] = rec.Offset + 1
		}
	})
	for _, t := range r.tables {
		err := r.mgr.ApplyGlobal(t.slice, &t.batch)
		t.batch.Reset()
		if err != nil {
			return errors.Join(err, failure)
		}
		copy(t.applied, t.pos)
	}
	return failure
}

// checkpoint writes the positions whose data is applied and that moved since the last
// checkpoint (at the first, after a restore, all of them).
func (r *globalReader) checkpoint() error {
	now := time.Now()
	all := now.Sub(r.refreshed) >= checkpointRefresh
	for _, t := range r.tables {
		cps := map[int32]state.Checkpoint{}
		for p := range t.partitions {
			if all || t.applied[p] != t.saved[p] {
				cps[p] = state.Checkpoint{TopicID: t.id, Offset: t.applied[p], Written: now}
			}
		}
		if err := r.mgr.SaveGlobalCheckpoints(t.slice, cps); err != nil {
			return err
		}
		copy(t.saved, t.applied)
	}
	r.checkpointed = now
	if all {
		r.refreshed = now
	}
	return nil
}

// failed applies the deserialization policy to a record of a global topic that did not
// decode: nil when it was skipped or dead-lettered, else the error that stops Run.
func (r *globalReader) failed(ctx context.Context, t *globalTable, rec *kgo.Record, err error) error {
	var re *graph.RecordError
	if !errors.As(err, &re) {
		return fmt.Errorf("eddy: global table %s: record %s: %w", t.g.Store, coordOf(rec), err)
	}
	c := coordOf(rec)
	switch pol := r.cfg.policy(re.Kind); pol.Action {
	case Skip:
		r.count("eddy_records_skipped_total", "Records skipped after a failure.", rec.Topic, re.Kind)
		r.log.Warn("skipping a record of a global table that failed", "store", t.g.Store, "record", c.String(), "err", re.Err)
		return nil
	case DeadLetter:
		// Acknowledged before the position passes the record (at-least-once: a crash
		// before the next checkpoint writes it again).
		if err := r.produceSync(ctx, deadLetter(rec, re, pol.Topic)); err != nil {
			return fmt.Errorf("eddy: global table %s: dead-lettering record %s to %s: %w", t.g.Store, c, pol.Topic, err)
		}
		r.count("eddy_records_dead_lettered_total", "Records written to a dead-letter topic after a failure.", rec.Topic, re.Kind)
		r.log.Warn("dead-lettered a record of a global table that failed", "store", t.g.Store, "record", c.String(),
			"topic", pol.Topic, "err", re.Err)
		return nil
	default:
		r.count("eddy_records_failed_total", "Records that stopped the application.", rec.Topic, re.Kind)
		return &RecordFailure{Global: t.g.Store, Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: re}
	}
}

func (r *globalReader) count(name, help, topic string, kind graph.ErrorKind) {
	if r.cfg.Metrics != nil {
		r.cfg.Metrics.Counter(name, help, "topic", topic, "reason", kind.String()).Add(1)
	}
}
