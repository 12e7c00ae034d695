package state

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/store"
)

// Inspect and Scan, as eddy store reads a stopped instance's database: each task's slice
// of each store with its keys and checkpoint, a wiped slice's old keys not counted, a
// slice with a checkpoint and no keys, and a global store with its per-partition
// checkpoints; Scan gives the keys as the store's user wrote them.
func TestInspect(t *testing.T) {
	db := store.NewMemory()
	m := NewManager(db)
	defer m.Close()
	at := time.UnixMilli(5000)
	open := func(sub int, p int32, name string) *KV {
		kv, err := m.Open(sub, p, name)
		if err != nil {
			t.Fatal(err)
		}
		return kv
	}
	counts0, counts1, totals := open(0, 0, "counts"), open(0, 1, "counts"), open(1, 0, "totals")
	counts0.Put([]byte("a"), []byte("1"))
	counts0.Put([]byte("b"), []byte("2"))
	counts1.Put([]byte("c"), []byte("3"))
	if err := m.Commit([]*KV{counts0, counts1, totals}, []Checkpoint{{Offset: 7, Written: at}, {Offset: -1}, {Offset: 3, Written: at}}); err != nil {
		t.Fatal(err)
	}
	// A wiped slice whose old keys are still there: only the new incarnation counts.
	wiped := open(0, 2, "counts")
	wiped.Put([]byte("old"), []byte("x"))
	if err := m.Commit([]*KV{wiped}, []Checkpoint{{Offset: -1}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Wipe(wiped); err != nil {
		t.Fatal(err)
	}
	wiped = open(0, 2, "counts")
	wiped.Put([]byte("new"), []byte("y"))
	if err := m.Commit([]*KV{wiped}, []Checkpoint{{Offset: 1, Written: at}}); err != nil {
		t.Fatal(err)
	}
	g, err := m.OpenGlobal("products")
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	g.Stage(&b, []byte("p1"), []byte("apple"))
	if err := m.ApplyGlobal(g, &b); err != nil {
		t.Fatal(err)
	}
	if err := m.SaveGlobalCheckpoints(g, map[int32]Checkpoint{0: {Offset: 4, Written: at}, 2: {Offset: 9, Written: at}}); err != nil {
		t.Fatal(err)
	}

	got, err := Inspect(db)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, sl := range got {
		line := fmt.Sprintf("%s %d_%d global=%v keys=%d", sl.Store, sl.Sub, sl.Partition, sl.Global, sl.Keys)
		if sl.HasCheckpoint {
			line += fmt.Sprintf(" at %d", sl.Checkpoint.Offset)
		}
		if len(sl.GlobalCheckpoints) > 0 {
			line += fmt.Sprintf(" at %d,%d", sl.GlobalCheckpoints[0].Offset, sl.GlobalCheckpoints[2].Offset)
		}
		var kvs []string
		if err := sl.Scan(db, func(k, v []byte) error { kvs = append(kvs, string(k)+"="+string(v)); return nil }); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line+" "+strings.Join(kvs, ","))
	}
	want := []string{
		"counts 0_0 global=false keys=2 at 7 a=1,b=2",
		"counts 0_1 global=false keys=1 c=3",
		"counts 0_2 global=false keys=1 at 1 new=y",
		"products -1_-1 global=true keys=1 at 4,9 p1=apple",
		"totals 1_0 global=false keys=0 at 3 ",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Inspect:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
