// Package vigil holds Vigil's domain: the types every other package talks in,
// the service interfaces the store implements and the HTTP API consumes, and the
// error codes that map to API statuses. It imports nothing from the project.
package vigil

import "time"

// Version is the release version, set at build time with
// -ldflags "-X github.com/vigilscan/vigil.Version=...".
var Version = "dev"

// Commit is the source revision, set at build time.
var Commit = ""

// Now returns the current time truncated to milliseconds in UTC, the precision
// the API emits. Everything that stamps a row goes through a func like this so
// tests can control time.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
