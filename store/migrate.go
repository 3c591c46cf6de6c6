package store

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

func (s *Store) provider() (*goose.Provider, error) {
	dir := "migrations/" + s.dialect
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		// Several replicas starting at once: one migrates, the others wait. The
		// lock is per schema, so installations sharing a server do not queue.
		var schema string
		if err := s.wdb.QueryRow("SELECT current_schema()").Scan(&schema); err != nil {
			return nil, err
		}
		h := fnv.New64a()
		h.Write([]byte("vigil-migrate:" + schema))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 600))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, s.wdb.DB, fsys, opts...)
}

// Migrate applies pending migrations and returns how many ran.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	p, err := s.provider()
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range res {
		// Organizations older than the scans schema get their scanner and
		// built-in profiles (Go code: they need fresh ids and port list ids).
		if r.Source != nil && r.Source.Version == 2 {
			if err := s.syncAllScanDefaults(ctx); err != nil {
				return len(res), fmt.Errorf("store: migrate: scan defaults: %w", err)
			}
		}
	}
	return len(res), nil
}

// SchemaVersion returns the applied and the latest known migration versions.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}

// MigrationStatus describes each known migration.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

// MigrationStatuses lists every migration and whether it is applied.
func (s *Store) MigrationStatuses(ctx context.Context) ([]MigrationStatus, error) {
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, m := range st {
		out = append(out, MigrationStatus{Version: m.Source.Version, Name: m.Source.Path, Applied: m.State == goose.StateApplied})
	}
	return out, nil
}

// CheckSchema returns an error unless every migration is applied.
func (s *Store) CheckSchema(ctx context.Context) error {
	cur, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if cur < latest {
		return fmt.Errorf("database schema is at version %d but this build needs %d: run `vigil migrate up` (or start without --no-migrate)", cur, latest)
	}
	if cur > latest {
		return fmt.Errorf("database schema is at version %d, newer than this build knows (%d): upgrade vigil", cur, latest)
	}
	return nil
}
