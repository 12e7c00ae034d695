package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// bruteForcePairs counts the windowed join's results by comparing every left record with
// every right record.
func bruteForcePairs(n, keys int, base time.Time, rate int, window time.Duration) int64 {
	var pairs int64
	for i := range n {
		leftI, ki := JoinStreamRecord(i, keys)
		for j := range n {
			leftJ, kj := JoinStreamRecord(j, keys)
			if !leftI || leftJ || ki != kj {
				continue
			}
			d := eventMillis(base, i, rate) - eventMillis(base, j, rate)
			if d <= window.Milliseconds() && -d <= window.Milliseconds() {
				pairs++
			}
		}
	}
	return pairs
}

func TestJoinPairsMatchesTheDefinition(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000).Add(123_456 * time.Nanosecond) // not on a millisecond
	for _, tc := range []struct {
		n, keys, rate int
		window        time.Duration
	}{
		{0, 3, 1000, 10 * time.Millisecond},
		{1, 3, 1000, 10 * time.Millisecond},       // a left record without a partner
		{2, 3, 1000, 0},                           // one pair, 1 ms apart: not within 0
		{2, 3, 500, 2 * time.Millisecond},         // one pair, 2 ms apart: on the window's edge
		{600, 7, 1000, 10 * time.Millisecond},     // a key every 14 ms: partners only
		{600, 7, 1000, 14 * time.Millisecond},     // and the neighbours on the window's edge
		{999, 3, 100_000, 100 * time.Millisecond}, // many records in one millisecond
		{500, 1, 1000, 3 * time.Millisecond},
		{401, 50, 7, time.Second},
	} {
		t.Run(fmt.Sprintf("n%d-k%d-r%d-w%s", tc.n, tc.keys, tc.rate, tc.window), func(t *testing.T) {
			got := JoinPairs(tc.n, tc.keys, base, tc.rate, tc.window)
			if want := bruteForcePairs(tc.n, tc.keys, base, tc.rate, tc.window); got != want {
				t.Errorf("JoinPairs = %d; comparing every pair gives %d", got, want)
			}
		})
	}
	// At the defaults each left record meets its partner only: the key's next records are
	// 200 ms away.
	if got := JoinPairs(200_000, 10_000, base, 100_000, 100*time.Millisecond); got != 100_000 {
		t.Errorf("at the defaults JoinPairs = %d, want one per left record (100000)", got)
	}
}

func TestJoinValues(t *testing.T) {
	v := AppendValue(nil, 7, 12)
	if got := string(Enrich(v, AppendTableValue(nil, 7), true)); got != "0000000007ab|profile-7" {
		t.Errorf("Enrich = %q", got)
	}
	if got := string(Enrich(v, []byte("ignored"), false)); got != "0000000007ab|" {
		t.Errorf("Enrich without a table value = %q", got)
	}
	if got := string(Pair(v, AppendValue(nil, 8, 12))); got != "0000000007ab|0000000008ab" {
		t.Errorf("Pair = %q", got)
	}
	for i, want := range []struct {
		left bool
		key  int
	}{{true, 0}, {false, 0}, {true, 1}, {false, 1}, {true, 2}, {false, 2}, {true, 0}} {
		if left, key := JoinStreamRecord(i, 3); left != want.left || key != want.key {
			t.Errorf("JoinStreamRecord(%d, 3) = %v, %d; want %v, %d", i, left, key, want.left, want.key)
		}
	}
}

// enriched is the join's output for input record i, with or without its table value.
func enriched(i, keys, size int, found bool) *kgo.Record {
	return &kgo.Record{Key: AppendKey(nil, i, keys), Value: Enrich(AppendValue(nil, i, size), AppendTableValue(nil, i%keys), found)}
}

