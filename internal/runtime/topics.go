package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/assign"
	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/processor"
)

// topicPlan is what Run learns and decides about topics before any worker starts.
type topicPlan struct {
	// partitions holds the partition count of every topic the application reads or
	// writes through a static sink, by full name.
	partitions map[string]int32
	// subs are the sub-topologies with full topic names, for the balancer.
	subs []assign.Subtopology
	// subOf maps a source topic (full name) to its sub-topology; rank is its place among
	// the sub-topology's topics, in the order the topology declares its sources.
	subOf, rank map[string]int
	// roundRobin holds the topics written round-robin (Rebalance's internal ones, and
	// output topics of sinks with SpreadRoundRobin); byTask the output topics task p
	// writes partition p mod n of (PartitionByTask).
	roundRobin, byTask map[string]bool
	// topics are all source topics, the consumer's subscription.
	topics []string
	// changelogs describes every store's changelog topic, by full name.
	changelogs map[string]*changelogTopic
	// stateful holds the sub-topologies that have stores.
	stateful map[int]bool
	// timing holds each source topic's watermark settings, by full name.
	timing map[string]sourceTiming
	// upstreams holds, for each repartition topic, how many tasks write it; writes the
	// repartition topics each sub-topology writes.
	upstreams map[string]int
	writes    map[int][]string
	// writerOf is the sub-topology that writes each repartition topic.
	writerOf map[string]int

	// Bounded mode: the end and the starting position of each external input partition,
	// and how many tasks the application has.
	ends, starts map[topicPartition]int64
	tasks        int
	// run identifies this bounded run: the wall-clock time (ms) it started at. The ends of
	// upstream tasks it commits in offset metadata are tagged with it, and end markers
	// are stamped after it: those of an earlier run end nothing in this one.
	run int64
	// finished holds the tasks whose end was committed, shared by the workers.
	finishedMu sync.Mutex
	finished   map[processor.TaskID]bool

	// maxRecordBytes is the producer's batch limit: the smallest max.message.bytes of
	// the output topics.
	maxRecordBytes int32

	// globals are the global tables' topics (global.go).
	globals []*globalTopic
}

// sourceTiming is how a source topic's partitions make watermarks.
type sourceTiming struct {
	outOfOrderness, idleTimeout time.Duration
	table                       bool
}

// changelogTopic is what restores need to know of a changelog topic.
type changelogTopic struct {
	partitions int32
	id         [16]byte
	// deleteRetention is the topic's delete.retention.ms: a checkpoint older than this may
	// predate tombstones that compaction has since removed, so it cannot be trusted.
	deleteRetention time.Duration
}

// internalTopicConfig is how repartition topics are created: records are deleted by eddy
// (DeleteRecords below committed offsets, later), never by time, and carry the writer's
// timestamps.
var internalTopicConfig = map[string]*string{
	"cleanup.policy":         kadm.StringPtr("delete"),
	"retention.ms":           kadm.StringPtr("-1"),
	"message.timestamp.type": kadm.StringPtr("CreateTime"),
}

// planTopics checks the input topics, decides the partition counts of the internal topics,
// checks co-partitioning and creates (or verifies) the internal topics.
func planTopics(ctx context.Context, adm *kadm.Client, appID string, g *graph.Graph, replication int16, deadLetters []string) (*topicPlan, error) {
	subs, err := g.Subtopologies()
	if err != nil {
		return nil, err
	}
	p := newTopicPlan()
	sources, sinks := externalTopics(subs)
	if err := p.describe(ctx, adm, sources, "input"); err != nil {
		return nil, err
	}
	if err := p.describe(ctx, adm, sinks, "output"); err != nil {
		return nil, err
	}
	if err := p.describe(ctx, adm, deadLetters, "dead-letter"); err != nil {
		return nil, err
	}
	if err := p.layout(g, appID); err != nil {
		return nil, err
	}
	if err := p.createInternal(ctx, adm, g, appID, replication); err != nil {
		return nil, err
	}
	if err := p.createChangelogs(ctx, adm, g, appID, replication); err != nil {
		return nil, err
	}
	outputs := append(append([]string(nil), sinks...), deadLetters...)
	for name := range p.upstreams {
		outputs = append(outputs, name)
	}
	for name := range p.changelogs {
		outputs = append(outputs, name)
	}
	if err := p.recordLimit(ctx, adm, outputs); err != nil {
		return nil, err
	}
	return p, nil
}

