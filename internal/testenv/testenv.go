// Package testenv holds the one rule for optional test prerequisites
// (PostgreSQL, root, packages, shared test data): outside CI a test without
// them skips and says what to set; under CI=true, where everything must run,
// it fails.
package testenv

import (
	"os"
	"testing"
)

// Unavailable skips t because of why, or fails it under CI=true.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI requires this test)")
	}
	t.Skip(why)
}

// RequireRoot needs root for what (raw sockets, namespaces, privileged ports).
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, what+" needs root")
	}
}
