package fkref

import (
	"fmt"
	"strings"
	"testing"
)

// The model's end state follows the definition, and Check finds each kind of wrong
// update stream.
func TestWantAndCheck(t *testing.T) {
	in := Input{
		Left: []Update{
			{Key: "o1", Value: "c1,1", Seq: 1},
			{Key: "o2", Value: "c2,2", Seq: 2},
			{Key: "o3", Value: ",4", Seq: 4},
			{Key: "o1", Value: "c2,6", Seq: 6},
			{Key: "o2", Deleted: true, Seq: 7},
		},
		Right: []Update{
			{Key: "c1", Value: "c1#3", Seq: 3},
			{Key: "c2", Value: "c2#5", Seq: 5},
		},
	}
	if got, want := fmt.Sprint(Want(in, false)), "map[o1:c2,6|c2#5]"; got != want {
		t.Errorf("inner: %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(Want(in, true)), "map[o1:c2,6|c2#5 o3:,4|-]"; got != want {
		t.Errorf("left: %s, want %s", got, want)
	}
	good := []Output{{Key: "o1", Value: "c1,1|c1#3"}, {Key: "o2", Value: "c2,2|c2#5"}, {Key: "o1", Value: "c2,6|c2#5"}, {Key: "o2", Deleted: true}}
	if bad := Check(in, false, good); len(bad) > 0 {
		t.Errorf("a right stream: %v", bad)
	}
	for _, c := range []struct {
		outs []Output
		want string
	}{
		{append(good, Output{Key: "o1", Value: "c1,1|c1#3"}), "stale, after a result of update 6"},
		{[]Output{{Key: "o1", Value: "c2,6|c1#3"}}, "joined with customer row c1#3, which order update 6 does not name"},
		{[]Output{{Key: "o1", Value: "c2,6|-"}}, "an inner join without a customer"},
		{[]Output{{Key: "o1", Value: "c9,6|c9#5"}}, "no such update of order o1"},
		{good[:3], `end state of o2: "c2,2|c2#5", want ""`},
	} {
		if bad := Check(in, false, c.outs); !strings.Contains(strings.Join(bad, "\n"), c.want) {
			t.Errorf("%v: found %q, want %q", c.outs, bad, c.want)
		}
	}
}
