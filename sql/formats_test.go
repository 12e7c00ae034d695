package sql_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/sql"
)

// Rows through the avro-confluent and csv formats: a datagen table written to an
// avro-confluent topic (its schema registered under <topic>-value), that topic copied
// to a csv one, and the csv one read back — the same rows. The registry is the one
// EDDY_REGISTRY_URL names (scripts/test starts Apicurio), else franz-go's fake. The jobs
// run at-least-once: exactly-once INSERTs on the embedded broker (kfake) with a fresh
// Apicurio registry, whose first registration is slow, leave kfake answering nothing
// (reproducible; see the closing note) — the formats are what is tested here.
func TestFormatsThroughTopics(t *testing.T) {
	url := os.Getenv("EDDY_REGISTRY_URL")
	if url == "" {
		fake := srfake.New()
		defer fake.Close()
		url = fake.URL()
	}
	cl, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	suffix := fmt.Sprint(time.Now().UnixNano())
	ddl := fmt.Sprintf(`
	  CREATE TABLE src (id BIGINT, name STRING, score DOUBLE) WITH ('connector' = 'datagen', 'number-of-rows' = '20',
	    'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '20',
	    'fields.name.expression' = 'CONCAT(''n'', CAST(RAND_INTEGER(1000) AS STRING))', 'fields.score.min' = '0', 'fields.score.max' = '1');
	  CREATE TABLE a (id BIGINT, name STRING, score DOUBLE)
	    WITH ('connector' = 'kafka', 'topic' = 'a-%[1]s', 'format' = 'avro-confluent', 'avro-confluent.url' = '%[2]s');
	  CREATE TABLE c (id BIGINT, name STRING, score DOUBLE) WITH ('connector' = 'kafka', 'topic' = 'c-%[1]s', 'format' = 'csv');
	  SET 'execution.runtime-mode' = 'batch'; SET 'execution.checkpointing.mode' = 'AT_LEAST_ONCE';`, suffix, url)
	s := sql.NewSession()
	if _, err := s.Exec(ddl); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(stmt string) []string {
		t.Helper()
		res, err := s.Exec(stmt)
		if err != nil {
			t.Fatal(err)
		}
		job := res[0].Job
		var rows []string
		job.OnResult(func(r sql.Row) { rows = append(rows, r.String()) }) // one task: one goroutine
		if err := job.Run(ctx, eddy.Brokers(cl.Brokers()...), eddy.StateDir(t.TempDir())); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		return rows
	}
	src := run("SELECT * FROM src")
	if len(src) != 20 {
		t.Fatalf("datagen gave %d rows: %v", len(src), src)
	}
	// The datagen topic is the job's own: the copy reads a second run of the generator,
	// so compare ids (a sequence) and the shape of the rest.
	run("INSERT INTO a SELECT * FROM src")
	run("INSERT INTO c SELECT * FROM a")
	got := run("SELECT id, name LIKE 'n%', score >= 0 AND score <= 1 FROM c")
	var want []string
	for i := 1; i <= 20; i++ {
		want = append(want, fmt.Sprintf("+I[%d, TRUE, TRUE]", i))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rows read back from csv:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rc, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := rc.Schemas(ctx, "a-"+suffix+"-value")
	if err != nil || len(schemas) != 1 || !strings.Contains(schemas[0].Schema.Schema, "org.apache.flink.avro.generated") {
		t.Errorf("the registered schemas of a-%s-value: %v, %v", suffix, schemas, err)
	}
}
