package eddy

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/bridge"
	"github.com/eddy-streams/eddy/internal/metrics"
	"github.com/eddy-streams/eddy/internal/runtime"
)

// The test driver (package eddytest) takes eddy's own options and returns eddy's own
// errors: it reaches them through internal/bridge.
func init() {
	bridge.Config = driverConfig
	bridge.PublicError = publicError
	bridge.Client = clientOf
}

// clientOf is a Kafka client for the brokers, TLS and SASL of eddy options (Brokers,
// ClientOpts, TLS, SASL…), for package sql's runner: the topics it creates and the rows
// its generators write.
func clientOf(opts []any) (*kgo.Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		opt, ok := o.(Opt)
		if !ok {
			return nil, fmt.Errorf("eddy: %T is not an eddy option", o)
		}
		if opt != nil {
			opt.apply(&cfg)
		}
	}
	if len(cfg.brokers) == 0 {
		return nil, errors.New("eddy: no brokers (eddy.Brokers)")
	}
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.brokers...)}, cfg.clientOpts...)...)
}

// driverConfig is eddy.New's validation of opts for the test driver: the application id
// defaults to "eddytest" and no broker is needed.
func driverConfig(opts []any) (*runtime.Config, error) {
	cfg := defaultConfig()
	cfg.appID, cfg.brokers = "eddytest", []string{"eddytest.in-memory"}
	for _, o := range opts {
		opt, ok := o.(Opt)
		if !ok {
			return nil, fmt.Errorf("eddy: %T is not an eddy option", o)
		}
		if opt != nil {
			opt.apply(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg.runtime("eddytest", "", metrics.NewRegistry()), nil
}
