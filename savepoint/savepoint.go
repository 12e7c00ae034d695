// Package savepoint is eddy's savepoint format: a portable snapshot of an application's
// state — every task's stores, entry by entry, with the input offsets and watermarks they
// correspond to — that does not depend on the files of the local database, so it can be
// restored into another version of the application, another partition count or another
// cluster. SAVEPOINTS.md in the repository describes the format byte for byte; this
// package writes and reads it.
//
// A savepoint is a set of files under one root: a manifest, MANIFEST.json, and one data
// file per store slice, stores/<store>/<partition>.kv. The manifest is written last and
// names every data file with its entry count, size and SHA-256, so a savepoint whose
// writing stopped half way has no manifest, and a data file that was truncated, corrupted
// or swapped does not match it: Open refuses the first, and reading the second fails
// before any of its entries is handed on (Entries checks the whole file first).
//
// The root is any file system: a directory (DirFS and os.DirFS), or object storage behind
// a CreateFS for writing and an fs.FS for reading.
package savepoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is the format version this package writes; it reads this one only.
const Version = 1

// ManifestName is the manifest's file name, at the savepoint's root.
const ManifestName = "MANIFEST.json"

// dataMagic opens every data file: "EDDYSPKV" and the format version.
var dataMagic = []byte("EDDYSPKV\x01")

// ErrInvalid is wrapped by every error about a savepoint that cannot be trusted: no
// manifest, a manifest of another version or malformed, a data file missing, truncated
// or not the one the manifest names.
var ErrInvalid = errors.New("savepoint: invalid")

// Manifest describes a savepoint: what was snapshotted, and where its data is.
type Manifest struct {
	// Version is the format version (Version).
	Version int `json:"version"`
	// ApplicationID is the application the savepoint was taken of.
	ApplicationID string `json:"application_id"`
	// Created is when the savepoint was taken.
	Created time.Time `json:"created"`
	// Stores are the stores, sorted by name.
	Stores []Store `json:"stores"`
	// Offsets are the input offsets the state corresponds to: for each source partition
	// (inputs and internal topics), the offset of the next record to process.
	Offsets []Offset `json:"offsets"`
	// Watermarks are the partitions' watermarks at those offsets (none for a partition
	// that had none).
	Watermarks []Watermark `json:"watermarks,omitempty"`
	// Pending are the records in flight at the cut: those of the application's internal
	// topics (repartition, subscription) written before it and not yet processed past
	// their offsets, by the topic's name without the application id, in offset order.
	// They are part of the state: a restore writes them into the new internal topics.
	Pending []Store `json:"pending,omitempty"`
}

// Store is one store of a savepoint: its slices, one per task (partition).
type Store struct {
	Name string `json:"name"`
	// Partitions is the number of the store's tasks when the savepoint was taken.
	Partitions int32  `json:"partitions"`
	Slices     []File `json:"slices"`
}

// File is one store slice's data file.
type File struct {
	Partition int32  `json:"partition"`
	Path      string `json:"path"`
	Entries   int64  `json:"entries"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"`
}

// Offset is a source partition's next offset to process.
type Offset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Watermark is a source partition's watermark, in Unix milliseconds.
type Watermark struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Millis    int64  `json:"millis"`
}

// CreateFS is where a savepoint is written: Create makes (or replaces) the named file,
// a slash-separated path under the root, making its directories as needed. A file is
// complete once its writer's Close returned nil.
type CreateFS interface {
	Create(name string) (io.WriteCloser, error)
}

// DirFS is a directory of the local file system as a CreateFS. Files are written under a
// temporary name and renamed when closed, so a file either is complete or is not there.
type DirFS string

// Create implements CreateFS.
func (d DirFS) Create(name string) (io.WriteCloser, error) {
	if !fs.ValidPath(name) {
		return nil, fmt.Errorf("savepoint: invalid file name %q", name)
	}
	full := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(full), "."+filepath.Base(full)+".*")
	if err != nil {
		return nil, err
	}
	return &renameOnClose{f: f, to: full}, nil
}

// FS is the directory as an fs.FS, for Open.
func (d DirFS) FS() fs.FS { return os.DirFS(string(d)) }

type renameOnClose struct {
	f  *os.File
	to string
}

func (r *renameOnClose) Write(p []byte) (int, error) { return r.f.Write(p) }

