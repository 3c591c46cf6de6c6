package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/vigilscan/vigil"
)

// The audit trail (CG §3.10): every mutating request and every auth event,
// append-only. Handlers record what they did in their own words
// (s.audit); a mutating request that succeeds without such a record gets
// a generic one from auditRequests, so no change goes unrecorded.

type requestKey struct{}

// requestInfo travels in a request's context: its id, and whether a
// handler recorded an audit event for it.
type requestInfo struct {
	id       string
	recorded bool
	body     []byte // JSON body of a mutating request, for the generic record
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// withRequestID gives a request its id: the client's X-Request-Id when it
// is sane, else a random one; it is echoed in the response.
func withRequestID(r *http.Request, w http.ResponseWriter) *http.Request {
	id := r.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	w.Header().Set("X-Request-Id", id)
	return r.WithContext(context.WithValue(r.Context(), requestKey{}, &requestInfo{id: id}))
}

func requestFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestKey{}).(*requestInfo)
	return ri
}

func mutating(method string) bool {
	return method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch || method == http.MethodDelete
}

// auditRequests keeps the body of a mutating request and, once the handler
// answered, records it when it succeeded (or was refused for lack of
// permission) and no handler recorded it already.
func (s *Server) auditRequests(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	ri := requestFrom(ctx.Context())
	if !mutating(op.Method) || ri == nil {
		next(ctx)
		return
	}
	r, _ := humago.Unwrap(ctx)
	if r.Body != nil && strings.HasPrefix(ctx.Header("Content-Type"), "application/json") {
		body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
		if err == nil {
			ri.body = body
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	next(ctx)
	status := ctx.Status()
	if ri.recorded || (status >= 300 && status != http.StatusForbidden) || status == 0 {
		return
	}
	action := op.OperationID
	if status == http.StatusForbidden {
		action += ".denied"
	}
	changes := map[string]any{"method": op.Method, "path": r.URL.Path, "status": status}
	if len(ri.body) > 0 {
		var v any
		if json.Unmarshal(ri.body, &v) == nil {
			changes["request"] = v
		}
	}
	rtype := strings.ToLower(strings.ReplaceAll(firstTag(op), " ", "_"))
	s.audit(ctx.Context(), action, rtype, r.PathValue("id"), changes)
}

func firstTag(op *huma.Operation) string {
	if len(op.Tags) > 0 {
		return op.Tags[0]
	}
	return ""
}

// secretKey matches the names of fields whose values never reach the trail.
var secretKey = regexp.MustCompile(`(?i)(password|secret|token|passphrase|private|api_?key|ssapi|community|otp|code|key|authorization|cookie|seed)`)

// redact returns v with every value under a secret-looking key replaced,
// strings over 1 KiB cut, and at most 200 entries per object or list.
func redact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		n := 0
		for k, val := range x {
			if n++; n > 200 {
				out["…"] = "truncated"
				break
			}
			if secretKey.MatchString(k) && val != nil && val != "" {
				out[k] = "[redacted]"
				continue
			}
			out[k] = redact(val)
		}
		return out
	case []any:
		if len(x) > 200 {
			x = append(x[:200:200], "truncated")
		}
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = redact(val)
		}
		return out
	case string:
		if len(x) > 1024 {
			return x[:1024] + "…"
		}
		return x
	}
	return v
}

// AuditEventJSON is an audit event on the wire.
type AuditEventJSON struct {
	ID             string         `json:"id" format:"uuid"`
	Action         string         `json:"action" example:"exception.activate"`
	ResourceType   string         `json:"resource_type" example:"exception"`
	ResourceID     string         `json:"resource_id"`
	UserID         *string        `json:"user_id" nullable:"true" format:"uuid" doc:"The actor (null: anonymous or the system)"`
	ImpersonatorID *string        `json:"impersonator_id" nullable:"true" format:"uuid" doc:"Who acted as the user, when impersonating"`
	OrganizationID *string        `json:"organization_id" nullable:"true" format:"uuid"`
	IP             string         `json:"ip"`
	UserAgent      string         `json:"user_agent"`
	RequestID      string         `json:"request_id" doc:"Also the X-Request-Id response header of the request"`
	Changes        map[string]any `json:"changes" doc:"What changed; secret values are never recorded"`
	CreatedAt      Timestamp      `json:"created_at"`
}

func auditEventJSON(e *vigil.AuditEvent) AuditEventJSON {
	ch := e.Changes
	if ch == nil {
		ch = map[string]any{}
	}
	return AuditEventJSON{ID: e.ID, Action: e.Action, ResourceType: e.ResourceType, ResourceID: e.ResourceID, UserID: orNil(e.ActorID),
		ImpersonatorID: orNil(e.ImpersonatorID), OrganizationID: orNil(e.OrganizationID), IP: e.IP, UserAgent: e.UserAgent,
		RequestID: e.RequestID, Changes: ch, CreatedAt: ts(e.CreatedAt)}
}

func (s *Server) handleAuditList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[AuditEventJSON], error) {
	p, err := permit(ctx, vigil.PermAudit)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.AuditList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	es, total, err := s.Audit.ListAudit(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(es, auditEventJSON, opts, total), nil
}

func (s *Server) handleAuditShow(ctx context.Context, in *IDPath) (*DataOutput[AuditEventJSON], error) {
	p, err := permit(ctx, vigil.PermAudit)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	e, err := s.Audit.FindAudit(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(auditEventJSON(e)), nil
}
