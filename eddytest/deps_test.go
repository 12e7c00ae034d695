package eddytest_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A service links eddy's packages, never eddytest: testcontainers (which eddytest's
// fixture imports) must stay out of what they import, so it is in test binaries only.
func TestServicePackagesDoNotImportTestcontainers(t *testing.T) {
	pkgs := []string{"github.com/eddy-streams/eddy", "github.com/eddy-streams/eddy/topology", "github.com/eddy-streams/eddy/processor",
		"github.com/eddy-streams/eddy/serde", "github.com/eddy-streams/eddy/store", "github.com/eddy-streams/eddy/embedded",
		"github.com/eddy-streams/eddy/changelog", "github.com/eddy-streams/eddy/eos"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "testcontainers") || strings.HasSuffix(dep, "/eddytest") || strings.Contains(dep, "internal/kafkatest") {
			t.Errorf("a service package imports %s", dep)
		}
	}
}
