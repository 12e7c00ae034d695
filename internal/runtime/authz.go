package runtime

import (
	"errors"
	"fmt"
	"strings"

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
// topic needs READ on it; joining the group needs READ on the group (each implies
// DESCRIBE, by Kafka's rule).
func fetchAuthorization(err error, topic string, partition int32, group string) error {
	switch {
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		return fmt.Errorf("%w: the application's principal may not join its group %s: grant READ on group %s: %w",
			ErrNotAuthorized, group, group, err)
	case isAuthorization(err) && topic != "":
		return fmt.Errorf("%w: the application's principal may not read %s/%d: grant READ on topic %s: %w",
			ErrNotAuthorized, topic, partition, topic, err)
	case isAuthorization(err):
		return fmt.Errorf("%w: %w", ErrNotAuthorized, err)
	}
	return nil
}

// describeTopicsError is the error of a refused description of topics of a role (input,
// output, global table, dead-letter): a topic the principal may neither read nor write
// is one it may not see. It names READ (inputs) or WRITE (outputs), which imply DESCRIBE.
func describeTopicsError(err error, role string, topics []string) error {
	op := "READ"
	if role == "output" || role == "dead-letter" {
		op = "WRITE"
	}
	return fmt.Errorf("%w: the application's principal may not see the %s topics %s: grant %s on them: %w",
		ErrNotAuthorized, role, strings.Join(topics, ", "), op, err)
}

// describeConfigsError is the error of reading the configs of topics (what: what they
// are): a refused permission names DESCRIBE_CONFIGS on them.
func describeConfigsError(err error, what string, topics []string) error {
	if isAuthorization(err) {
		return fmt.Errorf("%w: the application's principal may not read the configs of %s %s: grant DESCRIBE_CONFIGS on them: %w",
			ErrNotAuthorized, what, strings.Join(topics, ", "), err)
	}
	return fmt.Errorf("eddy: describing the configs of %s %s: %w", what, strings.Join(topics, ", "), err)
}

// produceError is the error of a record the producer could not write to topic (src: the
// input record it came from, if known): a refused permission names WRITE on the topic.
func produceError(err error, topic, src string) error {
	if src != "" {
		src = " (output of record " + src + ")"
	}
	if isAuthorization(err) && errors.Is(err, kerr.TopicAuthorizationFailed) {
		return fmt.Errorf("%w: the application's principal may not write to %s%s: grant WRITE on topic %s: %w", ErrNotAuthorized, topic, src, topic, err)
	}
	return fmt.Errorf("eddy: producing to %s%s: %w", topic, src, err)
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
		grant = fmt.Sprintf("WRITE on transactional ids prefixed %s- (exactly-once)", applicationID)
	case errors.Is(err, kerr.GroupAuthorizationFailed):
		grant = fmt.Sprintf("READ on group %s", applicationID)
	case errors.Is(err, kerr.ClusterAuthorizationFailed):
		grant = "the cluster permission the operation above needs"
	default:
		grant = fmt.Sprintf("the topic permission the operation above needs (internal topics: on topics prefixed %s-)", applicationID)
	}
	return fmt.Errorf("%w: %w; grant %s (README.md, Secured clusters, lists them all)", ErrNotAuthorized, err, grant)
}