func (r *renameOnClose) Close() error {
	err := r.f.Sync()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(r.f.Name(), r.to)
	}
	if err != nil {
		_ = os.Remove(r.f.Name())
	}
	return err
}

// Writer writes a savepoint: the slices first (Slice, PendingSlice), the manifest last
// (Finish).
type Writer struct {
	fsys            CreateFS
	stores, pending map[string][]File
	open            int
}

// NewWriter returns a writer of a savepoint into fsys, which should be empty.
func NewWriter(fsys CreateFS) *Writer {
	return &Writer{fsys: fsys, stores: map[string][]File{}, pending: map[string][]File{}}
}

// SliceWriter writes one slice's entries: a store slice's (Put) or an internal topic
// partition's pending records (PutRecord).
type SliceWriter struct {
	w     *Writer
	into  map[string][]File
	store string
	file  File
	out   io.WriteCloser
	buf   *bufio.Writer
	sum   hashWriter
	n     int64
	err   error
}

type hashWriter struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.h.Write(p)
}

// Slice starts the data file of store's slice for partition. Store names are those of
// the topology (letters, digits, '.', '_', '-'); each slice is written once.
func (w *Writer) Slice(store string, partition int32) (*SliceWriter, error) {
	return w.slice("stores", "store", store, partition, w.stores)
}

// PendingSlice starts the data file of the records pending in partition of an internal
// topic (named without the application id); they are put in offset order (PutRecord).
func (w *Writer) PendingSlice(topic string, partition int32) (*SliceWriter, error) {
	return w.slice("pending", "internal topic", topic, partition, w.pending)
}

func (w *Writer) slice(dir, what, name string, partition int32, into map[string][]File) (*SliceWriter, error) {
	if !validName(name) {
		return nil, fmt.Errorf("savepoint: invalid %s name %q: use letters, digits, '.', '_' and '-'", what, name)
	}
	if partition < 0 {
		return nil, fmt.Errorf("savepoint: %s %s: negative partition %d", what, name, partition)
	}
	if slices.ContainsFunc(into[name], func(f File) bool { return f.Partition == partition }) {
		return nil, fmt.Errorf("savepoint: %s %s, partition %d written twice", what, name, partition)
	}
	file := path.Join(dir, name, strconv.Itoa(int(partition))+".kv")
	out, err := w.fsys.Create(file)
	if err != nil {
		return nil, fmt.Errorf("savepoint: creating %s: %w", file, err)
	}
	s := &SliceWriter{w: w, into: into, store: name, file: File{Partition: partition, Path: file}, out: out, sum: hashWriter{h: sha256.New()}}
	s.buf = bufio.NewWriterSize(io.MultiWriter(out, &s.sum), 256<<10)
	_, s.err = s.buf.Write(dataMagic)
	w.open++
	return s, nil
}

// validName reports whether a store name can name a directory of a savepoint: eddy's
// store names are letters, digits, '.', '_' and '-'.
func validName(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Put appends an entry. Keys need not be sorted; a key appears once per slice.
func (s *SliceWriter) Put(key, value []byte) error {
	if s.err != nil {
		return s.err
	}
	var hdr [2 * binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(key)))
	n += binary.PutUvarint(hdr[n:], uint64(len(value)))
	if _, s.err = s.buf.Write(hdr[:n]); s.err == nil {
		if _, s.err = s.buf.Write(key); s.err == nil {
			_, s.err = s.buf.Write(value)
		}
	}
	if s.err != nil {
		s.err = fmt.Errorf("savepoint: writing %s: %w", s.file.Path, s.err)
		return s.err
	}
	s.n++
	return nil
}

// Close ends the slice: the file is complete, and the manifest will name it.
func (s *SliceWriter) Close() error {
	if s.w == nil {
		return s.err
	}
	w := s.w
	s.w = nil
	w.open--
	err := s.err
	if err == nil {
		err = s.buf.Flush()
	}
	if cerr := s.out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.err = fmt.Errorf("savepoint: writing %s: %w", s.file.Path, err)
		return s.err
	}
	s.file.Entries, s.file.Bytes, s.file.SHA256 = s.n, s.sum.n, hex.EncodeToString(s.sum.h.Sum(nil))
	s.into[s.store] = append(s.into[s.store], s.file)
	return nil
}

