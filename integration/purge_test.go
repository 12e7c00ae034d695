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
	for _, c := range []struct {
		guarantee string
		defaults  bool // eddy's defaults: a 30 s commit interval and a 30 s purge interval
		wait      time.Duration
	}{{"at-least-once", false, 30 * time.Second}, {"exactly-once", false, 30 * time.Second}, {"at-least-once", true, 100 * time.Second}} {
		guarantee := c.guarantee
		name := guarantee
		if c.defaults {
			name += "/defaults"
		}
		t.Run(name, func(t *testing.T) {
			adm := kafkatest.Admin(t)
			in, out := kafkatest.Topic(t, "lines"), kafkatest.Topic(t, "counts")
			kafkatest.CreateTopic(t, adm, in, 3, nil)
			kafkatest.CreateTopic(t, adm, out, 3, nil)
			lines, want := corpus(1500, 5)
			produceLines(t, in, lines, 0)
			appID := kafkatest.Topic(t, "app")
			var app *eddy.App
			switch {
			case c.defaults:
				app = newDefaultApp(t, wordCountTopology(in, out), appID)
			case guarantee == "exactly-once":
				app = newApp(t, wordCountTopology(in, out), appID, eddy.LowMemoryState(), eddy.RepartitionPurgeInterval(time.Second), eddy.ExactlyOnce())
			default:
				app = newApp(t, wordCountTopology(in, out), appID, eddy.LowMemoryState(), eddy.RepartitionPurgeInterval(time.Second))
			}
			run := start(t, app)
			latestCounts(t, out, want)
			repartition := appID + "-words-repartition"
			ends := endOffsets(t, repartition)
			// The purge runs at most once per interval, after the commits: wait for it,
			// reading the log start offsets, until every partition starts past the records
			// written.
			began := time.Now()
			deadline := began.Add(c.wait)
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
					t.Logf("purged %s after the counts", time.Since(began).Round(100*time.Millisecond))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s not purged after %s: start offsets %v, end offsets %v", repartition, c.wait, starts, ends)
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
