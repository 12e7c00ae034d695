package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// A bounded count by key reports each key's final count once, at the end of the run, as a
// batch job does; with EmitUpdates it reports every update. Two runs, each over half of
// the input and each with a new state directory (the second restores the counts from the
// changelog): the output each run adds, read to its end, is one record per key with the
// count over all input so far — or, with updates, every count the run went through.
func TestBoundedTableFinalValues(t *testing.T) {
	const records, keys = 500, 50
	for _, c := range []struct {
		name    string
		updates bool
		opts    []eddy.Opt
	}{
		{"final/at-least-once", false, nil},
		{"final/exactly-once-two-workers", false, []eddy.Opt{eddy.ExactlyOnce(), eddy.Workers(2)}},
		{"updates/at-least-once", true, nil},
		{"updates/exactly-once-two-workers", true, []eddy.Opt{eddy.ExactlyOnce(), eddy.Workers(2)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in, out := kafkatest.Topic(t, "events"), kafkatest.Topic(t, "counts")
			kafkatest.CreateTopic(t, adm, in, 3, nil)
			kafkatest.CreateTopic(t, adm, out, 1, nil)
			var toStream []topology.Option
			if c.updates {
				toStream = append(toStream, topology.EmitUpdates())
			}
			countByKey := func() *topology.Topology {
				top := topology.New()
				events := topology.From(top, in, serde.String(), serde.String())
				byKey := topology.GroupBy(events, func(_, k string) string { return k }, serde.String(), serde.String(), topology.Named("by-key"))
				topology.To(topology.Count(byKey, "counts").ToStream(toStream...), out, serde.String(), serde.Int64())
				return top
			}
			appID := kafkatest.Topic(t, "app")

			var seen int
			for _, part := range [][2]int{{0, records / 2}, {records / 2, records}} {
				var recs []*kgo.Record
				for i := part[0]; i < part[1]; i++ {
					recs = append(recs, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "event-%d", i), Value: fmt.Appendf(nil, "k%02d", i%keys)})
				}
				produceAll(t, recs)
				app := newApp(t, countByKey(), appID, append(c.opts, eddy.Bounded(), eddy.LowMemoryState())...)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				err := app.Run(ctx)
				ctxErr := ctx.Err()
				cancel()
				if err != nil || ctxErr != nil {
					t.Fatalf("bounded Run = %v (context %v): it must return by itself", err, ctxErr)
				}
				all := readPartition0(t, out, kgo.ReadCommitted())
				added := all[seen:]
				seen = len(all)
				got := map[string][]int64{}
				for _, r := range added {
					n, err := serde.Int64().Decode(r.Value)
					if err != nil {
						t.Fatalf("count of %s: %v", r.Key, err)
					}
					got[string(r.Key)] = append(got[string(r.Key)], n)
				}
				if len(got) != keys {
					t.Errorf("records %d..%d: output holds %d keys, want %d", part[0], part[1], len(got), keys)
				}
				before, after := int64(part[0]/keys), int64(part[1]/keys)
				for k, ns := range got {
					want := []int64{after}
					if c.updates {
						want = nil
						for n := before + 1; n <= after; n++ {
							want = append(want, n)
						}
					}
					if !slices.Equal(ns, want) {
						t.Errorf("records %d..%d: key %s has counts %v, want %v", part[0], part[1], k, ns, want)
					}
				}
			}
		})
	}
}

// A bounded run over a table read from a topic (a task with only a table source) reports
// the table at its end: each live key once with its last value, an empty value as empty;
// a deleted key is not there.
func TestBoundedTableFromTopic(t *testing.T) {
	adm := kafkatest.Admin(t)
	in, out := kafkatest.Topic(t, "prices"), kafkatest.Topic(t, "latest")
	kafkatest.CreateTopic(t, adm, in, 1, nil)
	kafkatest.CreateTopic(t, adm, out, 1, nil)
	produceAll(t, []*kgo.Record{
		{Topic: in, Key: []byte("apple"), Value: []byte("1")},
		{Topic: in, Key: []byte("fig"), Value: []byte("2")},
		{Topic: in, Key: []byte("pear"), Value: []byte("3")},
		{Topic: in, Key: []byte("apple"), Value: []byte{}},
		{Topic: in, Key: []byte("fig")}, // deleted
		{Topic: in, Key: []byte("pear"), Value: []byte("4")},
	})
	top := topology.New()
	topology.To(topology.TableFrom(top, in, serde.String(), serde.String(), "prices").ToStream(), out, serde.String(), serde.String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := newApp(t, top, kafkatest.Topic(t, "app"), eddy.Bounded(), eddy.LowMemoryState()).Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("bounded Run = %v (context %v): it must return by itself", err, ctx.Err())
	}
	if got, want := showAll(readPartition0(t, out, kgo.ReadCommitted())), []string{`"apple"=""`, `"pear"="4"`}; !slices.Equal(got, want) {
		t.Errorf("output = %v, want %v", got, want)
	}
}
