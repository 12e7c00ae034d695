package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/kafkatest"
	"github.com/eddy-streams/eddy/savepoint"
	"github.com/eddy-streams/eddy/serde"
)

// A savepoint of a stopped application holds exactly its state as of its last commit —
// every key's count — with the input offsets that state corresponds to, under either
// guarantee with eddy's defaults; a running application is refused.
func TestSavepointOfAStoppedApplication(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in, out := kafkatest.Topic(t, "keys"), kafkatest.Topic(t, "counts")
			kafkatest.CreateTopic(t, adm, in, 4, nil)
			kafkatest.CreateTopic(t, adm, out, 4, nil)
			appID := kafkatest.Topic(t, "app")
			const keys = 5000
			run := start(t, newDefaultApp(t, countByKey(in, out), appID, guaranteeOpts(guarantee)...))
			countRound(t, in, out, keys, 1)
			countRound(t, in, out, keys, 2)
			if _, err := savepoint.TakeStopped(t.Context(), appID, savepoint.DirFS(t.TempDir()), kgo.SeedBrokers(kafkatest.Bootstrap(t)...)); err == nil ||
				!strings.Contains(err.Error(), "running") {
				t.Errorf("a savepoint of the running application: %v, want a refusal", err)
			}
			if err := run.stop(); err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			m, err := savepoint.TakeStopped(t.Context(), appID, savepoint.DirFS(dir), kgo.SeedBrokers(kafkatest.Bootstrap(t)...))
			if err != nil {
				t.Fatal(err)
			}
			sp, err := savepoint.Open(savepoint.DirFS(dir).FS())
			if err != nil {
				t.Fatal(err)
			}
			st, ok := sp.Store("counts")
			if !ok || st.Partitions != 4 {
				t.Fatalf("the savepoint's stores: %+v, want counts with 4 partitions", m.Stores)
			}
			counts := map[string]int64{}
			for _, f := range st.Slices {
				err := sp.Entries("counts", f.Partition, func(k, v []byte) error {
					n, err := serde.Int64().Decode(v)
					if err != nil {
						return fmt.Errorf("count of %s: %w", k, err)
					}
					if _, dup := counts[string(k)]; dup {
						return fmt.Errorf("key %s in two slices", k)
					}
					counts[string(k)] = n
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(counts) != keys {
				t.Errorf("the savepoint holds %d keys, want %d", len(counts), keys)
			}
			for k, n := range counts {
				if n != 2 {
					t.Errorf("count(%s) = %d in the savepoint, want 2", k, n)
					break
				}
			}
			var consumed int64
			for _, o := range m.Offsets {
				if o.Topic == in {
					consumed += o.Offset
				}
			}
			if guarantee == "at-least-once" && consumed != 2*keys {
				t.Errorf("the savepoint's offsets of %s add up to %d, want %d (every record processed)", in, consumed, 2*keys)
			}
			if guarantee == "exactly-once" && consumed < 2*keys {
				t.Errorf("the savepoint's offsets of %s add up to %d, want at least %d (records and commit markers)", in, consumed, 2*keys)
			}
			if err := sp.Verify(); err != nil {
				t.Error(err)
			}
		})
	}
}
