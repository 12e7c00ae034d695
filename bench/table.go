package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Result is one pipeline run by one engine under one guarantee.
type Result struct {
	Pipeline  Pipeline
	Engine    Engine
	Guarantee Guarantee
	Keys      int // key cardinality of the input
	ValueSize int // value bytes of the input

	Records int   // input records processed
	InBytes int64 // their keys and values
	// Elapsed runs from the child's first fetched record (it prints "started <ns>") to
	// the moment the harness saw the run complete (see Notes in the report).
	Elapsed time.Duration
	// Startup runs from the child's exec to its first fetched record.
	Startup time.Duration
	// RSSKiB is the child's peak resident set (VmHWM just before it is stopped).
	RSSKiB int64
	// CPU is the child's user plus system time over its whole life.
	CPU time.Duration
	// OutRecords is how many records the output held, or −1 when not read back.
	OutRecords int64
	// Check is the output check's verdict ("ok", or what was wrong; empty when not checked).
	Check string

	// P50 and P99 are end-to-end latencies from the live phase; Samples how many there
	// were (0: no live phase or no output).
	P50, P99 time.Duration
	Samples  int

	// Err says why the run failed.
	Err error
}

// RecPerSec is the throughput in input records per second (0 if not measured).
func (r Result) RecPerSec() float64 {
	if r.Elapsed <= 0 || r.Err != nil {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// MBPerSec is the throughput in input megabytes (10^6 bytes of keys and values) per
// second.
func (r Result) MBPerSec() float64 {
	if r.Elapsed <= 0 || r.Err != nil {
		return 0
	}
	return float64(r.InBytes) / 1e6 / r.Elapsed.Seconds()
}

// CPUPerRecord is the child's CPU time per input record.
func (r Result) CPUPerRecord() time.Duration {
	if r.Records == 0 || r.CPU == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Records)
}

// Report is a whole comparison: its context, the results and what they mean.
type Report struct {
	Title   string
	Context []string // "name: value" lines: machine, versions, settings, command
	Results []Result // the main table
	Sweep   []Result // the growth table; empty when not swept
	Notes   []string
}

// Render writes the report as markdown.
func (rep *Report) Render(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", rep.Title)
	for _, c := range rep.Context {
		fmt.Fprintf(&b, "- %s\n", c)
	}
	if len(rep.Results) > 0 {
		b.WriteString("\n## Pipelines\n\n")
		renderMain(&b, rep.Results)
	}
	if len(rep.Sweep) > 0 {
		b.WriteString("\n## Growth with key cardinality and value size\n\n")
		renderSweep(&b, rep.Sweep)
	}
	if len(rep.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderMain(b *strings.Builder, rs []Result) {
	b.WriteString("| pipeline | guarantee | engine | rec/s | MB/s | p50 | p99 | peak RSS | CPU/rec | startup | output | eddy/KS rec/s | eddy/KS RSS | eddy/raw rec/s |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|\n")
	for _, r := range rs {
		if r.Err != nil {
			fmt.Fprintf(b, "| %s | %s | %s | %s |  |  |  |  |  |  |  |  |  |  |\n", r.Pipeline, r.Guarantee, r.Engine, whyNot(r))
			continue
		}
		ksRate, ksRSS, rawRate := "", "", ""
		if r.Engine == Eddy {
			if ks, ok := find(rs, r.Pipeline, KStreams, r.Guarantee, r.Keys, r.ValueSize); ok {
				ksRate = ratio(r.RecPerSec(), ks.RecPerSec())
				ksRSS = ratio(float64(r.RSSKiB), float64(ks.RSSKiB))
			}
			if raw, ok := find(rs, Raw, FranzGo, r.Guarantee, r.Keys, r.ValueSize); ok {
				rawRate = ratio(r.RecPerSec(), raw.RecPerSec())
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Pipeline, r.Guarantee, r.Engine, rate(r.RecPerSec()), r.MBPerSec(), latency(r.P50, r.Samples), latency(r.P99, r.Samples),
			mib(r.RSSKiB), micros(r.CPUPerRecord()), secs(r.Startup), output(r), ksRate, ksRSS, rawRate)
	}
}

func renderSweep(b *strings.Builder, rs []Result) {
	b.WriteString("| keys | value | pipeline | guarantee | engine | rec/s | MB/s | peak RSS | CPU/rec | rec/s vs smallest input | eddy/KS rec/s |\n")
	b.WriteString("|--:|--:|---|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rs {
		if r.Err != nil {
			fmt.Fprintf(b, "| %s | %d B | %s | %s | %s | %s |  |  |  |  |  |\n", count(r.Keys), r.ValueSize, r.Pipeline, r.Guarantee, r.Engine, whyNot(r))
			continue
		}
		base := ""
		if b0, ok := baseline(rs, r); ok {
			base = ratio(r.RecPerSec(), b0.RecPerSec())
		}
		ks := ""
		if r.Engine == Eddy {
			if k, ok := find(rs, r.Pipeline, KStreams, r.Guarantee, r.Keys, r.ValueSize); ok {
				ks = ratio(r.RecPerSec(), k.RecPerSec())
			}
		}
		fmt.Fprintf(b, "| %s | %d B | %s | %s | %s | %s | %.1f | %s | %s | %s | %s |\n", count(r.Keys), r.ValueSize, r.Pipeline,
			r.Guarantee, r.Engine, rate(r.RecPerSec()), r.MBPerSec(), mib(r.RSSKiB), micros(r.CPUPerRecord()), base, ks)
	}
}

// baseline is the sweep's first point (the smallest key count with the smallest value)
// run by the same engine, pipeline and guarantee.
func baseline(rs []Result, r Result) (Result, bool) {
	var best Result
	found := false
	for _, x := range rs {
		if x.Engine != r.Engine || x.Pipeline != r.Pipeline || x.Guarantee != r.Guarantee || x.RecPerSec() == 0 {
			continue
		}
		if !found || x.Keys < best.Keys || (x.Keys == best.Keys && x.ValueSize < best.ValueSize) {
			best, found = x, true
		}
	}
	return best, found
}

func find(rs []Result, p Pipeline, e Engine, g Guarantee, keys, size int) (Result, bool) {
	for _, r := range rs {
		if r.Pipeline == p && r.Engine == e && r.Guarantee == g && r.Keys == keys && r.ValueSize == size && r.RecPerSec() > 0 {
			return r, true
		}
	}
	return Result{}, false
}

func whyNot(r Result) string {
	msg := strings.ReplaceAll(r.Err.Error(), "|", "/")
	msg = strings.ReplaceAll(msg, "\n", " ")
	return "FAILED: " + msg
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	default:
		return fmt.Sprint(n)
	}
}

func latency(d time.Duration, samples int) string {
	if samples == 0 {
		return "–"
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func mib(kib int64) string {
	if kib <= 0 {
		return "–"
	}
	return fmt.Sprintf("%d MiB", (kib+512)/1024)
}

func micros(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f µs", float64(d)/float64(time.Microsecond))
}

func secs(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func output(r Result) string {
	if r.OutRecords < 0 {
		return "not read"
	}
	s := count(int(r.OutRecords))
	if r.OutRecords%1000 != 0 || r.OutRecords < 1000 {
		s = fmt.Sprint(r.OutRecords)
	}
	if r.Check != "" && r.Check != "ok" {
		s += ", " + strings.ReplaceAll(r.Check, "|", "/")
	} else if r.Check == "ok" {
		s += ", ok"
	}
	return s
}
