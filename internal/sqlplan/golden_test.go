package sqlplan

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/embedded"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the queries give")

// goldenDDL are the tables of testdata/changelogs.txt: the 12 clicks (startClicks) on one
// partition, and users, an upsert table whose keys change and one is deleted.
const goldenDDL = clicksDDL + `
CREATE TABLE orders (
  order_id STRING,
  user_id STRING,
  ms BIGINT,
  ts AS TO_TIMESTAMP_LTZ(ms, 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'orders', 'format' = 'json');
CREATE TABLE levels (
  user_id STRING,
  level INT,
  at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  WATERMARK FOR at AS at,
  PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'levels', 'key.format' = 'raw', 'value.format' = 'json');
CREATE TABLE users (
  user_id STRING,
  name STRING,
  level INT,
  PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'users', 'key.format' = 'raw', 'value.format' = 'json');
`

// goldenOrders are orders' records: order id, user, and milliseconds after clickBase.
var goldenOrders = []struct {
	id, user string
	ms       int64
}{{"o1", "u0", 3500}, {"o2", "u1", 4500}, {"o4", "u0", 9200}, {"o3", "u2", 20000}}

// goldenLevels are levels' records: a user's level from a time (ms after clickBase).
var goldenLevels = []struct {
	user  string
	level int
	ms    int64
}{{"u0", 1, 0}, {"u1", 7, 2000}, {"u0", 2, 5000}}

// goldenUsers are users' records, in order: a nil value is a tombstone.
var goldenUsers = []struct{ key, value string }{
	{"u0", `{"name": "alice", "level": 1}`},
	{"u1", `{"name": "bob", "level": 1}`},
	{"u0", `{"name": "alice", "level": 2}`},
	{"u2", `{"name": "carol", "level": 1}`},
	{"u1", ""},
	{"u0", `{"name": "alice", "level": 3}`},
	{"u3", `{"name": "dave", "level": 2}`},
}

// TestChangelogs runs each query of testdata/changelogs.txt over the fixed input, to the
// end of it, and compares the exact changes it gives, in order (every topic has one
// partition, so the order is the input's). A case's statements before its query (SET …)
// run first in the same session. go test -run TestChangelogs -update rewrites the file.
func TestChangelogs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, client := startClicks(t, ctx, map[string]int32{"clicks": 1, "users": 1, "orders": 1, "levels": 1}, func(int) int32 { return 0 })
	for _, l := range goldenLevels {
		rec := &kgo.Record{Topic: "levels", Key: []byte(l.user), Value: fmt.Appendf(nil, `{"level": %d}`, l.level),
			Timestamp: clickBase.Add(time.Duration(l.ms) * time.Millisecond)}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range goldenOrders {
		v := fmt.Sprintf(`{"order_id": %q, "user_id": %q, "ms": %d}`, o.id, o.user, clickBase.UnixMilli()+o.ms)
		if err := client.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range goldenUsers {
		rec := &kgo.Record{Topic: "users", Key: []byte(u.key)}
		if u.value != "" {
			rec.Value = []byte(u.value)
		}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const file = "testdata/changelogs.txt"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cases := parseGolden(t, string(data))
	var out strings.Builder
	out.WriteString(strings.SplitN(string(data), "\n===", 2)[0])
	for i, c := range cases {
		got := runGolden(t, ctx, cl, i, c.sql)
		switch {
		case strings.HasSuffix(c.name, "(in any order)"):
			slices.Sort(got) // rows of several keys or inputs: the order is not the point
		case strings.HasSuffix(c.name, "(final rows)"):
			got = finalRows(got) // the changes depend on which input's records come first
		}
		fmt.Fprintf(&out, "\n=== %s\n%s\n----\n%s\n", c.name, c.sql, strings.Join(got, "\n"))
		if !*update && strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n%s\ngave\n%s\nwant\n%s", c.name, c.sql, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type goldenCase struct {
	name, sql string
	want      []string
}

func parseGolden(t *testing.T, text string) []goldenCase {
	var cases []goldenCase
	for _, block := range strings.Split(text, "\n=== ")[1:] {
		name, rest, _ := strings.Cut(block, "\n")
		sql, want, ok := strings.Cut(rest, "\n----\n")
		if !ok {
			t.Fatalf("case %s: no ---- line", name)
		}
		c := goldenCase{name: name, sql: strings.TrimSpace(sql)}
		if want = strings.TrimSpace(want); want != "" {
			c.want = strings.Split(want, "\n")
		}
		cases = append(cases, c)
	}
	return cases
}

// runGolden runs a case's statements in a new session and its query, bounded, and returns
// the changes.
func runGolden(t *testing.T, ctx context.Context, cl *embedded.Cluster, n int, sql string) []string {
	t.Helper()
	res := execAll(t, goldenDDL+sql)
	if res.Job == nil || res.Job.Columns == nil {
		t.Fatalf("%s: the last statement is not a query", sql)
	}
	var mu sync.Mutex
	var got []string
	res.Job.OnResult(func(c Change) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, c.String())
	})
	// A task waits for each of its partitions to have records (up to 5 s) before it goes
	// on, so joins of several topics meet their records in timestamp order.
	app, err := eddy.New(res.Job.Topology, eddy.ApplicationID(fmt.Sprintf("golden-%d", n)), eddy.Brokers(cl.Brokers()...),
		eddy.StateDir(t.TempDir()), eddy.Bounded(), eddy.MaxTaskIdle(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Run(ctx); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	mu.Lock()
	defer mu.Unlock()
	return got
}

// TestTopologies compiles each statement of testdata/topologies.txt (after goldenDDL) and
// compares the topology's Describe(), as EXPLAIN prints it. -update rewrites the file.
func TestTopologies(t *testing.T) {
	const file = "testdata/topologies.txt"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString(strings.SplitN(string(data), "\n===", 2)[0])
	for _, c := range parseGolden(t, string(data)) {
		res := execAll(t, goldenDDL+"EXPLAIN "+c.sql)
		got := strings.TrimRight(res.Message, "\n")
		fmt.Fprintf(&out, "\n=== %s\n%s\n----\n%s\n", c.name, c.sql, got)
		if !*update && got != strings.Join(c.want, "\n") {
			t.Errorf("%s:\n%s\ngave\n%s\nwant\n%s", c.name, c.sql, got, strings.Join(c.want, "\n"))
		}
	}
	if *update {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// finalRows applies changes (+I[…] lines) to an empty result: +I and +U add their row, -U
// and -D take one away. It returns the rows left, sorted, without kinds.
func finalRows(changes []string) []string {
	var rows []string
	for _, c := range changes {
		kind, row := c[:2], c[2:]
		switch kind {
		case "+I", "+U":
			rows = append(rows, row)
		default:
			if i := slices.Index(rows, row); i >= 0 {
				rows = slices.Delete(rows, i, i+1)
			} else {
				rows = append(rows, "retracted but never there: "+row)
			}
		}
	}
	slices.Sort(rows)
	return rows
}
