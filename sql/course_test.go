package sql_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/sql"
)

// The course's exercises through the package, on the embedded broker and on a real one
// (KAFKA_BOOTSTRAP; scripts/test starts it). The job-restart exercise is cmd/eddy's: it
// kills the `eddy sql` process.
func TestCourseEmbedded(t *testing.T) {
	cl, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	course(t, cl.Brokers())
}

func TestCourseKafka(t *testing.T) {
	course(t, eddytest.Kafka(t).Bootstrap())
}

func course(t *testing.T, brokers []string) {
	t.Run("batch count gives one final value", func(t *testing.T) { batchCount(t, brokers) })
	t.Run("streaming count ends at the same value through updates", func(t *testing.T) { streamingCount(t, brokers) })
	t.Run("upsert table shows -U/+U on a second insert", func(t *testing.T) { upsertChanges(t, brokers) })
	t.Run("tumbling windows emit one final row each", func(t *testing.T) { tumbling(t, brokers) })
	t.Run("idle partitions hold windows back until the idle timeout", func(t *testing.T) { idle(t, brokers) })
	t.Run("datagen feeds a windowed count", func(t *testing.T) { datagen(t, brokers) })
	t.Run("startup modes", func(t *testing.T) { startupModes(t, brokers) })
}

var base = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// clicksTable creates a clicks topic of the given partitions and the DDL of a table over
// it; the table names its brokers, as a course's DDL does.
func clicksTable(t *testing.T, brokers []string, partitions int32, extra string) (topic, ddl string, client *kgo.Client) {
	t.Helper()
	topic = fmt.Sprintf("clicks-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()), time.Now().UnixNano())
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	ctx := context.Background()
	if _, err := kadm.NewClient(client).CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	ddl = fmt.Sprintf(`CREATE TABLE clicks (
	  user_id STRING, url STRING, ts TIMESTAMP(3),
	  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
	) WITH ('connector' = 'kafka', 'topic' = '%s', 'format' = 'json',
	  'properties.bootstrap.servers' = '%s'%s);`, topic, strings.Join(brokers, ","), extra)
	return topic, ddl, client
}

// click writes a click of user at base + ms to the partition.
func click(t *testing.T, client *kgo.Client, topic string, partition int32, user string, ms int) {
	t.Helper()
	v := fmt.Sprintf(`{"user_id": %q, "url": "/p/%d", "ts": %q}`, user, ms, base.Add(time.Duration(ms)*time.Millisecond).Format("2006-01-02 15:04:05.000"))
	if err := client.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// rows collects a job's result rows.
type rows struct {
	mu  sync.Mutex
	got []string
}

func (r *rows) add(row sql.Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, row.String())
}

func (r *rows) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// waitFor waits until the rows pass ok, failing the test after a minute.
func (r *rows) waitFor(t *testing.T, what string, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if got := r.snapshot(); ok(got) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: rows so far:\n%s", what, strings.Join(r.snapshot(), "\n"))
	return nil
}

// plan runs the statements in a new session and returns the last one's job.
func plan(t *testing.T, statements string) *sql.Job {
	t.Helper()
	res, err := sql.NewSession().Exec(statements)
	if err != nil {
		t.Fatalf("%v\n%s", err, statements)
	}
	job := res[len(res)-1].Job
	if job == nil {
		t.Fatalf("no job from %s", res[len(res)-1].Statement)
	}
	return job
}

// start runs the job in the background, collecting its rows; the job stops with the test.
func start(t *testing.T, job *sql.Job) (*rows, <-chan error) {
	t.Helper()
	r := &rows{}
	job.OnResult(r.add)
	dir := t.TempDir() // before the cleanup below, so removed after it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- job.Run(ctx, eddy.StateDir(dir), eddy.CommitInterval(100*time.Millisecond)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("job: %v", err)
		}
	})
	return r, done
}

func writeClicks(t *testing.T, client *kgo.Client, topic string) {
	for i := range 10 {
		click(t, client, topic, int32(i%2), fmt.Sprintf("u%d", i%3), i*100)
	}
}

const countQuery = "SELECT user_id, COUNT(*) AS n FROM clicks GROUP BY user_id"

