package topology_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/graph"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

var errOdd = errors.New("odd value")

// parseEven is the user function of the Try tests: it fails on odd numbers.
func parseEven(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && n%2 != 0 {
		err = errOdd
	}
	return n, err
}

// Each Try operator passes what its function returns on, and turns the function's error
// into a processing failure of the record, named after the operator, as a Process error
// is: the runtime hands it to OnProcessingError. Nothing is forwarded for a failed record.
func TestTryOperatorsFailRecordsWithTheirError(t *testing.T) {
	named := topology.Named("try")
	env := &fakeEnv{}
	for _, tc := range []struct {
		name  string
		build func(in topology.Stream[string, string]) topology.Stream[string, string]
		want  string // the output for input k=2
	}{
		{"TryFilter", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			return in.TryFilter(func(_, v string) (bool, error) { n, err := parseEven(v); return n > 0, err }, named)
		}, "k=2"},
		{"TryPeek", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			return in.TryPeek(func(_, v string) error { _, err := parseEven(v); return err }, named)
		}, "k=2"},
		{"TrySelectKey", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.TrySelectKey(in, func(k, v string) (string, error) { _, err := parseEven(v); return k + v, err }, named)
		}, "k2=2"},
		{"TryMap", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.TryMap(in, func(k, v string) (string, string, error) {
				n, err := parseEven(v)
				return v, k + strconv.Itoa(n*10), err
			}, named)
		}, "2=k20"},
		{"TryMapValues", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.TryMapValues(in, func(v string) (string, error) { n, err := parseEven(v); return strconv.Itoa(n * 10), err }, named)
		}, "k=20"},
		{"TryFlatMap", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.TryFlatMap(in, func(k, v string) ([]topology.KeyValue[string, string], error) {
				_, err := parseEven(v)
				return []topology.KeyValue[string, string]{{Key: k, Value: v}, {Key: v, Value: k}}, err
			}, named)
		}, "k=2 2=k"},
		{"TryFlatMapValues", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			return topology.TryFlatMapValues(in, func(v string) ([]string, error) { _, err := parseEven(v); return []string{v, v + v}, err }, named)
		}, "k=2 k=22"},
		{"TryForEach", func(in topology.Stream[string, string]) topology.Stream[string, string] {
			// ForEach ends the stream; it writes what it sees with a sink of its own.
			in.TryForEach(func(k, v string) error {
				if _, err := parseEven(v); err != nil {
					return err
				}
				return env.Send(&kgo.Record{Key: []byte(k), Value: []byte("seen " + v)})
			}, named)
			return in.Filter(func(string, string) bool { return false })
		}, "k=seen 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := topology.New()
			*env = fakeEnv{keep: true}
			topology.To(tc.build(topology.From(top, "in", serde.String(), serde.String())), "out", serde.String(), serde.String())
			task, err := top.Graph().BuildTask(0, env)
			if err != nil {
				t.Fatal(err)
			}
			h := func(v string) error {
				return graph.Call(task.Handlers["in"], &kgo.Record{Key: []byte("k"), Value: []byte(v), Timestamp: time.UnixMilli(1)}, &env.op)
			}
			if err := h("2"); err != nil {
				t.Fatalf("a good record failed: %v", err)
			}
			var got []string
			for _, r := range env.sent {
				got = append(got, string(r.Key)+"="+string(r.Value))
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("output %v, want %q", got, tc.want)
			}
			env.sent = nil
			err = h("3")
			var re *graph.RecordError
			if !errors.As(err, &re) || re.Kind != graph.Processing || re.Node != "try" || re.Panicked || !errors.Is(err, errOdd) {
				t.Fatalf("failing record: error %v (%#v), want a processing error of try wrapping %v", err, re, errOdd)
			}
			if want := "processing error in try: odd value"; err.Error() != want {
				t.Errorf("error text %q, want %q", err, want)
			}
			if len(env.sent) != 0 {
				t.Errorf("a failed record forwarded %d records", len(env.sent))
			}
		})
	}
}

// An error from downstream keeps its own kind and operator through a Try operator: a
// sink that cannot encode is a production error of the sink, not a processing error.
func TestTryOperatorsPassDownstreamErrorsOn(t *testing.T) {
	top := topology.New()
	n := topology.TryMapValues(topology.From(top, "in", serde.String(), serde.String()), func(v string) (int64, error) {
		return strconv.ParseInt(v, 10, 64)
	}, topology.Named("parse"))
	topology.To(n, "out", serde.String(), failingSerde{}, topology.Named("sink"))
	env := &fakeEnv{}
	task, err := top.Graph().BuildTask(0, env)
	if err != nil {
		t.Fatal(err)
	}
	err = graph.Call(task.Handlers["in"], &kgo.Record{Value: []byte("7"), Timestamp: time.UnixMilli(1)}, &env.op)
	var re *graph.RecordError
	if !errors.As(err, &re) || re.Kind != graph.Production || re.Node != "sink" {
		t.Fatalf("error %v (%#v), want the sink's production error", err, re)
	}
}
