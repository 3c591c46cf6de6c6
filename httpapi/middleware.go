package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
)

// Operation metadata keys.
const (
	metaAnonymous = "vigil-anonymous" // no bearer token needed (sign-in)
	metaPublic    = "vigil-public"    // no credentials at all (health)
	metaWrap      = "vigil-wrap"      // the body's wrapper key ("target")
)

// unwrapBody lets clients send a body without its wrapper: {"name": ...} on a
// route documented as {"target": {"name": ...}} is wrapped before huma parses
// and validates it, so both forms get the same validation and field paths.
func (s *Server) unwrapBody(ctx huma.Context, next func(huma.Context)) {
	key, _ := ctx.Operation().Metadata[metaWrap].(string)
	if key == "" {
		next(ctx)
		return
	}
	r, _ := humago.Unwrap(ctx)
	if r.Body == nil {
		next(ctx)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	if err != nil {
		writeError(ctx, newError(http.StatusUnprocessableEntity, "cannot read request body", nil))
		return
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		writeError(ctx, newError(http.StatusRequestEntityTooLarge, "request body is larger than "+strconv.FormatInt(s.cfg.MaxBodyBytes, 10)+" bytes", nil))
		return
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		if _, wrapped := obj[key]; !wrapped && len(obj) > 0 {
			body = append(append([]byte(`{"`+key+`":`), body...), '}')
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	next(ctx)
}

// authenticate resolves the caller from x-api-key and the bearer token and
// puts a *vigil.Principal in the request context. Anonymous routes (sign-in)
// need only the API key; public ones nothing.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op.Metadata[metaPublic] == true {
		// No credentials; the address is kept for the audit trail.
		r, _ := humago.Unwrap(ctx)
		p := &vigil.Principal{IP: clientIP(r), UserAgent: truncate(ctx.Header("User-Agent"), 255)}
		next(huma.WithContext(ctx, vigil.NewContextWithPrincipal(ctx.Context(), p)))
		return
	}
	c := ctx.Context()
	p := &vigil.Principal{}
	if key := ctx.Header("x-api-key"); key != "" {
		k, err := s.Accounts.FindAPIKeyByHash(c, auth.HashToken(key))
		if err != nil {
			s.unauthorized(ctx, err, "invalid API key")
			return
		}
		p.OrganizationID, p.APIKeyID = k.OrganizationID, k.ID
		r, _ := humago.Unwrap(ctx)
		p.IP, p.UserAgent = clientIP(r), truncate(ctx.Header("User-Agent"), 255)
	} else if s.cfg.RequireAPIKey {
		writeError(ctx, newError(http.StatusUnauthorized, "missing x-api-key header", nil))
		return
	}
	if op.Metadata[metaAnonymous] == true {
		if p.IP == "" {
			r, _ := humago.Unwrap(ctx)
			p.IP, p.UserAgent = clientIP(r), truncate(ctx.Header("User-Agent"), 255)
		}
		next(huma.WithContext(ctx, vigil.NewContextWithPrincipal(c, p)))
		return
	}
	token := bearerToken(ctx.Header("Authorization"))
	if token == "" {
		writeError(ctx, newError(http.StatusUnauthorized, "missing bearer token", nil))
		return
	}
	t, err := s.Accounts.FindTokenByHash(c, auth.HashToken(token), s.now())
	if err != nil {
		s.unauthorized(ctx, err, "invalid or expired token")
		return
	}
	// note: an API key of one organization with a token of another is refused,
	// so a leaked key cannot be paired with a stolen token elsewhere; the
	// exception is a partner's key with a token of a customer it manages (the
	// partner's portal, impersonation).
	if p.OrganizationID != "" && p.OrganizationID != t.OrganizationID {
		ok, err := s.Tenancy.PartnerOf(c, p.OrganizationID, t.OrganizationID)
		if err == nil && !ok && t.Kind == vigil.TokenImpersonation {
			// The impersonator keeps using its own organization's key.
			var imp *vigil.User
			if imp, err = s.Accounts.FindUserAnywhere(c, t.ImpersonatorID); err == nil {
				ok = imp.OrganizationID == p.OrganizationID
			}
		}
		if err != nil {
			writeError(ctx, fail(c, s.log, err).(*Error))
			return
		}
		if !ok {
			writeError(ctx, newError(http.StatusUnauthorized, "the API key and the token belong to different organizations", nil))
			return
		}
	}
	u, err := s.Accounts.FindUserByID(c, t.OrganizationID, t.UserID)
	if err != nil {
		s.unauthorized(ctx, err, "invalid or expired token")
		return
	}
	org, err := s.Accounts.FindOrganizationByID(c, u.OrganizationID)
	if err != nil {
		s.unauthorized(ctx, err, "invalid or expired token")
		return
	}
	p.OrganizationID, p.UserID, p.Role, p.SessionID = u.OrganizationID, u.ID, u.Role, t.ID
	p.Partner, p.TokenKind, p.ImpersonatorID = org.IsPartner, t.Kind, t.ImpersonatorID
	p.Restricted = !p.Has(vigil.PermGroups)
	r, _ := humago.Unwrap(ctx)
	p.IP, p.UserAgent = clientIP(r), truncate(ctx.Header("User-Agent"), 255)
	c = vigil.NewContextWithPrincipal(c, p)
	if p.ImpersonatorID != "" {
		// Every request made as someone else is on the record, with both names.
		s.audit(c, "impersonation.request", "route", op.OperationID, map[string]any{"method": r.Method, "path": r.URL.Path})
		if ri := requestFrom(c); ri != nil {
			ri.recorded = false // the request's own record is still owed
		}
	}
	next(huma.WithContext(ctx, c))
}

// unauthorized answers 401 for a lookup that found nothing, 500 otherwise.
func (s *Server) unauthorized(ctx huma.Context, err error, msg string) {
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		writeError(ctx, newError(http.StatusUnauthorized, msg, nil))
		return
	}
	writeError(ctx, fail(ctx.Context(), s.log, err).(*Error))
}