func batchCount(t *testing.T, brokers []string) {
	topic, ddl, client := clicksTable(t, brokers, 2, "")
	writeClicks(t, client, topic)
	job := plan(t, ddl+"SET 'execution.runtime-mode' = 'batch';"+countQuery)
	if !job.Bounded() || job.Updating() != true {
		t.Errorf("batch job: bounded %v, updating %v", job.Bounded(), job.Updating())
	}
	r := &rows{}
	job.OnResult(r.add)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := job.Run(ctx, eddy.StateDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	got := r.snapshot()
	slices.Sort(got)
	if want := []string{"+I[u0, 4]", "+I[u1, 3]", "+I[u2, 3]"}; !slices.Equal(got, want) {
		t.Errorf("batch count:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func streamingCount(t *testing.T, brokers []string) {
	topic, ddl, client := clicksTable(t, brokers, 2, "")
	writeClicks(t, client, topic)
	job := plan(t, ddl+countQuery)
	if job.Bounded() || !job.Updating() {
		t.Errorf("streaming job: bounded %v, updating %v", job.Bounded(), job.Updating())
	}
	r, _ := start(t, job)
	got := r.waitFor(t, "the counts' updates", func(got []string) bool { return len(got) == 3+2*7 })
	// Each user's changes, in order: +I, then -U of the last row and +U of the next.
	final := map[string]string{}
	last := map[string]string{} // the kind of the user's last change
	inserts := 0
	for _, row := range got {
		user, kind := row[3:5], row[:2]
		switch kind {
		case "+I":
			inserts++
			if last[user] != "" {
				t.Errorf("a second +I for %s: %v", user, got)
			}
			final[user] = row
		case "-U":
			if last[user] != "+I" && last[user] != "+U" || final[user][2:] != row[2:] {
				t.Errorf("-U %s after %s", row, final[user])
			}
		case "+U":
			if last[user] != "-U" {
				t.Errorf("+U %s not after a -U", row)
			}
			final[user] = row
		}
		last[user] = kind
	}
	if inserts != 3 || final["u0"][2:] != "[u0, 4]" || final["u1"][2:] != "[u1, 3]" || final["u2"][2:] != "[u2, 3]" {
		t.Errorf("streaming count ends at %v (inserts %d):\n%s", final, inserts, strings.Join(got, "\n"))
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(r.snapshot()); n != len(got) {
		t.Errorf("more changes after the last: %v", r.snapshot())
	}
}

func upsertChanges(t *testing.T, brokers []string) {
	topic := fmt.Sprintf("users-%d", time.Now().UnixNano())
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := kadm.NewClient(client).CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	put := func(k, v string) {
		rec := &kgo.Record{Key: []byte(k)}
		if v != "" {
			rec.Value = []byte(v)
		}
		if err := client.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	job := plan(t, fmt.Sprintf(`CREATE TABLE users (user_id STRING, name STRING, PRIMARY KEY (user_id) NOT ENFORCED)
	  WITH ('connector' = 'upsert-kafka', 'topic' = '%s', 'key.format' = 'raw', 'value.format' = 'json',
	  'properties.bootstrap.servers' = '%s');
	  SELECT * FROM users`, topic, strings.Join(brokers, ",")))
	r, _ := start(t, job)
	put("u1", `{"name": "ann"}`)
	r.waitFor(t, "the first insert", func(got []string) bool { return len(got) == 1 })
	put("u1", `{"name": "anna"}`)
	put("u2", `{"name": "bo"}`)
	put("u2", "")
	got := r.waitFor(t, "the updates", func(got []string) bool { return len(got) == 5 })
	want := []string{"+I[u1, ann]", "-U[u1, ann]", "+U[u1, anna]", "+I[u2, bo]", "-D[u2, bo]"}
	if !slices.Equal(got, want) {
		t.Errorf("upsert changelog:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const windowQuery = `SELECT window_start, window_end, COUNT(*) AS n
  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
  GROUP BY window_start, window_end`

func tumbling(t *testing.T, brokers []string) {
	topic, ddl, client := clicksTable(t, brokers, 1, "")
	job := plan(t, ddl+windowQuery)
	if job.Updating() {
		t.Error("a window aggregation's result is append-only")
	}
	r, _ := start(t, job)
	for _, ms := range []int{0, 200, 900, 1000, 1500, 2999, 3100, 3200} {
		click(t, client, topic, 0, "u1", ms)
	}
	// The watermark is 3200 - 1000 = 2200 ms: the windows ending at 1 s and 2 s are final.
	got := r.waitFor(t, "two windows", func(got []string) bool { return len(got) == 2 })
	click(t, client, topic, 0, "u1", 10000)
	got = r.waitFor(t, "four windows", func(got []string) bool { return len(got) == 4 })
	want := []string{
		"+I[2026-12-03 12:00:00.000, 2026-12-03 12:00:01.000, 3]",
		"+I[2026-12-03 12:00:01.000, 2026-12-03 12:00:02.000, 2]",
		"+I[2026-12-03 12:00:02.000, 2026-12-03 12:00:03.000, 1]",
		"+I[2026-12-03 12:00:03.000, 2026-12-03 12:00:04.000, 2]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("windows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func idle(t *testing.T, brokers []string) {
	topic, ddl, client := clicksTable(t, brokers, 3, "")
	for _, ms := range []int{0, 500, 1200, 5000} {
		click(t, client, topic, 0, "u1", ms)
	}
	// Without an idle timeout the two empty partitions hold the watermark back: the
	// job reads the four clicks (its consumer group commits their offsets) and emits
	// nothing.
	quiet := plan(t, ddl+windowQuery)
	r, _ := start(t, quiet)
	waitCommitted(t, client, quiet.ApplicationID(), topic, 4)
	time.Sleep(2 * time.Second)
	if got := r.snapshot(); len(got) != 0 {
		t.Fatalf("windows with two partitions idle and no timeout: %v", got)
	}
	// With the session's idle timeout they are skipped after 500 ms.
	job := plan(t, ddl+"SET 'table.exec.source.idle-timeout' = '500 ms';"+windowQuery)
	r2, _ := start(t, job)
	got := r2.waitFor(t, "the windows before the watermark", func(got []string) bool { return len(got) == 2 })
	want := []string{"+I[2026-12-03 12:00:00.000, 2026-12-03 12:00:01.000, 2]", "+I[2026-12-03 12:00:01.000, 2026-12-03 12:00:02.000, 1]"}
	if !slices.Equal(got, want) {
		t.Errorf("windows after the idle timeout:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// waitCommitted waits until the group has committed n records' offsets on topic.
func waitCommitted(t *testing.T, client *kgo.Client, group, topic string, n int64) {
	t.Helper()
	adm := kadm.NewClient(client)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			var sum int64
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Topic == topic {
					sum += o.At
				}
			})
			if sum >= n {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s did not commit %d records of %s", group, n, topic)
}

func datagen(t *testing.T, brokers []string) {
	job := plan(t, fmt.Sprintf(`CREATE TABLE gen (
	    user_id STRING, amount INT, ts TIMESTAMP(3),
	    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
	  ) WITH ('connector' = 'datagen', 'rows-per-second' = '200', 'number-of-rows' = '300',
	    'fields.user_id.expression' = 'CONCAT(''u'', CAST(RAND_INTEGER(3) AS STRING))',
	    'fields.amount.min' = '1', 'fields.amount.max' = '5');
	  SET 'execution.runtime-mode' = 'batch';
	  SELECT user_id, COUNT(*) AS n, MIN(amount) >= 1 AND MAX(amount) <= 5 AS ok FROM gen GROUP BY user_id`))
	r := &rows{}
	job.OnResult(r.add)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := job.Run(ctx, eddy.Brokers(brokers...), eddy.StateDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, row := range r.snapshot() {
		var user string
		var n int
		if _, err := fmt.Sscanf(row, "+I[%2s, %d, TRUE]", &user, &n); err != nil || !strings.HasPrefix(user, "u") {
			t.Errorf("row %s (%v)", row, err)
		}
		total += n
	}
	if got := len(r.snapshot()); got != 3 || total != 300 {
		t.Errorf("datagen: %d users, %d rows: %v", got, total, r.snapshot())
	}
}

// An updating result into an upsert-kafka table: +I and +U are the key's value, -D its
// tombstone (a null value, which compaction removes), -U nothing.
func TestUpsertSinkWritesTombstones(t *testing.T) {
	cl, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	client, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, topic := range []string{"users", "per_level"} { // one partition each: one order to check
		if _, err := kadm.NewClient(client).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []struct{ k, v string }{{"u1", `{"level": 1}`}, {"u2", `{"level": 2}`}, {"u2", ""}} {
		rec := &kgo.Record{Topic: "users", Key: []byte(r.k)}
		if r.v != "" {
			rec.Value = []byte(r.v)
		}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	job := plan(t, `CREATE TABLE users (user_id STRING, level INT, PRIMARY KEY (user_id) NOT ENFORCED)
	    WITH ('connector' = 'upsert-kafka', 'topic' = 'users', 'key.format' = 'raw', 'value.format' = 'json',
	      'properties.bootstrap.servers' = '`+strings.Join(cl.Brokers(), ",")+`');
	  CREATE TABLE per_level (level INT, n BIGINT, PRIMARY KEY (level) NOT ENFORCED)
	    WITH ('connector' = 'upsert-kafka', 'topic' = 'per_level', 'key.format' = 'json', 'value.format' = 'json');
	  SET 'execution.runtime-mode' = 'streaming';
	  INSERT INTO per_level SELECT level, COUNT(*) FROM users GROUP BY level`)
	start(t, job) // exactly-once: the reader sees committed records
	reader, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.ConsumeTopics("per_level"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var got []string
	for len(got) < 3 && ctx.Err() == nil {
		reader.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
			v := "null"
			if rec.Value != nil {
				v = string(rec.Value)
			}
			got = append(got, string(rec.Key)+" "+v)
		})
	}
	want := []string{`{"level":1} {"level":1,"n":1}`, `{"level":2} {"level":2,"n":1}`, `{"level":2} null`}
	if !slices.Equal(got, want) {
		t.Errorf("per_level:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// 'scan.startup.mode': latest-offset starts a new query at the topic's end, timestamp at
// the first record at or after the time; earliest-offset (the default) at the start.
func startupModes(t *testing.T, brokers []string) {
	topic := fmt.Sprintf("starts-%d", time.Now().UnixNano())
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	if _, err := kadm.NewClient(client).CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	put := func(n int) {
		rec := &kgo.Record{Value: fmt.Appendf(nil, `{"n": %d}`, n), Timestamp: base.Add(time.Duration(n) * time.Second)}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for n := range 3 {
		put(n)
	}
	ddl := func(mode string) string {
		return fmt.Sprintf(`CREATE TABLE t (n INT) WITH ('connector' = 'kafka', 'topic' = '%s', 'format' = 'json',
		  'properties.bootstrap.servers' = '%s'%s); `, topic, strings.Join(brokers, ","), mode)
	}
	latest := plan(t, ddl(", 'scan.startup.mode' = 'latest-offset'")+"SELECT n FROM t")
	r, _ := start(t, latest)
	admin := kadm.NewClient(client)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) { // the start is committed before the job reads
		offs, err := admin.FetchOffsets(ctx, latest.ApplicationID())
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		if err == nil && sum == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	put(3)
	put(4)
	got := r.waitFor(t, "the rows after the start", func(got []string) bool { return len(got) == 2 })
	slices.Sort(got)
	if want := []string{"+I[3]", "+I[4]"}; !slices.Equal(got, want) {
		t.Errorf("latest-offset: %v, want %v", got, want)
	}
	for _, c := range []struct {
		mode string
		want []string
	}{
		{fmt.Sprintf(", 'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '%d'", base.Add(2*time.Second).UnixMilli()), []string{"+I[2]", "+I[3]", "+I[4]"}},
		{"", []string{"+I[0]", "+I[1]", "+I[2]", "+I[3]", "+I[4]"}},
	} {
		job := plan(t, ddl(c.mode)+"SET 'execution.runtime-mode' = 'batch'; SELECT n FROM t")
		rows := &rows{}
		job.OnResult(rows.add)
		if err := job.Run(ctx, eddy.StateDir(t.TempDir())); err != nil {
			t.Fatal(err)
		}
		got := rows.snapshot()
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("startup %q: %v, want %v", c.mode, got, c.want)
		}
	}
}
