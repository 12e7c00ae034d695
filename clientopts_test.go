package eddy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

func passThrough() *topology.Topology {
	t := topology.New()
	topology.To(topology.From(t, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	return t
}

// The franz-go options eddy depends on are refused in ClientOpts, each by name; the ones
// meant for users (TLS, SASL, client id, sizing, compression) pass.
func TestClientOptsRejectsWhatEddyDependsOn(t *testing.T) {
	rejected := []struct {
		name string
		opt  kgo.Opt
	}{
		{"ConsumerGroup", kgo.ConsumerGroup("other")},
		{"Balancers", kgo.Balancers(kgo.RoundRobinBalancer())},
		{"GroupProtocol", kgo.GroupProtocol("other")},
		{"ConsumeTopics", kgo.ConsumeTopics("x")},
		{"ConsumeRegex", kgo.ConsumeRegex()},
		{"FetchIsolationLevel", kgo.FetchIsolationLevel(kgo.ReadCommitted())},
		{"TransactionalID", kgo.TransactionalID("t")},
		{"TransactionTimeout", kgo.TransactionTimeout(time.Minute)},
		{"ConsumeResetOffset", kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd())},
		{"ConsumeStartOffset", kgo.ConsumeStartOffset(kgo.NewOffset().AtEnd())},
		{"DisableAutoCommit", kgo.DisableAutoCommit()},
		{"DisableAutoCommit", kgo.AutoCommitMarks()},
		{"OnPartitionsAssigned", kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, _ map[string][]int32) {})},
		{"OnPartitionsAssigned", kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, _ map[string][]int32) {})},
		{"BlockRebalanceOnPoll", kgo.BlockRebalanceOnPoll()},
		{"RecordPartitioner", kgo.RecordPartitioner(kgo.RoundRobinPartitioner())},
		{"InstanceID", kgo.InstanceID("static")},
		{"SessionTimeout", kgo.SessionTimeout(10 * time.Second)},
		{"HeartbeatInterval", kgo.HeartbeatInterval(time.Second)},
		{"KeepControlRecords", kgo.KeepControlRecords()},
		{"RecordDeliveryTimeout", kgo.RecordDeliveryTimeout(time.Second)},
		{"ProducerBatchMaxBytes", kgo.ProducerBatchMaxBytes(1 << 10)},
		{"DisableIdempotentWrite", kgo.DisableIdempotentWrite()},
	}
	for _, c := range rejected {
		t.Run(c.name, func(t *testing.T) {
			_, err := eddy.New(passThrough(), eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"), eddy.ClientOpts(c.opt))
			if err == nil || !strings.Contains(err.Error(), "kgo."+c.name) || !strings.Contains(err.Error(), "is set by eddy") {
				t.Fatalf("New with ClientOpts(kgo.%s) = %v, want an error naming it", c.name, err)
			}
		})
	}
	_, err := eddy.New(passThrough(), eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"),
		eddy.ClientOpts(kgo.ClientID("mine"), kgo.ProducerBatchCompression(kgo.Lz4Compression()),
			kgo.FetchMaxBytes(1<<20), kgo.ProducerLinger(time.Millisecond), kgo.DialTimeout(time.Second),
			kgo.RequestRetries(5), kgo.MaxBufferedRecords(1000)))
	if err != nil {
		t.Fatalf("New with ClientOpts meant for users: %v", err)
	}
	_, err = eddy.New(passThrough(), eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1"),
		eddy.ClientOpts(kgo.ConsumerGroup("g"), kgo.SessionTimeout(time.Second)))
	if err == nil || !strings.Contains(err.Error(), "ConsumerGroup") || !strings.Contains(err.Error(), "eddy.SessionTimeout") {
		t.Fatalf("New with two reserved options = %v, want both named, with the eddy option to use", err)
	}
}

func TestSessionTimeoutOptions(t *testing.T) {
	for _, c := range []struct {
		opts []eddy.Opt
		ok   bool
	}{
		{nil, true},
		{[]eddy.Opt{eddy.SessionTimeout(6 * time.Second), eddy.HeartbeatInterval(time.Second)}, true},
		{[]eddy.Opt{eddy.SessionTimeout(2 * time.Second)}, false}, // the 3 s default heartbeat is longer
		{[]eddy.Opt{eddy.SessionTimeout(0)}, false},
		{[]eddy.Opt{eddy.HeartbeatInterval(-time.Second)}, false},
	} {
		opts := append([]eddy.Opt{eddy.ApplicationID("a"), eddy.Brokers("127.0.0.1:1")}, c.opts...)
		_, err := eddy.New(passThrough(), opts...)
		if (err == nil) != c.ok {
			t.Errorf("New(%d session options) = %v, want ok %v", len(c.opts), err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "SessionTimeout") {
			t.Errorf("error %q does not name the option", err)
		}
	}
}
