package runtime

import (
	"slices"
	"testing"
)

// Offset metadata round-trips, tells eddy's from others', and refuses what it cannot read.
func TestOffsetMeta(t *testing.T) {
	for _, m := range []offsetMeta{
		{ms: 5000, seen: true},
		{ms: -3, seen: true, idle: true},
		{ended: []int32{0, 2, 70}},
		{ms: 42, seen: true, idle: true, ended: []int32{1}},
	} {
		s := m.String()
		got, ok := decodeOffsetMeta(s)
		if !ok || got.ms != m.ms || got.seen != m.seen || got.idle != m.idle || !slices.Equal(got.ended, m.ended) {
			t.Errorf("%+v → %q → %+v, %v", m, s, got, ok)
		}
	}
	if got := (offsetMeta{ms: 5000, seen: true, idle: true}).String(); got != "eddy1:5000:idle" {
		t.Errorf("encoded %q, want eddy1:5000:idle", got)
	}
	for _, s := range []string{"", "member-1-abc", "eddy1:", "eddy1:x", "eddy1:5:what", "eddy1:5:end=zz"} {
		if m, ok := decodeOffsetMeta(s); ok {
			t.Errorf("%q decoded to %+v", s, m)
		}
	}
}

// A partition that leaves takes its failed records with it; others' stay.
func TestForgetPoisoned(t *testing.T) {
	w := &worker{poisoned: map[recordCoord]*poison{
		{"in", 0, 5}: {}, {"in", 0, 9}: {}, {"in", 1, 5}: {}, {"other", 0, 5}: {},
	}}
	w.forgetPoisonedLocked(&partition{topic: "in", partition: 0})
	if len(w.poisoned) != 2 || w.poisoned[recordCoord{"in", 1, 5}] == nil || w.poisoned[recordCoord{"other", 0, 5}] == nil {
		t.Errorf("poisoned after in/0 left: %v", w.poisoned)
	}
}
