// Package kafkatest gives tests a real Apache Kafka broker.
//
// A test asks for one with Bootstrap; where it comes from is decided once per test binary:
//
//  1. KAFKA_BOOTSTRAP, when set (a comma-separated list): an existing broker, such as the
//     one scripts/kafka starts for `make test` and CI.
//  2. Otherwise, where a Docker engine answers: a container of Apache Kafka's own image
//     (KRaft, one node) started with testcontainers-go, shared by the tests of the binary
//     (container.go).
//  3. Otherwise the test is skipped — unless EDDY_REQUIRE_KAFKA=1, when it fails. CI sets
//     EDDY_REQUIRE_KAFKA=1, so a test that needs a broker can never skip silently there.
//
// Topic names from Topic are unique per call, so tests can share one broker and run in
// parallel without seeing each other's data.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerSource is resolved once per test binary: starting a container per test would take
// minutes, and a failed start should not be retried by every test.
var brokerSource struct {
	once    sync.Once
	brokers []string
	skip    string // why there is no broker, when there is none
	err     error  // a broker was expected but could not be had
}

// Required reports whether the tests must have a real, fully working broker
// (EDDY_REQUIRE_KAFKA=1, which `make test` and CI set): then nothing a broker should do may
// be skipped, only failed.
func Required() bool { return os.Getenv("EDDY_REQUIRE_KAFKA") == "1" }

// Bootstrap returns the seed brokers of a real Kafka broker, or ends the test: skipped when
// none can be had, failed when none can be had and EDDY_REQUIRE_KAFKA=1, or when a broker
// that should have been there could not be started.
func Bootstrap(t testing.TB) []string {
	t.Helper()
	brokerSource.once.Do(resolve)
	switch {
	case brokerSource.err != nil:
		t.Fatalf("kafkatest: %v", brokerSource.err)
	case brokerSource.skip != "":
		if Required() {
			t.Fatalf("kafkatest: EDDY_REQUIRE_KAFKA=1 but there is no broker: %s", brokerSource.skip)
		}
		t.Skipf("kafkatest: no Kafka broker: %s (set KAFKA_BOOTSTRAP, or run `make test`, which starts one)", brokerSource.skip)
	}
	return brokerSource.brokers
}

// Resolve says where the tests' broker comes from, as Bootstrap decides it: its seed
// brokers, or why there is none (skip), or the error of a broker that should have been
// there. It is resolved once per test binary.
func Resolve() (brokers []string, skip string, err error) {
	brokerSource.once.Do(resolve)
	return brokerSource.brokers, brokerSource.skip, brokerSource.err
}

// FromEnv reports whether the broker is the one KAFKA_BOOTSTRAP names.
func FromEnv() bool { return strings.TrimSpace(os.Getenv("KAFKA_BOOTSTRAP")) != "" }

func resolve() {
	if env := strings.TrimSpace(os.Getenv("KAFKA_BOOTSTRAP")); env != "" {
		for _, b := range strings.Split(env, ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokerSource.brokers = append(brokerSource.brokers, b)
			}
		}
		return
	}
	if err := dockerHealthy(); err != nil {
		brokerSource.skip = "KAFKA_BOOTSTRAP is not set and no Docker engine answers (" + err.Error() + ")"
		return
	}
	brokers, err := startContainer()
	if err != nil {
		brokerSource.err = fmt.Errorf("a Docker engine answers but the Kafka container did not start: %w", err)
		return
	}
	brokerSource.brokers = brokers
}

// dockerHealthy reports whether a Docker engine answers. testcontainers panics in some
// set-ups without an engine, so the panic is turned into an error.
func dockerHealthy() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker provider: %v", r)
		}
	}()
	provider, err := testcontainers.ProviderDocker.GetProvider()
	if err != nil {
		return err
	}
	defer provider.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return provider.Health(ctx)
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Topic returns a topic name unique to this call, readable in broker logs: the test's
// name, a suffix, and random hex.
func Topic(t testing.TB, suffix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("kafkatest: random topic suffix: %v", err)
	}
	name := unsafeTopicChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 120 {
		name = name[:120]
	}
	return fmt.Sprintf("%s-%s-%s", name, suffix, hex.EncodeToString(b[:]))
}

// Client returns a franz-go client on the test broker, closed when the test ends.
func Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(Bootstrap(t)...)}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client on the test broker, closed when the test ends.
func Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(Client(t))
}

// CreateTopic creates a topic with the given partitions and configs (replication factor 1,
// which a test broker allows), failing the test on any error.
func CreateTopic(t testing.TB, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("kafkatest: create topic %s: %v", topic, err)
	}
	// The controller answers before every broker's metadata has the topic; wait until
	// metadata shows all partitions, so the test's next step sees the topic.
	for {
		details, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := details[topic]; ok && d.Err == nil && len(d.Partitions) == int(partitions) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("kafkatest: topic %s created but not in metadata after 30 s (last error %v)", topic, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
