// Package bridge hands packages eddytest and sql what package eddy keeps to itself: turning eddy's
// options into the runtime's configuration, and the runtime's errors into eddy's public
// ones (*eddy.RecordError). Package eddy fills it in when it is initialised; eddytest
// imports eddy, so it is filled in before eddytest uses it.
package bridge

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/runtime"
)

var (
	// Config validates eddy options (each an eddy.Opt) as eddy.New does and returns the
	// runtime configuration they make, for an instance of the test driver.
	Config func(opts []any) (*runtime.Config, error)
	// PublicError turns an error of the runtime into the one eddy's Run would return.
	PublicError func(error) error
	// Client is a Kafka client for the brokers, TLS and SASL of eddy options, for package
	// sql's runner.
	Client func(opts []any) (*kgo.Client, error)
)
