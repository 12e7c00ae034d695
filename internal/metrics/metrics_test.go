package metrics

import (
	"fmt"
	"strings"
	"testing"
)

// A counter is one per label set, shared by every caller; a snapshot lists them sorted by
// name and labels, with their help.
func TestCountersAndSnapshot(t *testing.T) {
	r := NewRegistry()
	a := r.Counter("eddy_records_skipped_total", "Records skipped.", "topic", "in", "reason", "deserialization")
	a.Add(2)
	r.Counter("eddy_records_skipped_total", "", "topic", "in", "reason", "deserialization").Add(1)
	r.Counter("eddy_records_skipped_total", "", "topic", `we"ird`, "reason", "processing").Add(5)
	r.Counter("eddy_late_records_total", "Late records.", "store", "win").Add(7)
	var got []string
	for _, s := range r.Snapshot() {
		got = append(got, fmt.Sprintf("%s%s %d (%s)", s.Name, labelString(s.Labels), s.Value, s.Help))
	}
	want := []string{
		`eddy_late_records_total{store="win"} 7 (Late records.)`,
		`eddy_records_skipped_total{topic="in",reason="deserialization"} 3 (Records skipped.)`,
		`eddy_records_skipped_total{topic="we\"ird",reason="processing"} 5 (Records skipped.)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("snapshot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A histogram's buckets are cumulative in its snapshot, with the count and the sum of
// everything observed, from every goroutine.
func TestHistogram(t *testing.T) {
	r := NewRegistry()
	h := r.Histogram("eddy_commit_seconds", "Commit latency.", []float64{0.1, 1}, "worker", "0")
	if r.Histogram("eddy_commit_seconds", "", nil, "worker", "0") != h {
		t.Fatal("a second call made a second histogram")
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			for _, v := range []float64{0.05, 0.5, 0.5, 7} {
				h.Observe(v)
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	got := r.Histograms()
	if len(got) != 1 {
		t.Fatalf("%d histograms, want 1", len(got))
	}
	s := got[0]
	if s.Help != "Commit latency." || s.Count != 16 || s.Sum != 4*8.05 || s.Buckets[0] != 4 || s.Buckets[1] != 12 {
		t.Errorf("snapshot %+v: want 16 observations summing to %v, 4 at most 0.1 and 12 at most 1", s, 4*8.05)
	}
}