func newTopicPlan() *topicPlan {
	return &topicPlan{
		partitions: map[string]int32{},
		subOf:      map[string]int{},
		rank:       map[string]int{},
		roundRobin: map[string]bool{},
		byTask:     map[string]bool{},
		changelogs: map[string]*changelogTopic{},
		stateful:   map[int]bool{},
		timing:     map[string]sourceTiming{},
		upstreams:  map[string]int{},
		writes:     map[int][]string{},
		writerOf:   map[string]int{},
	}
}

// sinkSpreads notes the output topics written round-robin or by task; a topic's sinks must
// agree on how.
func (p *topicPlan) sinkSpreads(subs []*graph.Subtopology) error {
	spread := map[string]graph.Spread{}
	for _, s := range subs {
		for _, n := range s.Nodes {
			if n.Kind != graph.Sink || n.Internal != nil || len(n.Topics) != 1 {
				continue
			}
			topic := n.Topics[0]
			if was, ok := spread[topic]; ok && was != n.Spread {
				return fmt.Errorf("eddy: topic %s is written by sinks that place records differently (by key, round-robin, by task): give its sinks the same option", topic)
			}
			spread[topic] = n.Spread
			switch n.Spread {
			case graph.RoundRobin:
				p.roundRobin[topic] = true
			case graph.ByTask:
				p.byTask[topic] = true
			}
		}
	}
	return nil
}

// externalTopics are the topics the application reads and the ones it writes through
// static sinks and late-record topics, which must exist.
func externalTopics(subs []*graph.Subtopology) (sources, sinks []string) {
	for _, s := range subs {
		for _, n := range s.Nodes {
			if n.Internal != nil {
				continue
			}
			switch n.Kind {
			case graph.Source:
				sources = append(sources, n.Topics...)
			case graph.Sink:
				sinks = append(sinks, n.Topics...)
			}
			if n.LateTopic != "" {
				sinks = append(sinks, n.LateTopic)
			}
		}
	}
	return sources, sinks
}

// layout decides what follows from the partition counts of the external topics alone:
// the repartition topics' counts, each source topic's sub-topology, rank and timing, the
// balancer's sub-topologies (checked for co-partitioning), who writes which repartition
// topic, and which sub-topologies have stores. Nothing here asks a broker.
func (p *topicPlan) layout(g *graph.Graph, appID string) error {
	subs, err := g.Subtopologies()
	if err != nil {
		return err
	}
	if err := p.sizeInternal(g, appID); err != nil {
		return err
	}
	if err := p.sinkSpreads(subs); err != nil {
		return err
	}
	for _, s := range subs {
		as := assign.Subtopology{ID: s.ID}
		for _, src := range s.Sources {
			for _, t := range src.Topics {
				full := t
				if src.Internal != nil {
					full = src.Internal.Topic(appID)
				}
				p.rank[full] = len(as.Topics)
				as.Topics = append(as.Topics, full)
				p.subOf[full] = s.ID
				p.timing[full] = sourceTiming{outOfOrderness: src.OutOfOrderness, idleTimeout: src.IdleTimeout, table: src.TableSource}
				p.topics = append(p.topics, full)
			}
		}
		if err := p.checkCopartitioned(as); err != nil {
			return err
		}
		stores, err := g.StoresOf(s.ID)
		if err != nil {
			return err
		}
		p.stateful[s.ID] = len(stores) > 0
		as.Stateful = slices.ContainsFunc(stores, func(st *graph.Store) bool { return !st.InMemory })
		p.subs = append(p.subs, as)
	}
	for _, r := range g.Repartitions() {
		full, writer := r.Topic(appID), g.SubtopologyOf(r.Writer)
		p.upstreams[full] += int(p.partitions[p.subs[writer].Topics[0]])
		p.writes[writer] = append(p.writes[writer], full)
		p.writerOf[full] = writer
	}
	return nil
}

