package runtime

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// retryStart retries retriable errors and tries that ran out of their own time, and gives
// up at once on anything else, or when its context ends.
func TestRetryStart(t *testing.T) {
	tries := 0
	err := retryStart(context.Background(), func(context.Context) error {
		tries++
		switch tries {
		case 1:
			return kerr.CoordinatorNotAvailable
		case 2:
			return context.DeadlineExceeded // this try's own timeout
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Errorf("retryStart = %v after %d tries, want nil after 3", err, tries)
	}
	tries = 0
	bad := errors.New("topic authorization failed")
	if err := retryStart(context.Background(), func(context.Context) error { tries++; return bad }); !errors.Is(err, bad) || tries != 1 {
		t.Errorf("retryStart = %v after %d tries, want the error after 1", err, tries)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tries = 0
	if err := retryStart(ctx, func(context.Context) error { tries++; return kerr.CoordinatorNotAvailable }); err == nil || tries != 1 {
		t.Errorf("retryStart with its context ended = %v after %d tries, want the error after 1", err, tries)
	}
}
