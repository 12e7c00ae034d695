package sqlplan

import (
	"encoding/json"
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

// A row through the csv and avro formats and back: every type, NULLs, quoting; the
// errors that name the field; and the Avro schema Flink derives from a table.
func TestCsvAndAvroFormats(t *testing.T) {
	row := []any{"k,1", int32(7), int64(3_000_000_000), 2.5, true, time.Date(2026, 12, 3, 10, 42, 17, 100e6, time.UTC), []byte{0, 1, 2}, nil}
	for _, format := range []string{"csv", "avro"} {
		tb, err := newTable(`CREATE TABLE t (s STRING, n INT NOT NULL, big BIGINT, d DOUBLE, ok BOOLEAN, ts TIMESTAMP(3), b BYTES, none STRING)
		  WITH ('connector' = 'kafka', 'topic' = 't', 'format' = '` + format + `')`)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := tb.Codecs()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := cs.Value.Encode(nil, row)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if format == "csv" && string(enc) != `"k,1",7,3000000000,2.5,TRUE,2026-12-03 10:42:17.100,AAEC,` {
			t.Errorf("csv = %s", enc)
		}
		got := make([]any, len(row))
		if err := cs.Value.Decode(enc, got); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		for i := range row {
			if format == "csv" && i == len(row)-1 {
				if got[i] != "" { // a NULL STRING is written empty, and read as ''
					t.Errorf("csv: a NULL STRING read back as %#v", got[i])
				}
				continue
			}
			if !equalValues(got[i], row[i]) {
				t.Errorf("%s: column %s = %#v, want %#v", format, tb.Columns[i].Name, got[i], row[i])
			}
		}
		bad := append([]any(nil), row...)
		bad[1] = nil
		if _, err := cs.Value.Encode(nil, bad); format == "avro" && (err == nil || !strings.Contains(err.Error(), "n is NOT NULL")) {
			t.Errorf("avro: a NULL for NOT NULL n: %v", err)
		}
	}
	schema, _, err := avroSchema([]codecColumn{{name: "id", typ: Type{Kind: BigInt, NotNull: true}}, {name: "at", typ: Type{Kind: Timestamp, Precision: 3}}})
	if want := `{"type":"record","name":"record","namespace":"org.apache.flink.avro.generated","fields":[{"name":"id","type":"long"},` +
		`{"name":"at","type":["null",{"type":"long","logicalType":"timestamp-millis"}],"default":null}]}`; err != nil || schema != want {
		t.Errorf("avro schema = %s, %v", schema, err)
	}
	tb, _ := newTable(`CREATE TABLE t (s STRING, n INT) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'csv', 'csv.field-delimiter' = ';')`)
	cs, err := tb.Codecs()
	if err != nil {
		t.Fatal(err)
	}
	r := make([]any, 2)
	if err := cs.Value.Decode([]byte("a;x"), r); err == nil || !strings.Contains(err.Error(), "csv: field 2 (n INT)") {
		t.Errorf("a bad csv field: %v", err)
	}
	if err := cs.Value.Decode([]byte("a;1;2"), r); err == nil || !strings.Contains(err.Error(), "3 fields, want 2 (s, n)") {
		t.Errorf("a csv record of 3 fields: %v", err)
	}
	nl, _ := newTable(`CREATE TABLE t (s STRING, n INT) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'csv', 'csv.null-literal' = 'N/A')`)
	ncs, err := nl.Codecs()
	if err != nil {
		t.Fatal(err)
	}
	if enc, _ := ncs.Value.Encode(nil, []any{nil, nil}); string(enc) != "N/A,N/A" {
		t.Errorf("csv.null-literal: %s", enc)
	}
	if err := ncs.Value.Decode([]byte("N/A,3"), r); err != nil || r[0] != nil || r[1] != int32(3) {
		t.Errorf("csv.null-literal read: %v %v", r, err)
	}
	if _, err := newTable(`CREATE TABLE t (s STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'avro-confluent')`); err != nil {
		t.Fatal(err)
	} else if tb, _ := newTable(`CREATE TABLE t (s STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'avro-confluent')`); tb != nil {
		if _, err := tb.Codecs(); err == nil || !strings.Contains(err.Error(), "needs the registry's URL: 'value.avro-confluent.url'") {
			t.Errorf("avro-confluent without a URL: %v", err)
		}
	}
}

// The JSON writer's own string and timestamp forms are encoding/json's and the layout's.
func TestJSONFastPaths(t *testing.T) {
	for _, s := range []string{"", "key-42", "a b/c", `quo"te`, `back\slash`, "<tag>&", "tab\there", "naïve", "\x00", "日本"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, ts := range []time.Time{
		time.Date(2026, 12, 3, 12, 0, 5, 7_000_000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 6, 1, 3, 4, 5, 123_456_789, time.FixedZone("x", 5*3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := string(appendTimestamp(nil, ts)), ts.UTC().Format(tsLayout); got != want {
			t.Errorf("appendTimestamp(%v) = %s, want %s", ts, got, want)
		}
	}
}

// A raw record of ” is empty, not null; a NULL column is a null record.
func TestRawEmptyIsNotNull(t *testing.T) {
	c := &rawCodec{col: codecColumn{name: "s", typ: Type{Kind: String}}}
	for _, buf := range [][]byte{nil, make([]byte, 0, 8)} {
		if b, err := c.Encode(buf, []any{""}); err != nil || b == nil || len(b) != 0 {
			t.Errorf("'' encodes to %#v, %v; want an empty record", b, err)
		}
		if b, err := c.Encode(buf, []any{nil}); err != nil || b != nil {
			t.Errorf("NULL encodes to %#v, %v; want a null record", b, err)
		}
	}
}
