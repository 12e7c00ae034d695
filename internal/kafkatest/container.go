package kafkatest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ContainerImage is the image started where a Docker engine is available: Apache Kafka's
// own, in KRaft mode, the version scripts/kafka runs.
const ContainerImage = "apache/kafka:4.4.0"

// The container's listeners: PLAINTEXT for the tests, on a port Docker maps to the host;
// BROKER and CONTROLLER inside it.
const (
	clientPort  = nat.Port("9093/tcp")
	starterPath = "/tmp/eddy-kafka-start.sh"
	clusterID   = "ZWRkeS10ZXN0cy1rcmFmdA" // any 16 bytes, base64url
)

// containerEnv configures the image (its run script turns KAFKA_* variables into
// server.properties): one node that is broker and controller, topics of replication
// factor 1, no rebalance delay.
func containerEnv() map[string]string {
	return map[string]string{
		"CLUSTER_ID":                                             clusterID,
		"KAFKA_NODE_ID":                                          "1",
		"KAFKA_PROCESS_ROLES":                                    "broker,controller",
		"KAFKA_LISTENERS":                                        "PLAINTEXT://0.0.0.0:9093,BROKER://0.0.0.0:9092,CONTROLLER://0.0.0.0:9094",
		"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":                   "BROKER:PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"KAFKA_INTER_BROKER_LISTENER_NAME":                       "BROKER",
		"KAFKA_CONTROLLER_LISTENER_NAMES":                        "CONTROLLER",
		"KAFKA_CONTROLLER_QUORUM_VOTERS":                         "1@localhost:9094",
		"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":                 "1",
		"KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS":                     "1",
		"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR":         "1",
		"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":                    "1",
		"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":                 "0",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
		"KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR":            "1",
	}
}

// The advertised PLAINTEXT address is the host's end of the mapped port, known only once
// the container runs: the container waits for a starter script that sets it, written by
// the post-start hook (as testcontainers' Kafka module does for Confluent's images).
func containerOptions(hook testcontainers.ContainerHook) []testcontainers.ContainerCustomizer {
	return []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(string(clientPort)),
		testcontainers.WithEnv(containerEnv()),
		testcontainers.WithCmd("/bin/bash", "-c", "while [ ! -f "+starterPath+" ]; do sleep 0.1; done; exec /bin/bash "+starterPath),
		testcontainers.WithLifecycleHooks(testcontainers.ContainerLifecycleHooks{PostStarts: []testcontainers.ContainerHook{hook}}),
	}
}

// starterScript advertises the PLAINTEXT listener at endpoint (host:port) and runs the
// image's own start.
func starterScript(endpoint string) string {
	return "#!/bin/bash\nexport KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://" + endpoint + ",BROKER://localhost:9092\nexec /etc/kafka/docker/run\n"
}

// started is what the fixture needs of a started container (testcontainers.Container has
// it; a unit test fakes it).
type started interface {
	PortEndpoint(ctx context.Context, port nat.Port, proto string) (string, error)
	CopyToContainer(ctx context.Context, content []byte, path string, mode int64) error
}

// writeStarter writes the starter script for c's mapped port into c.
func writeStarter(ctx context.Context, c started) (endpoint string, err error) {
	endpoint, err = c.PortEndpoint(ctx, clientPort, "")
	if err != nil {
		return "", fmt.Errorf("the mapped port of %s: %w", clientPort, err)
	}
	endpoint = strings.TrimPrefix(endpoint, "tcp://")
	if err := c.CopyToContainer(ctx, []byte(starterScript(endpoint)), starterPath, 0o755); err != nil {
		return "", fmt.Errorf("writing the starter script: %w", err)
	}
	return endpoint, nil
}

// startContainer starts one Kafka container for the test binary and returns its address.
// It is removed by testcontainers' reaper when the binary exits.
func startContainer() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var endpoint string
	hook := func(ctx context.Context, c testcontainers.Container) error {
		var err error
		if endpoint, err = writeStarter(ctx, c); err != nil {
			return err
		}
		return wait.ForLog("Kafka Server started").WithStartupTimeout(2*time.Minute).WaitUntilReady(ctx, c)
	}
	if _, err := testcontainers.Run(ctx, ContainerImage, containerOptions(hook)...); err != nil {
		return nil, fmt.Errorf("starting %s: %w", ContainerImage, err)
	}
	return []string{endpoint}, nil
}
