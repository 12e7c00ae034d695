// Package changelog keeps state stores recoverable: every store has a compacted changelog
// topic, "<application id>-<store>-changelog", with one partition per task. At each commit
// a task writes the last value of every key it changed (a null value for a delete; an
// empty value stays a value) to its partition (Write); the highest acknowledged offset of
// each partition (Acks) gives the checkpoint written after the data it covers. A task that
// moves to another instance, or restarts, replays its partition from its local checkpoint
// when the checkpoint can be trusted (Trusted), else from the start, to the end before it
// processes anything.
//
// Restorer replays partitions. It reads read_committed and keeps control records, so its
// position passes transaction markers and aborted data is never applied, and it never
// resets an offset on its own: a checkpoint outside the log is the caller's to handle.
package changelog

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// Topic is the changelog topic of a store.
func Topic(applicationID, store string) string {
	return applicationID + "-" + store + "-changelog"
}

// Policy is the cleanup policy of key-value changelog topics: only the latest value per
// key is needed to rebuild a store.
const Policy = "compact"

// WindowPolicy is the cleanup policy of window stores' changelogs: compacted, and deleted
// after the windows' retention, since expired windows are gone from the store.
const WindowPolicy = "compact,delete"

// TopicConfig is the configuration changelog topics of key-value stores are created with.
func TopicConfig() map[string]*string {
	return map[string]*string{"cleanup.policy": kadm.StringPtr(Policy)}
}

// WindowTopicConfig is the configuration of a window store's changelog: retention is the
// store's window retention plus a day, so restores still find every live window.
func WindowTopicConfig(retention time.Duration) map[string]*string {
	return map[string]*string{
		"cleanup.policy": kadm.StringPtr(WindowPolicy),
		"retention.ms":   kadm.StringPtr(strconv.FormatInt((retention + 24*time.Hour).Milliseconds(), 10)),
	}
}
