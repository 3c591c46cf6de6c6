package testbed

import (
	"os/exec"
	"testing"

	"github.com/vigilscan/vigil/internal/testenv"
)

// RequireNetns needs root and iproute2 to build namespace networks.
func RequireNetns(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t, "network namespace tests")
	if _, err := exec.LookPath("ip"); err != nil {
		testenv.Unavailable(t, "network namespace tests need iproute2 (apt-get install iproute2)")
	}
}