// defaultBatchMaxBytes is franz-go's default producer batch limit.
const defaultBatchMaxBytes = 1_000_012

// recordLimit sets the producer's batch limit to the smallest max.message.bytes among the
// output topics (and at most franz-go's default), so that no batch is refused by a topic
// as too large: a record too large is then refused alone, before it is sent, and can be
// dead-lettered without taking its batch with it.
func (p *topicPlan) recordLimit(ctx context.Context, adm *kadm.Client, topics []string) error {
	p.maxRecordBytes = defaultBatchMaxBytes
	if len(topics) == 0 {
		return nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return describeConfigsError(err, "the output topics", topics)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key != "max.message.bytes" {
				continue
			}
			if n, err := strconv.ParseInt(c.MaybeValue(), 10, 32); err == nil && n > 0 && int32(n) < p.maxRecordBytes {
				p.maxRecordBytes = int32(n)
			}
		}
	}
	return nil
}

// createChangelogs creates each store's compacted changelog topic with its sub-topology's
// partition count (one partition per task), or checks an existing one, and records the
// topic ids and delete.retention.ms that restores check checkpoints against.
func (p *topicPlan) createChangelogs(ctx context.Context, adm *kadm.Client, g *graph.Graph, appID string, replication int16) error {
	var names []string
	want := map[string]int32{}
	policy := map[string]string{}
	configs := map[string]map[string]*string{}
	for _, s := range p.subs {
		stores, err := g.StoresOf(s.ID)
		if err != nil {
			return err
		}
		for _, st := range stores {
			name := changelog.Topic(appID, st.Name)
			names = append(names, name)
			want[name] = p.partitions[s.Topics[0]]
			policy[name], configs[name] = changelog.Policy, changelog.TopicConfig()
			if st.Retention > 0 {
				policy[name], configs[name] = changelog.WindowPolicy, changelog.WindowTopicConfig(st.Retention)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("eddy: listing changelog topics: %w", err)
	}
	var errs []error
	for _, name := range names {
		if d, ok := existing[name]; ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != want[name] {
				errs = append(errs, fmt.Errorf("eddy: changelog topic %s has %d partitions, the topology needs %d (one per task); "+
					"delete it and the application's local state to rebuild it", name, got, want[name]))
				continue
			}
			if err := checkPolicy(ctx, adm, name, policy[name]); err != nil {
				errs = append(errs, err)
			}
			p.addChangelog(name, want[name], d.ID)
			continue
		}
		resp, err := adm.CreateTopic(ctx, want[name], replication, configs[name], name)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, errTopicExists) {
			// Another instance created it at the same moment.
			n := name
			err = p.checkExisting(ctx, adm, name, want[name], policy[name], func(id [16]byte) { p.addChangelog(n, want[n], id) })
			if err == nil {
				continue
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("eddy: creating changelog topic %s: %w%s", name, err, createHint(err)))
			continue
		}
		// The create response carries the topic id: listing the topic again right after
		// could be answered from the client's metadata cache, which still says "missing".
		p.addChangelog(name, want[name], resp.ID)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return p.changelogRetention(ctx, adm, names)
}

func (p *topicPlan) addChangelog(name string, partitions int32, id [16]byte) {
	p.changelogs[name] = &changelogTopic{partitions: partitions, id: id, deleteRetention: 24 * time.Hour}
	p.partitions[name] = partitions
}

// changelogRetention reads each changelog topic's delete.retention.ms (default 24 h).
func (p *topicPlan) changelogRetention(ctx context.Context, adm *kadm.Client, names []string) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return describeConfigsError(err, "the changelog topics", names)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key != "delete.retention.ms" {
				continue
			}
			if ms, err := strconv.ParseInt(c.MaybeValue(), 10, 64); err == nil && p.changelogs[rc.Name] != nil {
				p.changelogs[rc.Name].deleteRetention = time.Duration(ms) * time.Millisecond
			}
		}
	}
	return nil
}

