package savepoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// write writes a savepoint of two stores into dir: counts with 3 partitions (slices 0 and
// 2, 100 entries each), and an empty store of 2 partitions.
func write(t *testing.T, dir string) Manifest {
	t.Helper()
	w := NewWriter(DirFS(dir))
	for _, p := range []int32{2, 0} {
		s, err := w.Slice("counts", p)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			if err := s.Put(fmt.Appendf(nil, "k%d-%d", p, i), fmt.Appendf(nil, "%d", i*int(p))); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	m := Manifest{ApplicationID: "app", Created: time.UnixMilli(1700000000000).UTC(),
		Stores:     []Store{{Name: "counts", Partitions: 3}, {Name: "empty", Partitions: 2}},
		Offsets:    []Offset{{Topic: "in", Partition: 0, Offset: 42}},
		Watermarks: []Watermark{{Topic: "in", Partition: 0, Millis: 1700000000000}}}
	if _, err := w.Finish(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	write(t, dir)
	sp, err := Open(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	m := sp.Manifest
	if m.Version != Version || m.ApplicationID != "app" || len(m.Offsets) != 1 || m.Offsets[0].Offset != 42 || len(m.Watermarks) != 1 {
		t.Errorf("manifest read back as %+v", m)
	}
	if len(m.Stores) != 2 || m.Stores[0].Name != "counts" || m.Stores[1].Name != "empty" || len(m.Stores[1].Slices) != 0 {
		t.Fatalf("stores read back as %+v", m.Stores)
	}
	counts := m.Stores[0]
	if counts.Partitions != 3 || len(counts.Slices) != 2 || counts.Slices[0].Partition != 0 || counts.Slices[1].Partition != 2 {
		t.Fatalf("counts read back as %+v", counts)
	}
	for _, p := range []int32{0, 2} {
		i := 0
		err := sp.Entries("counts", p, func(k, v []byte) error {
			if want := fmt.Sprintf("k%d-%d", p, i); string(k) != want || string(v) != fmt.Sprint(i*int(p)) {
				t.Errorf("partition %d entry %d = %s=%s, want %s=%d", p, i, k, v, want, i*int(p))
			}
			i++
			return nil
		})
		if err != nil || i != 100 {
			t.Errorf("partition %d: %d entries, %v", p, i, err)
		}
	}
	if err := sp.Verify(); err != nil {
		t.Error(err)
	}
	if err := sp.Entries("counts", 1, func(_, _ []byte) error { return nil }); err == nil {
		t.Error("a slice the savepoint has not read without an error")
	}
	if err := sp.Entries("nope", 0, func(_, _ []byte) error { return nil }); err == nil {
		t.Error("an unknown store read without an error")
	}
}

// A savepoint whose writing did not finish (no manifest) is refused.
func TestUnfinishedIsRefused(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(DirFS(dir))
	s, err := w.Slice("counts", 0)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Put([]byte("k"), []byte("v"))
	if _, err := w.Finish(Manifest{}); err == nil {
		t.Error("Finish with a slice open succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(os.DirFS(dir)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ManifestName) {
		t.Errorf("Open of a savepoint without a manifest: %v, want ErrInvalid naming the manifest", err)
	}
}

// A data file that was truncated, corrupted or replaced is refused before any of its
// entries is handed on.
func TestDamagedDataIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-7] }},
		{"a flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }},
		{"emptied", func(b []byte) []byte { return nil }},
		{"an entry more", func(b []byte) []byte { return append(b, 1, 1, 'k', 'v') }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir)
			file := filepath.Join(dir, "stores", "counts", "2.kv")
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			sp, err := Open(os.DirFS(dir))
			if err != nil {
				t.Fatal(err) // the manifest is intact
			}
			seen := 0
			err = sp.Entries("counts", 2, func(_, _ []byte) error { seen++; return nil })
			if !errors.Is(err, ErrInvalid) || seen != 0 {
				t.Errorf("damaged slice: %v after %d entries; want ErrInvalid before any", err, seen)
			}
			if err := sp.Verify(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "2.kv") {
				t.Errorf("Verify: %v, want ErrInvalid naming the file", err)
			}
			if err := sp.Entries("counts", 0, func(_, _ []byte) error { return nil }); err != nil {
				t.Errorf("the intact slice: %v", err)
			}
		})
	}
}

// Manifests of another version, malformed, or contradicting themselves are refused.
func TestBadManifestIsRefused(t *testing.T) {
	for _, tc := range []struct{ name, from, to string }{
		{"another version", `"version": 1`, `"version": 2`},
		{"an unknown field", `"application_id"`, `"surprise": 1, "application_id"`},
		{"not JSON", `{`, `[`},
		{"a slice beyond the partitions", `"partitions": 3`, `"partitions": 2`},
		{"a bad checksum", `"sha256": "`, `"sha256": "x`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir)
			file := filepath.Join(dir, ManifestName)
			b, _ := os.ReadFile(file)
			if !strings.Contains(string(b), tc.from) {
				t.Fatalf("manifest has no %q:\n%s", tc.from, b)
			}
			_ = os.WriteFile(file, []byte(strings.Replace(string(b), tc.from, tc.to, 1)), 0o644)
			if _, err := Open(os.DirFS(dir)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Open: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestWriterRefusesBadSlices(t *testing.T) {
	w := NewWriter(DirFS(t.TempDir()))
	for _, name := range []string{"", "../x", "a/b", "."} {
		if _, err := w.Slice(name, 0); err == nil {
			t.Errorf("store name %q accepted", name)
		}
	}
	if _, err := w.Slice("s", -1); err == nil {
		t.Error("a negative partition accepted")
	}
	s, err := w.Slice("s", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Slice("s", 0); err == nil {
		t.Error("a slice written twice accepted")
	}
	if _, err := w.Finish(Manifest{Stores: []Store{{Name: "s", Partitions: 0}}}); err == nil {
		t.Error("a store with a slice beyond its partition count accepted")
	}
}
