package sqlplan

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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
) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json', 'key.format' = 'raw', 'key.fields' = 'user_id');
CREATE TABLE shop (
  user_id STRING,
  page STRING,
  part INT,
  at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'
) WITH ('connector' = 'kafka', 'topic' = 'shop', 'key.format' = 'raw', 'key.fields' = 'user_id', 'value.format' = 'json');
`

// INSERT INTO … SELECT … WHERE on the embedded broker: a projection and a filter of a
// table with a key, a computed rowtime, a watermark and metadata, written to a table whose
// key, value and record timestamp come from the query; run bounded, the output is exact.
func TestInsertSelectWhere(t *testing.T) {
	c, rest := catalogOf(t, clicksDDL+`INSERT INTO shop SELECT user_id, UPPER(url), part, ts FROM clicks WHERE url LIKE '/shop/%'`)
	job, err := c.PlanInsert(rest[0].(*sqlparse.Insert))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for topic, n := range map[string]int32{"clicks": 2, "shop": 1} {
		if err := cl.CreateTopic(ctx, topic, n); err != nil {
			t.Fatal(err)
		}
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var want []string
	base := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC).UnixMilli()
	for i := range 12 {
		user, url := fmt.Sprintf("u%d", i%3), fmt.Sprintf("/home/%d", i)
		if i%3 == 0 {
			url = fmt.Sprintf("/shop/%d", i)
		}
		ms := base + int64(i)*1000
		rec := &kgo.Record{Topic: "clicks", Partition: int32(i % 2), Key: []byte(user),
			Value: fmt.Appendf(nil, `{"user_id": %q, "url": %q, "ms": %d}`, user, url, ms)}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			want = append(want, fmt.Sprintf(`%s {"user_id":%q,"page":%q,"part":%d} %d`, user, user, strings.ToUpper(url), rec.Partition, ms))
		}
	}
	app, err := eddy.New(job.Topology, eddy.ApplicationID("sql-insert"), eddy.Brokers(cl.Brokers()...), eddy.StateDir(t.TempDir()), eddy.Bounded())
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Run(ctx); err != nil {
		t.Fatal(err)
	}
	reader, err := kgo.NewClient(kgo.SeedBrokers(cl.Brokers()...), kgo.ConsumeTopics("shop"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var got []string
	for len(got) < len(want) && ctx.Err() == nil {
		reader.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got = append(got, fmt.Sprintf("%s %s %d", r.Key, r.Value, r.Timestamp.UnixMilli()))
		})
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("shop:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// What the planner refuses, saying where and why.
func TestPlanErrors(t *testing.T) {
	for _, c := range []struct{ insert, err string }{
		{"INSERT INTO nope SELECT * FROM clicks", "INSERT INTO nope: no such table (the tables: clicks, shop)"},
		{"INSERT INTO shop SELECT user_id, url FROM clicks", "the query gives 2 columns (user_id, url), the table takes 4 (user_id, page, part, at)"},
		{"INSERT INTO shop SELECT user_id, ms, part, ts FROM clicks", "column 2 (ms) is BIGINT, the table's page is STRING: CAST it"},
		{"INSERT INTO shop SELECT user_id, url, part, ts FROM clicks WHERE ms", "WHERE ms is BIGINT, not BOOLEAN"},
		{"INSERT INTO shop SELECT user_id, url, COUNT(*), ts FROM clicks GROUP BY user_id, url, ts", "GROUP BY is not planned yet"},
		{"INSERT INTO shop SELECT user_id, url, part, ts FROM other", "no table other (the tables: clicks, shop)"},
		{"INSERT INTO shop SELECT user_id, nope, part, ts FROM clicks", "unknown column nope"},
	} {
		cat, rest := catalogOf(t, clicksDDL+c.insert)
		_, err := cat.PlanInsert(rest[0].(*sqlparse.Insert))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s:\n%v\nwant it to say %s", c.insert, err, c.err)
		}
	}
	// A watermark eddy's sources cannot keep.
	cat, rest := catalogOf(t, strings.Replace(clicksDDL, "ts - INTERVAL '1' SECOND", "ts + INTERVAL '1' SECOND", 1)+
		"INSERT INTO shop SELECT user_id, url, part, ts FROM clicks")
	if _, err := cat.PlanInsert(rest[0].(*sqlparse.Insert)); err == nil || !strings.Contains(err.Error(), "only ts or ts - INTERVAL '…' unit is supported") {
		t.Errorf("a watermark ahead of the rowtime: %v", err)
	}
}