// describe records the partition counts of topics, failing with one error that names every
// missing topic. A topic created a moment ago may not be in the broker's metadata yet, so a
// missing one is looked for again for a few seconds first.
func (p *topicPlan) describe(ctx context.Context, adm *kadm.Client, topics []string, role string) error {
	if len(topics) == 0 {
		return nil
	}
	deadline := time.Now().Add(missingTopicWait)
	for {
		details, err := adm.ListTopics(ctx, topics...)
		if isAuthorization(err) {
			return describeTopicsError(err, role, topics)
		}
		if err != nil {
			return fmt.Errorf("eddy: describing %s topics %s: %w", role, strings.Join(topics, ", "), err)
		}
		var missing []string
		for _, t := range topics {
			d, ok := details[t]
			if ok && isAuthorization(d.Err) {
				return describeTopicsError(d.Err, role, []string{t})
			}
			if !ok || d.Err != nil || len(d.Partitions) == 0 {
				missing = append(missing, t)
				continue
			}
			p.partitions[t] = int32(len(d.Partitions))
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			return markAs(ErrMissingTopic, fmt.Errorf("eddy: %s topic(s) missing: %s (create them first; eddy creates only its internal topics)",
				role, strings.Join(missing, ", ")))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		topics = missing
	}
}

// missingTopicWait is how long a missing input or output topic is looked for again.
const missingTopicWait = 3 * time.Second

// sizeInternal decides each repartition topic's partition count: the user's choice, else the
// count of the reading sub-topology's other inputs (they must be co-partitioned with it),
// else the largest count among the writing sub-topology's inputs. Writers can themselves
// read internal topics, so this repeats until nothing changes.
func (p *topicPlan) sizeInternal(g *graph.Graph, appID string) error {
	subs, _ := g.Subtopologies()
	reps := g.Repartitions()
	for _, r := range reps {
		p.roundRobin[r.Topic(appID)] = r.RoundRobin
		if r.Partitions > 0 {
			p.partitions[r.Topic(appID)] = r.Partitions
		}
	}
	for range len(reps) + 1 {
		changed := false
		for _, r := range reps {
			full := r.Topic(appID)
			if _, ok := p.partitions[full]; ok {
				continue
			}
			n := p.maxOf(subs[g.SubtopologyOf(r.Reader)], appID, r)
			if n == 0 {
				n = p.maxOf(subs[g.SubtopologyOf(r.Writer)], appID, nil)
			}
			if n > 0 {
				p.partitions[full] = n
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	for _, r := range reps {
		if _, ok := p.partitions[r.Topic(appID)]; !ok {
			return fmt.Errorf("eddy: cannot decide the partition count of %s; set it with topology.Partitions", r.Topic(appID))
		}
	}
	return nil
}

// maxOf is the largest known partition count among a sub-topology's source topics, except
// the one of skip; 0 when none is known.
func (p *topicPlan) maxOf(s *graph.Subtopology, appID string, skip *graph.Repartition) int32 {
	var n int32
	for _, src := range s.Sources {
		if skip != nil && src.Internal == skip {
			continue
		}
		for _, t := range src.Topics {
			if src.Internal != nil {
				t = src.Internal.Topic(appID)
			}
			n = max(n, p.partitions[t])
		}
	}
	return n
}

// checkCopartitioned fails when a sub-topology's inputs differ in partition count: its task
// p reads partition p of each, which only lines up keys when the counts are equal.
func (p *topicPlan) checkCopartitioned(s assign.Subtopology) error {
	first := p.partitions[s.Topics[0]]
	for _, t := range s.Topics[1:] {
		if p.partitions[t] != first {
			var parts []string
			for _, t := range s.Topics {
				parts = append(parts, fmt.Sprintf("%s (%d partitions)", t, p.partitions[t]))
			}
			return markAs(ErrCoPartitioning, fmt.Errorf("eddy: sub-topology %d reads topics that are not co-partitioned: %s; "+
				"topics processed together must have the same partition count (repartition one of them)",
				s.ID, strings.Join(parts, ", ")))
		}
	}
	return nil
}

// createInternal creates the repartition topics, or checks existing ones: a wrong partition
// count or cleanup policy would silently break key grouping or lose records, so it fails.
func (p *topicPlan) createInternal(ctx context.Context, adm *kadm.Client, g *graph.Graph, appID string, replication int16) error {
	reps := g.Repartitions()
	if len(reps) == 0 {
		return nil
	}
	names := make([]string, len(reps))
	for i, r := range reps {
		names[i] = r.Topic(appID)
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("eddy: listing internal topics: %w", err)
	}
	var errs []error
	for _, name := range names {
		want := p.partitions[name]
		if d, ok := existing[name]; ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != want {
				errs = append(errs, fmt.Errorf("eddy: internal topic %s has %d partitions, the topology needs %d; "+
					"delete it (or reset the application) to let eddy recreate it", name, got, want))
				continue
			}
			if err := checkPolicy(ctx, adm, name, "delete"); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		resp, err := adm.CreateTopic(ctx, want, replication, internalTopicConfig, name)
		if err == nil {
			err = resp.Err
		}
		if errors.Is(err, errTopicExists) {
			// Another instance created it at the same moment; check it like an old one.
			err = p.checkExisting(ctx, adm, name, want, "delete", func([16]byte) {})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("eddy: creating internal topic %s (%d partitions): %w%s", name, want, err, createHint(err)))
		}
	}
	return errors.Join(errs...)
}

func checkPolicy(ctx context.Context, adm *kadm.Client, topic, want string) error {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return describeConfigsError(err, "the topic", []string{topic})
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return fmt.Errorf("eddy: config of %s: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != want {
			return fmt.Errorf("eddy: internal topic %s has cleanup.policy=%s, want %s; delete it to let eddy recreate it",
				topic, c.MaybeValue(), want)
		}
	}
	return nil
}

// checkExisting checks a topic another instance has just created: its partition count and
// cleanup policy, and hands its id to found.
func (p *topicPlan) checkExisting(ctx context.Context, adm *kadm.Client, name string, partitions int32, policy string, found func([16]byte)) error {
	// The creator's request may still be in flight: wait until the metadata shows it.
	var d kadm.TopicDetail
	for {
		details, err := adm.ListTopics(ctx, name)
		if err != nil {
			return err
		}
		var ok bool
		if d, ok = details[name]; ok && d.Err == nil && len(d.Partitions) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s exists but did not appear in the metadata: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if got := int32(len(d.Partitions)); got != partitions {
		return fmt.Errorf("topic %s has %d partitions, the topology needs %d", name, got, partitions)
	}
	if err := checkPolicy(ctx, adm, name, policy); err != nil {
		return err
	}
	found(d.ID)
	return nil
}

// createHint says what to change when the broker refuses to create an internal topic.
func createHint(err error) string {
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		return " (the application's principal may not create topics: grant it CREATE on the cluster or on topics " +
			"prefixed with the application id, or create the topic yourself with the partitions and cleanup.policy eddy needs)"
	case errors.Is(err, kerr.PolicyViolation):
		return " (a broker create-topic policy refused it: create the topic yourself with the settings eddy needs)"
	case errors.Is(err, kerr.InvalidReplicationFactor):
		return " (fewer brokers than the replication factor: set eddy.ReplicationFactor)"
	}
	return ""
}
