// Package metrics keeps an application instance's counters: created once per label set,
// counted with atomic adds on the record path, read as a snapshot (which the root
// package's Prometheus collector exposes).
package metrics

import (
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
	key := b.String()
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

// Snapshot returns every counter, sorted by name and labels.
func (r *Registry) Snapshot() []Sample {
	r.mu.Lock()
	out := make([]Sample, 0, len(r.counters))
	for _, e := range r.counters {
		out = append(out, Sample{Name: e.name, Help: r.help[e.name], Labels: e.labels, Value: e.v.Load()})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Sample) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(labelString(a.Labels), labelString(b.Labels))
	})
	return out
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