// Finish writes the manifest, which makes the savepoint complete: m's stores' slices are
// the ones written (m.Stores gives each store's partition count; a store not in it gets
// the highest partition written plus one), m.Version is set. Every slice must be closed.
// It returns the manifest written.
func (w *Writer) Finish(m Manifest) (Manifest, error) {
	if w.open > 0 {
		return Manifest{}, fmt.Errorf("savepoint: %d slices are not closed", w.open)
	}
	var err error
	if m.Stores, err = listing("store", w.stores, m.Stores); err != nil {
		return Manifest{}, err
	}
	if m.Pending, err = listing("internal topic", w.pending, m.Pending); err != nil {
		return Manifest{}, err
	}
	if len(m.Pending) == 0 {
		m.Pending = nil
	}
	m.Version = Version
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	out, err := w.fsys.Create(ManifestName)
	if err != nil {
		return Manifest{}, fmt.Errorf("savepoint: creating the manifest: %w", err)
	}
	if _, err = out.Write(append(b, '\n')); err != nil {
		_ = out.Close()
		return Manifest{}, fmt.Errorf("savepoint: writing the manifest: %w", err)
	}
	if err := out.Close(); err != nil {
		return Manifest{}, fmt.Errorf("savepoint: writing the manifest: %w", err)
	}
	return m, nil
}

// listing is the manifest's list of the slices written, by name, with the partition
// counts given (a name not given gets the highest partition written plus one; a name given
// without slices is listed without).
func listing(what string, written map[string][]File, given []Store) ([]Store, error) {
	counts := map[string]int32{}
	for _, s := range given {
		counts[s.Name] = s.Partitions
	}
	var out []Store
	for name, files := range written {
		slices.SortFunc(files, func(a, b File) int { return int(a.Partition - b.Partition) })
		n, ok := counts[name]
		if !ok {
			n = files[len(files)-1].Partition + 1
		}
		if files[len(files)-1].Partition >= n {
			return nil, fmt.Errorf("savepoint: %s %s has a slice of partition %d but %d partitions", what, name, files[len(files)-1].Partition, n)
		}
		out = append(out, Store{Name: name, Partitions: n, Slices: files})
	}
	for name, n := range counts {
		if _, ok := written[name]; !ok {
			out = append(out, Store{Name: name, Partitions: n, Slices: []File{}})
		}
	}
	slices.SortFunc(out, func(a, b Store) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Savepoint is a savepoint opened for reading.
type Savepoint struct {
	fsys     fs.FS
	Manifest Manifest
}

// Open reads and checks the manifest of the savepoint at fsys's root. It refuses, with an
// error wrapping ErrInvalid, a root without a manifest (none was taken there, or its
// writing did not finish), a manifest of another version, or one that contradicts
// itself; the data files are checked as they are read (Entries, Verify).
func Open(fsys fs.FS) (*Savepoint, error) {
	b, err := fs.ReadFile(fsys, ManifestName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s (not a savepoint, or one whose writing did not finish)", ErrInvalid, ManifestName)
	}
	if err != nil {
		return nil, fmt.Errorf("savepoint: reading the manifest: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, ManifestName, err)
	}
	if m.Version != Version {
		return nil, fmt.Errorf("%w: %s has format version %d; this eddy reads version %d", ErrInvalid, ManifestName, m.Version, Version)
	}
	if err := checkListing("store", m.Stores); err != nil {
		return nil, err
	}
	if err := checkListing("internal topic", m.Pending); err != nil {
		return nil, err
	}
	return &Savepoint{fsys: fsys, Manifest: m}, nil
}

// checkListing refuses a manifest's list of slices that contradicts itself.
func checkListing(what string, list []Store) error {
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s.Name] {
			return fmt.Errorf("%w: %s %s listed twice", ErrInvalid, what, s.Name)
		}
		seen[s.Name] = true
		for i, f := range s.Slices {
			if f.Partition < 0 || f.Partition >= s.Partitions || i > 0 && f.Partition <= s.Slices[i-1].Partition {
				return fmt.Errorf("%w: %s %s: slice of partition %d out of order or beyond its %d partitions", ErrInvalid, what, s.Name, f.Partition, s.Partitions)
			}
			if !fs.ValidPath(f.Path) || len(f.SHA256) != 64 || f.Entries < 0 || f.Bytes < int64(len(dataMagic)) {
				return fmt.Errorf("%w: %s %s, partition %d: malformed file entry", ErrInvalid, what, s.Name, f.Partition)
			}
		}
	}
	return nil
}

// Store returns the named store of the manifest.
func (sp *Savepoint) Store(name string) (Store, bool) {
	i := slices.IndexFunc(sp.Manifest.Stores, func(s Store) bool { return s.Name == name })
	if i < 0 {
		return Store{}, false
	}
	return sp.Manifest.Stores[i], true
}

// Entries calls fn with every entry of store's slice for partition, in the order they were
// written. The file is checked whole first — its size, its SHA-256 and its entry count
// against the manifest — so fn sees no entry of a file that is not intact. key and value
// are valid only during the call. A store or slice the manifest does not have is an
// error; so is fn's, which stops the reading.
func (sp *Savepoint) Entries(store string, partition int32, fn func(key, value []byte) error) error {
	f, err := lookup("store", sp.Manifest.Stores, store, partition)
	if err != nil {
		return err
	}
	return sp.entries(f, fn)
}

// lookup finds the slice of partition of the named store or internal topic.
func lookup(what string, list []Store, name string, partition int32) (File, error) {
	i := slices.IndexFunc(list, func(s Store) bool { return s.Name == name })
	if i < 0 {
		return File{}, fmt.Errorf("savepoint: no %s %s", what, name)
	}
	j := slices.IndexFunc(list[i].Slices, func(f File) bool { return f.Partition == partition })
	if j < 0 {
		return File{}, fmt.Errorf("savepoint: %s %s has no slice of partition %d", what, name, partition)
	}
	return list[i].Slices[j], nil
}

// entries checks data file f whole, then hands its entries to fn.
func (sp *Savepoint) entries(f File, fn func(key, value []byte) error) error {
	// Two passes over the file, neither holding it in memory: the first checks it, the
	// second hands its entries on.
	var sum hashWriter
	sum.h = sha256.New()
	n, err := sp.read(f, io.MultiWriter(&sum), nil)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrInvalid, f.Path, err)
	case sum.n != f.Bytes:
		return fmt.Errorf("%w: %s has %d bytes, the manifest says %d (truncated?)", ErrInvalid, f.Path, sum.n, f.Bytes)
	case hex.EncodeToString(sum.h.Sum(nil)) != f.SHA256:
		return fmt.Errorf("%w: %s does not match its SHA-256 in the manifest (corrupted, or another savepoint's)", ErrInvalid, f.Path)
	case n != f.Entries:
		return fmt.Errorf("%w: %s holds %d entries, the manifest says %d", ErrInvalid, f.Path, n, f.Entries)
	}
	_, err = sp.read(f, io.Discard, fn)
	return err
}

