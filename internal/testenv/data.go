package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// VulnDB is the shared vulnerability test data directory
// ($VIGIL_TESTDATA/vulndb); without VIGIL_TESTDATA the test is unavailable.
func VulnDB(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("VIGIL_TESTDATA")
	if dir == "" {
		Unavailable(t, "set VIGIL_TESTDATA to the shared test data (e.g. $(pwd)/../shared/testdata) to run this test")
	}
	return filepath.Join(dir, "vulndb")
}
