// Package metrics keeps an application instance's counters and histograms: created once
// per label set, counted with atomic adds on the record path, read as a snapshot (which
// the root package's Prometheus collector exposes).
package metrics

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds the counters of one application instance.
type Registry struct {
	mu       sync.Mutex
	help     map[string]string
	counters map[string]*entry
	// histograms are made at their first use.
	histograms map[string]*Histogram
}

type entry struct {
	name   string
	labels []Label
	v      atomic.Int64
}

// Label is one name=value pair of a counter.
type Label struct{ Name, Value string }

// Sample is a counter's value at a snapshot.
type Sample struct {
	Name   string
	Help   string
	Labels []Label
	Value  int64
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{help: map[string]string{}, counters: map[string]*entry{}}
}

// Counter returns the counter name{labels}, making it at the first call; labels are
// name, value pairs. Callers on the record path keep the returned pointer.
func (r *Registry) Counter(name, help string, labels ...string) *atomic.Int64 {
	key, ls := seriesKey(name, labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.counters[key]
	if !ok {
		e = &entry{name: name, labels: ls}
		r.counters[key] = e
		if help != "" {
			r.help[name] = help
		}
	}
	return &e.v
}

// seriesKey is the map key of name{labels} (name, value pairs), and the labels.
func seriesKey(name string, labels []string) (string, []Label) {
	var b strings.Builder
	b.WriteString(name)
	ls := make([]Label, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		ls = append(ls, Label{labels[i], labels[i+1]})
		b.WriteByte(0)
		b.WriteString(labels[i])
		b.WriteByte(0)
		b.WriteString(labels[i+1])
	}
	return b.String(), ls
}

// Snapshot returns every counter, sorted by name and labels.
func (r *Registry) Snapshot() []Sample {
	r.mu.Lock()
	out := make([]Sample, 0, len(r.counters))
	for _, e := range r.counters {
		out = append(out, Sample{Name: e.name, Help: r.help[e.name], Labels: e.labels, Value: e.v.Load()})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Sample) int { return compareSeries(a.Name, a.Labels, b.Name, b.Labels) })
	return out
}

// compareSeries orders series by name, then labels.
func compareSeries(an string, al []Label, bn string, bl []Label) int {
	if c := strings.Compare(an, bn); c != 0 {
		return c
	}
	return strings.Compare(labelString(al), labelString(bl))
}

func labelString(ls []Label) string {
	if len(ls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString("=")
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Histogram counts observations into fixed buckets with atomic adds: cheap enough for a
// sampled record path, shared by the goroutines that observe it.
type Histogram struct {
	name   string
	labels []Label
	bounds []float64      // upper bounds, ascending; a last +Inf bucket is implied
	counts []atomic.Int64 // len(bounds)+1, not cumulative
	sum    atomic.Uint64  // the float64 bits of the sum
}

// Observe counts v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Count returns how many observations h has counted.
func (h *Histogram) Count() int64 {
	var n int64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// HistogramSample is a histogram at a snapshot: Buckets[i] counts the observations at
// most Bounds[i], cumulatively, as Prometheus has them; Count counts all of them.
type HistogramSample struct {
	Name    string
	Help    string
	Labels  []Label
	Bounds  []float64
	Buckets []uint64
	Count   uint64
	Sum     float64
}

// Histogram returns the histogram name{labels} with the given bucket bounds (ascending),
// making it at the first call; a later call's bounds are ignored.
func (r *Registry) Histogram(name, help string, bounds []float64, labels ...string) *Histogram {
	key, ls := seriesKey(name, labels)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.histograms == nil {
		r.histograms = map[string]*Histogram{}
	}
	h, ok := r.histograms[key]
	if !ok {
		h = &Histogram{name: name, labels: ls, bounds: bounds, counts: make([]atomic.Int64, len(bounds)+1)}
		r.histograms[key] = h
		if help != "" {
			r.help[name] = help
		}
	}
	return h
}

// Histograms returns every histogram, sorted by name and labels.
func (r *Registry) Histograms() []HistogramSample {
	r.mu.Lock()
	out := make([]HistogramSample, 0, len(r.histograms))
	for _, h := range r.histograms {
		s := HistogramSample{Name: h.name, Help: r.help[h.name], Labels: h.labels, Bounds: h.bounds,
			Buckets: make([]uint64, len(h.bounds)), Sum: math.Float64frombits(h.sum.Load())}
		for i := range h.counts {
			s.Count += uint64(h.counts[i].Load())
			if i < len(h.bounds) {
				s.Buckets[i] = s.Count
			}
		}
		out = append(out, s)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b HistogramSample) int { return compareSeries(a.Name, a.Labels, b.Name, b.Labels) })
	return out
}

// LatencyBuckets are bounds in seconds for latencies from a millisecond to minutes.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// CountBuckets are bounds for counts of records, from one to a million.
var CountBuckets = []float64{1, 10, 100, 1000, 10_000, 100_000, 1_000_000}
