// Package storetest is the conformance suite every database backend of the
// store must pass, plus helpers that open fresh stores for tests.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/internal/testenv"
	"github.com/vigilscan/vigil/store"
)

// Opener returns a fresh, migrated, empty store private to t.
type Opener func(t testing.TB) *store.Store

// Sealer is a fixed-key secret box for tests.
func Sealer(t testing.TB) *auth.SecretBox {
	box, err := auth.NewSecretBox(bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// OpenSQLite opens a migrated SQLite store in a temporary directory.
func OpenSQLite(t testing.TB) *store.Store {
	return Open(t, filepath.Join(t.TempDir(), "vigil.db"))
}

// OpenPostgres opens a migrated PostgreSQL store in a schema of its own.
func OpenPostgres(t testing.TB) *store.Store {
	return Open(t, PostgresURL(t))
}

// Open opens and migrates the store at dsn (a SQLite path or a PostgreSQL
// URL from PostgresURL, for a caller that also needs the URL).
func Open(t testing.TB, dsn string) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, dsn, store.Options{Sealer: Sealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// PostgresURL returns VIGIL_TEST_POSTGRES_URL pointed at a new schema that
// is dropped when t ends, so tests can run in parallel. Without the variable
// the test skips, or fails under CI=true, where PostgreSQL is required.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("VIGIL_TEST_POSTGRES_URL")
	if base == "" {
		testenv.Unavailable(t, "set VIGIL_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run the PostgreSQL tests")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
