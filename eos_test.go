package eddy_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy"
	"github.com/eddy-streams/eddy/serde"
)

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// When ending a transaction fails with an error whose outcome the worker cannot know, the
// worker applies nothing, makes a new client (whose producer fences the old one) and its
// tasks restore from their checkpoints; the instance carries on and the output stays
// exactly-once.
func TestUnknownTransactionOutcomeRecreatesTheClient(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "lines", "counts"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()

	// The first transaction that tries to commit is refused with a fatal error.
	var failed atomic.Bool
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.EndTxnRequest)
		if !r.Commit || failed.Load() {
			return nil, nil, false
		}
		failed.Store(true)
		resp := r.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.InvalidTxnState.Code
		return resp, nil, true
	})
	c.KeepControl()

	produce(t, brokers, "lines", [2]string{"1", "a b a"}, [2]string{"2", "b a c"})
	var logs lockedBuffer
	app, err := eddy.New(wordCount("lines", "counts"), eddy.ApplicationID("recreate"), eddy.Brokers(brokers...),
		eddy.StateDir(t.TempDir()), eddy.ExactlyOnce(), eddy.TransactionTimeout(2*time.Second), eddy.LowMemoryState(),
		eddy.Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	// Once the group has committed all of the input and the repartition topic, no second
	// copy of any count can follow: the committed output is all there will be.
	stopCaughtUp(t, brokers, "recreate", runApp(t, app), "lines")
	recs := readAll(t, brokers, "counts")
	if !failed.Load() || !strings.Contains(logs.String(), "restarting the worker's client") {
		t.Fatalf("the injected failure did not lead to a new client; logs:\n%s", logs.String())
	}
	got := map[string][]int64{}
	for _, r := range recs {
		n, _ := serde.Int64().Decode(r.Value)
		got[string(r.Key)] = append(got[string(r.Key)], n)
	}
	if len(recs) != 6 {
		t.Fatalf("%d committed count records, want 6: %v", len(recs), got)
	}
	for w, want := range map[string]string{"a": "[1 2 3]", "b": "[1 2]", "c": "[1]"} {
		if fmt.Sprint(got[w]) != want {
			t.Errorf("counts of %s = %v, want %s", w, got[w], want)
		}
	}
}
