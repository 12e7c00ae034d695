package sqlplan

import (
	"strings"
	"testing"
	"time"
)

// A row through the json value and raw key formats, both ways: types, NULLs, missing
// fields, numbers in strings, timestamps in Flink's text; and the errors that name the
// field.
func TestRowFormats(t *testing.T) {
	tb, err := newTable(`CREATE TABLE t (k STRING, n INT, big BIGINT, d DOUBLE, ok BOOLEAN, ts TIMESTAMP(3), lt TIMESTAMP_LTZ(3), s STRING,
	  p INT METADATA FROM 'partition', c AS n + 1)
	  WITH ('connector' = 'kafka', 'topic' = 't', 'key.format' = 'raw', 'key.fields' = 'k', 'value.format' = 'json', 'value.fields-include' = 'EXCEPT_KEY')`)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := tb.Codecs()
	if err != nil {
		t.Fatal(err)
	}
	row := make([]any, len(tb.Columns))
	if err := cs.Key.Decode([]byte("key-1"), row); err != nil {
		t.Fatal(err)
	}
	in := `{"n": 7, "big": "3000000000", "d": 2.5, "ok": true, "ts": "2026-12-03 10:42:17.1", "lt": "2026-12-03T10:42:17.123Z", "s": 12, "extra": 1}`
	if err := cs.Value.Decode([]byte(in), row); err != nil {
		t.Fatal(err)
	}
	want := []any{"key-1", int32(7), int64(3_000_000_000), 2.5, true, time.Date(2026, 12, 3, 10, 42, 17, 100e6, time.UTC),
		time.Date(2026, 12, 3, 10, 42, 17, 123e6, time.UTC), "12", nil, nil}
	for i := range want {
		if w, ok := want[i].(time.Time); ok {
			if g, _ := row[i].(time.Time); !g.Equal(w) {
				t.Errorf("column %s = %v, want %v", tb.Columns[i].Name, row[i], w)
			}
		} else if row[i] != want[i] {
			t.Errorf("column %s = %#v, want %#v", tb.Columns[i].Name, row[i], want[i])
		}
	}
	out, err := cs.Value.Encode(nil, row)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != `{"n":7,"big":3000000000,"d":2.5,"ok":true,"ts":"2026-12-03 10:42:17.100","lt":"2026-12-03 10:42:17.123Z","s":"12"}` {
		t.Errorf("Encode = %s", got)
	}
	key, _ := cs.Key.Encode(nil, row)
	if string(key) != "key-1" {
		t.Errorf("key = %q", key)
	}
	if err := cs.Value.Decode([]byte(`{"n": 1}`), row); err != nil || row[2] != nil || row[1] != int32(1) {
		t.Errorf("missing fields: %v %v", row, err)
	}
	for in, says := range map[string]string{
		`{"n": "x"}`:          `json: field "n" (INT): "x" is not an integer`,
		`{"n": 3000000000}`:   `json: field "n" (INT): 3000000000 does not fit an INT`,
		`{"ts": "yesterday"}`: `json: field "ts" (TIMESTAMP): "yesterday" is not a timestamp (yyyy-MM-dd HH:mm:ss.SSS)`,
		`[1, 2]`:              `json: not an object`,
	} {
		if err := cs.Value.Decode([]byte(in), row); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("Decode(%s) = %v, want it to say %s", in, err, says)
		}
	}

	lenient, err := newTable(`CREATE TABLE t (n INT, s STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'json.ignore-parse-errors' = 'true')`)
	if err != nil {
		t.Fatal(err)
	}
	lcs, _ := lenient.Codecs()
	r := make([]any, 2)
	if err := lcs.Value.Decode([]byte(`{"n": "x", "s": "kept"}`), r); err != nil || r[0] != nil || r[1] != "kept" {
		t.Errorf("json.ignore-parse-errors: %v, %v", r, err)
	}
}
