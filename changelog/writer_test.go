package changelog

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestTrusted(t *testing.T) {
	now := time.Now()
	id := [16]byte{1}
	log := Log{TopicID: id, Start: 10, End: 100, DeleteRetention: 24 * time.Hour}
	for _, c := range []struct {
		name    string
		id      [16]byte
		offset  int64
		written time.Time
		want    bool
	}{
		{"inside the log, recent", id, 50, now.Add(-time.Minute), true},
		{"at the start", id, 10, now, true},
		{"at the end", id, 100, now, true},
		{"the topic was recreated", [16]byte{2}, 50, now, false},
		{"below the log start", id, 9, now, false},
		{"past the end", id, 101, now, false},
		{"older than delete.retention.ms less the margin", id, 50, now.Add(-23*time.Hour - time.Minute), false},
		{"just within it", id, 50, now.Add(-22 * time.Hour), true},
	} {
		if got := Trusted(c.id, c.offset, c.written, log, now); got != c.want {
			t.Errorf("%s: Trusted = %v, want %v", c.name, got, c.want)
		}
	}
}

type changes map[string]*string

func (c changes) Each(fn func(string, []byte, bool) error) error {
	for k, v := range c {
		if v == nil {
			if err := fn(k, nil, true); err != nil {
				return err
			}
			continue
		}
		if err := fn(k, []byte(*v), false); err != nil {
			return err
		}
	}
	return nil
}

// A deletion is a tombstone (a nil value); an empty value stays a value.
func TestWriteTombstonesOnlyDeletions(t *testing.T) {
	empty, full := "", "x"
	got := map[string]*kgo.Record{}
	Write(context.Background(), func(_ context.Context, r *kgo.Record) { got[string(r.Key)] = r }, "t-changelog", 3,
		changes{"gone": nil, "empty": &empty, "full": &full})
	if r := got["gone"]; r == nil || r.Value != nil || r.Partition != 3 || r.Topic != "t-changelog" {
		t.Errorf("deletion: %+v, want a tombstone on t-changelog/3", r)
	}
	if r := got["empty"]; r == nil || r.Value == nil || len(r.Value) != 0 {
		t.Errorf("empty value: %+v, want a zero-length value, not a tombstone", r)
	}
	if r := got["full"]; r == nil || string(r.Value) != "x" {
		t.Errorf("value: %+v", r)
	}
}

func TestAcksNext(t *testing.T) {
	var a Acks
	if _, ok := a.Next("c", 0); ok {
		t.Fatal("Next with nothing acknowledged reported ok")
	}
	for _, off := range []int64{0, 7, 3} {
		a.Observe(&kgo.Record{Topic: "c", Partition: 0, Offset: off})
	}
	if n, ok := a.Next("c", 0); !ok || n != 8 {
		t.Errorf("Next = %d, %v; want 8 (one past the highest acknowledged)", n, ok)
	}
	if _, ok := a.Next("c", 1); ok {
		t.Error("another partition reported ok")
	}
}
