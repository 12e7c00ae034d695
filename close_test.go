package eddy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/topology"
)

// A stop is bounded by ShutdownTimeout even when the brokers stop answering: the final
// commit cannot finish, and Close returns in time with an error that says what happened
// instead of waiting a minute and reporting nothing.
func TestCloseIsBoundedWhenTheBrokerHangs(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	top := topology.New()
	topology.To(topology.From(top, "in", serde.String(), serde.String()), "out", serde.String(), serde.String())
	app, err := eddy.New(top, eddy.ApplicationID("hang"), eddy.Brokers(brokers...), eddy.StateDir(t.TempDir()),
		eddy.ShutdownTimeout(2*time.Second), eddy.Logger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(context.Background()) }()
	var kvs [][2]string
	for i := range 20 {
		kvs = append(kvs, [2]string{fmt.Sprint("k", i), fmt.Sprint(i)})
	}
	produce(t, brokers, "in", kvs...)
	consume(t, brokers, "out", len(kvs), 30*time.Second)

	// From now on the broker takes offset commits and produce requests and never answers.
	// The 20 records' offsets are not committed yet (the commit interval is 30 s), so the
	// stop has a commit to make.
	hang := func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true
	}
	c.ControlKey(int16(kmsg.OffsetCommit), hang)
	c.ControlKey(int16(kmsg.Produce), hang)
	began := time.Now()
	closeErr := app.Close()
	took := time.Since(began)
	if took > 5*time.Second {
		t.Errorf("Close took %s with ShutdownTimeout(2s)", took.Round(100*time.Millisecond))
	}
	if closeErr == nil || !strings.Contains(closeErr.Error(), "shutdown timeout") {
		t.Errorf("Close = %v, want an error naming the shutdown timeout", closeErr)
	}
	if runErr := <-done; runErr == nil || runErr.Error() != closeErr.Error() {
		t.Errorf("Run = %v, want what Close returned (%v)", runErr, closeErr)
	}
	if again := app.Close(); again == nil || again.Error() != closeErr.Error() {
		t.Errorf("second Close = %v, want the same error", again)
	}
}
