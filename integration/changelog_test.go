package integration

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/changelog"
	"github.com/eddy-streams/eddy/internal/kafkatest"
)

// A changelog written in transactions, one of them aborted, restores exactly the committed
// records, and the replay ends at the last stable offset even though the last offsets are
// commit markers, not records.
func TestRestoreAcrossTransactionMarkers(t *testing.T) {
	adm := kafkatest.Admin(t)
	topic := kafkatest.Topic(t, "changelog")
	kafkatest.CreateTopic(t, adm, topic, 1, nil)
	producer := kafkatest.Client(t, kgo.TransactionalID(topic+"-txn"), kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, txn := range []struct {
		kvs    [][2]string
		commit bool
	}{
		{[][2]string{{"a", "1"}, {"b", "1"}}, true},
		{[][2]string{{"a", "aborted"}, {"c", "aborted"}}, false},
		{[][2]string{{"b", "2"}, {"d", ""}}, true}, // d: a delete (null value)
	} {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, kv := range txn.kvs {
			r := &kgo.Record{Key: []byte(kv[0])}
			if kv[1] != "" {
				r.Value = []byte(kv[1])
			}
			if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(txn.commit)); err != nil {
			t.Fatalf("txn %d: %v", i, err)
		}
	}
	// 6 records and 3 markers. The coordinator writes the last marker after EndTransaction
	// returns, so the last stable offset reaches the end a moment later.
	var end kadm.ListedOffset
	for end.Offset != 9 {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		end, _ = lso.Lookup(topic, 0)
		if ctx.Err() != nil || end.Offset > 9 {
			t.Fatalf("last stable offset %d, want 9", end.Offset)
		}
		time.Sleep(20 * time.Millisecond)
	}

	r, err := changelog.NewRestorer(slog.New(slog.DiscardHandler), kgo.SeedBrokers(kafkatest.Bootstrap(t)...))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var applied []string
	var next int64
	target := &changelog.Target{Topic: topic, Partition: 0, From: 0, To: end.Offset,
		Apply: func(keys, values [][]byte, n int64) error {
			for i, k := range keys {
				v := "<delete>"
				if values[i] != nil {
					v = string(values[i])
				}
				applied = append(applied, string(k)+"="+v)
			}
			next = n
			return nil
		}}
	if r.Add(target) {
		t.Fatal("target reported done before replaying")
	}
	for !target.Done() {
		if ctx.Err() != nil {
			t.Fatalf("restore stuck at %d of %d, applied %v", next, end.Offset, applied)
		}
		if _, err := r.Step(ctx, 200*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"a=1", "b=1", "b=2", "d=<delete>"}
	if !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	if next != end.Offset || target.Restored != 4 {
		t.Errorf("resume offset %d and %d records restored, want %d and 4", next, target.Restored, end.Offset)
	}
}