// bearerToken extracts the token from "Bearer <t>", or from "Basic <t>" where
// CG's long-lived access tokens are sent as is (not base64 user:password).
func bearerToken(h string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "bearer", "basic":
		return strings.TrimSpace(tok)
	}
	return ""
}

// writeError writes e from a middleware, before any handler ran.
func writeError(ctx huma.Context, e *Error) {
	for k, vs := range e.GetHeaders() {
		for _, v := range vs {
			ctx.SetHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", "application/json")
	ctx.SetStatus(e.Status)
	_ = json.NewEncoder(ctx.BodyWriter()).Encode(e)
}

// audit appends an event for the caller in ctx; a failure is logged, not
// returned: the action itself already happened.
func (s *Server) audit(ctx context.Context, action, resourceType, resourceID string, changes map[string]any) {
	e := &vigil.AuditEvent{Action: action, ResourceType: resourceType, ResourceID: resourceID, Changes: changes}
	if p := vigil.PrincipalFromContext(ctx); p != nil {
		e.OrganizationID, e.ActorID, e.ImpersonatorID, e.IP, e.UserAgent = p.OrganizationID, p.UserID, p.ImpersonatorID, p.IP, p.UserAgent
	}
	s.record(ctx, e)
}

// record appends e to the audit trail (and the log), with the request's id
// and secret values redacted.
func (s *Server) record(ctx context.Context, e *vigil.AuditEvent) {
	if ri := requestFrom(ctx); ri != nil {
		ri.recorded = true
		if e.RequestID == "" {
			e.RequestID = ri.id
		}
	}
	if e.Changes != nil {
		e.Changes, _ = redact(jsonValue(e.Changes)).(map[string]any)
	}
	s.log.InfoContext(ctx, "audit: "+e.Action, "organization_id", e.OrganizationID, "actor_id", e.ActorID,
		"impersonator_id", e.ImpersonatorID, "resource_type", e.ResourceType, "resource_id", e.ResourceID, "ip", e.IP)
	if s.Audit == nil {
		return
	}
	if err := s.Audit.RecordAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit record failed", "action", e.Action, "err", err)
	}
}

// jsonValue turns v into plain JSON values (maps, slices, strings,
// numbers), so redaction sees every nested field whatever its Go type.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]any{}
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// permit returns the caller if it holds perm (and is signed in).
func permit(ctx context.Context, perm vigil.Permission) (*vigil.Principal, error) {
	p := vigil.PrincipalFromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "not signed in")
	}
	if !p.Has(perm) {
		return nil, vigil.Errorf(vigil.EFORBIDDEN, "your role (%s) may not do this", vigil.RoleName(p.Role, p.Partner))
	}
	return p, nil
}

// principal returns the caller, with ActionRead and the given action checked.
func principal(ctx context.Context, a vigil.Action) (*vigil.Principal, error) {
	p := vigil.PrincipalFromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "not signed in")
	}
	if !p.Can(a) {
		return nil, vigil.Errorf(vigil.EFORBIDDEN, "your role (%s) may not do this", p.Role.Display())
	}
	return p, nil
}

// clientIP is the peer address. Proxies' forwarding headers are not trusted:
// a client could otherwise pick the address its sign-in failures count against.
func clientIP(r *http.Request) string { return hostOf(r.RemoteAddr) }

// hostOf is the address part of a peer "host:port".
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_http_requests_total",
			Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route", "method"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency)
	}
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe logs every request, counts it by route pattern (never the raw path,
// which would make a metric per id) and turns panics into 500s.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		r = withRequestID(r, rec)
		rec.Header().Set("X-Content-Type-Options", "nosniff")
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(r.Context(), "panic serving request", "panic", v, "path", r.URL.Path)
				if rec.status == 0 {
					rec.Header().Set("Content-Type", "application/json")
					rec.WriteHeader(http.StatusInternalServerError)
					_ = json.NewEncoder(rec).Encode(newError(http.StatusInternalServerError, "", nil))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
			s.metrics.latency.WithLabelValues(route, r.Method).Observe(d.Seconds())
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			s.log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path, "route", route,
				"status", rec.status, "duration_ms", d.Milliseconds(), "remote", clientIP(r))
		}()
		next.ServeHTTP(rec, r)
	})
}
