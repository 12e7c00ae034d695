package metrics

import (
	"strings"
	"testing"
)

// A counter is one per label set, shared by every caller, and the text format is
// Prometheus': HELP and TYPE once per name, label values quoted and escaped.
func TestCountersAndText(t *testing.T) {
	r := NewRegistry()
	a := r.Counter("eddy_records_skipped_total", "Records skipped.", "topic", "in", "reason", "deserialization")
	a.Add(2)
	r.Counter("eddy_records_skipped_total", "", "topic", "in", "reason", "deserialization").Add(1)
	r.Counter("eddy_records_skipped_total", "", "topic", `we"ird`, "reason", "processing").Add(5)
	r.Counter("eddy_late_records_total", "Late records.", "store", "win").Add(7)
	var b strings.Builder
	if err := WriteText(&b, r.Snapshot()); err != nil {
		t.Fatal(err)
	}
	want := `# HELP eddy_late_records_total Late records.
# TYPE eddy_late_records_total counter
eddy_late_records_total{store="win"} 7
# HELP eddy_records_skipped_total Records skipped.
# TYPE eddy_records_skipped_total counter
eddy_records_skipped_total{topic="in",reason="deserialization"} 3
eddy_records_skipped_total{topic="we\"ird",reason="processing"} 5
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
}
