package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/savepoint"
	"github.com/eddy-streams/eddy/serde"
)

// ls, verify and dump on a savepoint written by package savepoint; a damaged one is
// refused by verify and dump, naming the file.
func TestSavepointCommands(t *testing.T) {
	dir := t.TempDir()
	w := savepoint.NewWriter(savepoint.DirFS(dir))
	s, err := w.Slice("counts", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"gopher", "rust"} {
		v, _ := serde.Int64().AppendEncode(nil, int64(len(k)))
		if err := s.Put([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ps, err := w.PendingSlice("g-repartition", 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ps.PutRecord(savepoint.Record{Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ps.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(savepoint.Manifest{ApplicationID: "app", Created: time.UnixMilli(1700000000000),
		Stores:  []savepoint.Store{{Name: "counts", Partitions: 2}},
		Offsets: []savepoint.Offset{{Topic: "in", Partition: 1, Offset: 7}}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		says []string
	}{
		{[]string{"savepoint", "ls", "-dir", dir}, 0, []string{"application app", "counts", "in", "7", "IN FLIGHT", "g-repartition"}},
		{[]string{"savepoint", "show", "-dir", dir}, 0, []string{"application app", "counts", "IN FLIGHT"}},
		{[]string{"savepoint", "verify", "-dir", dir}, 0, []string{"intact"}},
		{[]string{"savepoint", "dump", "-dir", dir, "-store", "counts", "-value", "int64"}, 0, []string{"1\t\"gopher\"\t6", "1\t\"rust\"\t4"}},
		{[]string{"savepoint", "dump", "-dir", dir, "-store", "counts", "-value", "int64", "-json"}, 0, []string{`{"partition":1,"key":"gopher","value":6}`}},
		{[]string{"savepoint", "dump", "-dir", dir, "-store", "nope"}, 1, []string{`no store "nope"`}},
		{[]string{"savepoint", "ls", "-dir", t.TempDir()}, 1, []string{"MANIFEST.json"}},
		{[]string{"savepoint"}, 2, []string{"give create, ls, verify or dump"}},
		{[]string{"savepoint", "create", "-brokers", "127.0.0.1:1", "-app", "x"}, 2, []string{"give -dir"}},
	} {
		code, out, errOut := eddyCmd(c.args...)
		for _, want := range c.says {
			if code != c.code || !strings.Contains(out+errOut, want) {
				t.Errorf("eddy %v: exit %d, want %d; output %q, want it to say %q", c.args, code, c.code, out+errOut, want)
			}
		}
	}
	file := filepath.Join(dir, "stores", "counts", "1.kv")
	b, _ := os.ReadFile(file)
	if err := os.WriteFile(file, b[:len(b)-2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"savepoint", "verify", "-dir", dir}, {"savepoint", "dump", "-dir", dir, "-store", "counts"}} {
		if code, out, errOut := eddyCmd(args...); code != 1 || !strings.Contains(errOut, "1.kv") || strings.Contains(out, "gopher") {
			t.Errorf("eddy %v on a truncated savepoint: exit %d, output %q %q; want 1, naming the file, nothing dumped", args, code, out, errOut)
		}
	}
}
