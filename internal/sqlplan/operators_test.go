package sqlplan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/serde"
)

// A regular FULL join's exact changes, its records sent one by one through the
// deterministic test driver: a row alone gives itself with NULLs; the first partner takes
// that back; an update of the upsert side retracts its pairs and makes new ones; the
// last partner leaving gives the row alone again.
func TestRegularOuterJoinChanges(t *testing.T) {
	res := execAll(t, `
	  CREATE TABLE a (k STRING, x INT) WITH ('connector' = 'kafka', 'topic' = 'a', 'format' = 'json');
	  CREATE TABLE b (k STRING, y INT, PRIMARY KEY (k) NOT ENFORCED)
	    WITH ('connector' = 'upsert-kafka', 'topic' = 'b', 'key.format' = 'raw', 'value.format' = 'json');
	  SELECT a.k, a.x, b.k, b.y FROM a FULL JOIN b ON a.k = b.k AND b.y > 0`)
	var got []string
	res.Job.OnResult(func(c Change) { got = append(got, c.String()) }) // the driver runs on the test's goroutine
	d := eddytest.New(t, res.Job.Topology)
	in := eddytest.Input(d, "a", serde.Bytes(), serde.Bytes())
	up := eddytest.Input(d, "b", serde.Bytes(), serde.Bytes())
	steps := []struct {
		send func() error
		want []string
	}{
		{func() error { return in.Send(nil, []byte(`{"k": "k1", "x": 1}`)) }, []string{"+I[k1, 1, <NULL>, <NULL>]"}},
		{func() error { return up.Send([]byte("k1"), []byte(`{"y": 0}`)) }, []string{"+I[<NULL>, <NULL>, k1, 0]"}},
		{func() error { return up.Send([]byte("k1"), []byte(`{"y": 5}`)) }, []string{
			"-D[<NULL>, <NULL>, k1, 0]", "-D[k1, 1, <NULL>, <NULL>]", "+I[k1, 1, k1, 5]"}},
		{func() error { return in.Send(nil, []byte(`{"k": "k1", "x": 2}`)) }, []string{"+I[k1, 2, k1, 5]"}},
		{func() error { return up.Delete([]byte("k1")) }, []string{
			"-D[k1, 1, k1, 5]", "-D[k1, 2, k1, 5]", "+I[k1, 1, <NULL>, <NULL>]", "+I[k1, 2, <NULL>, <NULL>]"}},
		{func() error { return in.Send(nil, []byte(`{"k": "k2", "x": 3}`)) }, []string{"+I[k2, 3, <NULL>, <NULL>]"}},
		{func() error { return in.Send(nil, []byte(`{"x": 4}`)) }, []string{"+I[<NULL>, 4, <NULL>, <NULL>]"}}, // a NULL key: alone
	}
	for i, st := range steps {
		got = got[:0]
		if err := st.send(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(st.want, "\n") {
			t.Errorf("step %d:\n%s\nwant\n%s", i+1, strings.Join(got, "\n"), strings.Join(st.want, "\n"))
		}
	}
	if !res.Job.Updating {
		t.Error("an outer join's result updates")
	}
}

// CUMULATE's windows close as the watermark passes each one's last millisecond, each row
// once, in a streaming run through the test driver; a row for closed windows is late.
func TestCumulateClosesWithTheWatermark(t *testing.T) {
	res := execAll(t, `
	  CREATE TABLE c (k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 'c', 'format' = 'json');
	  SELECT window_start, window_end, COUNT(*) FROM TABLE(CUMULATE(TABLE c, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '3' SECOND))
	    GROUP BY window_start, window_end`)
	var got []string
	res.Job.OnResult(func(c Change) { got = append(got, c.String()) })
	d := eddytest.New(t, res.Job.Topology)
	in := eddytest.Input(d, "c", serde.Bytes(), serde.Bytes())
	at := func(ms int) string {
		return fmt.Sprintf(`{"k": "a", "ts": %q}`, clickBase.Add(time.Duration(ms)*time.Millisecond).Format(tsLayout))
	}
	w := func(from, to, n int) string {
		return fmt.Sprintf("+I[%s, %s, %d]", clickBase.Add(time.Duration(from)*time.Second).Format(tsLayout), clickBase.Add(time.Duration(to)*time.Second).Format(tsLayout), n)
	}
	for _, step := range []struct {
		ms   int
		want []string
	}{
		{500, nil},
		{1200, []string{w(0, 1, 1)}},
		{1500, nil},
		{3000, []string{w(0, 2, 3), w(0, 3, 3)}},
		{700, nil}, // late: its windows have closed
		{4500, []string{w(3, 4, 1)}},
	} {
		got = got[:0]
		if err := in.Send(nil, []byte(at(step.ms))); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(step.want, "\n") {
			t.Errorf("after a row at %d ms:\n%s\nwant\n%s", step.ms, strings.Join(got, "\n"), strings.Join(step.want, "\n"))
		}
	}
}

// A tumbling window aggregation restarted from its committed state neither re-opens a
// window it closed nor loses the rows of one still open.
func TestWindowsAcrossARestart(t *testing.T) {
	res := execAll(t, `
	  CREATE TABLE c (k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 'c', 'format' = 'json');
	  SELECT window_start, COUNT(*), COUNT(DISTINCT k) FROM TABLE(TUMBLE(TABLE c, DESCRIPTOR(ts), INTERVAL '1' SECOND))
	    GROUP BY window_start, window_end`)
	var got []string
	res.Job.OnResult(func(c Change) { got = append(got, c.String()) })
	row := func(k string, ms int) []byte {
		return fmt.Appendf(nil, `{"k": %q, "ts": %q}`, k, clickBase.Add(time.Duration(ms)*time.Millisecond).Format(tsLayout))
	}
	w := func(from, n, keys int) string {
		return fmt.Sprintf("+I[%s, %d, %d]", clickBase.Add(time.Duration(from)*time.Second).Format(tsLayout), n, keys)
	}
	send := func(d *eddytest.Driver, k string, ms int, want ...string) {
		t.Helper()
		got = got[:0]
		if err := eddytest.Input(d, "c", serde.Bytes(), serde.Bytes()).Send(nil, row(k, ms)); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("after a row at %d ms: %q, want %q", ms, got, want)
		}
	}
	d := eddytest.New(t, res.Job.Topology)
	send(d, "a", 200)
	send(d, "b", 700)
	send(d, "a", 1200, w(0, 2, 2))
	send(d, "a", 1300)
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	snap := d.Snapshot()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = eddytest.New(t, res.Job.Topology, eddytest.FromSnapshot(snap))
	send(d, "c", 800) // late: its window closed before the restart
	send(d, "b", 1500)
	send(d, "b", 2100, w(1, 3, 2))
}

