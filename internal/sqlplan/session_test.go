package sqlplan

import (
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/sqlparse"
)

// The session's statements: DDL, SHOW TABLES, DESCRIBE, SET and RESET, EXPLAIN, INSERT
// in batch mode, and their errors.
func TestSession(t *testing.T) {
	s := NewSession()
	run := func(src string) (*Result, error) {
		st, err := sqlparse.ParseOne(src)
		if err != nil {
			t.Fatal(err)
		}
		return s.Exec(st)
	}
	ss, err := sqlparse.Parse(clicksDDL)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ss {
		if _, err := s.Exec(st); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := run("SHOW TABLES"); err != nil || len(r.Rows) != 3 || r.Rows[1][0] != "clicks" || r.Rows[2][0] != "shop" {
		t.Errorf("SHOW TABLES = %v, %v", r, err)
	}
	if r, err := run("DESCRIBE shop"); err != nil || len(r.Rows) != 5 || r.Rows[4][4] != "METADATA FROM 'timestamp'" {
		t.Errorf("DESCRIBE shop = %v, %v", r, err)
	}
	if _, err := run("DESCRIBE nope"); err == nil || !strings.Contains(err.Error(), "no table nope (the tables: clicks, shop)") {
		t.Errorf("DESCRIBE nope: %v", err)
	}
	if _, err := run("SET 'execution.runtime-mode' = 'later'"); err == nil || !strings.Contains(err.Error(), "one of streaming, batch") {
		t.Errorf("SET runtime-mode later: %v", err)
	}
	if _, err := run("SET 'parallelism.default' = '4'"); err == nil || !strings.Contains(err.Error(), "unknown setting 'parallelism.default'") {
		t.Errorf("SET parallelism.default: %v", err)
	}
	if _, err := run("SET 'execution.runtime-mode' = 'batch'"); err != nil {
		t.Fatal(err)
	}
	if r, err := run("SET"); err != nil || len(r.Rows) != 2 || r.Rows[1][1] != "batch" {
		t.Errorf("SET = %v, %v", r, err)
	}
	const insert = "INSERT INTO shop SELECT user_id, url, part, ts FROM clicks WHERE url LIKE '/shop/%'"
	r, err := run(insert)
	if err != nil || r.Job == nil || !r.Job.Bounded || r.Job.Sources[0] != "clicks" || r.Job.Sinks[0] != "shop" {
		t.Errorf("INSERT in batch mode = %+v, %v", r, err)
	}
	if _, err := run("RESET 'execution.runtime-mode'"); err != nil {
		t.Fatal(err)
	}
	if r, err := run(insert); err != nil || r.Job.Bounded || len(r.Job.Brokers) != 0 {
		t.Errorf("INSERT after RESET: %+v, %v", r, err)
	}
	r, err = run("EXPLAIN " + insert)
	if err != nil || !strings.Contains(r.Message, "SQL-SINK-SHOP") || !strings.Contains(r.Message, "clicks") {
		t.Errorf("EXPLAIN = %v, %v", r, err)
	}
	if _, err := run("DROP TABLE shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(insert); err == nil || !strings.Contains(err.Error(), "INSERT INTO shop: no such table") {
		t.Errorf("INSERT after DROP: %v", err)
	}
	if r, err := run("SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id"); err != nil || r.Job == nil ||
		strings.Join(r.Job.Columns, ",") != "user_id,n" || !r.Job.Updating || r.Job.Types[1].Kind != BigInt {
		t.Errorf("a bare SELECT: %+v, %v", r, err)
	}
}

// The source table's brokers and group go to the job, for its runner.
func TestJobBrokersAndGroup(t *testing.T) {
	c, rest := catalogOf(t, strings.Replace(clicksDDL, "'topic' = 'clicks',", "'topic' = 'clicks', 'properties.bootstrap.servers' = 'a:9092, b:9092', 'properties.group.id' = 'clicks-job',", 1)+
		"INSERT INTO shop SELECT user_id, url, part, ts FROM clicks")
	job, err := c.PlanInserts([]*sqlparse.Insert{rest[0].(*sqlparse.Insert)}, false)
	if err != nil || strings.Join(job.Brokers, ",") != "a:9092,b:9092" || job.GroupID != "clicks-job" {
		t.Errorf("job = %+v, %v", job, err)
	}
}

// CREATE TABLE … AS SELECT makes the table of the query's columns and the job that fills
// it; ALTER TABLE … ADD adds a computed column or the watermark.
func TestCreateAsAndAlter(t *testing.T) {
	s := NewSession()
	exec := func(src string) (*Result, error) {
		t.Helper()
		ss, err := sqlparse.Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		var r *Result
		for _, st := range ss {
			if r, err = s.Exec(st); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
	if _, err := exec(clicksDDL); err != nil {
		t.Fatal(err)
	}
	r, err := exec(`CREATE TABLE counts (PRIMARY KEY (user_id) NOT ENFORCED)
	  WITH ('connector' = 'upsert-kafka', 'topic' = 'counts', 'key.format' = 'raw', 'value.format' = 'json')
	  AS SELECT user_id, COUNT(*) AS n, MAX(ts) AS last_seen FROM clicks GROUP BY user_id`)
	if err != nil || r.Job == nil || r.Job.Sinks[0] != "counts" || r.Job.Sources[0] != "clicks" {
		t.Fatalf("CREATE TABLE AS = %+v, %v", r, err)
	}
	if d, err := exec("DESCRIBE counts"); err != nil || len(d.Rows) != 4 ||
		strings.Join(d.Rows[1][:4], " ") != "user_id STRING false PRI(user_id)" || d.Rows[2][1] != "BIGINT" || d.Rows[3][1] != "TIMESTAMP_LTZ(3)" {
		t.Errorf("DESCRIBE counts = %v, %v", d, err)
	}
	if _, err := exec("CREATE TABLE counts WITH ('connector' = 'kafka', 'topic' = 'x', 'format' = 'json') AS SELECT user_id FROM clicks"); err == nil || !strings.Contains(err.Error(), "table counts exists already") {
		t.Errorf("CREATE TABLE AS over a table: %v", err)
	}
	// An updating query into an append-only table: refused, and no table is left.
	if _, err := exec("CREATE TABLE appended WITH ('connector' = 'kafka', 'topic' = 'a', 'format' = 'json') AS SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id"); err == nil ||
		!strings.Contains(err.Error(), "doesn't support consuming update changes") {
		t.Errorf("CREATE TABLE AS of updates into kafka: %v", err)
	}
	if _, ok := s.Catalog.Table("appended"); ok {
		t.Error("a table was left by a CREATE TABLE AS that failed")
	}

	if _, err := exec("ALTER TABLE shop ADD WATERMARK FOR at AS at - INTERVAL '2' SECOND"); err != nil {
		t.Fatal(err)
	}
	if _, err := exec("ALTER TABLE shop ADD page_len AS CHAR_LENGTH(page)"); err != nil {
		t.Fatal(err)
	}
	d, err := exec("DESCRIBE shop")
	if err != nil || len(d.Rows) != 6 || d.Rows[4][1] != "TIMESTAMP_LTZ(3) *ROWTIME*" || d.Rows[5][0] != "page_len" || d.Rows[5][4] != "AS CHAR_LENGTH(page)" {
		t.Errorf("DESCRIBE shop after ALTER = %v, %v", d, err)
	}
	if r, err := exec("SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE shop, DESCRIPTOR(at), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end"); err != nil || r.Job == nil {
		t.Errorf("a window over the altered table's watermark: %v", err)
	}
	if _, err := exec("ALTER TABLE shop ADD WATERMARK FOR at AS at"); err == nil || !strings.Contains(err.Error(), "has one already") {
		t.Errorf("a second watermark: %v", err)
	}
	if _, err := exec("ALTER TABLE nope ADD x AS 1"); err == nil || !strings.Contains(err.Error(), "ALTER TABLE nope: no such table") {
		t.Errorf("ALTER of no table: %v", err)
	}
}
