package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/store"
)

// DBFlags locate the database and the secret key.
type DBFlags struct {
	DataDir        string `help:"Data directory: SQLite database and secret key file." default:"./vigil-data" env:"VIGIL_DATA_DIR" placeholder:"DIR"`
	Database       string `help:"PostgreSQL URL (postgres://...). Default: SQLite in the data directory. Also VIGIL_DATABASE_URL_FILE." env:"VIGIL_DATABASE_URL" placeholder:"URL"`
	SecretKey      string `help:"32-byte key (hex or base64) sealing credential secrets. Default: a key file created in the data directory. Also VIGIL_SECRET_KEY_FILE." env:"VIGIL_SECRET_KEY" placeholder:"KEY"`
	MaxTargetHosts int64  `help:"Most addresses one target may hold." default:"4096" env:"VIGIL_MAX_TARGET_HOSTS"`
}

// open connects to the database (not migrating) with the secret box.
func (f *DBFlags) open(ctx context.Context) (*store.Store, error) {
	dsn, err := secretFromEnvFile(f.Database, "VIGIL_DATABASE_URL")
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		dsn = filepath.Join(f.DataDir, "vigil.db")
	}
	key, err := f.secretKey()
	if err != nil {
		return nil, err
	}
	box, err := auth.NewSecretBox(key)
	if err != nil {
		return nil, err
	}
	if f.MaxTargetHosts < 1 {
		return nil, fmt.Errorf("--max-target-hosts must be at least 1")
	}
	return store.Open(ctx, dsn, store.Options{MaxTargetHosts: f.MaxTargetHosts, Sealer: box, Now: func() time.Time { return clock() }})
}

func (f *DBFlags) secretKey() ([]byte, error) {
	s, err := secretFromEnvFile(f.SecretKey, "VIGIL_SECRET_KEY")
	if err != nil {
		return nil, err
	}
	if s != "" {
		key, err := auth.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("VIGIL_SECRET_KEY: %w", err)
		}
		return key, nil
	}
	// note: with PostgreSQL and several replicas every replica needs the same
	// key: set VIGIL_SECRET_KEY rather than relying on a per-machine file.
	return auth.LoadOrCreateKeyFile(filepath.Join(f.DataDir, "secret.key"))
}

// MigrateCmd applies or inspects migrations.
type MigrateCmd struct {
	Up     MigrateUpCmd     `cmd:"" help:"Apply pending migrations."`
	Status MigrateStatusCmd `cmd:"" help:"List migrations and whether each is applied."`
}

// MigrateUpCmd applies pending migrations.
type MigrateUpCmd struct{ DBFlags }

// Run applies pending migrations.
func (c *MigrateUpCmd) Run(ctx context.Context, g *Globals) error {
	st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	cur, _, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.Stdout, "applied %d migration(s); schema version %d\n", n, cur)
	return err
}

// MigrateStatusCmd lists migrations.
type MigrateStatusCmd struct{ DBFlags }

// Run lists migrations.
func (c *MigrateStatusCmd) Run(ctx context.Context, g *Globals) error {
	st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ms, err := st.MigrationStatuses(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		state := "pending"
		if m.Applied {
			state = "applied"
		}
		fmt.Fprintf(g.Stdout, "%04d  %-8s %s\n", m.Version, state, m.Name)
	}
	return nil
}
