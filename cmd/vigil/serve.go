package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/httpapi"
	"github.com/vigilscan/vigil/jobs"
	"github.com/vigilscan/vigil/message"
	"github.com/vigilscan/vigil/node"
	"github.com/vigilscan/vigil/notify"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/checks"
	"github.com/vigilscan/vigil/scan/fingerprint"
	"github.com/vigilscan/vigil/schedule"
	"github.com/vigilscan/vigil/store"
	"github.com/vigilscan/vigil/webhook"
)

// ServeCmd runs the API server.
type ServeCmd struct {
	DBFlags
	Listen        string        `help:"Address to listen on." default:"127.0.0.1:8080" env:"VIGIL_LISTEN" placeholder:"ADDR"`
	NoMigrate     bool          `help:"Do not migrate at start; refuse to start on an outdated schema." env:"VIGIL_NO_MIGRATE"`
	RequireAPIKey bool          `help:"Require x-api-key on every route, as the CG API does (--no-require-api-key: a bearer token is enough)." default:"true" negatable:"" env:"VIGIL_REQUIRE_API_KEY"`
	SessionTTL    time.Duration `help:"Lifetime of sign-in tokens." default:"12h" env:"VIGIL_SESSION_TTL"`
	Lockout       time.Duration `help:"How long an account (or address) stays locked after too many failed sign-ins or codes." default:"15m" env:"VIGIL_LOCKOUT"`
	AdminEmail    string        `help:"E-mail of the admin created on first start." default:"admin@vigil.local" env:"VIGIL_ADMIN_EMAIL"`
	AdminPassword string        `help:"Password of the admin created on first start (default: random, printed once). Also VIGIL_ADMIN_PASSWORD_FILE." env:"VIGIL_ADMIN_PASSWORD"`
	OrgName       string        `help:"Name of the organization created on first start." default:"Default" env:"VIGIL_ORG_NAME"`
	PortalURL     string        `help:"Base URL of the portal, for links in e-mails." default:"http://127.0.0.1:8080" env:"VIGIL_PORTAL_URL" placeholder:"URL"`
	PublicURL     string        `help:"This API's own base URL, for the SSO redirect URI (default: from the request's Host)." env:"VIGIL_PUBLIC_URL" placeholder:"URL"`
	MessageFlags
	NodeFlags
	WorkflowFlags
}

// WorkflowFlags configure schedules, exceptions, webhooks and the audit trail.
type WorkflowFlags struct {
	WebhookAllow    string        `help:"CIDRs webhooks may reach although loopback, private or link-local (SSRF guard exceptions)." env:"VIGIL_WEBHOOK_ALLOW" placeholder:"CIDRS"`
	WebhookAttempts int           `help:"Attempts per webhook delivery (the first and its retries)." default:"4" env:"VIGIL_WEBHOOK_ATTEMPTS"`
	WebhookWorkers  int           `help:"Webhook deliveries in flight at once, per server." default:"50" env:"VIGIL_WEBHOOK_WORKERS"`
	RetryBackoff    time.Duration `help:"Base delay of job retries (webhooks, e-mail): attempt n waits base×n² (0: 1s, 16s, 81s, ... as attempt⁴ seconds)." env:"VIGIL_RETRY_BACKOFF"`
	Tick            time.Duration `help:"How often the scheduler fires due slots and expired exceptions end." default:"15s" env:"VIGIL_TICK"`
	ExceptionDays   int           `help:"Days an activated exception without an end date lasts (0: until reset)." default:"90" env:"VIGIL_EXCEPTION_DAYS"`
	AuditRetention  time.Duration `help:"Audit events older than this are deleted (0: kept forever)." default:"8760h" env:"VIGIL_AUDIT_RETENTION"`
}

// clock is the server's time; tests replace it.
var clock = vigil.Now

