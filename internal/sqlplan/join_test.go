package sqlplan

import (
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/eddytest"
	"github.com/eddy-streams/eddy/internal/sqlparse"
	"github.com/eddy-streams/eddy/serde"
)

// A regular FULL join's exact changes, its records sent one by one through the
// deterministic test driver: a row alone gives itself with NULLs; the first partner takes
// that back; an update of the upsert side retracts its pairs and makes new ones; the
// last partner leaving gives the row alone again.
func TestRegularOuterJoinChanges(t *testing.T) {
	sts, err := sqlparse.Parse(`
	  CREATE TABLE a (k STRING, x INT) WITH ('connector' = 'kafka', 'topic' = 'a', 'format' = 'json');
	  CREATE TABLE b (k STRING, y INT, PRIMARY KEY (k) NOT ENFORCED)
	    WITH ('connector' = 'upsert-kafka', 'topic' = 'b', 'key.format' = 'raw', 'value.format' = 'json');
	  SELECT a.k, a.x, b.k, b.y FROM a FULL JOIN b ON a.k = b.k AND b.y > 0`)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSession()
	var res *Result
	for _, st := range sts {
		if res, err = s.Exec(st); err != nil {
			t.Fatal(err)
		}
	}
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
