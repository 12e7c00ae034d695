package bench

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
		ok   bool
	}{
		{"empty", nil, 50, 0, false},
		{"one", ms(7), 99, 7 * time.Millisecond, true},
		{"median of ten", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 50, 5 * time.Millisecond, true},
		{"p99 of ten is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond, true},
		{"p99 of a hundred", ms(hundred...), 99, 99 * time.Millisecond, true},
		{"p100", ms(3, 1, 2), 100, 3 * time.Millisecond, true},
		{"p out of range", ms(1), 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Percentile(tc.in, tc.p)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Percentile(%v, %v) = %v, %v; want %v, %v", tc.in, tc.p, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestExpectedKeptMatchesKeep(t *testing.T) {
	for _, n := range []int{0, 1, 9, 10, 11, 99, 100, 1001, 12345} {
		kept := 0
		for i := range n {
			if Keep(AppendValue(nil, i, 20)) {
				kept++
			}
		}
		if got := ExpectedKept(n); got != kept {
			t.Errorf("ExpectedKept(%d) = %d; filtering the values keeps %d", n, got, kept)
		}
	}
}

func TestRecords(t *testing.T) {
	if got := string(AppendKey(nil, 10_012, 10_000)); got != "key-12" {
		t.Errorf("key = %q", got)
	}
	v := AppendValue(nil, 42, 16)
	if string(v) != "0000000042abcdef" {
		t.Errorf("value = %q", v)
	}
	if got := string(Upper(v)); got != "0000000042ABCDEF" {
		t.Errorf("Upper = %q", got)
	}
	if len(AppendValue(nil, 1, 1000)) != 1000 {
		t.Error("value size")
	}
	base := time.UnixMilli(1_000_000)
	if got := EventTime(base, 250, 1000); !got.Equal(base.Add(250 * time.Millisecond)) {
		t.Errorf("EventTime = %v", got)
	}
	if DistinctKeys(5, 10) != 5 || DistinctKeys(50, 10) != 10 {
		t.Error("DistinctKeys")
	}
}

func TestParseList(t *testing.T) {
	ps, err := ParsePipelines("count, raw,windowed-join")
	if err != nil || len(ps) != 3 || ps[0] != Count || ps[1] != Raw || ps[2] != WindowedJoin {
		t.Errorf("ParsePipelines = %v, %v", ps, err)
	}
	if all, _ := ParseEngines("all"); len(all) != len(AllEngines) {
		t.Errorf("all engines = %v", all)
	}
	if _, err := ParseGuarantees("alos,maybe"); err == nil {
		t.Error("an unknown guarantee parsed")
	}
}

func withCheck(r Result, out int64, check string) Result {
	r.OutRecords, r.Check = out, check
	return r
}

func TestRenderGolden(t *testing.T) {
	res := func(p Pipeline, e Engine, g Guarantee, elapsed time.Duration, rssMiB int64) Result {
		return Result{Pipeline: p, Engine: e, Guarantee: g, Keys: 10_000, ValueSize: 100, Records: 1_000_000,
			InBytes: 108_890_000, Elapsed: elapsed, Startup: 500 * time.Millisecond, RSSKiB: rssMiB << 10,
			CPU: 4 * time.Second, OutRecords: 900_000, Check: "ok",
			P50: 7500 * time.Microsecond, P99: 42 * time.Millisecond, Samples: 50_000}
	}
	rep := &Report{
		Title:   "eddy load harness",
		Context: []string{"machine: test", "command: `go run ./cmd/eddy-bench`"},
		Results: []Result{
			res(Raw, FranzGo, ALOS, 2*time.Second, 70),
			res(Stateless, Eddy, ALOS, 4*time.Second, 90),
			res(Stateless, KStreams, ALOS, 8*time.Second, 360),
			{Pipeline: Count, Engine: Eddy, Guarantee: EOS, Err: errors.New("child exited early | badly")},
			res(Join, Eddy, ALOS, 5*time.Second, 120),
			res(Join, KStreams, ALOS, 20*time.Second, 480),
			withCheck(res(WindowedJoin, Eddy, EOS, 5*time.Second, 150), 500_000, "ok"),
			withCheck(res(WindowedJoin, KStreams, EOS, 25*time.Second, 600), 499_000, "want 500000 results"),
		},
		Sweep: []Result{
			res(Count, Eddy, ALOS, 4*time.Second, 100),
			{Pipeline: Count, Engine: Eddy, Guarantee: ALOS, Keys: 1_000_000, ValueSize: 100, Records: 1_000_000,
				InBytes: 110_000_000, Elapsed: 8 * time.Second, RSSKiB: 300 << 10, CPU: 9 * time.Second, OutRecords: -1},
		},
		Notes: []string{"a note"},
	}
	var b bytes.Buffer
	if err := rep.Render(&b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.md")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 writes it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("report differs from %s:\n%s", golden, got)
	}
	// The ratios are eddy's against the row of the same pipeline and guarantee.
	if !strings.Contains(b.String(), "| 2.00× | 0.25× | 0.50× |") {
		t.Errorf("eddy/KS and eddy/raw ratios missing:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "| join | alos | eddy | 200.0k |") || !strings.Contains(b.String(), "| 4.00× | 0.25× | 0.40× |") {
		t.Errorf("the join row or its ratios are missing:\n%s", b.String())
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := &lineWriter{line: func(s string) { lines = append(lines, s) }}
	for _, chunk := range []string{"star", "ted 12\nnext\n", "partial"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(lines, "|") != "started 12|next" {
		t.Errorf("lines = %q", lines)
	}
}

func TestWindowEnd(t *testing.T) {
	be := func(v int64) []byte {
		b := make([]byte, 8)
		for i := range 8 {
			b[7-i] = byte(v >> (8 * i))
		}
		return b
	}
	eddyKey := append(append([]byte("key-1"), be(5000)...), be(6000)...)
	ksKey := append([]byte("key-1"), be(5000)...)
	if end, ok := windowEnd(Eddy, eddyKey); !ok || end.UnixMilli() != 6000 {
		t.Errorf("eddy window end = %v, %v", end, ok)
	}
	if end, ok := windowEnd(KStreams, ksKey); !ok || end.UnixMilli() != 6000 {
		t.Errorf("Kafka Streams window end = %v, %v", end, ok)
	}
	if _, ok := windowEnd(Eddy, []byte("short")); ok {
		t.Error("a short key decoded")
	}
}

// The count-avro pipeline's values are Avro records that decode to their sequence number
// and the plain value, and it runs on eddy alone.
func TestAvroValues(t *testing.T) {
	s, err := AvroValues()
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Decode(AppendAvroValue(nil, 42, 16))
	if err != nil || v.Seq != 42 || v.Text != string(AppendValue(nil, 42, 16)) {
		t.Fatalf("decoded %+v, %v", v, err)
	}
	if Runs(KStreams, CountAvro) || Runs(FranzGo, CountAvro) || !Runs(Eddy, CountAvro) {
		t.Fatal("count-avro runs on eddy only")
	}
}