// MessageFlags configure e-mail and SMS delivery.
type MessageFlags struct {
	SMTPURL          string `name:"smtp-url" help:"SMTP server: smtp://[user:pass@]host[:port][?tls=none|starttls|mandatory|tls] (empty: no e-mail). Also VIGIL_SMTP_URL_FILE." env:"VIGIL_SMTP_URL" placeholder:"URL"`
	SMTPFrom         string `name:"smtp-from" help:"Sender address of e-mails." default:"vigil@localhost" env:"VIGIL_SMTP_FROM"`
	SMSProvider      string `name:"sms-provider" help:"SMS delivery: none, outbox (stored for an operator to read), twilio." default:"outbox" enum:"none,outbox,twilio" env:"VIGIL_SMS_PROVIDER"`
	TwilioURL        string `name:"twilio-url" help:"Base URL of the Twilio-compatible API." default:"https://api.twilio.com" env:"VIGIL_TWILIO_URL"`
	TwilioAccountSID string `name:"twilio-account-sid" help:"Twilio account SID." env:"VIGIL_TWILIO_ACCOUNT_SID"`
	TwilioAuthToken  string `name:"twilio-auth-token" help:"Twilio auth token. Also VIGIL_TWILIO_AUTH_TOKEN_FILE." env:"VIGIL_TWILIO_AUTH_TOKEN"`
	TwilioFrom       string `name:"twilio-from" help:"Sender number (E.164) or messaging service SID." env:"VIGIL_TWILIO_FROM"`
}

// sender builds message delivery from the flags.
func (f *MessageFlags) sender(st *store.Store, portal string) (*message.Sender, error) {
	s := &message.Sender{Store: st, Tenancy: st, PortalURL: portal}
	smtpURL, err := secretFromEnvFile(f.SMTPURL, "VIGIL_SMTP_URL")
	if err != nil {
		return nil, err
	}
	if smtpURL != "" {
		if s.Mail, err = message.NewMailer(smtpURL, f.SMTPFrom); err != nil {
			return nil, err
		}
	}
	switch f.SMSProvider {
	case "outbox":
		s.SMS = message.Outbox{}
	case "twilio":
		tok, err := secretFromEnvFile(f.TwilioAuthToken, "VIGIL_TWILIO_AUTH_TOKEN")
		if err != nil {
			return nil, err
		}
		if f.TwilioAccountSID == "" || tok == "" || f.TwilioFrom == "" {
			return nil, errors.New("--sms-provider twilio needs --twilio-account-sid, --twilio-auth-token and --twilio-from")
		}
		s.SMS = &message.Twilio{BaseURL: f.TwilioURL, AccountSID: f.TwilioAccountSID, AuthToken: tok, From: f.TwilioFrom}
	}
	return s, nil
}

// NodeFlags configure the in-process scanner node.
type NodeFlags struct {
	NoScanner    bool          `help:"Do not run the in-process scanner node (runs of local scanners then wait for another replica)." env:"VIGIL_NO_SCANNER"`
	ScannerRuns  int           `help:"Runs the in-process scanner executes at once." default:"2" env:"VIGIL_SCANNER_RUNS"`
	RunLease     time.Duration `help:"A run whose node is silent this long ends Interrupted (results so far are kept)." default:"30s" env:"VIGIL_RUN_LEASE"`
	ScanAllow    string        `help:"Scope guard of the scanner: only these CIDRs may be probed (default: anything a target names)." env:"VIGIL_SCAN_ALLOW" placeholder:"CIDRS"`
	ScanRate     int           `help:"Probes per second per run." default:"5000" env:"VIGIL_SCAN_RATE"`
	Fingerprints string        `help:"Directory of Rapid7 Recog XML fingerprints to widen service detection (default: those imported with vigil feeds)." env:"VIGIL_FINGERPRINTS" placeholder:"DIR"`
	NoChecks     bool          `help:"Run no vulnerability checks or CVE matching after service detection." env:"VIGIL_NO_CHECKS"`
}

