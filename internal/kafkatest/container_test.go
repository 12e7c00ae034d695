package kafkatest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
)

// fakeContainer is a started container as the post-start hook sees it.
type fakeContainer struct {
	endpoint string
	err      error
	files    map[string]string
	modes    map[string]int64
}

func (f *fakeContainer) PortEndpoint(_ context.Context, port nat.Port, _ string) (string, error) {
	if port != clientPort {
		return "", errors.New("not an exposed port: " + string(port))
	}
	return f.endpoint, f.err
}

func (f *fakeContainer) CopyToContainer(_ context.Context, content []byte, path string, mode int64) error {
	f.files[path], f.modes[path] = string(content), mode
	return nil
}

// No Docker engine here: the container path is tested without one — the request the
// options make, and the hook's starter script for the port Docker mapped.
func TestContainerRequest(t *testing.T) {
	req := testcontainers.GenericContainerRequest{}
	called := false
	for _, o := range containerOptions(func(context.Context, testcontainers.Container) error { called = true; return nil }) {
		if err := o.Customize(&req); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(req.ExposedPorts, []string{"9093/tcp"}) {
		t.Errorf("exposed ports %v", req.ExposedPorts)
	}
	if req.Env["KAFKA_PROCESS_ROLES"] != "broker,controller" || req.Env["CLUSTER_ID"] == "" ||
		!strings.Contains(req.Env["KAFKA_LISTENERS"], "PLAINTEXT://0.0.0.0:9093") {
		t.Errorf("env %v: not a one-node KRaft broker listening on 9093", req.Env)
	}
	if len(req.Cmd) != 3 || !strings.Contains(req.Cmd[2], starterPath) {
		t.Errorf("cmd %q does not wait for the starter script", req.Cmd)
	}
	if len(req.LifecycleHooks) != 1 || len(req.LifecycleHooks[0].PostStarts) != 1 {
		t.Fatalf("hooks %+v, want one post-start hook", req.LifecycleHooks)
	}
	if err := req.LifecycleHooks[0].PostStarts[0](context.Background(), nil); err != nil || !called {
		t.Errorf("the post-start hook is not the one given: %v, called %v", err, called)
	}
}

func TestStarterScriptAdvertisesTheMappedPort(t *testing.T) {
	c := &fakeContainer{endpoint: "tcp://127.0.0.1:49153", files: map[string]string{}, modes: map[string]int64{}}
	endpoint, err := writeStarter(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if endpoint != "127.0.0.1:49153" {
		t.Errorf("endpoint %q", endpoint)
	}
	script := c.files[starterPath]
	if !strings.Contains(script, "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:49153,BROKER://localhost:9092") ||
		!strings.HasSuffix(script, "exec /etc/kafka/docker/run\n") || c.modes[starterPath] != 0o755 {
		t.Errorf("starter script (mode %o):\n%s", c.modes[starterPath], script)
	}
	c.err = errors.New("no such port")
	if _, err := writeStarter(context.Background(), c); err == nil || !strings.Contains(err.Error(), "9093/tcp") {
		t.Errorf("a missing port: %v", err)
	}
}
