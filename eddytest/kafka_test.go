package eddytest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/serde"
)

// The fixture as an integration test uses it: a broker (the real one under make test and
// CI, else the embedded one), topics, typed input, an App on eddy's defaults (so under
// at-least-once its first commit comes after 30 s, which WaitCaughtUp waits for), and the
// output read to its end — the driver's answer, on a broker.
func TestKafkaFixtureRunsAnApp(t *testing.T) {
	for _, eos := range []bool{false, true} {
		name := "at-least-once"
		if eos {
			name = "exactly-once"
		}
		t.Run(name, func(t *testing.T) {
			b := eddytest.Kafka(t, eddytest.AllowEmbedded())
			t.Logf("broker from %s at %v", b.Source, b.Bootstrap())
			lines, counts := b.Topic("lines"), b.Topic("counts")
			b.CreateTopic(lines, 2)
			b.CreateTopic(counts, 1)
			top := wordCountOn(lines, counts)
			eddytest.Produce(b, lines, serde.String(), serde.String(), []eddytest.KeyValue[string, string]{
				{Key: "a", Value: "the cat"}, {Key: "b", Value: "the dog"}, {Key: "c", Value: "a cat"}})
			appID := b.Topic("app")
			opts := []eddy.Opt{eddy.ApplicationID(appID), eddy.Brokers(b.Bootstrap()...), eddy.StateDir(t.TempDir())}
			if eos {
				opts = append(opts, eddy.ExactlyOnce())
			}
			app, err := eddy.New(top, opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- app.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("run: %v", err)
				}
			}()
			b.WaitCaughtUp(appID, 60*time.Second, lines)
			got := map[string]int64{}
			for _, r := range eddytest.ReadToEnd(b, counts, serde.String(), serde.Int64(), 30*time.Second) {
				got[r.Key] = r.Value
			}
			if want := map[string]int64{"the": 2, "cat": 2, "dog": 1, "a": 1}; !equal(got, want) {
				t.Fatalf("counts %v, want %v", got, want)
			}
		})
	}
}

func equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