// engine returns how the node turns a run's config into the engine's.
// The imported feeds (st) give Recog fingerprints when no directory is set,
// and the CVE data the checks match versions against.
func (f *NodeFlags) engine(ctx context.Context, g *Globals, st *store.Store) (func(vigil.RunConfig) (scan.Config, error), error) {
	scope, err := scan.ParseScope(f.ScanAllow)
	if err != nil {
		return nil, fmt.Errorf("--scan-allow: %w", err)
	}
	var opts []fingerprint.Option
	if f.Fingerprints != "" {
		db, err := fingerprint.LoadRecog(f.Fingerprints)
		if err != nil {
			return nil, err
		}
		opts = append(opts, fingerprint.WithRecog(db))
	} else if files, err := st.RecogFiles(ctx); err != nil {
		return nil, err
	} else if len(files) > 0 {
		db, err := fingerprint.ParseRecog(files)
		if err != nil {
			return nil, fmt.Errorf("imported recog fingerprints: %w", err)
		}
		opts = append(opts, fingerprint.WithRecog(db))
		g.Log.Info("recog fingerprints from the imported feed", "count", db.Count())
	}
	detector := fingerprint.New(opts...)
	runner := &checks.Runner{Intel: st, OnError: func(addr netip.Addr, port int, id string, err error) {
		g.Log.Debug("check undecided", "host", addr, "port", port, "check", id, "err", err)
	}}
	return func(rc vigil.RunConfig) (scan.Config, error) {
		cfg := scan.DefaultConfig()
		cfg.Hosts, cfg.ExcludeHosts, cfg.Ports, cfg.AliveTest = rc.Hosts, rc.ExcludeHosts, rc.Ports, vigil.AliveTest(rc.AliveTest)
		cfg.Scope, cfg.Rate, cfg.ProgressEvery = scope, f.ScanRate, time.Second
		if rc.ServiceDetection {
			cfg.ServiceDetection, cfg.DetectService = true, detector.Detect
			if !f.NoChecks {
				// One runner per run: the run's ssh login is its own.
				r := *runner
				r.SSH = rc.SSH
				cfg.Checks, cfg.CheckTimeout = r.Run, 2*time.Minute
				if r.SSH != nil {
					cfg.CheckTimeout += 2 * time.Minute // the authenticated inventory
				}
			}
		}
		return cfg, nil
	}, nil
}

// every runs fn now and then every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcileRuns ends the runs of nodes that stopped reporting, at a fraction
// of the lease so that a dead node's run is never left Running for long.
func reconcileRuns(ctx context.Context, q vigil.RunQueue, interval time.Duration, g *Globals) {
	every(ctx, interval, func() {
		n, err := q.ExpireRuns(ctx)
		if err != nil && ctx.Err() == nil {
			g.Log.Warn("expiring runs failed", "err", err)
		} else if n > 0 {
			g.Log.Warn("runs interrupted: their scanner node stopped reporting", "count", n)
		}
	})
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
	cfg.SessionTTL, cfg.Lockout = c.SessionTTL, c.Lockout
	cfg.MaxTargetHosts = c.MaxTargetHosts
	cfg.PasswordHasher = func(p string) (string, error) { return auth.HashPassword(p, auth.DefaultArgon2) }
	cfg.PasswordVerifier = auth.VerifyPassword
	cfg.BurnPasswordCheck = auth.BurnPasswordCheck
	engine, err := c.engine(ctx, g, st)
	if err != nil {
		return err
	}
	sender, err := c.sender(st, c.PortalURL)
	if err != nil {
		return err
	}
	key, err := c.secretKey()
	if err != nil {
		return err
	}
	cfg.PortalURL, cfg.PublicURL, cfg.CodeKey = c.PortalURL, c.PublicURL, codeKey(key)
	cfg.ExceptionDays = c.ExceptionDays
	allow, err := webhook.ParseAllow(c.WebhookAllow)
	if err != nil {
		return err
	}
	guard := &webhook.Guard{Allow: allow}
	cfg.WebhookURLCheck = func(ctx context.Context, u string) error { return guard.CheckURL(ctx, u) }
	deliverer := &notify.Deliverer{Store: st, Client: guard.Client(10 * time.Second), Log: g.Log.With("component", "webhooks")}
	runner, err := c.startJobs(ctx, st, sender, deliverer, g)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runner.Stop(sctx)
	}()
	sender.Enqueue = runner.EnqueueMessage
	var nd *node.Node
	if !c.NoScanner {
		nd = node.New(node.Config{Concurrency: c.ScannerRuns, Lease: c.RunLease, Engine: engine,
			Log: g.Log.With("component", "scanner")}, st, st)
	}
	services := httpapi.Services{
		Accounts: st, Limiter: st, Targets: st, Credentials: st, PortLists: st, Scans: st, Results: st, Feeds: st,
		Tenancy: st, Groups: st, Audit: st, Preferences: st, SSO: st, Messages: sender,
		Exceptions: st, Schedules: st, Webhooks: st, Notices: st, EnqueueDelivery: runner.EnqueueWebhook,
		Ready: func(ctx context.Context) error { return ready(ctx, st) },
	}
	if nd != nil {
		services.OnScanStart = nd.Wake
	}
	api := httpapi.NewServer(services, cfg, g.Log, reg, clock)
	dispatcher := notify.NewDispatcher(st, runner.EnqueueWebhooks, sender, c.PortalURL, g.Log.With("component", "events"))
	st.OnEvents(dispatcher.Kick)
	scheduler := &schedule.Scheduler{Store: st, Now: clock, Log: g.Log.With("component", "scheduler")}
	if nd != nil {
		scheduler.Started = nd.Wake
	}

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
	go c.maintain(bg, st, g)
	go reconcileRuns(bg, st, max(c.RunLease/3, 100*time.Millisecond), g)
	go dispatcher.Run(bg, 2*time.Second)
	go scheduler.Run(bg, c.Tick)
	go expireExceptions(bg, st, c.Tick, g)
	nodeDone := make(chan struct{})
	if nd != nil {
		g.Log.Info("in-process scanner node started", "node", nd.ID(), "runs", c.ScannerRuns, "scope", c.ScanAllow)
		go func() {
			defer close(nodeDone)
			nd.Run(bg)
		}()
	} else {
		close(nodeDone)
	}

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
	// Runs in progress end Interrupted, with what they found so far.
	stopBG()
	<-nodeDone
	g.Log.Info("stopped")
	return nil
}

