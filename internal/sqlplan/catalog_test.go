package sqlplan

import (
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

func newTable(src string) (*Table, error) {
	s, err := sqlparse.ParseOne(src)
	if err != nil {
		return nil, err
	}
	return NewTable(s.(*sqlparse.CreateTable))
}

// A table of every kind of column, and how DESCRIBE shows it.
func TestNewTable(t *testing.T) {
	tb, err := newTable(`CREATE TABLE clicks (
	  user_id STRING,
	  url STRING,
	  ts TIMESTAMP(3),
	  kafka_ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
	  part INT METADATA FROM 'partition',
	  hour_of AS HOUR(ts),
	  proc AS PROCTIME(),
	  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND,
	  PRIMARY KEY (user_id) NOT ENFORCED
	) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json', 'key.format' = 'raw', 'key.fields' = 'user_id',
	  'scan.startup.mode' = 'earliest-offset', 'scan.watermark.idle-timeout' = '5 s', 'properties.bootstrap.servers' = 'localhost:9092')`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range tb.Describe() {
		got = append(got, strings.Join(r, " | "))
	}
	want := []string{
		"name | type | null | key | extras | watermark",
		"user_id | STRING | false | PRI(user_id) |  | ",
		"url | STRING | true |  |  | ",
		"ts | TIMESTAMP(3) *ROWTIME* | true |  |  | (ts - INTERVAL '2' SECOND)",
		"kafka_ts | TIMESTAMP_LTZ(3) | true |  | METADATA FROM 'timestamp' | ",
		"part | INT | true |  | METADATA FROM 'partition' VIRTUAL | ",
		"hour_of | BIGINT | true |  | AS HOUR(ts) | ",
		"proc | TIMESTAMP_LTZ(3) *PROCTIME* | false |  | AS PROCTIME() | ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("DESCRIBE:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tb.IdleTimeout != 5*time.Second || tb.Watermark.Column != 2 || tb.Connector != "kafka" {
		t.Errorf("table: %+v", tb)
	}
	// The computed column over a row.
	row := []any{"u1", "/", time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC), nil, int32(0), nil, nil}
	if v, err := tb.Columns[5].Expr.Eval(row); err != nil || v != int64(13) {
		t.Errorf("hour_of = %v, %v", v, err)
	}
}

// What a table must have, each missing or wrong in turn.
func TestNewTableErrors(t *testing.T) {
	const cols = "(k STRING, v BIGINT, ts TIMESTAMP(3)"
	for _, c := range []struct{ src, err string }{
		{cols + ") WITH ('topic' = 't', 'format' = 'json')", "table t: no 'connector' (kafka, upsert-kafka or datagen)"},
		{cols + ") WITH ('connector' = 'filesystem', 'topic' = 't')", "unknown or unsupported connector 'filesystem' (kafka, upsert-kafka or datagen)"},
		{cols + ") WITH ('connector' = 'kafka', 'format' = 'json')", "table t: no 'topic'"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't')", "no 'format' (or 'value.format')"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'xml')", "'format' = 'xml': the formats are json, raw, csv, avro, avro-confluent"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'scan.startup.mode' = 'beginning')", "'scan.startup.mode' = 'beginning': earliest-offset, latest-offset, group-offsets or timestamp"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'scan.startup.mode' = 'timestamp')", "'scan.startup.mode' = 'timestamp' needs 'scan.startup.timestamp-millis'"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'scan.startup.mode' = 'specific-offsets')", "'specific-offsets' is not supported"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'scan.startup.timestamp-millis' = '5')", "'scan.startup.timestamp-millis' is for 'scan.startup.mode' = 'timestamp'"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'sink.partitioner' = 'random')", "'sink.partitioner' = 'random': default, fixed or round-robin"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'properties.client.id' = 'x')", "unsupported options for 'kafka': 'properties.client.id'"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'colour' = 'red')", "unsupported options for 'kafka': 'colour'"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'raw')", "the 'raw' format holds one STRING or BYTES column, not v BIGINT"},
		{cols + ") WITH ('connector' = 'upsert-kafka', 'topic' = 't', 'key.format' = 'raw', 'value.format' = 'json')", "'upsert-kafka' needs a PRIMARY KEY: the key of the upserts"},
		{cols + ", PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 't', 'value.format' = 'json')", "'upsert-kafka' needs 'key.format'"},
		{cols + ", PRIMARY KEY (x) NOT ENFORCED) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "PRIMARY KEY (x): x is not a physical column"},
		{cols + ", WATERMARK FOR v AS v) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "WATERMARK FOR v: the rowtime column is TIMESTAMP(3) or TIMESTAMP_LTZ(3) (or less precise), not BIGINT"},
		{cols + ", WATERMARK FOR ts AS v) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "the watermark v is BIGINT: it must be of the rowtime column's type, TIMESTAMP"},
		{cols + ", WATERMARK FOR nope AS ts) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "WATERMARK FOR nope: no such column"},
		{cols + ", v STRING) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "line 1, column 54: column v declared twice"},
		{cols + ", o BIGINT METADATA FROM 'headers') WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "unknown metadata key 'headers' (the keys: offset, partition, timestamp, topic)"},
		{cols + ", o INT METADATA FROM 'offset') WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "metadata 'offset' is BIGINT, not INT"},
		{cols + ", c AS v + k) WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json')", "v + k: cannot apply + to BIGINT and STRING"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'scan.watermark.idle-timeout' = 'soon')", "'scan.watermark.idle-timeout' = 'soon': not a duration"},
		{cols + ") WITH ('connector' = 'kafka', 'topic' = 't', 'format' = 'json', 'key.fields' = 'k')", "'key.fields' needs 'key.format'"},
	} {
		_, err := newTable("CREATE TABLE t " + c.src)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s:\n%v\nwant it to say %s", c.src, err, c.err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"5 s": 5 * time.Second, "500ms": 500 * time.Millisecond, "1 min": time.Minute,
		"2h": 2 * time.Hour, "1m30s": 90 * time.Second, "1000": time.Second, "1.5 seconds": 1500 * time.Millisecond} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s", "5 fortnights"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): no error", in)
		}
	}
}