// A window aggregation by a raw-keyed table's key runs in the key's tasks, computing the
// group keys, WHERE and the arguments itself (no SQL-GROUP node, no repartition).
func TestWindowAggregationInTheKeysTasks(t *testing.T) {
	res := execAll(t, `
	  CREATE TABLE c (k STRING, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
	    WITH ('connector' = 'kafka', 'topic' = 'c', 'key.format' = 'raw', 'key.fields' = 'k', 'value.format' = 'json');
	  SELECT k, window_start, COUNT(*), SUM(v), COUNT(DISTINCT v) FROM TABLE(TUMBLE(TABLE c, DESCRIPTOR(ts), INTERVAL '1' SECOND))
	    WHERE v > 0 GROUP BY k, window_start, window_end`)
	desc, err := res.Job.Topology.Describe()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(desc, "SQL-GROUP") || strings.Contains(desc, "repartition") || !strings.Contains(desc, "SQL-WINDOW-AGG") {
		t.Fatalf("the aggregation does not run in the key's tasks:\n%s", desc)
	}
	var got []string
	res.Job.OnResult(func(c Change) { got = append(got, c.String()) })
	d := eddytest.New(t, res.Job.Topology, eddytest.DefaultPartitions(2))
	in := eddytest.Input(d, "c", serde.String(), serde.Bytes())
	for _, r := range []struct {
		k     string
		v, ms int
	}{{"a", 1, 100}, {"b", 5, 200}, {"a", 1, 300}, {"a", 2, 400}, {"a", 0, 500}, {"b", 5, 900}, {"a", 3, 1100}, {"b", 1, 2500}} {
		if err := in.Send(r.k, fmt.Appendf(nil, `{"v": %d, "ts": %q}`, r.v, clickBase.Add(time.Duration(r.ms)*time.Millisecond).Format(tsLayout))); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	at := func(s int) string { return clickBase.Add(time.Duration(s) * time.Second).Format(tsLayout) }
	want := []string{"+I[a, " + at(0) + ", 3, 4, 2]", "+I[a, " + at(1) + ", 1, 3, 1]", "+I[b, " + at(0) + ", 2, 10, 1]"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// 'sink.partitioner': 'fixed' keeps each task's rows on one partition (task p's on p mod
// n), 'round-robin' spreads one key's rows over every partition, 'default' places by key.
func TestSinkPartitioners(t *testing.T) {
	for _, c := range []struct {
		partitioner string
		check       func(t *testing.T, from map[string]int32, to map[string]int32)
	}{
		{"fixed", func(t *testing.T, from, to map[string]int32) {
			for k, p := range from {
				if to[k] != p%2 {
					t.Errorf("fixed: row %s from partition %d went to %d", k, p, to[k])
				}
			}
		}},
		{"round-robin", func(t *testing.T, _, to map[string]int32) {
			n := map[int32]int{}
			for _, p := range to {
				n[p]++
			}
			if n[0] != 3 || n[1] != 3 {
				t.Errorf("round-robin: rows per partition %v, want 3 and 3", n)
			}
		}},
		{"default", func(t *testing.T, _, to map[string]int32) {
			first := int32(-1)
			for _, p := range to {
				if first >= 0 && p != first {
					t.Errorf("default: one key's rows on partitions %v", to)
				}
				first = p
			}
		}},
	} {
		t.Run(c.partitioner, func(t *testing.T) {
			res := execAll(t, `
			  CREATE TABLE a (k STRING, n INT) WITH ('connector' = 'kafka', 'topic' = 'a', 'format' = 'json');
			  CREATE TABLE b (k STRING, n INT) WITH ('connector' = 'kafka', 'topic' = 'b', 'key.format' = 'raw', 'key.fields' = 'k',
			    'value.format' = 'json', 'sink.partitioner' = '`+c.partitioner+`');
			  INSERT INTO b SELECT k, n FROM a`)
			d := eddytest.New(t, res.Job.Topology, eddytest.Partitions("a", 3), eddytest.Partitions("b", 2))
			in := eddytest.Input(d, "a", serde.Bytes(), serde.Bytes())
			from := map[string]int32{}
			for i := range 6 {
				from[fmt.Sprint(i)] = int32(i % 3)
				if err := in.Send(nil, fmt.Appendf(nil, `{"k": "same", "n": %d}`, i), eddytest.ToPartition(int32(i%3))); err != nil {
					t.Fatal(err)
				}
			}
			to := map[string]int32{}
			for _, r := range eddytest.Output(d, "b", serde.Bytes(), serde.Bytes()).ReadAll() {
				var row struct{ N int }
				if err := json.Unmarshal(r.Value, &row); err != nil {
					t.Fatal(err)
				}
				to[fmt.Sprint(row.N)] = r.Partition
			}
			if len(to) != 6 {
				t.Fatalf("%d rows out, want 6", len(to))
			}
			c.check(t, from, to)
		})
	}
}

// execAll runs the statements in a new session and returns the last one's result.
func execAll(t *testing.T, statements string) *Result {
	t.Helper()
	sts, err := sqlparse.Parse(statements)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession()
	var res *Result
	for _, st := range sts {
		if res, err = s.Exec(st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	return res
}

// A temporal LEFT JOIN gives a left row whose key is NULL, or that meets no version, with
// NULLs; the table's columns are nullable in its result.
func TestTemporalLeftJoinNulls(t *testing.T) {
	res := execAll(t, `
	  CREATE TABLE o (id STRING, k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 'o', 'format' = 'json');
	  CREATE TABLE r (k STRING, rate INT, at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', WATERMARK FOR at AS at, PRIMARY KEY (k) NOT ENFORCED)
	    WITH ('connector' = 'upsert-kafka', 'topic' = 'r', 'key.format' = 'raw', 'value.format' = 'json');
	  SELECT o.id, r.k, r.rate FROM o LEFT JOIN r FOR SYSTEM_TIME AS OF o.ts ON o.k = r.k`)
	if res.Job.Types[1].NotNull {
		t.Error("r.k is NOT NULL in a left join's result")
	}
	var got []string
	res.Job.OnResult(func(c Change) { got = append(got, c.String()) })
	d := eddytest.New(t, res.Job.Topology)
	rates := eddytest.Input(d, "r", serde.Bytes(), serde.Bytes())
	orders := eddytest.Input(d, "o", serde.Bytes(), serde.Bytes())
	if err := rates.Send([]byte("eur"), []byte(`{"rate": 7}`), eddytest.At(clickBase)); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{`{"id": "o1", "k": "eur"}`, `{"id": "o2"}`, `{"id": "o3", "k": "usd"}`} {
		if err := orders.Send(nil, []byte(strings.TrimSuffix(v, "}")+fmt.Sprintf(`, "ts": %q}`, clickBase.Add(time.Second).Format(tsLayout)))); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"+I[o1, eur, 7]", "+I[o2, <NULL>, <NULL>]", "+I[o3, <NULL>, <NULL>]"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("left temporal join:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
