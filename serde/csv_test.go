package serde_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
)

type csvOrder struct {
	ID      string
	Cents   int64
	Qty     uint16
	Price   float64
	Rate    float32
	Paid    bool
	At      time.Time
	Note    *string
	Coupon  *int32
	skipped int    //nolint:unused // unexported: not a column
	Secret  string `csv:"-"`
}

func mustCSV[T any](t *testing.T, opts ...serde.CSVOption) serde.Serde[T] {
	t.Helper()
	s, err := serde.CSV[T](opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The bytes are what encoding/csv's Writer writes for the same fields, less its line end,
// and they read back to the same value.
func TestCSVMatchesEncodingCSV(t *testing.T) {
	note := `says "hi", twice`
	coupon := int32(-7)
	at := time.Date(2026, 12, 2, 9, 13, 0, 123456789, time.UTC)
	for _, o := range []csvOrder{
		{ID: "o-1", Cents: 1299, Qty: 3, Price: 12.99, Rate: 0.5, Paid: true, At: at, Note: &note, Coupon: &coupon},
		{ID: " leading space", Cents: math.MinInt64, Qty: math.MaxUint16, Price: -1e300, At: at},
		{ID: "line\nbreak\r\nand,comma", Price: math.Inf(1)},
		{ID: `\.`},
		{ID: "\u00a0no-break space first", Note: &note},
		{ID: "\vvertical tab first"},
		{},
	} {
		s := mustCSV[csvOrder](t)
		got, err := s.AppendEncode([]byte("prefix"), o)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("AppendEncode dropped dst: %q", got)
		}
		got = got[len("prefix"):]
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		noteField, couponField := "", ""
		if o.Note != nil {
			noteField = *o.Note
		}
		if o.Coupon != nil {
			couponField = "-7"
		}
		_ = w.Write([]string{o.ID, formatInt(o.Cents), formatUint(uint64(o.Qty)), formatFloat(o.Price, 64),
			formatFloat(float64(o.Rate), 32), formatBool(o.Paid), o.At.Format(time.RFC3339Nano), noteField, couponField})
		w.Flush()
		if string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("encoded %q, encoding/csv writes %q", got, want.String())
		}
		back, err := s.Decode(got)
		if err != nil {
			t.Fatalf("Decode(%q): %v", got, err)
		}
		if back.ID != o.ID || back.Cents != o.Cents || back.Qty != o.Qty || back.Price != o.Price || back.Rate != o.Rate ||
			back.Paid != o.Paid || !back.At.Equal(o.At) || (back.Note == nil) != (o.Note == nil) || (back.Coupon == nil) != (o.Coupon == nil) ||
			(o.Note != nil && *back.Note != *o.Note) || (o.Coupon != nil && *back.Coupon != *o.Coupon) {
			t.Errorf("round trip of %+v gave %+v", o, back)
		}
		// encoding/csv reads what CSV wrote to the same fields.
		rec, err := csv.NewReader(bytes.NewReader(got)).Read()
		if err != nil || len(rec) != 9 || rec[0] != strings.ReplaceAll(o.ID, "\r\n", "\n") { // it reads \r\n as \n
			t.Errorf("encoding/csv reads %q as %q, %v", got, rec, err)
		}
	}
}

type pair struct {
	A string
	B int
}

// Decode names the field and the problem, and rejects what is not one record of T's
// fields; a trailing line end is accepted.
func TestCSVDecodeErrors(t *testing.T) {
	s := mustCSV[pair](t)
	for _, ok := range []string{"x,1", "x,1\n", "x,1\r\n", `"x,""y""",2`, `"multi` + "\n" + `line",3`, ",0"} {
		if _, err := s.Decode([]byte(ok)); err != nil {
			t.Errorf("Decode(%q): %v", ok, err)
		}
	}
	v, _ := s.Decode([]byte(`"x,""y""",2`))
	if v.A != `x,"y"` || v.B != 2 {
		t.Errorf("quoted field: %+v", v)
	}
	for in, want := range map[string]string{
		"":                      "empty input",
		"x":                     "field 1 (A): wrong number of fields",
		"x,1,2":                 "field 2 (B): wrong number of fields",
		"x,one":                 `field 2 (B): strconv.ParseInt: parsing "one"`,
		`x"y,1`:                 "field 1 (A): a quote or a line break",
		`"x"y,1`:                "field 1 (A): a quote or a line break",
		`"x,1`:                  "field 1 (A): quoted field without its closing",
		"x,1\n\n":               "field 2 (B): a quote or a line break",
		"x\r,1":                 "field 1 (A): a quote or a line break",
		"x,9999999999999999999": "field 2 (B): strconv.ParseInt",
	} {
		_, err := s.Decode([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "serde: csv: decoding serde_test.pair") {
			t.Errorf("Decode(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestCSVComma(t *testing.T) {
	s := mustCSV[pair](t, serde.CSVComma(';'))
	b, err := s.AppendEncode(nil, pair{"a;b,c", 4})
	if err != nil || string(b) != `"a;b,c";4` {
		t.Fatalf("encoded %q, %v", b, err)
	}
	if v, err := s.Decode(b); err != nil || v.A != "a;b,c" || v.B != 4 {
		t.Errorf("decoded %+v, %v", v, err)
	}
	for _, bad := range []rune{'"', '\n', '\r', 'é', 0} {
		if _, err := serde.CSV[pair](serde.CSVComma(bad)); err == nil {
			t.Errorf("CSVComma(%q) accepted", bad)
		}
	}
}

// CSV refuses, when it is made, the types it cannot write, naming them.
func TestCSVRefusesTypes(t *testing.T) {
	type nested struct {
		A string
		B pair
	}
	type slice struct{ Tags []string }
	type none struct{ a int }
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(serde.CSV[nested]()), "field B has type serde_test.pair"},
		{second(serde.CSV[slice]()), "field Tags has type []string"},
		{second(serde.CSV[none]()), "has no exported field"},
		{second(serde.CSV[string]()), "string is not a struct"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("got %v, want an error with %q", c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// FuzzCSV: Decode never panics; what it accepts encoding/csv reads as the same fields, and
// it encodes back to bytes that decode to the same value.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{"x,1", `"a""b",2`, "\"m\nl\",3\r\n", ",0", `"`, "a,b,c", "x,-0"} {
		f.Add([]byte(s))
	}
	s, err := serde.CSV[pair]()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := s.Decode(b)
		if err != nil {
			return
		}
		// encoding/csv reads the same fields, but for turning \r\n inside quotes into \n.
		rec, rerr := csv.NewReader(bytes.NewReader(b)).Read()
		if rerr != nil || len(rec) != 2 || rec[0] != strings.ReplaceAll(v.A, "\r\n", "\n") || !sameInt(rec[1], v.B) {
			t.Fatalf("Decode(%q) = %+v; encoding/csv reads %q, %v", b, v, rec, rerr)
		}
		enc, err := s.AppendEncode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := s.Decode(enc); err != nil || back != v {
			t.Fatalf("%+v encodes to %q, which decodes to %+v, %v", v, enc, back, err)
		}
	})
}

func formatInt(n int64) string               { return strconv.FormatInt(n, 10) }
func formatUint(n uint64) string             { return strconv.FormatUint(n, 10) }
func formatBool(b bool) string               { return strconv.FormatBool(b) }
func formatFloat(x float64, bits int) string { return strconv.FormatFloat(x, 'g', -1, bits) }

func sameInt(text string, n int) bool {
	m, err := strconv.Atoi(text)
	return err == nil && m == n
}
