package kafkatest

import (
	"os"
	"strings"
	"testing"
)

// SecondCluster returns the seed brokers of a second, independent Kafka cluster, named
// by KAFKA_SECOND_BOOTSTRAP (scripts/test starts one with scripts/kafka), for the tests
// that move an application from one cluster to another. Without it the test skips, unless
// EDDY_REQUIRE_KAFKA=1, when it fails.
func SecondCluster(t testing.TB) []string {
	t.Helper()
	env := strings.TrimSpace(os.Getenv("KAFKA_SECOND_BOOTSTRAP"))
	if env == "" {
		msg := "no second cluster: set KAFKA_SECOND_BOOTSTRAP (scripts/test starts one)"
		if Required() {
			t.Fatal("kafkatest: EDDY_REQUIRE_KAFKA=1 but " + msg)
		}
		t.Skip("kafkatest: " + msg)
	}
	return strings.Split(env, ",")
}
