// Package httpapi is Vigil's HTTP API: the CG Scanning API v2 routes on huma
// over the standard library's ServeMux, with the OpenAPI 3.1 document and a
// docs page generated from the same route table.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/message"
)

// Config holds the API's tunables. DefaultConfig has the defaults.
type Config struct {
	// RequireAPIKey demands x-api-key on every route but health and docs, as
	// the CG API does. With false, a bearer token alone is enough.
	RequireAPIKey bool
	// SessionTTL is how long a sign-in token lives.
	SessionTTL time.Duration
	// MaxTargetHosts is reported by calculate_hosts (the store enforces it).
	MaxTargetHosts int64
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes int64
	// Sign-in throttling: after AccountMaxFailures failures for one account,
	// or IPMaxFailures from one address, within FailureWindow, further
	// attempts get 429 for Lockout.
	AccountMaxFailures int
	IPMaxFailures      int
	FailureWindow      time.Duration
	Lockout            time.Duration
	// PasswordHasher hashes passwords (argon2id in production).
	PasswordHasher func(password string) (string, error)
	// PasswordVerifier checks a password against a hash; nil error on match.
	PasswordVerifier func(password, hash string) error
	// BurnPasswordCheck spends the time of one verification (unknown users).
	BurnPasswordCheck func(password string)
	// PortalURL is where links in e-mails lead ("https://scan.example.com").
	PortalURL string
	// PublicURL is the API's own address, for the SSO redirect URI; empty:
	// taken from the request's Host.
	PublicURL string
	// SSOHTTPClient talks to identity providers (nil: a client with a timeout).
	SSOHTTPClient *http.Client
	// Issuer names the product in authenticator apps.
	Issuer string
	// CodeKey keys the hashes of SMS and recovery codes.
	CodeKey []byte
	// Lifetimes of one-time secrets.
	OTPSessionTTL, ResetTTL, ConfirmTTL, InviteTTL, ImpersonationTTL, SMSCodeTTL time.Duration
	// ExceptionDays is how long an activated exception without an end date
	// lasts (0: until reset).
	ExceptionDays int
	// WebhookURLCheck validates a webhook URL when it is saved (the SSRF
	// guard); nil accepts any http(s) URL.
	WebhookURLCheck func(ctx context.Context, url string) error
}

// DefaultConfig returns the production defaults (hashing functions unset).
func DefaultConfig() Config {
	return Config{
		RequireAPIKey:      true,
		SessionTTL:         12 * time.Hour,
		MaxBodyBytes:       1 << 20,
		MaxTargetHosts:     vigil.DefaultMaxTargetHosts,
		AccountMaxFailures: 5,
		IPMaxFailures:      20,
		FailureWindow:      15 * time.Minute,
		Lockout:            15 * time.Minute,
		Issuer:             "Vigil",
		OTPSessionTTL:      5 * time.Minute,
		ResetTTL:           time.Hour,
		ConfirmTTL:         72 * time.Hour,
		InviteTTL:          7 * 24 * time.Hour,
		ImpersonationTTL:   time.Hour,
		SMSCodeTTL:         5 * time.Minute,
		ExceptionDays:      90,
	}
}

// Sender queues e-mails and SMS (message.Sender).
type Sender interface {
	Send(ctx context.Context, orgID, userID, template, to string, d message.Data) (*vigil.Message, error)
}

// Services are what the API serves; the store implements them all.
type Services struct {
	Accounts    vigil.AccountService
	Limiter     vigil.AuthLimiter
	Targets     vigil.TargetService
	Credentials vigil.CredentialService
	PortLists   vigil.PortListService
	Scans       vigil.ScanService
	Results     vigil.ResultService
	Feeds       vigil.FeedService
	Tenancy     vigil.TenancyService
	Groups      vigil.GroupService
	Audit       vigil.AuditService
	Preferences vigil.PreferenceService
	SSO         vigil.SSOService
	Exceptions  vigil.ExceptionService
	Schedules   vigil.ScheduleService
	Webhooks    vigil.WebhookService
	Notices     vigil.NotificationService
	// EnqueueDelivery queues a webhook delivery (redeliver); nil refuses.
	EnqueueDelivery func(ctx context.Context, id string) error
	// Messages sends e-mail and SMS; nil refuses flows that need them.
	Messages Sender
	// OnScanStart, when set, is called after a run was requested (it wakes
	// the in-process scanner node).
	OnScanStart func()
	// Ready reports whether the server can serve (database reachable,
	// schema current); /readyz calls it.
	Ready func(ctx context.Context) error
}

// Server is the HTTP API.
type Server struct {
	Services
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	api      huma.API
	mux      *http.ServeMux
	handler  http.Handler
	metrics  *metrics
	registry *prometheus.Registry
}

// NewServer builds the API and its route table. reg receives the HTTP metrics
// and is what /metrics serves; nil makes a fresh registry.
func NewServer(svc Services, cfg Config, log *slog.Logger, reg *prometheus.Registry, now func() time.Time) *Server {
	if now == nil {
		now = vigil.Now
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{Services: svc, cfg: cfg, log: log, now: now, mux: http.NewServeMux(), metrics: newMetrics(reg), registry: reg}

	hc := huma.DefaultConfig("Vigil API", vigil.Version)
	hc.CreateHooks = nil // no $schema fields or Link headers in responses: CG bodies have none
	hc.OpenAPIPath = "/v2/openapi"
	hc.DocsPath = "" // served by docsPage: a self-contained page, no CDN scripts
	hc.SchemasPath = "/v2/schemas"
	// note: CG clients send fields we may not know; the spec asks for leniency,
	// so unknown properties are ignored rather than rejected.
	hc.AllowAdditionalPropertiesByDefault = true
	hc.Info.Description = apiDescription
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"apiKey": {Type: "apiKey", In: "header", Name: "x-api-key", Description: "The organization's API key"},
		"bearer": {Type: "http", Scheme: "bearer", Description: "Token from POST /auth/sign_in"},
	}
	hc.Security = []map[string][]string{{"apiKey": {}, "bearer": {}}}
	s.api = humago.New(s.mux, hc)
	s.api.UseMiddleware(s.unwrapBody, s.authenticate, s.auditRequests)
	s.routes()
	s.mux.HandleFunc("GET /v2/docs", s.docsPage)
	s.handler = s.observe(s.mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

const apiDescription = `Vigil speaks the Clone Guard Scanning API v2.

Authenticate with the organization's API key in the x-api-key header and a token
from POST /auth/sign_in in Authorization: Bearer <token>.

Request bodies are wrapped in the resource name ({"target": {...}}); the unwrapped
form is accepted too. Responses put the resource under "data"; lists add "meta"
with current_page, per_page, total_pages and total_count.

Lists take q[column] filters ('*' is a wildcard), sort_by ('name', 'name desc',
'-name'), page and per_page (default 25, at most 500), date_range_start and
date_range_end ('YYYY-MM-DD hh:mm:ss') or relative_date_range ('10d', '3M', '1q2020').

Errors: {"status": 422, "status_text": "Parameter Error", "errors": {"field": ["message"]}}
with 401 Unauthorized, 403 Forbidden, 404 Record Not Found, 422 Parameter Error,
429 Too Many Requests (with Retry-After) and 500.`