// read reads f's entries, copying every byte to tee and calling fn (if not nil) with each
// entry, and returns how many there are.
func (sp *Savepoint) read(f File, tee io.Writer, fn func(key, value []byte) error) (int64, error) {
	file, err := sp.fsys.Open(f.Path)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	r := bufio.NewReaderSize(io.TeeReader(file, tee), 256<<10)
	magic := make([]byte, len(dataMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, dataMagic) {
		return 0, fmt.Errorf("not a savepoint data file of version %d", Version)
	}
	var n int64
	var buf []byte
	for {
		kl, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("entry %d: bad key length: %v", n, err)
		}
		vl, err := binary.ReadUvarint(r)
		if err != nil {
			return n, fmt.Errorf("entry %d: bad value length: %v", n, err)
		}
		if kl > uint64(f.Bytes) || vl > uint64(f.Bytes) {
			return n, fmt.Errorf("entry %d runs past the end of the file", n)
		}
		if fn == nil {
			if _, err := r.Discard(int(kl + vl)); err != nil {
				return n, fmt.Errorf("entry %d runs past the end of the file", n)
			}
		} else {
			if need := int(kl + vl); cap(buf) < need {
				buf = make([]byte, need)
			}
			buf = buf[:kl+vl]
			if _, err := io.ReadFull(r, buf); err != nil {
				return n, fmt.Errorf("entry %d runs past the end of the file", n)
			}
			if err := fn(buf[:kl], buf[kl:]); err != nil {
				return n, err
			}
		}
		n++
	}
}

// Verify reads every data file of the savepoint and checks it against the manifest.
func (sp *Savepoint) Verify() error {
	for _, st := range slices.Concat(sp.Manifest.Stores, sp.Manifest.Pending) {
		for _, f := range st.Slices {
			if err := sp.entries(f, func(_, _ []byte) error { return nil }); err != nil {
				return err
			}
		}
	}
	return nil
}
