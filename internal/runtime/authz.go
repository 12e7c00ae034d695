package runtime

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrNotAuthorized matches the error of a Run that the brokers refused a permission: the
// error names the operation and the resource (README.md, "Secured clusters", lists the
// ACLs an application needs). Retrying does not help until the ACL is granted.
var ErrNotAuthorized = errors.New("eddy: not authorized")

// isAuthorization reports whether err is the broker refusing a permission.
func isAuthorization(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// fetchAuthorization turns a fetch error that is a refused permission into the error that
// stops the instance, naming what to grant; other errors give nil. A consumer's fetch of
// topic needs READ (and DESCRIBE) on it; joining the group needs READ on the group.
func fetchAuthorization(err error, topic string, partition int32, group string) error {
	switch {
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Errorf("%w: the application's principal may not join its group %s: grant READ and DESCRIBE on group %s: %w",
			ErrNotAuthorized, group, group, err)
	case isAuthorization(err) && topic != "":
		return fmt.Errorf("%w: the application's principal may not read %s/%d: grant READ and DESCRIBE on topic %s: %w",
			ErrNotAuthorized, topic, partition, topic, err)
	case isAuthorization(err):
		return fmt.Errorf("%w: %w", ErrNotAuthorized, err)
	}
	return nil
}

// NotAuthorized wraps an error of a refused permission that no call site named yet with
// ErrNotAuthorized and what to grant, by the kind of resource the broker refused; other
// errors are returned as they are.
func NotAuthorized(err error, applicationID string) error {
	var rf *RecordFailure
	if err == nil || errors.Is(err, ErrNotAuthorized) || !isAuthorization(err) || errors.As(err, &rf) {
		return err // a record that failed says which, under its error policy
	}
	var grant string
	switch {
	case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
		grant = fmt.Sprintf("WRITE and DESCRIBE on transactional ids prefixed %s- (exactly-once)", applicationID)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		grant = fmt.Sprintf("READ and DESCRIBE on group %s", applicationID)
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		grant = "the cluster permission the operation above needs"
	default:
		grant = fmt.Sprintf("the topic permission the operation above needs (internal topics: on topics prefixed %s-)", applicationID)
	}
	return fmt.Errorf("%w: %w; grant %s (README.md, Secured clusters, lists them all)", ErrNotAuthorized, err, grant)
}