func TestOutputCheckJoin(t *testing.T) {
	in := Input{Records: 20, Keys: 3, ValueSize: 16}
	all := func() []*kgo.Record {
		var rs []*kgo.Record
		for i := range in.Records {
			rs = append(rs, enriched(i, in.Keys, in.ValueSize, true))
		}
		return rs
	}
	for _, tc := range []struct {
		name string
		out  func() []*kgo.Record
		want string
	}{
		{"every record enriched once", all, "ok"},
		{"one missing", func() []*kgo.Record { return all()[1:] }, "want 20 records; 1 input records without an output"},
		{"one twice", func() []*kgo.Record { rs := all(); return append(rs[1:], rs[2]) }, "1 input records without an output; 1 input records joined twice"},
		{"one without its table value", func() []*kgo.Record {
			rs := all()
			rs[4] = enriched(4, in.Keys, in.ValueSize, false)
			return rs
		}, "1 records found no table value"},
		{"another key's table value", func() []*kgo.Record {
			rs := all()
			rs[5].Value = Enrich(AppendValue(nil, 5, in.ValueSize), AppendTableValue(nil, 1), true)
			return rs
		}, `1 input records without an output; 1 records wrong (first: record 5: key "key-2", value "0000000005abcdef|profile-1")`},
		{"a value no input has", func() []*kgo.Record {
			rs := all()
			rs[0].Value = Enrich(AppendValue(nil, 99, in.ValueSize), nil, false)
			return rs
		}, `1 input records without an output; 1 records wrong (first: value "0000000099abcdef|" is no input value)`},
		{"not joined at all", func() []*kgo.Record {
			rs := all()
			rs[3].Value = AppendValue(nil, 3, in.ValueSize)
			return rs
		}, "1 input records without an output; 1 records undecodable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newOutputCheck(Join, Eddy, in, 1000, 0)
			for _, r := range tc.out() {
				c.add(r)
			}
			if got := c.verdict(); got != tc.want {
				t.Errorf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOutputCheckWindowedJoin(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	// 40 records, 3 keys, 1 record a millisecond: a key's records are 6 ms apart, so a
	// window of 6 ms gives each left record its partner and the neighbours on either side.
	in := Input{Records: 40, Keys: 3, ValueSize: 12, Base: base}
	const rate, window = 1000, 6 * time.Millisecond
	in.Pairs = JoinPairs(in.Records, in.Keys, base, rate, window)
	// The results from the definition, as an engine writes them.
	var results []*kgo.Record
	for i := 0; i < in.Records; i += 2 {
		for j := 1; j < in.Records; j += 2 {
			_, ki := JoinStreamRecord(i, in.Keys)
			_, kj := JoinStreamRecord(j, in.Keys)
			if d := eventMillis(base, i, rate) - eventMillis(base, j, rate); ki == kj && d <= 6 && d >= -6 {
				results = append(results, &kgo.Record{Key: AppendKey(nil, ki, in.Keys),
					Value: Pair(AppendValue(nil, i, in.ValueSize), AppendValue(nil, j, in.ValueSize))})
			}
		}
	}
	if int64(len(results)) != in.Pairs || in.Pairs <= int64(in.Records/2) {
		t.Fatalf("%d results, JoinPairs %d: want more than one per left record", len(results), in.Pairs)
	}
	clone := func() []*kgo.Record {
		out := make([]*kgo.Record, len(results))
		for i, r := range results {
			c := *r
			out[i] = &c
		}
		return out
	}
	for _, tc := range []struct {
		name string
		out  func() []*kgo.Record
		want string
	}{
		{"every pair once", clone, "ok"},
		{"one pair missing", func() []*kgo.Record { return clone()[1:] }, fmt.Sprintf("want %d results", in.Pairs)},
		{"one pair twice", func() []*kgo.Record { rs := clone(); return append(rs[1:], rs[3]) }, "1 pairs joined twice"},
		{"too far apart", func() []*kgo.Record {
			rs := clone()
			// Records 0 and 13 are both key 0's (pairs 0 and 6), 13 ms apart.
			rs[0].Value = Pair(AppendValue(nil, 0, in.ValueSize), AppendValue(nil, 13, in.ValueSize))
			return rs
		}, "1 records wrong (first: records 0 and 13: key \"key-0\", -13 ms apart)"},
		{"sides swapped", func() []*kgo.Record {
			rs := clone()
			rs[0].Value = Pair(AppendValue(nil, 1, in.ValueSize), AppendValue(nil, 0, in.ValueSize))
			return rs
		}, "1 records wrong (first: records 1 and 0: key \"key-0\", 1 ms apart)"},
		{"another key", func() []*kgo.Record {
			rs := clone()
			rs[0].Key = []byte("key-2")
			return rs
		}, `1 records wrong (first: records 0 and 1: key "key-2", -1 ms apart)`},
		{"half a pair", func() []*kgo.Record {
			rs := clone()
			rs[0].Value = AppendValue(nil, 0, in.ValueSize)
			return rs
		}, "1 records undecodable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newOutputCheck(WindowedJoin, KStreams, in, rate, window)
			for _, r := range tc.out() {
				c.add(r)
			}
			if got := c.verdict(); got != tc.want {
				t.Errorf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}

// The eddy side of every pipeline builds, and the joins' topologies read their second
// topic and keep their stores.
func TestEddyTopologies(t *testing.T) {
	for _, p := range AllPipelines[1:] {
		t.Run(string(p), func(t *testing.T) {
			c := ChildConfig{Pipeline: p, Input: "in", Side: "side", Output: "out", JoinWindow: 100 * time.Millisecond}
			top, err := EddyTopology(c, func() {})
			if err != nil {
				t.Fatal(err)
			}
			d, err := top.Describe()
			if err != nil {
				t.Fatal(err)
			}
			wants := []string{"in", "out"}
			switch p {
			case Join:
				wants = append(wants, "side", "KSTREAM-LEFTJOIN", "profiles")
			case WindowedJoin:
				wants = append(wants, "side", "KSTREAM-JOINTHIS", "KSTREAM-JOINOTHER")
			}
			for _, w := range wants {
				if !strings.Contains(d, w) {
					t.Errorf("description lacks %q:\n%s", w, d)
				}
			}
		})
	}
	if _, err := EddyTopology(ChildConfig{Pipeline: Raw, Input: "in", Output: "out"}, func() {}); err == nil {
		t.Error("eddy built the raw pipe")
	}
}

func TestChildArgs(t *testing.T) {
	c := ChildConfig{Engine: Eddy, Pipeline: WindowedJoin, Guarantee: EOS, Brokers: []string{"b:1"}, Input: "l", Side: "r",
		Output: "o", JoinWindow: 250 * time.Millisecond, AppID: "app", Workers: 2, Commit: time.Second}
	argv := strings.Join(childArgs("self", c), " ")
	for _, w := range []string{"-pipeline windowed-join", "-side r", "-join-window 250ms", "-input l"} {
		if !strings.Contains(argv, w) {
			t.Errorf("child args %q lack %q", argv, w)
		}
	}
	cfg := DefaultConfig()
	ks := strings.Join(ksArgs(&cfg, c, 1), " ")
	for _, w := range []string{"--pipeline=windowed-join", "--side=r", "--join-window-ms=250"} {
		if !strings.Contains(ks, w) {
			t.Errorf("Kafka Streams args %q lack %q", ks, w)
		}
	}
	c.Side = ""
	if ks := strings.Join(ksArgs(&cfg, c, 1), " "); strings.Contains(ks, "--side") {
		t.Errorf("Kafka Streams args %q name a side the pipeline has not", ks)
	}
}

func TestValidateJoinWindow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Brokers = []string{"b:1"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, w := range []time.Duration{-time.Millisecond, 1500 * time.Microsecond} {
		cfg.JoinWindow = w
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "join window") {
			t.Errorf("join window %s: error %v, want one naming the join window", w, err)
		}
	}
}
