// Package integration holds eddy's tests against a real Apache Kafka broker: topic
// configuration, transactions, and later crash, scale-out, restore and exactly-once
// verification. They use only eddy's public API (and franz-go to look at the topics).
//
// The broker comes from internal/kafkatest: KAFKA_BOOTSTRAP, else a Docker container,
// else the tests skip — or fail, when EDDY_REQUIRE_KAFKA=1, as in CI. `make test` starts a
// broker from Apache Kafka's jars and runs them.
package integration
