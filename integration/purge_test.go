package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/internal/kafkatest"
)

// Repartition topics do not grow without bound: after the records of a GroupBy went
// through, every partition of its repartition topic starts past them — and never past
// the group's committed offset (under exactly-once, what a committed transaction
// consumed).
func TestRepartitionTopicsArePurged(t *testing.T) {
	for _, guarantee := range []string{"at-least-once", "exactly-once"} {
		t.Run(guarantee, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
			kafkatest.CreateTopic(t, adm, in, 3, nil)
			kafkatest.CreateTopic(t, adm, out, 3, nil)
			lines, want := corpus(1500, 5)
			produceLines(t, in, lines, 0)
			appID := kafkatest.Topic(t, "app")
			opts := []eddy.Opt{eddy.LowMemoryState(), eddy.RepartitionPurgeInterval(time.Second)}
			if guarantee == "exactly-once" {
				opts = append(opts, eddy.ExactlyOnce())
			}
			run := start(t, newApp(t, wordCountTopology(in, out), appID, opts...))
			latestCounts(t, out, want)
			repartition := appID + "-words-repartition"
			ends := endOffsets(t, repartition)
			// The purge follows a commit at most once a second: wait for it, reading the
			// log start offsets, until every partition starts past the records written.
			deadline := time.Now().Add(30 * time.Second)
			var starts kadm.ListedOffsets
			for {
				var err error
				starts, err = adm.ListStartOffsets(t.Context(), repartition)
				if err != nil {
					t.Fatal(err)
				}
				purged := 0
				starts.Each(func(o kadm.ListedOffset) {
					if o.Offset > 0 && o.Offset >= ends[o.Partition]-ends[o.Partition]/10 {
						purged++
					}
				})
				if purged == len(ends) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s not purged after 30 s: start offsets %v, end offsets %v", repartition, starts, ends)
				}
				time.Sleep(200 * time.Millisecond)
			}
			committed, err := adm.FetchOffsets(t.Context(), appID)
			if err != nil {
				t.Fatal(err)
			}
			starts.Each(func(o kadm.ListedOffset) {
				c, ok := committed.Lookup(repartition, o.Partition)
				if !ok || o.Offset > c.At {
					t.Errorf("%s/%d starts at %d, past the committed offset %v", repartition, o.Partition, o.Offset, c.At)
				}
			})
			if err := run.stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}
