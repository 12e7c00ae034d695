package sprestore

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streams/eddy/internal/runtime"
	"github.com/eddy-streams/eddy/savepoint"
)

func listed(topic string, offsets ...int64) kadm.ListedOffsets {
	l := kadm.ListedOffsets{topic: {}}
	for p, o := range offsets {
		l[topic][int32(p)] = kadm.ListedOffset{Topic: topic, Partition: int32(p), Offset: o}
	}
	return l
}

func merge(ls ...kadm.ListedOffsets) kadm.ListedOffsets {
	out := kadm.ListedOffsets{}
	for _, l := range ls {
		for t, ps := range l {
			out[t] = ps
		}
	}
	return out
}

// The offsets a restore commits: an input's own per partition (a partition added since
// from its start, without a time), translated when asked; an internal topic's renamed
// for the new application id, at its end before the pending records, with the old
// partitions' least time when its count changed; inputs no longer read reported.
func TestOffsets(t *testing.T) {
	m := savepoint.Manifest{ApplicationID: "old",
		Offsets: []savepoint.Offset{
			{Topic: "in", Partition: 0, Offset: 10}, {Topic: "in", Partition: 1, Offset: 20},
			{Topic: "old-g-repartition", Partition: 0, Offset: 5}, {Topic: "old-g-repartition", Partition: 1, Offset: 6},
			{Topic: "gone", Partition: 0, Offset: 1},
		},
		Watermarks: []savepoint.Watermark{
			{Topic: "in", Partition: 0, Millis: 1000}, {Topic: "in", Partition: 1, Millis: 2000},
			{Topic: "old-g-repartition", Partition: 0, Millis: 900}, {Topic: "old-g-repartition", Partition: 1, Millis: 800},
		}}
	w := &writer{
		sp:  &savepoint.Savepoint{Manifest: m},
		o:   Options{AppID: "new"},
		rep: &Report{},
		l: &runtime.Layout{Sources: []runtime.LayoutSource{
			{Topic: "in", Partitions: 3},
			{Topic: "new-g-repartition", Internal: "g-repartition", Partitions: 3},
		}},
		starts: merge(listed("in", 0, 0, 3), listed("new-g-repartition", 0, 0, 0)),
		ends:   merge(listed("in", 50, 50, 50), listed("new-g-repartition", 7, 0, 0)),
	}
	offs, err := w.offsets()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]kadm.Offset{
		"in": {0: {At: 10, Metadata: runtime.TimeMeta(1000)}, 1: {At: 20, Metadata: runtime.TimeMeta(2000)}, 2: {At: 3}},
		"new-g-repartition": {0: {At: 7, Metadata: runtime.TimeMeta(800)}, 1: {At: 0, Metadata: runtime.TimeMeta(800)},
			2: {At: 0, Metadata: runtime.TimeMeta(800)}},
	}
	for topic, ps := range want {
		for p, o := range ps {
			got, ok := offs.Lookup(topic, p)
			if !ok || got.At != o.At || got.Metadata != o.Metadata {
				t.Errorf("%s/%d: %+v (%v), want at %d with %q", topic, p, got, ok, o.At, o.Metadata)
			}
		}
	}
	if len(w.rep.Dropped) != 1 || w.rep.Dropped[0] != "gone" {
		t.Errorf("dropped: %v, want [gone]", w.rep.Dropped)
	}

	w.o.InputOffsets = func(topic string, p int32, o int64) (int64, error) { return o + 100, nil }
	if _, err := w.offsets(); err == nil || !strings.Contains(err.Error(), "in/0 at offset 110") || !strings.Contains(err.Error(), "InputOffsets") {
		t.Errorf("an offset past the partition's end: %v, want an error naming in/0 and its offset", err)
	}
}

// Stores are matched by name: one the topology lacks is an error naming it, unless left
// out; a conversion for a store either side lacks is an error.
func TestMatchStores(t *testing.T) {
	sp := &savepoint.Savepoint{Manifest: savepoint.Manifest{Stores: []savepoint.Store{{Name: "a"}, {Name: "b"}}}}
	var rep Report
	err := matchStores(sp, Options{Stores: []string{"a", "c"}}, &rep)
	if err == nil || !strings.Contains(err.Error(), "b") || !strings.Contains(err.Error(), "AllowNonRestoredState") {
		t.Errorf("a store the topology lacks: %v", err)
	}
	rep = Report{}
	if err := matchStores(sp, Options{Stores: []string{"a", "c"}, AllowNonRestored: true}, &rep); err != nil ||
		len(rep.Dropped) != 1 || rep.Dropped[0] != "b" || len(rep.Empty) != 1 || rep.Empty[0] != "c" {
		t.Errorf("allowed: %+v, %v; want b dropped, c empty", rep, err)
	}
	conv := map[string]func(k, v []byte) ([]byte, error){"c": nil}
	if err := matchStores(sp, Options{Stores: []string{"a", "b", "c"}, Convert: conv}, &Report{}); err == nil || !strings.Contains(err.Error(), "store c") {
		t.Errorf("a conversion for a store the savepoint lacks: %v", err)
	}
}
