package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/graph"
)

// Layout is what an application's topics are, as Run would plan them: for a savepoint's
// restore (internal/sprestore), which writes state and offsets before the first Run.
type Layout struct {
	// Stores are the stores with changelogs, in declaration order.
	Stores []LayoutStore
	// Sources are the topics the application reads, external and internal.
	Sources []LayoutSource
}

// LayoutStore is one store of a Layout.
type LayoutStore struct {
	Name, Changelog string
	// Partitions is the store's task count: its changelog's partitions.
	Partitions int32
	Kind       graph.StoreKind
}

// LayoutSource is one source topic of a Layout.
type LayoutSource struct {
	// Topic is the full name; Internal, for a repartition or subscription topic, its name
	// without the application id ("" for an external topic).
	Topic, Internal string
	Partitions      int32
	// RoundRobin marks an internal topic written round-robin (Rebalance) rather than by key.
	RoundRobin bool
}

// PlanLayout checks the topics and creates the internal ones, as Run does first, and
// returns them.
func PlanLayout(ctx context.Context, cfg *Config, g *graph.Graph) (*Layout, error) {
	plan, err := prepare(ctx, cfg, g)
	if err != nil {
		return nil, err
	}
	l := &Layout{}
	for _, st := range g.Stores() {
		name := changelog.Topic(cfg.ApplicationID, st.Name)
		if c := plan.changelogs[name]; c != nil {
			l.Stores = append(l.Stores, LayoutStore{Name: st.Name, Changelog: name, Partitions: c.partitions, Kind: st.Kind})
		}
	}
	prefix := cfg.ApplicationID + "-"
	internal := map[string]bool{}
	for _, r := range g.Repartitions() {
		internal[r.Topic(cfg.ApplicationID)] = true
	}
	for _, t := range slices.Sorted(slices.Values(plan.topics)) {
		s := LayoutSource{Topic: t, Partitions: plan.partitions[t], RoundRobin: plan.roundRobin[t]}
		if internal[t] {
			s.Internal = strings.TrimPrefix(t, prefix)
		}
		l.Sources = append(l.Sources, s)
	}
	return l, nil
}

// TimeMeta is the offset metadata that gives a partition the time ms (Unix milliseconds)
// when a task resumes it: its highest event time seen, for an external partition, or its
// watermark, for an internal one.
func TimeMeta(ms int64) string { return offsetMeta{ms: ms, seen: true}.String() }

// StripWatermark removes eddy's watermark header from a record read from a repartition
// topic and reports whether the record was only a watermark marker (no data).
func StripWatermark(rec *kgo.Record) (marker bool) {
	_, _, marker, _ = readWM(rec)
	return marker
}

// WaitSettled waits until no transaction is open on any partition of topics: each
// partition's last stable offset has reached its end. A committed transaction's markers
// are written after its commit returns, so a reader right after a stop (a savepoint) or
// right after a write (a restore) would otherwise read short of it. It fails after
// timeout, naming a partition still open (a transaction left open by a crash stays so
// until its transaction timeout aborts it).
func WaitSettled(ctx context.Context, adm *kadm.Client, topics []string, timeout time.Duration) error {
	if len(topics) == 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for {
		lsos, err := adm.ListCommittedOffsets(ctx, topics...)
		if err == nil {
			err = lsos.Error()
		}
		var ends kadm.ListedOffsets
		if err == nil {
			if ends, err = adm.ListEndOffsets(ctx, topics...); err == nil {
				err = ends.Error()
			}
		}
		if err != nil {
			return fmt.Errorf("eddy: offsets of %s: %w", strings.Join(topics, ", "), err)
		}
		var open *kadm.ListedOffset
		var end int64
		ends.Each(func(e kadm.ListedOffset) {
			if l, _ := lsos.Lookup(e.Topic, e.Partition); l.Offset < e.Offset && open == nil {
				open, end = &l, e.Offset
			}
		})
		if open == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("eddy: %s partition %d has a transaction open (from offset %d to %d) after %s: "+
				"a producer left it open (it ends when its transaction timeout aborts it); try again then",
				open.Topic, open.Partition, open.Offset, end, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
