package eddy_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// What Run returns can be inspected: a failed record is an *eddy.RecordError with its
// coordinates, operator, kind and cause (under both guarantees, and from Close too);
// missing topics and co-partitioning mismatches match their sentinels.
func TestRunErrorsAreInspectable(t *testing.T) {
	for _, exactlyOnce := range []bool{false, true} {
		brokers := startEmbedded(t, map[string]int32{"in": 2, "out": 1})
		produce(t, brokers, "in", [2]string{"a", "1"}, [2]string{"b", "x"})
		top := topology.New()
		nums := topology.TryMapValues(topology.From(top, "in", serde.String(), serde.String()),
			func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }, topology.Named("parse"))
		topology.To(nums, "out", serde.String(), serde.Int64())
		opts := []eddy.Opt{eddy.ApplicationID("inspect"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir())}
		if exactlyOnce {
			opts = append(opts, eddy.ExactlyOnce())
		}
		app, err := eddy.New(top, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = app.Run(ctx)
		cancel()
		var re *eddy.RecordError
		if !errors.As(err, &re) {
			t.Fatalf("exactly-once %v: Run = %v, not an *eddy.RecordError", exactlyOnce, err)
		}
		var numErr *strconv.NumError
		if re.Topic != "in" || re.Offset < 0 || re.Operator != "parse" || re.Kind != eddy.ProcessingError ||
			re.Panicked || !errors.As(re, &numErr) || re.Task.Partition != re.Partition {
			t.Errorf("exactly-once %v: RecordError %+v", exactlyOnce, *re)
		}
		if closeErr := app.Close(); !errors.As(closeErr, &re) {
			t.Errorf("exactly-once %v: Close = %v, want the same RecordError", exactlyOnce, closeErr)
		}
	}

	brokers := startEmbedded(t, map[string]int32{"a": 2, "b": 3, "out": 1})
	missing := topology.New()
	topology.To(topology.From(missing, "nowhere", serde.String(), serde.String()), "out", serde.String(), serde.String())
	if err := runOnce(t, missing, brokers); !errors.Is(err, eddy.ErrMissingTopic) {
		t.Errorf("missing input: Run = %v, want ErrMissingTopic", err)
	}
	merged := topology.New()
	counts := topology.Count(topology.GroupByKey(
		topology.From(merged, "a", serde.String(), serde.String()).Merge(topology.From(merged, "b", serde.String(), serde.String())),
		serde.String(), serde.String()), "n")
	topology.To(counts.ToStream(), "out", serde.String(), serde.Int64())
	if err := runOnce(t, merged, brokers); !errors.Is(err, eddy.ErrCoPartitioning) {
		t.Errorf("merge of 2 and 3 partitions: Run = %v, want ErrCoPartitioning", err)
	}
}

func runOnce(t *testing.T, top *topology.Topology, brokers []string) error {
	t.Helper()
	app, err := eddy.New(top, eddy.ApplicationID("once"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return app.Run(ctx)
}
