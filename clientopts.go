package eddy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// reservedClientOpts are the franz-go options eddy sets itself and depends on. Passed in
// ClientOpts, each would silently break a guarantee; New rejects them, saying why and what
// to use instead.
var reservedClientOpts = []struct {
	name string
	opt  any
	why  string
}{
	{"ConsumerGroup", kgo.ConsumerGroup, "the group is the ApplicationID"},
	{"Balancers", kgo.Balancers, "eddy's task balancer keeps co-partitioned partitions together"},
	{"GroupProtocol", kgo.GroupProtocol, "eddy's task balancer needs the classic consumer protocol"},
	{"ConsumeTopics", kgo.ConsumeTopics, "the topology names the topics"},
	{"ConsumeRegex", kgo.ConsumeRegex, "the topology names the topics"},
	{"ConsumePartitions", kgo.ConsumePartitions, "the group assigns the partitions"},
	{"FetchIsolationLevel", kgo.FetchIsolationLevel, "ExactlyOnce reads read_committed; at-least-once reads everything"},
	{"TransactionalID", kgo.TransactionalID, "ExactlyOnce gives each worker a stable transactional id"},
	{"TransactionTimeout", kgo.TransactionTimeout, "use eddy.TransactionTimeout"},
	{"ConsumeResetOffset", kgo.ConsumeResetOffset, "a new application reads its inputs from the earliest offset, as Kafka Streams does"},
	{"ConsumeStartOffset", kgo.ConsumeStartOffset, "a new application reads its inputs from the earliest offset, as Kafka Streams does"},
	{"AdjustFetchOffsetsFn", kgo.AdjustFetchOffsetsFn, "eddy resumes from the committed offsets"},
	{"BlockRebalanceOnPoll", kgo.BlockRebalanceOnPoll, "eddy allows rebalances only between records"},
	{"RecordPartitioner", kgo.RecordPartitioner, "eddy partitions by Kafka's murmur2 of the key, and round-robin for Rebalance"},
	{"InstanceID", kgo.InstanceID, "use eddy.StaticMembership, which gives each worker its own instance id"},
	{"SessionTimeout", kgo.SessionTimeout, "use eddy.SessionTimeout"},
	{"HeartbeatInterval", kgo.HeartbeatInterval, "use eddy.HeartbeatInterval"},
	{"KeepControlRecords", kgo.KeepControlRecords, "eddy keeps transaction markers itself, to count positions exactly, and never hands them to processors"},
	{"RecordDeliveryTimeout", kgo.RecordDeliveryTimeout, "franz-go measures it from the record's timestamp, and outputs carry event times, which may be old"},
	{"ProducerBatchMaxBytes", kgo.ProducerBatchMaxBytes, "eddy sets it from the output topics' max.message.bytes, so an oversized record fails alone"},
	{"DisableIdempotentWrite", kgo.DisableIdempotentWrite, "outputs, changelogs and watermark markers rely on ordered, deduplicated writes"},
	{"RequiredAcks", kgo.RequiredAcks, "a commit must not pass output that a broker failure can lose"},
}

// checkClientOpts rejects, in one error, every reserved option among opts. franz-go's
// options are opaque, so each is applied alone to a client that is never used (no group,
// so no goroutine rewrites its configuration while it is read), and read back against a
// client without it. franz-go itself refuses rebalance callbacks and commit options
// without a group: that refusal names them here.
func checkClientOpts(opts []kgo.Opt) error {
	if len(opts) == 0 {
		return nil
	}
	// The seed is a closed port; a heartbeat of 1 ms lets SessionTimeout pass franz-go's
	// own check on its own.
	base := []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1"), kgo.HeartbeatInterval(time.Millisecond)}
	def, err := kgo.NewClient(base...)
	if err != nil {
		return fmt.Errorf("eddy: ClientOpts: %w", err)
	}
	defer def.Close()
	var errs []error
	seen := map[string]bool{}
	reject := func(name, why string) {
		if !seen[name] {
			seen[name] = true
			errs = append(errs, fmt.Errorf("eddy: ClientOpts: kgo.%s is set by eddy and may not be overridden (%s)", name, why))
		}
	}
	for _, o := range opts {
		probe, err := kgo.NewClient(append(base[:len(base):len(base)], o)...)
		if err != nil {
			msg := err.Error()
			switch {
			case strings.Contains(msg, "autocommit"):
				reject("DisableAutoCommit, AutoCommitMarks and the other commit options", "eddy commits offsets itself, after the output they cover")
			case strings.Contains(msg, "assigned/revoked/lost"):
				reject("OnPartitionsAssigned, OnPartitionsRevoked and OnPartitionsLost", "eddy builds, commits and closes tasks in these callbacks")
			default:
				errs = append(errs, fmt.Errorf("eddy: ClientOpts: %w", err))
			}
			continue
		}
		for _, r := range reservedClientOpts {
			if !sameValues(probe.OptValues(r.opt), def.OptValues(r.opt)) {
				reject(r.name, r.why)
			}
		}
		probe.Close()
	}
	return errors.Join(errs...)
}

// sameValues compares option values as franz-go reports them. Functions compare by their
// code, and a partitioner by its type (each client gets a new default one).
func sameValues(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		va, vb := reflect.ValueOf(a[i]), reflect.ValueOf(b[i])
		switch {
		case va.Kind() == reflect.Func && vb.Kind() == reflect.Func:
			if va.IsNil() != vb.IsNil() || !va.IsNil() && va.Pointer() != vb.Pointer() {
				return false
			}
		case va.IsValid() && vb.IsValid() && va.Type() != vb.Type():
			return false
		case isPartitioner(a[i]):
			// Same type (checked above): the default partitioner, or one like it.
		case !reflect.DeepEqual(a[i], b[i]):
			return false
		}
	}
	return true
}

func isPartitioner(v any) bool {
	_, ok := v.(kgo.Partitioner)
	return ok
}
