package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// startRetryBound bounds how long a request at start is retried while the cluster answers
// with retriable errors. A fresh broker says COORDINATOR_NOT_AVAILABLE for a few seconds
// while it creates its offsets topic; a broker that just started elects leaders. Past
// the bound the cluster is not coming, and Run fails with the last error.
const startRetryBound = 30 * time.Second

// retryStart runs f until it succeeds, fails with an error that is not retriable, ctx
// ends, or startRetryBound passes, backing off from 100 ms to 1 s between tries. A try
// that ran out of its own time (f's timeout, not ctx's) is retried too.
func retryStart(ctx context.Context, f func(context.Context) error) error {
	deadline := time.Now().Add(startRetryBound)
	backoff := 100 * time.Millisecond
	for {
		err := f(ctx)
		retriable := kerr.IsRetriable(err) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		if err == nil || !retriable {
			return err
		}
		if time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("still failing after %s of retries: %w", startRetryBound, err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}
