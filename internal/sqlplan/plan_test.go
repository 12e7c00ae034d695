package sqlplan

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
	"github.com/eddy-streams/eddy/internal/sqlparse"
)

func catalogOf(t *testing.T, script string) (*Catalog, []sqlparse.Statement) {
	t.Helper()
	ss, err := sqlparse.Parse(script)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCatalog()
	var rest []sqlparse.Statement
	for _, s := range ss {
		if ct, ok := s.(*sqlparse.CreateTable); ok {
			if err := c.Create(ct); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rest = append(rest, s)
	}
	return c, rest
}

const clicksDDL = `
CREATE TABLE clicks (
  user_id STRING,
  url STRING,
  ms BIGINT,
  ts AS TO_TIMESTAMP_LTZ(ms, 3),
  part INT METADATA FROM 'partition',
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json', 'key.format' = 'raw', 'key.fields' = 'user_id',
  'scan.partitioned-by-key' = 'false'); -- the tests write click i to partition i % 2
CREATE TABLE shop (
  user_id STRING,
  page STRING,
  part INT,
  at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'
) WITH ('connector' = 'kafka', 'topic' = 'shop', 'key.format' = 'raw', 'key.fields' = 'user_id', 'value.format' = 'json');
`

// runClicks runs the job of the last statement of script (after clicksDDL) over 12 clicks
// on the embedded broker, bounded, and returns the records of topic out as
// "key value timestamp-ms" lines, in the topic's order (a topic of one partition). Click i is user u(i%3), at base+i s, to
// partition i%2; its url is /shop/i when i%3 == 0, else /home/i.
func runClicks(t *testing.T, script, out string, topics map[string]int32) []string {
	t.Helper()
	c, rest := catalogOf(t, clicksDDL+script)
	job, err := c.PlanInserts([]*sqlparse.Insert{rest[len(rest)-1].(*sqlparse.Insert)}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topics["clicks"] = 2
	cl, client := startClicks(t, ctx, topics, func(i int) int32 { return int32(i % 2) })
	app, err := eddy.New(job.Topology, eddy.ApplicationID("sql-test"), eddy.Brokers(cl.Brokers()...), eddy.StateDir(t.TempDir()), eddy.Bounded())
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Run(ctx); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(client)
	ends, err := adm.ListEndOffsets(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	reader, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var got []string
	for int64(len(got)) < total && ctx.Err() == nil {
		reader.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got = append(got, fmt.Sprintf("%s %s %d", r.Key, r.Value, r.Timestamp.UnixMilli()))
		})
	}
	return got
}

// startClicks starts the embedded broker with topics and writes the 12 clicks, click i to
// partition partition(i). The cluster and the client close with the test.
func startClicks(t *testing.T, ctx context.Context, topics map[string]int32, partition func(int) int32) (*embedded.Cluster, *kgo.Client) {
	t.Helper()
	cl, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	for topic, n := range topics {
		if err := cl.CreateTopic(ctx, topic, n); err != nil {
			t.Fatal(err)
		}
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	for i := range 12 {
		user, url, ms := clickAt(i)
		rec := &kgo.Record{Topic: "clicks", Partition: partition(i), Key: []byte(user),
			Value: fmt.Appendf(nil, `{"user_id": %q, "url": %q, "ms": %d}`, user, url, ms)}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return cl, client
}

var clickBase = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func clickAt(i int) (user, url string, ms int64) {
	user, url = fmt.Sprintf("u%d", i%3), fmt.Sprintf("/home/%d", i)
	if i%3 == 0 {
		url = fmt.Sprintf("/shop/%d", i)
	}
	return user, url, clickBase.UnixMilli() + int64(i)*1000
}

// INSERT INTO … SELECT … WHERE on the embedded broker: a projection and a filter of a
// table with a key, a computed rowtime, a watermark and metadata, written to a table whose
// key, value and record timestamp come from the query; run bounded, the output is exact.
func TestInsertSelectWhere(t *testing.T) {
	got := runClicks(t, `INSERT INTO shop SELECT user_id, UPPER(url), part, ts FROM clicks WHERE url LIKE '/shop/%'`, "shop", map[string]int32{"shop": 1})
	var want []string
	for i := range 12 {
		if user, url, ms := clickAt(i); i%3 == 0 {
			want = append(want, fmt.Sprintf(`%s {"user_id":%q,"page":%q,"part":%d} %d`, user, user, strings.ToUpper(url), i%2, ms))
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("shop:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A GROUP BY without a window into an upsert-kafka table: every update of a key's row is
// an upsert of the key; the last one per key is the final aggregate.
func TestGroupByIntoUpsertTable(t *testing.T) {
	got := runClicks(t, `CREATE TABLE user_counts (user_id STRING, cnt BIGINT, total BIGINT, first_url STRING, last_url STRING, avg_i BIGINT, PRIMARY KEY (user_id) NOT ENFORCED)
	  WITH ('connector' = 'upsert-kafka', 'topic' = 'user_counts', 'key.format' = 'raw', 'value.format' = 'json');
	INSERT INTO user_counts SELECT user_id, COUNT(*), SUM((ms - 1796299200000) / 1000), MIN(url), MAX(url), AVG((ms - 1796299200000) / 1000) FROM clicks GROUP BY user_id`,
		"user_counts", map[string]int32{"user_counts": 1})
	last := map[string]string{}
	updates := 0
	for _, l := range got {
		k, rest, _ := strings.Cut(l, " ")
		last[k] = rest[:strings.LastIndexByte(rest, ' ')]
		updates++
	}
	want := map[string]string{
		"u0": `{"user_id":"u0","cnt":4,"total":18,"first_url":"/shop/0","last_url":"/shop/9","avg_i":4}`,
		"u1": `{"user_id":"u1","cnt":4,"total":22,"first_url":"/home/1","last_url":"/home/7","avg_i":5}`,
		"u2": `{"user_id":"u2","cnt":4,"total":26,"first_url":"/home/11","last_url":"/home/8","avg_i":6}`,
	}
	if !maps.Equal(last, want) || updates < 3 {
		t.Errorf("the last upsert per key (of %d):\n%v\nwant\n%v", updates, last, want)
	}
}

// A tumbling window count: one final row per window and user, with the window's bounds.
func TestTumbleWindowCount(t *testing.T) {
	got := runClicks(t, `CREATE TABLE per_window (window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id STRING, cnt BIGINT)
	  WITH ('connector' = 'kafka', 'topic' = 'per_window', 'format' = 'json');
	INSERT INTO per_window SELECT window_start, window_end, user_id, COUNT(*) AS cnt
	  FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, window_end, user_id`,
		"per_window", map[string]int32{"per_window": 1})
	counts := map[string]int{}
	for i := range 12 {
		user, _, ms := clickAt(i)
		start := time.UnixMilli(ms - ms%5000).UTC()
		counts[fmt.Sprintf(`{"window_start":%q,"window_end":%q,"user_id":%q`, start.Format(tsLayout), start.Add(5*time.Second).Format(tsLayout), user)]++
	}
	var want []string
	for k, n := range counts {
		want = append(want, fmt.Sprintf(`%s,"cnt":%d}`, k, n))
	}
	slices.Sort(want)
	var values []string
	for _, l := range got {
		_, rest, _ := strings.Cut(l, " ") // no key
		values = append(values, rest[:strings.LastIndexByte(rest, ' ')])
	}
	slices.Sort(values)
	if !slices.Equal(values, want) {
		t.Errorf("per_window:\n%s\nwant\n%s", strings.Join(values, "\n"), strings.Join(want, "\n"))
	}
}

// An aggregation by a raw-keyed table's key runs in the table's own tasks, as Kafka
// Streams' groupByKey does: no repartition topic, unless the table says its records are
// not placed by key; an aggregation by another column repartitions.
func TestAggregationByTheKeyDoesNotRepartition(t *testing.T) {
	for _, c := range []struct {
		ddl, query  string
		repartition bool
	}{
		{clicksDDL, "SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id", true},
		{strings.Replace(clicksDDL, "'scan.partitioned-by-key' = 'false'", "'scan.partitioned-by-key' = 'true'", 1), "SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id", false},
		{strings.Replace(clicksDDL, ",\n  'scan.partitioned-by-key' = 'false'", "", 1), "SELECT user_id, url, COUNT(*) FROM clicks GROUP BY url, user_id", false},
		{strings.Replace(clicksDDL, ",\n  'scan.partitioned-by-key' = 'false'", "", 1), "SELECT url, COUNT(*) FROM clicks GROUP BY url", true},
		{strings.Replace(clicksDDL, ",\n  'scan.partitioned-by-key' = 'false'", "", 1), "SELECT user_id, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, window_start, window_end", false},
		{strings.Replace(clicksDDL, ",\n  'scan.partitioned-by-key' = 'false'", "", 1), "SELECT u, COUNT(*) FROM (SELECT UPPER(user_id) AS u FROM clicks) GROUP BY u", true},
	} {
		cat, rest := catalogOf(t, c.ddl+"EXPLAIN "+c.query)
		job, err := cat.PlanQuery(rest[0].(*sqlparse.Explain).Statement.(*sqlparse.QueryStatement).Query, false)
		if err != nil {
			t.Fatal(err)
		}
		text, err := job.Topology.Describe()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(text, "-repartition"); got != c.repartition {
			t.Errorf("%s: repartition %v, want %v:\n%s", c.query, got, c.repartition, text)
		}
	}
}

// What the planner refuses, saying where and why.
func TestPlanErrors(t *testing.T) {
	for _, c := range []struct{ insert, err string }{
		{"INSERT INTO nope SELECT * FROM clicks", "INSERT INTO nope: no such table (the tables: clicks, shop)"},
		{"INSERT INTO shop SELECT user_id, url FROM clicks", "the query gives 2 columns (user_id, url), the table takes 4 (user_id, page, part, at)"},
		{"INSERT INTO shop SELECT user_id, ms, part, ts FROM clicks", "column 2 (ms) is BIGINT, the table's page is STRING: CAST it"},
		{"INSERT INTO shop SELECT user_id, url, part, ts FROM clicks WHERE ms", "WHERE ms is BIGINT, not BOOLEAN"},
		{"INSERT INTO shop SELECT user_id, url, COUNT(*), ts FROM clicks GROUP BY user_id, url, ts", "Table sink 'shop' doesn't support consuming update changes which is produced by node GroupAggregate(groupBy=[user_id, url, ts], select=[user_id, url, COUNT(*), ts])"},
		{"INSERT INTO shop SELECT user_id, url, COUNT(*), ts FROM clicks GROUP BY user_id", "url is neither grouped by nor aggregated"},
		{"INSERT INTO shop SELECT user_id, url, part, window_end FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ms), INTERVAL '1' SECOND)) GROUP BY window_start, window_end", "TUMBLE over DESCRIPTOR(ms): ms is not a time attribute of clicks"},
		{"INSERT INTO shop SELECT user_id, url, COUNT(url), ts FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY user_id, url, ts", "a window aggregation groups by window_start and window_end"},
		{"INSERT INTO shop SELECT user_id, url, MAX(COUNT(*)), ts FROM clicks GROUP BY user_id, url, ts", "COUNT inside MAX: aggregates do not nest"},
		{"INSERT INTO shop SELECT user_id, url, part, ts FROM clicks HAVING ms", "ms is neither grouped by nor aggregated"},
		{"INSERT INTO shop SELECT clicks.user_id, url, clicks.part, ts FROM clicks LEFT JOIN shop ON clicks.user_id = shop.user_id",
			"Table sink 'shop' doesn't support consuming update changes which is produced by node Join(joinType=[LeftOuterJoin]"},
		{"INSERT INTO shop SELECT clicks.user_id, url, clicks.part, ts FROM clicks JOIN shop ON clicks.ts > shop.at", "no equality of a left and a right column"},
		{"INSERT INTO shop SELECT user_id, url, part, ts FROM clicks UNION ALL SELECT user_id, url, ts FROM clicks", "UNION ALL of 4 columns (user_id, url, part, ts) and 3 (user_id, url, ts)"},
		{"INSERT INTO shop SELECT user_id, url, part, ts FROM other", "no table other (the tables: clicks, shop)"},
		{"INSERT INTO shop SELECT user_id, nope, part, ts FROM clicks", "unknown column nope"},
	} {
		cat, rest := catalogOf(t, clicksDDL+c.insert)
		_, err := cat.PlanInserts([]*sqlparse.Insert{rest[0].(*sqlparse.Insert)}, false)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s:\n%v\nwant it to say %s", c.insert, err, c.err)
		}
	}
	// A watermark eddy's sources cannot keep.
	cat, rest := catalogOf(t, strings.Replace(clicksDDL, "ts - INTERVAL '1' SECOND", "ts + INTERVAL '1' SECOND", 1)+
		"INSERT INTO shop SELECT user_id, url, part, ts FROM clicks")
	if _, err := cat.PlanInserts([]*sqlparse.Insert{rest[0].(*sqlparse.Insert)}, false); err == nil || !strings.Contains(err.Error(), "only ts or ts - INTERVAL '…' unit is supported") {
		t.Errorf("a watermark ahead of the rowtime: %v", err)
	}
}

// The course's idle-partition exercise, streaming: clicks written to one partition of
// three give no window while the other two hold the watermark back; with
// 'scan.watermark.idle-timeout' the quiet partitions stop counting and every window but
// the last (which waits for a later click) comes out, exactly.
func TestIdleTimeoutReleasesWindows(t *testing.T) {
	for _, how := range []string{"none", "table option", "session setting"} {
		t.Run(how, func(t *testing.T) {
			idle := how != "none"
			ddl := clicksDDL
			if how == "table option" {
				ddl = strings.Replace(ddl, "'scan.partitioned-by-key' = 'false')", "'scan.partitioned-by-key' = 'false', 'scan.watermark.idle-timeout' = '500 ms')", 1)
			}
			if how == "session setting" {
				ddl += "SET 'table.exec.source.idle-timeout' = '500 ms';"
			}
			ss, err := sqlparse.Parse(ddl + `CREATE TABLE per_window (window_end TIMESTAMP(3), cnt BIGINT) WITH ('connector' = 'kafka', 'topic' = 'per_window', 'format' = 'json');
			  INSERT INTO per_window SELECT window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, window_end`)
			if err != nil {
				t.Fatal(err)
			}
			sess := NewSession()
			var job *Job
			for _, s := range ss {
				res, err := sess.Exec(s)
				if err != nil {
					t.Fatal(err)
				}
				job = res.Job
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cl, _ := startClicks(t, ctx, map[string]int32{"clicks": 3, "per_window": 1}, func(int) int32 { return 0 })
			app, err := eddy.New(job.Topology, eddy.ApplicationID("sql-idle"), eddy.Brokers(cl.Brokers()...), eddy.StateDir(t.TempDir()),
				eddy.CommitInterval(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- app.Run(runCtx) }()
			reader, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.ConsumeTopics("per_window"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer reader.Close()
			var got []string
			want := []string{
				fmt.Sprintf(`{"window_end":%q,"cnt":5}`, clickBase.Add(5*time.Second).Format(tsLayout)),
				fmt.Sprintf(`{"window_end":%q,"cnt":5}`, clickBase.Add(10*time.Second).Format(tsLayout)),
			}
			deadline := time.Now().Add(4 * time.Second)
			for time.Now().Before(deadline) && len(got) < len(want) {
				poll, cancelPoll := context.WithTimeout(ctx, 200*time.Millisecond)
				reader.PollFetches(poll).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
				cancelPoll()
			}
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if idle && !slices.Equal(got, want) {
				t.Errorf("with the idle timeout: %v, want %v", got, want)
			}
			if !idle && len(got) != 0 {
				t.Errorf("without an idle timeout, windows came out while two partitions were quiet: %v", got)
			}
		})
	}
}
