package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/httpapi"
	"github.com/vigilscan/vigil/store"
)

// ServeCmd runs the API server.
type ServeCmd struct {
	DBFlags
	Listen        string        `help:"Address to listen on." default:"127.0.0.1:8080" env:"VIGIL_LISTEN" placeholder:"ADDR"`
	NoMigrate     bool          `help:"Do not migrate at start; refuse to start on an outdated schema." env:"VIGIL_NO_MIGRATE"`
	RequireAPIKey bool          `help:"Require x-api-key on every route, as the CG API does (--no-require-api-key: a bearer token is enough)." default:"true" negatable:"" env:"VIGIL_REQUIRE_API_KEY"`
	SessionTTL    time.Duration `help:"Lifetime of sign-in tokens." default:"12h" env:"VIGIL_SESSION_TTL"`
	AdminEmail    string        `help:"E-mail of the admin created on first start." default:"admin@vigil.local" env:"VIGIL_ADMIN_EMAIL"`
	AdminPassword string        `help:"Password of the admin created on first start (default: random, printed once). Also VIGIL_ADMIN_PASSWORD_FILE." env:"VIGIL_ADMIN_PASSWORD"`
	OrgName       string        `help:"Name of the organization created on first start." default:"Default" env:"VIGIL_ORG_NAME"`
}

// onListen, when set (by tests), is called with the address the server
// listens on.
var onListen func(addr string)

// Run starts the server and blocks until ctx ends, then drains.
func (c *ServeCmd) Run(ctx context.Context, g *Globals) error {
	st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.NoMigrate {
		if err := st.CheckSchema(ctx); err != nil {
			return err
		}
	} else {
		n, err := st.Migrate(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			g.Log.Info("database migrated", "migrations", n)
		}
	}
	if err := c.bootstrap(ctx, st, g); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg := httpapi.DefaultConfig()
	cfg.RequireAPIKey = c.RequireAPIKey
	cfg.SessionTTL = c.SessionTTL
	cfg.MaxTargetHosts = c.MaxTargetHosts
	cfg.PasswordHasher = func(p string) (string, error) { return auth.HashPassword(p, auth.DefaultArgon2) }
	cfg.PasswordVerifier = auth.VerifyPassword
	cfg.BurnPasswordCheck = auth.BurnPasswordCheck
	api := httpapi.NewServer(httpapi.Services{
		Accounts: st, Limiter: st, Targets: st, Credentials: st, PortLists: st, Scans: st,
		Ready: func(ctx context.Context) error { return ready(ctx, st) },
	}, cfg, g.Log, reg, vigil.Now)

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 120 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: nil}
	g.Log.Info("vigil listening", "addr", ln.Addr().String(), "database", st.Dialect(), "version", vigil.Version)
	if onListen != nil {
		onListen(ln.Addr().String())
	}

	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go cleanupTokens(bg, st, g)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.Log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	stopBG()
	g.Log.Info("stopped")
	return nil
}

// ready is /readyz: the database answers and its schema is current.
func ready(ctx context.Context, st *store.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		return errors.New("database unreachable")
	}
	cur, latest, err := st.SchemaVersion(ctx)
	if err != nil {
		return errors.New("cannot read schema version")
	}
	if cur != latest {
		return fmt.Errorf("schema at version %d, this build needs %d", cur, latest)
	}
	return nil
}

// cleanupTokens deletes tokens expired or revoked for a day, hourly.
func cleanupTokens(ctx context.Context, st *store.Store, g *Globals) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := st.DeleteExpiredTokens(ctx, vigil.Now().Add(-24*time.Hour))
		if err != nil && ctx.Err() == nil {
			g.Log.Warn("token cleanup failed", "err", err)
		} else if n > 0 {
			g.Log.Info("expired tokens deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bootstrap creates the first organization, its admin and an API key on a
// fresh database, and prints them once: nothing shows the key or a generated
// password again.
func (c *ServeCmd) bootstrap(ctx context.Context, st *store.Store, g *Globals) error {
	n, err := st.CountOrganizations(ctx)
	if err != nil || n > 0 {
		return err
	}
	password, err := secretFromEnvFile(c.AdminPassword, "VIGIL_ADMIN_PASSWORD")
	if err != nil {
		return err
	}
	generated := password == ""
	if generated {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	org, err := st.CreateOrganization(ctx, c.OrgName)
	if err != nil {
		return err
	}
	u, err := createUser(ctx, st, org.ID, vigil.UserInput{Email: c.AdminEmail, Name: "Administrator", Role: vigil.RoleAdmin, Password: password})
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	key, err := createAPIKey(ctx, st, org.ID, "bootstrap", u.ID)
	if err != nil {
		return err
	}
	g.Log.Info("audit: first start: organization, admin and API key created", "organization_id", org.ID, "user_id", u.ID)
	fmt.Fprintf(g.Stdout, "\nFirst start: created organization %q (%s).\n", org.Name, org.ID)
	fmt.Fprintf(g.Stdout, "  admin e-mail:  %s\n", u.Email)
	if generated {
		fmt.Fprintf(g.Stdout, "  admin password: %s\n", password)
	} else {
		fmt.Fprintf(g.Stdout, "  admin password: (from VIGIL_ADMIN_PASSWORD)\n")
	}
	fmt.Fprintf(g.Stdout, "  API key (x-api-key): %s\n", key)
	fmt.Fprintf(g.Stdout, "These are shown only now; store them safely.\n\n")
	return nil
}
