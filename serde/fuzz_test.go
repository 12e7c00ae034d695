package serde_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/eddy-streams/eddy/serde"
)

// The fuzzers feed arbitrary bytes to each decoder. Decode must not panic, and
// whatever it accepts must survive encode → decode unchanged. For the
// fixed-width and byte serdes re-encoding must also give back the input: their
// wire formats have exactly one encoding per value.

func FuzzBytes(f *testing.F) {
	for _, seed := range [][]byte{nil, {}, {0}, []byte("bytes"), {0xff, 0xfe}} {
		f.Add(seed)
	}
	s := serde.Bytes()
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := s.Decode(in)
		if err != nil {
			t.Fatalf("Decode(%x): %v", in, err)
		}
		fuzzReencode(t, s, in, v, bytes.Equal)
	})
}

func FuzzString(f *testing.F) {
	for _, seed := range []string{"", "a", "日本語", "\xff\xfe not utf-8", "\x00"} {
		f.Add([]byte(seed))
	}
	s := serde.String()
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := s.Decode(in)
		if err != nil {
			t.Fatalf("Decode(%x): %v", in, err)
		}
		fuzzReencode(t, s, in, v, equal)
	})
}

func FuzzInt32(f *testing.F) {
	for _, seed := range [][]byte{nil, {1, 2, 3}, {0, 0, 0, 1}, {0xff, 0xff, 0xff, 0xff}, {0x80, 0, 0, 0}, make([]byte, 8)} {
		f.Add(seed)
	}
	fuzzFixed(f, serde.Int32(), 4, equal)
}

func FuzzInt64(f *testing.F) {
	for _, seed := range [][]byte{nil, {1, 2, 3}, {0, 0, 0, 0, 0, 0, 0, 1}, bytes.Repeat([]byte{0xff}, 8), make([]byte, 9)} {
		f.Add(seed)
	}
	fuzzFixed(f, serde.Int64(), 8, equal)
}

func FuzzFloat64(f *testing.F) {
	for _, seed := range [][]byte{
		nil, {1, 2, 3},
		{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, // 1.5
		{0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, // Go's NaN
		{0x80, 0, 0, 0, 0, 0, 0, 0},    // -0
		{0x7f, 0xf0, 0, 0, 0, 0, 0, 0}, // +Inf
	} {
		f.Add(seed)
	}
	fuzzFixed(f, serde.Float64(), 8, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) })
}

// fuzzFixed runs the fuzz body shared by the fixed-width serdes: exactly size
// bytes decode, any other length is an ErrSize error.
func fuzzFixed[T any](f *testing.F, s serde.Serde[T], size int, eq func(a, b T) bool) {
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := s.Decode(in)
		if len(in) != size {
			if !errors.Is(err, serde.ErrSize) {
				t.Fatalf("Decode(%x) = %v, %v; want an ErrSize error", in, v, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode(%x): %v", in, err)
		}
		fuzzReencode(t, s, in, v, eq)
	})
}

// fuzzReencode checks that v, decoded from in, encodes back to in and decodes
// to itself.
func fuzzReencode[T any](t *testing.T, s serde.Serde[T], in []byte, v T, eq func(a, b T) bool) {
	t.Helper()
	b, err := s.AppendEncode(nil, v)
	if err != nil {
		t.Fatalf("AppendEncode(%v): %v", v, err)
	}
	if !bytes.Equal(b, in) {
		t.Fatalf("Decode(%x) re-encodes as %x", in, b)
	}
	v2, err := s.Decode(b)
	if err != nil {
		t.Fatalf("Decode(%x) after re-encoding: %v", b, err)
	}
	if !eq(v, v2) {
		t.Fatalf("%v re-decodes as %v", v, v2)
	}
}

// FuzzJSON cannot ask that the input re-encode to itself (whitespace, key
// order, escapes and number spellings all vary), so it asks that the first
// re-encoding is a fixed point: decoding it and encoding again gives the same
// bytes. It does not compare the decoded values: omitempty drops an empty,
// non-nil slice, which then decodes as nil (the seed in testdata/fuzz).
func FuzzJSON(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `not json`, `{"id":`,
		`{"id":"o-1","cents":1299,"rate":0.2,"paid":true}`,
		`{"id":"<&>\u00e9\ud83e\udd86","tags":["a",""],"counts":{"x":1},"customer":{"name":"Ada"}}`,
		`{"ID":"case","CENTS":-9223372036854775808,"rate":-0,"extra":[1,{"y":2}]}`,
		`{"rate":1e308,"cents":9223372036854775808}`,
		"{\"id\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	s := serde.JSON[order]()
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := s.Decode(in)
		if err != nil {
			return
		}
		b1, err := s.AppendEncode(nil, v)
		if err != nil {
			t.Fatalf("AppendEncode(%+v) after Decode(%q): %v", v, in, err)
		}
		v2, err := s.Decode(b1)
		if err != nil {
			t.Fatalf("Decode(%q) of its own encoding: %v", b1, err)
		}
		b2, err := s.AppendEncode(nil, v2)
		if err != nil {
			t.Fatalf("AppendEncode(%+v): %v", v2, err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable: %q then %q", b1, b2)
		}
	})
}
