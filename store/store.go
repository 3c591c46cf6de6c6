// Package store is Vigil's one storage implementation, written with bun over
// SQLite (modernc, pure Go) and PostgreSQL (pgx). Every exported method scopes
// its queries to the organization it is given; permission checks live above it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vigilscan/vigil"
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Sealer encrypts credential secrets at rest; auth.SecretBox implements it.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Options configure a Store.
type Options struct {
	// MaxTargetHosts caps the addresses of one target (0: vigil.DefaultMaxTargetHosts).
	MaxTargetHosts int64
	// Sealer seals credential secrets. Required for credential methods.
	Sealer Sealer
	// Now stamps rows; tests replace it. Defaults to vigil.Now.
	Now func() time.Time
}

// OnEvents sets what is called after a transaction that wrote events to the
// outbox commits (the dispatcher's wake-up). It must not block.
func (s *Store) OnEvents(f func()) { s.onEvents.Store(&f) }

// Store implements the vigil services over one database.
type Store struct {
	dialect string
	db      *bun.DB // reads; also writes on PostgreSQL
	wdb     *bun.DB // writes: on SQLite a single connection, so writers queue instead of failing with SQLITE_BUSY
	opts    Options

	onEvents atomic.Pointer[func()]
	emitted  atomic.Bool // an event was written since the last commit's kick
}

// Open connects to dsn: a postgres:// or postgresql:// URL, or a SQLite file
// path (optionally prefixed "sqlite:" or "file:"). It does not migrate.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.MaxTargetHosts == 0 {
		opts.MaxTargetHosts = vigil.DefaultMaxTargetHosts
	}
	if opts.Now == nil {
		opts.Now = vigil.Now
	}
	s := &Store{opts: opts}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sqldb, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		sqldb.SetMaxOpenConns(25)
		sqldb.SetMaxIdleConns(25)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		s.dialect = Postgres
		s.db = bun.NewDB(sqldb, pgdialect.New())
		s.wdb = s.db
	} else {
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
		if path == "" {
			return nil, errors.New("store: empty database path")
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: create data dir: %w", err)
			}
		}
		// note: WAL lets readers run beside the writer; foreign_keys is off by
		// default in SQLite and our RESTRICT rules depend on it; busy_timeout
		// covers other processes (the CLI) writing to the same file. Pages are
		// read through a memory map (no read syscall per page; the OS page
		// cache is shared by every connection), and the one writer keeps a
		// large private cache because ingest touches a dozen finding indexes.
		pragmas := "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
			"&_pragma=mmap_size(1073741824)&_pragma=temp_store(memory)"
		wsql, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?"+pragmas+"&_pragma=cache_size(-131072)&_txlock=immediate")
		if err != nil {
			return nil, err
		}
		wsql.SetMaxOpenConns(1)
		wsql.SetConnMaxIdleTime(0)
		wsql.SetConnMaxLifetime(0)
		rsql, err := sql.Open("sqlite", "file:"+url.PathEscape(path)+"?"+pragmas+"&_pragma=query_only(1)")
		if err != nil {
			wsql.Close()
			return nil, err
		}
		rsql.SetMaxOpenConns(8)
		s.dialect = SQLite
		s.wdb = bun.NewDB(wsql, sqlitedialect.New())
		s.db = bun.NewDB(rsql, sqlitedialect.New())
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.wdb.PingContext(pctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return s, nil
}

// Dialect is SQLite or Postgres.
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the connection pools.
func (s *Store) Close() error {
	err := s.wdb.Close()
	if s.db != s.wdb {
		err = errors.Join(err, s.db.Close())
	}
	return err
}

func (s *Store) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// tx runs fn in a write transaction, rolling back on error or panic.
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	err := s.wdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return translate(fn(ctx, tx))
	})
	// A kick after a rolled-back transaction is harmless: the dispatcher
	// then finds nothing.
	if s.emitted.Swap(false) {
		if f := s.onEvents.Load(); f != nil {
			(*f)()
		}
	}
	return err
}

// translate maps driver errors to domain errors by their codes, never by text.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var verr *vigil.Error
	if errors.As(err, &verr) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &vigil.Error{Code: vigil.ENOTFOUND, Message: "Record Not Found"}
	}
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			// SQLite reports ON DELETE RESTRICT violations with the trigger
			// code (RESTRICT is carried out like a trigger); we define no
			// triggers of our own.
			return &vigil.Error{Code: vigil.ECONFLICT, Message: "the record is in use by another record"}
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &vigil.Error{Code: vigil.ECONFLICT, Message: "a record with these values already exists"}
		}
	}
	var perr *pgconn.PgError
	if errors.As(err, &perr) {
		switch perr.Code {
		case "23503":
			return &vigil.Error{Code: vigil.ECONFLICT, Message: "the record is in use by another record"}
		case "23505":
			return &vigil.Error{Code: vigil.ECONFLICT, Message: "a record with these values already exists"}
		}
	}
	return err
}

// Optimize refreshes the query planner's statistics where they are stale
// (`vigil serve` calls it hourly). SQLite's PRAGMA optimize analyzes only the
// tables that changed much since their last analysis, within a bounded
// effort; PostgreSQL's autovacuum does this by itself.
func (s *Store) Optimize(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	_, err := s.wdb.ExecContext(ctx, "PRAGMA optimize")
	return err
}

// DB exposes the write handle for tests and maintenance tools that need raw
// SQL (seeding benchmarks, checking what is on disk). Services never use it.
func (s *Store) DB() *bun.DB { return s.wdb }
