package serde_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/serde"
)

// order is the struct the JSON tests and fuzzers round-trip; its fields cover
// the kinds whose encoding could drift: strings, both number kinds, nesting,
// slices, maps and a nil-able pointer.
type order struct {
	ID       string         `json:"id"`
	Cents    int64          `json:"cents"`
	Rate     float64        `json:"rate"`
	Paid     bool           `json:"paid"`
	Tags     []string       `json:"tags,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	Customer *customer      `json:"customer,omitempty"`
}

type customer struct {
	Name string `json:"name"`
}

// roundTrip encodes v into a buffer that already holds a prefix, checks the
// prefix survived, decodes the rest and compares with eq.
func roundTrip[T any](t *testing.T, s serde.Serde[T], v T, eq func(a, b T) bool) {
	t.Helper()
	prefix := []byte("prefix")
	b, err := s.AppendEncode(bytes.Clone(prefix), v)
	if err != nil {
		t.Fatalf("AppendEncode(%v): %v", v, err)
	}
	if !bytes.HasPrefix(b, prefix) {
		t.Fatalf("AppendEncode(%v) = %q, lost prefix %q", v, b, prefix)
	}
	got, err := s.Decode(b[len(prefix):])
	if err != nil {
		t.Fatalf("Decode(%x): %v", b[len(prefix):], err)
	}
	if !eq(got, v) {
		t.Fatalf("round trip of %v = %v", v, got)
	}
}

func equal[T comparable](a, b T) bool { return a == b }

// sameBits tells NaNs apart by payload and -0 from +0, which == cannot.
func sameBits(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func TestRoundTripInt32(t *testing.T) {
	for _, v := range []int32{0, 1, -1, 42, math.MinInt32, math.MaxInt32} {
		roundTrip(t, serde.Int32(), v, equal)
	}
}

func TestRoundTripInt64(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 1 << 40, math.MinInt64, math.MaxInt64} {
		roundTrip(t, serde.Int64(), v, equal)
	}
}

func TestRoundTripFloat64(t *testing.T) {
	for _, v := range []float64{
		0, math.Copysign(0, -1), 1.5, -2.25, math.Pi,
		math.MaxFloat64, math.SmallestNonzeroFloat64,
		math.Inf(1), math.Inf(-1),
		math.NaN(),
		math.Float64frombits(0x7ff8000000000000), // Java's canonical NaN
		math.Float64frombits(0xfff0000000000abc), // negative NaN with a payload
	} {
		roundTrip(t, serde.Float64(), v, sameBits)
	}
}

func TestRoundTripString(t *testing.T) {
	for _, v := range []string{"", "a", "hello, world", "héllo wörld", "日本語", "🦆 emoji", "\x00nul", "\xff\xfe not utf-8"} {
		roundTrip(t, serde.String(), v, equal)
	}
}

// TestRoundTripBytes compares with bytes.Equal: the wire has no nil, so nil
// and empty both encode to nothing (TestDecodeNilAndEmpty covers decoding nil).
func TestRoundTripBytes(t *testing.T) {
	for _, v := range [][]byte{nil, {}, {0}, {0xff, 0x00, 0x7f}, []byte("bytes")} {
		roundTrip(t, serde.Bytes(), v, bytes.Equal)
	}
}

func TestRoundTripJSON(t *testing.T) {
	for _, v := range []order{
		{},
		{ID: "o-1", Cents: 1299, Rate: 0.2, Paid: true},
		{
			ID:       "<&>日本",
			Cents:    math.MinInt64,
			Rate:     -1e300,
			Tags:     []string{"a", ""},
			Counts:   map[string]int{"x": 1, "y": -2},
			Customer: &customer{Name: "Ada"},
		},
	} {
		roundTrip(t, serde.JSON[order](), v, func(a, b order) bool { return reflect.DeepEqual(a, b) })
	}
}

// TestWire pins the bytes each serde writes to those of Kafka's Java
// serializers, so a change in encoding shows up as a diff here rather than as
// garbage in another team's consumer.
func TestWire(t *testing.T) {
	tests := []struct {
		name string
		enc  func(dst []byte) ([]byte, error)
		want string // hex
	}{
		{"Int32(0)", func(d []byte) ([]byte, error) { return serde.Int32().AppendEncode(d, 0) }, "00000000"},
		{"Int32(1)", func(d []byte) ([]byte, error) { return serde.Int32().AppendEncode(d, 1) }, "00000001"},
		{"Int32(-1)", func(d []byte) ([]byte, error) { return serde.Int32().AppendEncode(d, -1) }, "ffffffff"},
		{"Int32(256)", func(d []byte) ([]byte, error) { return serde.Int32().AppendEncode(d, 256) }, "00000100"},
		{"Int32(min)", func(d []byte) ([]byte, error) { return serde.Int32().AppendEncode(d, math.MinInt32) }, "80000000"},
		{"Int32(max)", func(d []byte) ([]byte, error) { return serde.Int32().AppendEncode(d, math.MaxInt32) }, "7fffffff"},
		{"Int64(1)", func(d []byte) ([]byte, error) { return serde.Int64().AppendEncode(d, 1) }, "0000000000000001"},
		{"Int64(-1)", func(d []byte) ([]byte, error) { return serde.Int64().AppendEncode(d, -1) }, "ffffffffffffffff"},
		{"Int64(0x0102030405060708)", func(d []byte) ([]byte, error) { return serde.Int64().AppendEncode(d, 0x0102030405060708) }, "0102030405060708"},
		{"Int64(min)", func(d []byte) ([]byte, error) { return serde.Int64().AppendEncode(d, math.MinInt64) }, "8000000000000000"},
		{"Float64(1.5)", func(d []byte) ([]byte, error) { return serde.Float64().AppendEncode(d, 1.5) }, "3ff8000000000000"},
		{"Float64(-2)", func(d []byte) ([]byte, error) { return serde.Float64().AppendEncode(d, -2) }, "c000000000000000"},
		{"Float64(-0)", func(d []byte) ([]byte, error) { return serde.Float64().AppendEncode(d, math.Copysign(0, -1)) }, "8000000000000000"},
		{"Float64(+Inf)", func(d []byte) ([]byte, error) { return serde.Float64().AppendEncode(d, math.Inf(1)) }, "7ff0000000000000"},
		{"Float64(NaN)", func(d []byte) ([]byte, error) { return serde.Float64().AppendEncode(d, math.NaN()) }, "7ff8000000000001"},
		{"String(é)", func(d []byte) ([]byte, error) { return serde.String().AppendEncode(d, "é") }, "c3a9"},
		{"String()", func(d []byte) ([]byte, error) { return serde.String().AppendEncode(d, "") }, ""},
		{"Bytes(nil)", func(d []byte) ([]byte, error) { return serde.Bytes().AppendEncode(d, nil) }, ""},
		{"JSON(order)", func(d []byte) ([]byte, error) {
			return serde.JSON[order]().AppendEncode(d, order{ID: "<&>", Cents: 5, Tags: []string{"t"}})
		}, hex.EncodeToString([]byte(`{"id":"<&>","cents":5,"rate":0,"paid":false,"tags":["t"]}`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc(nil)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("got %x, want %s", got, tt.want)
			}
		})
	}
}

// TestFloat64DecodesJavaNaN checks that the NaN Java's DoubleSerializer writes
// (it canonicalises every NaN) decodes as NaN.
func TestFloat64DecodesJavaNaN(t *testing.T) {
	got, err := serde.Float64().Decode([]byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(got) {
		t.Fatalf("got %v, want NaN", got)
	}
}

func TestDecodeSizeErrors(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) error
		in     []byte
		want   string
	}{
		{"int32 nil", decodeErr(serde.Int32()), nil, "serde: int32 needs 4 bytes, got 0"},
		{"int32 short", decodeErr(serde.Int32()), []byte{1, 2, 3}, "serde: int32 needs 4 bytes, got 3"},
		{"int32 long", decodeErr(serde.Int32()), make([]byte, 8), "serde: int32 needs 4 bytes, got 8"},
		{"int64 empty", decodeErr(serde.Int64()), []byte{}, "serde: int64 needs 8 bytes, got 0"},
		{"int64 short", decodeErr(serde.Int64()), []byte{1, 2, 3}, "serde: int64 needs 8 bytes, got 3"},
		{"int64 long", decodeErr(serde.Int64()), make([]byte, 9), "serde: int64 needs 8 bytes, got 9"},
		{"float64 nil", decodeErr(serde.Float64()), nil, "serde: float64 needs 8 bytes, got 0"},
		{"float64 int32-sized", decodeErr(serde.Float64()), make([]byte, 4), "serde: float64 needs 8 bytes, got 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, serde.ErrSize) {
				t.Errorf("error %v does not wrap ErrSize", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

func decodeErr[T any](s serde.Serde[T]) func([]byte) error {
	return func(b []byte) error {
		_, err := s.Decode(b)
		return err
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string // substring
	}{
		{"nil", nil, "empty input"},
		{"empty", []byte{}, "empty input"},
		{"garbage", []byte("not json"), "invalid character"},
		{"truncated", []byte(`{"id":"o-1"`), "unexpected end of JSON input"},
		{"wrong type", []byte(`{"cents":"twelve"}`), "cannot unmarshal string"},
		{"trailing", []byte(`{} {}`), "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := serde.JSON[order]().Decode(tt.in)
			if err == nil {
				t.Fatalf("decoded %+v, want error", got)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "serde: json: decoding serde_test.order: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want prefix naming serde_test.order and %q", msg, tt.want)
			}
			if !reflect.DeepEqual(got, order{}) {
				t.Errorf("decoded %+v on error, want the zero order", got)
			}
		})
	}
}

func TestEncodeJSONError(t *testing.T) {
	prefix := []byte("keep")
	got, err := serde.JSON[float64]().AppendEncode(prefix, math.NaN())
	if err == nil {
		t.Fatalf("encoded NaN as %q, want error", got)
	}
	if !strings.HasPrefix(err.Error(), "serde: json: encoding float64: ") {
		t.Errorf("error %q, want it to name float64", err)
	}
	if string(got) != "keep" {
		t.Errorf("AppendEncode returned %q on error, want dst unchanged", got)
	}
}

// TestJSONNamesInterfaceType checks that the error names T even when T is an
// interface, whose zero value %T would print as <nil>.
func TestJSONNamesInterfaceType(t *testing.T) {
	_, err := serde.JSON[error]().Decode([]byte("{}"))
	if err == nil || !strings.Contains(err.Error(), "decoding error:") {
		t.Fatalf("error %v, want it to name the error type", err)
	}
}

func TestDecodeDoesNotKeepInput(t *testing.T) {
	in := []byte("original")
	b, err := serde.Bytes().Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	s, err := serde.String().Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	jin := []byte(`{"id":"original","tags":["original"],"customer":{"name":"original"}}`)
	o, err := serde.JSON[order]().Decode(jin)
	if err != nil {
		t.Fatal(err)
	}

	// The caller reuses its buffers for the next record.
	copy(in, "XXXXXXXX")
	for i := range jin {
		jin[i] = 'X'
	}

	if string(b) != "original" {
		t.Errorf("Bytes decode changed with its input: %q", b)
	}
	if s != "original" {
		t.Errorf("String decode changed with its input: %q", s)
	}
	if o.ID != "original" || o.Tags[0] != "original" || o.Customer.Name != "original" {
		t.Errorf("JSON decode changed with its input: %+v", o)
	}
}

func TestDecodeNilAndEmpty(t *testing.T) {
	b, err := serde.Bytes().Decode(nil)
	if err != nil || b != nil {
		t.Errorf("Bytes().Decode(nil) = %v, %v; want nil, nil", b, err)
	}
	b, err = serde.Bytes().Decode([]byte{})
	if err != nil || b == nil || len(b) != 0 {
		t.Errorf("Bytes().Decode([]byte{}) = %#v, %v; want empty non-nil", b, err)
	}
	s, err := serde.String().Decode(nil)
	if err != nil || s != "" {
		t.Errorf(`String().Decode(nil) = %q, %v; want "", nil`, s, err)
	}
}

// TestAppendEncodeReusesBuffer checks that encoding into a buffer with spare
// capacity writes in place instead of allocating, which is the point of the
// append form.
func TestAppendEncodeReusesBuffer(t *testing.T) {
	buf := make([]byte, 0, 64)
	tests := []struct {
		name string
		enc  func([]byte) ([]byte, error)
	}{
		{"Bytes", func(d []byte) ([]byte, error) { return serde.Bytes().AppendEncode(d, []byte("xyz")) }},
		{"String", func(d []byte) ([]byte, error) { return serde.String().AppendEncode(d, "xyz") }},
		{"Int32", func(d []byte) ([]byte, error) { return serde.Int32().AppendEncode(d, 7) }},
		{"Int64", func(d []byte) ([]byte, error) { return serde.Int64().AppendEncode(d, 7) }},
		{"Float64", func(d []byte) ([]byte, error) { return serde.Float64().AppendEncode(d, 7) }},
		{"JSON", func(d []byte) ([]byte, error) { return serde.JSON[order]().AppendEncode(d, order{ID: "x"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc(append(buf[:0], "pre"...))
			if err != nil {
				t.Fatal(err)
			}
			if &got[0] != &buf[:1][0] {
				t.Errorf("AppendEncode allocated a new slice despite spare capacity")
			}
			if string(got[:3]) != "pre" {
				t.Errorf("AppendEncode = %q, lost prefix", got)
			}
		})
	}
}
