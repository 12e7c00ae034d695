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
