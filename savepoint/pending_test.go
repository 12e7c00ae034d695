package savepoint

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Pending records keep their order, nulls, empty slices, timestamps and headers, and a
// damaged pending file is refused like a store slice.
func TestPendingRecords(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(DirFS(dir))
	want := []Record{
		{Key: []byte("a"), Value: []byte("1"), Timestamp: time.UnixMilli(1700000000001), Headers: []Header{{Key: "h", Value: []byte("x")}}},
		{Key: nil, Value: []byte{}, Timestamp: time.UnixMilli(-5)},
		{Key: []byte{}, Value: nil, Timestamp: time.UnixMilli(7), Headers: []Header{{Key: "", Value: []byte{}}, {Key: "k2", Value: []byte("v2")}}},
	}
	s, err := w.PendingSlice("count-repartition", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range want {
		if err := s.PutRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Finish(Manifest{ApplicationID: "app", Pending: []Store{{Name: "count-repartition", Partitions: 2}}}); err != nil {
		t.Fatal(err)
	}
	sp, err := Open(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	if p := sp.Manifest.Pending; len(p) != 1 || p[0].Partitions != 2 || len(p[0].Slices) != 1 || p[0].Slices[0].Entries != 3 {
		t.Fatalf("pending read back as %+v", p)
	}
	var got []Record
	err = sp.Records("count-repartition", 1, func(r Record) error {
		r.Key, r.Value = clone(r.Key), clone(r.Value)
		got = append(got, r)
		return nil
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d records, %v", len(got), err)
	}
	for i, r := range got {
		w := want[i]
		if (r.Key == nil) != (w.Key == nil) || !bytes.Equal(r.Key, w.Key) || (r.Value == nil) != (w.Value == nil) ||
			!bytes.Equal(r.Value, w.Value) || !r.Timestamp.Equal(w.Timestamp) || len(r.Headers) != len(w.Headers) {
			t.Errorf("record %d = %+v, want %+v", i, r, w)
			continue
		}
		for j, h := range r.Headers {
			if h.Key != w.Headers[j].Key || !bytes.Equal(h.Value, w.Headers[j].Value) {
				t.Errorf("record %d header %d = %+v, want %+v", i, j, h, w.Headers[j])
			}
		}
	}
	if err := sp.Records("count-repartition", 0, func(Record) error { return nil }); err == nil {
		t.Error("a partition without pending records was read")
	}

	f := filepath.Join(dir, "pending", "count-repartition", "1.kv")
	b, _ := os.ReadFile(f)
	if err := os.WriteFile(f, b[:len(b)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sp.Verify(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify of a truncated pending file = %v, want ErrInvalid", err)
	}
	n := 0
	if err := sp.Records("count-repartition", 1, func(Record) error { n++; return nil }); !errors.Is(err, ErrInvalid) || n != 0 {
		t.Errorf("Records of a truncated pending file = %v after %d records, want ErrInvalid before any", err, n)
	}
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