// expireExceptions ends exceptions whose end date passed, every interval,
// on every replica (each row flips once).
func expireExceptions(ctx context.Context, st *store.Store, interval time.Duration, g *Globals) {
	every(ctx, interval, func() {
		n, err := st.ExpireExceptions(ctx)
		if err != nil && ctx.Err() == nil {
			g.Log.Warn("expiring exceptions failed", "err", err)
		} else if n > 0 {
			g.Log.Info("exceptions expired", "count", n)
		}
	})
}

// startJobs starts the River workers on the server's database.
func (c *ServeCmd) startJobs(ctx context.Context, st *store.Store, sender *message.Sender, hooks *notify.Deliverer, g *Globals) (*jobs.Runner, error) {
	cfg := jobs.Config{Messages: sender, Queued: st, Log: g.Log.With("component", "jobs"), PollInterval: 500 * time.Millisecond,
		Webhooks: hooks, PendingHooks: st, WebhookAttempts: c.WebhookAttempts, WebhookWorkers: c.WebhookWorkers}
	if b := c.RetryBackoff; b > 0 {
		cfg.Backoff = func(attempt int) time.Duration { return b * time.Duration(attempt*attempt) }
	}
	if st.Dialect() == store.SQLite {
		return jobs.StartSQLite(ctx, st.DB().DB, cfg)
	}
	return jobs.StartPostgres(ctx, c.Database, cfg)
}

// codeKey derives the key of SMS and recovery code hashes from the secret key.
func codeKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("vigil one-time codes"))
	return m.Sum(nil)
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

// maintain, hourly, deletes tokens expired or revoked for a day, events
// dispatched a week ago and audit events past their retention, and
// refreshes the database planner statistics that went stale.
func (c *ServeCmd) maintain(ctx context.Context, st *store.Store, g *Globals) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := clock()
		n, err := st.DeleteExpiredTokens(ctx, now.Add(-24*time.Hour))
		if err != nil && ctx.Err() == nil {
			g.Log.Warn("token cleanup failed", "err", err)
		} else if n > 0 {
			g.Log.Info("expired tokens deleted", "count", n)
		}
		if _, err := st.PruneEvents(ctx, now.Add(-7*24*time.Hour)); err != nil && ctx.Err() == nil {
			g.Log.Warn("event cleanup failed", "err", err)
		}
		if c.AuditRetention > 0 {
			if n, err := st.PruneAudit(ctx, now.Add(-c.AuditRetention)); err != nil && ctx.Err() == nil {
				g.Log.Warn("audit retention failed", "err", err)
			} else if n > 0 {
				g.Log.Info("audit events past retention deleted", "count", n)
			}
		}
		if err := st.Optimize(ctx); err != nil && ctx.Err() == nil {
			g.Log.Warn("database statistics refresh failed", "err", err)
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
