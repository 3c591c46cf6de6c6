package store_test

import (
	"testing"

	"github.com/vigilscan/vigil/storetest"
)

func TestSQLite(t *testing.T) { storetest.RunAll(t, storetest.OpenSQLite) }

func TestPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips (or fails in CI) without VIGIL_TEST_POSTGRES_URL
	storetest.RunAll(t, storetest.OpenPostgres)
}
