package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/kafkatest"
)

// The broker keeps the topic config it was given and reports it as a topic-level override:
// eddy's changelog topics depend on cleanup.policy being honoured.
func TestCompactedTopicConfig(t *testing.T) {
	adm := kafkatest.Admin(t)
	topic := kafkatest.Topic(t, "changelog")
	kafkatest.CreateTopic(t, adm, topic, 3, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"),
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatalf("configs of %s: %v", topic, err)
	}
	var found bool
	for _, c := range rc.Configs {
		if c.Key != "cleanup.policy" {
			continue
		}
		found = true
		if c.MaybeValue() != "compact" {
			t.Errorf("cleanup.policy = %q, want compact", c.MaybeValue())
		}
		if c.Source.String() != "DYNAMIC_TOPIC_CONFIG" {
			t.Errorf("cleanup.policy source = %s, want DYNAMIC_TOPIC_CONFIG", c.Source)
		}
	}
	if !found {
		t.Fatalf("cleanup.policy missing from the configs of %s", topic)
	}

	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	if got := len(details[topic].Partitions); got != 3 {
		t.Errorf("%s has %d partitions, want 3", topic, got)
	}
}

// One transaction committed, one aborted, one committed: a read_committed consumer sees
// exactly the committed records, in order, and a read_uncommitted one sees the aborted ones
// too (so the abort really wrote records that the isolation level then hid).
func TestTransactionAbortHiddenFromReadCommitted(t *testing.T) {
	adm := kafkatest.Admin(t)
	topic := kafkatest.Topic(t, "txn")
	kafkatest.CreateTopic(t, adm, topic, 1, nil)

	producer := kafkatest.Client(t,
		kgo.TransactionalID(topic+"-producer"),
		kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(10*time.Second),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	txns := []struct {
		values []string
		commit bool
	}{
		{[]string{"c1", "c2", "c3"}, true},
		{[]string{"a1", "a2", "a3"}, false},
		{[]string{"c4", "c5"}, true},
	}
	var committed, all []string
	for i, txn := range txns {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("txn %d: begin: %v", i, err)
		}
		for _, v := range txn.values {
			if err := producer.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
				t.Fatalf("txn %d: produce %s: %v", i, v, err)
			}
		}
		if err := producer.EndTransaction(ctx, kgo.TransactionEndTry(txn.commit)); err != nil {
			t.Fatalf("txn %d: end (commit=%v): %v", i, txn.commit, err)
		}
		all = append(all, txn.values...)
		if txn.commit {
			committed = append(committed, txn.values...)
		}
	}

	if got := consumeAll(t, topic, kgo.ReadCommitted()); !slices.Equal(got, committed) {
		t.Errorf("read_committed saw %v, want %v", got, committed)
	}
	if got := consumeAll(t, topic, kgo.ReadUncommitted()); !slices.Equal(got, all) {
		t.Errorf("read_uncommitted saw %v, want %v", got, all)
	}
}

// consumeAll reads partition 0 of topic from the start to its current end offset and
// returns the values.
func consumeAll(t *testing.T, topic string, isolation kgo.IsolationLevel) []string {
	t.Helper()
	var values []string
	for _, r := range readPartition0(t, topic, isolation) {
		values = append(values, string(r.Value))
	}
	return values
}

// readPartition0 reads partition 0 of topic from the start to its current end offset.
// Control records (transaction markers) take offsets but are not returned, so the end is
// tracked by position, not by counting records.
func readPartition0(t *testing.T, topic string, isolation kgo.IsolationLevel) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kafkatest.Admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets: %v", err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		t.Fatalf("end offset of %s/0: %v", topic, end.Err)
	}
	if end.Offset == 0 {
		return nil
	}
	cl := kafkatest.Client(t,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(isolation),
		kgo.KeepControlRecords(),
	)
	var recs []*kgo.Record
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s (%v): stopped after %d records before end offset %d: %v", topic, isolation, len(recs), end.Offset, err)
		}
		for _, fe := range fetches.Errors() {
			t.Fatalf("fetch %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		done := false
		fetches.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				recs = append(recs, r)
			}
			if r.Offset+1 >= end.Offset {
				done = true
			}
		})
		if done {
			return recs
		}
	}
}
