package eddy

import (
	"fmt"

	"github.com/eddy-streams/eddy/internal/bridge"
	"github.com/eddy-streams/eddy/internal/metrics"
	"github.com/eddy-streams/eddy/internal/runtime"
)

// The test driver (package eddytest) takes eddy's own options and returns eddy's own
// errors: it reaches them through internal/bridge.
func init() {
	bridge.Config = driverConfig
	bridge.PublicError = publicError
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
