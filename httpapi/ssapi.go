package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
)

// The AttackForge Self-Service API for groups (spec/attackforge-ssapi-groups.md),
// under /api/ss with a per-user X-SSAPI-KEY. Its bodies are not CG's: list
// envelopes are {"count", "<plural>"}, errors {"status": "error", "message"},
// so these routes are plain handlers over the same operations as /v2/groups.

// TokenSSAPI marks a principal authenticated by an SSAPI key.
const TokenSSAPI vigil.TokenKind = "ssapi_key"

type ssapiHandler func(ctx context.Context, r *http.Request) (any, error)

func (s *Server) ssapiRoutes() {
	h := map[string]ssapiHandler{
		"POST /api/ss/group":                      s.ssCreateGroup,
		"GET /api/ss/groups":                      s.ssGetGroups,
		"GET /api/ss/group/{id}":                  s.ssGetGroup,
		"PUT /api/ss/group/{id}":                  s.ssUpdateGroup,
		"PUT /api/ss/group/{id}/{action}":         s.ssGroupAction, // archive, restore; and group/user/{user_id}
		"POST /api/ss/group/user":                 s.ssAddUser,
		"GET /api/ss/user/{id}/groups":            s.ssUserGroups,
		"GET /api/ss/groups/{id}/projects":        s.ssGroupScans,
		"GET /api/ss/groups/{id}/scans":           s.ssGroupScans,
		"GET /api/ss/groups/{id}/targets":         s.ssGroupTargets,
		"GET /api/ss/assets/group/{id}":           s.ssGroupTargets,
		"GET /api/ss/groups/{id}/vulnerabilities": s.ssGroupVulnerabilities,
		"POST /api/ss/apikey/regenerate":          s.ssRegenerateKey,
	}
	for pattern, fn := range h {
		s.mux.Handle(pattern, s.ssapi(fn))
	}
}

// ssapi authenticates X-SSAPI-KEY, runs fn and writes its answer. Failed
// keys count against the client address like failed sign-ins.
func (s *Server) ssapi(fn ssapiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ip, now := clientIP(r), s.now()
		lockKey := "ssapi:" + ip
		if until, err := s.Limiter.AuthBlockedUntil(ctx, lockKey, now); err != nil {
			s.ssError(w, r, err)
			return
		} else if !until.IsZero() {
			s.ssError(w, r, &vigil.Error{Code: vigil.ERATELIMIT, Message: "too many invalid keys; try again later", RetryAfter: until.Sub(now)})
			return
		}
		key := r.Header.Get("X-SSAPI-KEY")
		var u *vigil.User
		var err error
		if key != "" {
			u, err = s.Accounts.FindUserBySSAPIKey(ctx, auth.HashToken(key))
		}
		if key == "" || vigil.ErrorCode(err) == vigil.ENOTFOUND || err == nil && u.ConfirmedAt == nil {
			if key != "" {
				_, _ = s.Limiter.RecordAuthFailure(ctx, lockKey, now, s.cfg.FailureWindow, s.cfg.IPMaxFailures, s.cfg.Lockout)
			}
			s.ssError(w, r, vigil.Errorf(vigil.EUNAUTHORIZED, "missing or invalid X-SSAPI-KEY"))
			return
		}
		if err != nil {
			s.ssError(w, r, err)
			return
		}
		org, err := s.Accounts.FindOrganizationByID(ctx, u.OrganizationID)
		if err != nil {
			s.ssError(w, r, err)
			return
		}
		p := &vigil.Principal{OrganizationID: u.OrganizationID, UserID: u.ID, Role: u.Role, Partner: org.IsPartner, TokenKind: TokenSSAPI,
			IP: ip, UserAgent: truncate(r.UserAgent(), 255)}
		p.Restricted = !p.Has(vigil.PermGroups)
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		ctx = vigil.NewContextWithPrincipal(ctx, p)
		out, err := fn(ctx, r)
		if err != nil {
			// A refused write is audited like one on /v2 (auditRequests).
			if mutating(r.Method) && vigil.ErrorCode(err) == vigil.EFORBIDDEN {
				if ri := requestFrom(ctx); ri == nil || !ri.recorded {
					s.audit(ctx, "ssapi.denied", "group", r.PathValue("id"), map[string]any{"method": r.Method, "path": r.URL.Path,
						"status": http.StatusForbidden})
				}
			}
			s.ssError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

// ssError writes {"status": "error", "message": ...} with the status the
// error's class maps to (400 for validation, as the spec recommends).
func (s *Server) ssError(w http.ResponseWriter, r *http.Request, err error) {
	e := fail(r.Context(), s.log, err).(*Error)
	status := e.Status
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest
	}
	msg := e.Message
	if len(e.Errors) > 0 {
		var parts []string
		for _, k := range fieldKeys(e.Errors) {
			parts = append(parts, k+": "+strings.Join(e.Errors[k], ", "))
		}
		msg = strings.Join(parts, "; ")
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	body := map[string]any{"status": "error", "message": msg}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.retryAfter.Round(time.Second)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// decodeJSON reads a JSON body into v; a bad body is a validation error.
func decodeJSON(r *http.Request, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return vigil.Errorf(vigil.ETOOLARGE, "request body is too large")
	}
	return vigil.FieldError("body", "is not valid JSON: %s", err.Error())
}

// ssGroup is the GetGroups list item (group_-prefixed keys).
type ssGroup struct {
	GroupName                 string              `json:"group_name"`
	GroupOwner                string              `json:"group_owner"`
	GroupPrimaryContactName   string              `json:"group_primary_contact_name"`
	GroupPrimaryContactNumber string              `json:"group_primary_contact_number"`
	GroupPrimaryContactEmail  string              `json:"group_primary_contact_email"`
	GroupID                   string              `json:"group_id"`
	GroupCustomFields         []vigil.CustomField `json:"group_custom_fields"`
}

// projectCustomFields applies cf_key_allowlist / cf_key_blocklist.
func projectCustomFields(q map[string][]string, cfs []vigil.CustomField) []vigil.CustomField {
	allow, hasAllow := q["cf_key_allowlist"]
	block := q["cf_key_blocklist"]
	out := []vigil.CustomField{}
	for _, cf := range cfs {
		ok := !hasAllow
		for _, k := range allow {
			ok = ok || k == cf.Key
		}
		for _, k := range block {
			ok = ok && k != cf.Key
		}
		if ok {
			out = append(out, cf)
		}
	}
	return out
}

func (s *Server) ssCreateGroup(ctx context.Context, r *http.Request) (any, error) {
	var b GroupBody
	if err := decodeJSON(r, &b); err != nil {
		return nil, err
	}
	g, err := s.createGroup(ctx, &b)
	if err != nil {
		return nil, err
	}
	return map[string]any{"group": groupJSON(g), "status": "ok"}, nil
}

// ssGetGroups lists the caller's groups; allGroups=true lists every group
// and needs groups.manage.
func (s *Server) ssGetGroups(ctx context.Context, r *http.Request) (any, error) {
	p, err := permit(ctx, vigil.PermRead)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	member := p.UserID
	if all, _ := strconv.ParseBool(q.Get("allGroups")); all {
		if !p.Has(vigil.PermGroups) {
			return nil, vigil.Errorf(vigil.EFORBIDDEN, "allGroups needs a role that manages groups")
		}
		member = ""
	}
	gs, err := s.Groups.ListGroups(ctx, p.OrganizationID, member, false)
	if err != nil {
		return nil, err
	}
	out := make([]ssGroup, len(gs))
	for i, g := range gs {
		out[i] = ssGroup{GroupName: g.Name, GroupOwner: g.GroupOwner, GroupPrimaryContactName: g.PrimaryContactName,
			GroupPrimaryContactNumber: g.PrimaryContactNumber, GroupPrimaryContactEmail: g.PrimaryContactEmail, GroupID: g.ID,
			GroupCustomFields: projectCustomFields(q, g.CustomFields)}
	}
	return map[string]any{"count": len(out), "groups": out}, nil
}

func (s *Server) ssGetGroup(ctx context.Context, r *http.Request) (any, error) {
	p, g, err := s.visibleGroup(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	j, err := s.groupDetail(ctx, p.OrganizationID, g)
	if err != nil {
		return nil, err
	}
	j.CustomFields = projectCustomFields(r.URL.Query(), j.CustomFields)
	return map[string]any{"group": j}, nil
}

// ssUpdateGroup is UpdateGroup: every field optional; the answer carries
// the legacy status with the updated group.
func (s *Server) ssUpdateGroup(ctx context.Context, r *http.Request) (any, error) {
	var b GroupBody
	if err := decodeJSON(r, &b); err != nil {
		return nil, err
	}
	g, err := s.updateGroup(ctx, r.PathValue("id"), b.input(), "group.update")
	if err != nil {
		return nil, err
	}
	return map[string]any{"status": "Group Updated", "group": groupJSON(g)}, nil
}

// ssGroupAction serves PUT /api/ss/group/{id}/archive and /restore, and
// PUT /api/ss/group/user/{user_id} (UpdateUserAccessOnGroup), which share
// the pattern.
func (s *Server) ssGroupAction(ctx context.Context, r *http.Request) (any, error) {
	id, action := r.PathValue("id"), r.PathValue("action")
	if id == "user" {
		return s.ssUpdateUserAccess(ctx, r, action)
	}
	switch action {
	case "archive", "restore":
		if _, err := s.archiveGroup(ctx, id, action == "archive"); err != nil {
			return nil, err
		}
		return map[string]any{"status": "ok"}, nil
	}
	return nil, vigil.NotFound("route")
}

type ssMembership struct {
	GroupID     string `json:"group_id"`
	UserID      string `json:"user_id"`
	AccessLevel string `json:"access_level"`
}

func (s *Server) ssAddUser(ctx context.Context, r *http.Request) (any, error) {
	var b ssMembership
	if err := decodeJSON(r, &b); err != nil {
		return nil, err
	}
	lvl, ok := vigil.ParseAccessLevel(b.AccessLevel)
	v := vigil.NewValidation("")
	if b.GroupID == "" {
		v.Add("group_id", "can't be blank")
	}
	if b.UserID == "" {
		v.Add("user_id", "can't be blank")
	}
	if !ok || lvl == vigil.AccessNone {
		v.Addf("access_level", "must be View, Upload or Edit; got %q", b.AccessLevel)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.setMember(ctx, b.GroupID, b.UserID, lvl); err != nil {
		return nil, err
	}
	return map[string]any{"status": "User Added To Group"}, nil
}

// ssUpdateUserAccess changes a member's level; "Delete" removes the member
// (and with it the access the group gave; other groups' access stays).
func (s *Server) ssUpdateUserAccess(ctx context.Context, r *http.Request, userID string) (any, error) {
	var b ssMembership
	if err := decodeJSON(r, &b); err != nil {
		return nil, err
	}
	if b.UserID != "" && b.UserID != userID {
		return nil, vigil.FieldError("user_id", "differs from the user in the path")
	}
	if b.GroupID == "" {
		return nil, vigil.FieldError("group_id", "can't be blank")
	}
	var lvl vigil.AccessLevel
	if !strings.EqualFold(b.AccessLevel, "delete") {
		var ok bool
		if lvl, ok = vigil.ParseAccessLevel(b.AccessLevel); !ok || lvl == vigil.AccessNone {
			return nil, vigil.FieldError("access_level", "must be View, Upload, Edit or Delete; got %q", b.AccessLevel)
		}
	}
	if err := s.setMember(ctx, b.GroupID, userID, lvl); err != nil {
		return nil, err
	}
	return map[string]any{"status": "User Access Updated On Group"}, nil
}

func (s *Server) ssUserGroups(ctx context.Context, r *http.Request) (any, error) {
	ms, err := s.userGroups(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"count": len(ms), "groups": convert(ms, userGroupJSON)}, nil
}

// skipLimit reads AttackForge paging: skip (default 0), limit (default and
// at most 500).
func skipLimit(r *http.Request) (vigil.ListOptions, int, error) {
	q := r.URL.Query()
	skip, limit := 0, 500
	v := vigil.NewValidation("")
	if x := q.Get("skip"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 0 {
			v.Add("skip", "must be a whole number, 0 or more")
		}
		skip = n
	}
	if x := q.Get("limit"); x != "" {
		n, err := strconv.Atoi(x)
		if err != nil || n < 1 {
			v.Add("limit", "must be a whole number from 1 to 500")
		}
		limit = min(n, 500)
	}
	if err := v.Err(); err != nil {
		return vigil.ListOptions{}, 0, err
	}
	// Pages are aligned on limit; skip inside a page is trimmed after.
	page := skip/limit + 1
	return vigil.ListOptions{Page: page, PerPage: limit}, skip % limit, nil
}

func (s *Server) ssGroupScans(ctx context.Context, r *http.Request) (any, error) {
	p, g, err := s.visibleGroup(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	scans, _, err := s.Scans.FindScans(ctx, p.OrganizationID, vigil.ListOptions{Page: 1, PerPage: 500, Group: g.ID})
	if err != nil {
		return nil, err
	}
	key := "projects"
	if strings.HasSuffix(r.URL.Path, "/scans") {
		key = "scans"
	}
	return map[string]any{"count": len(scans), key: convert(scans, scanJSON)}, nil
}

// groupPage reads skip/limit and the group of a per-group list the caller
// may see, and scopes the list options to it.
func (s *Server) groupPage(ctx context.Context, r *http.Request) (*vigil.Principal, vigil.ListOptions, int, error) {
	opts, trim, err := skipLimit(r)
	if err != nil {
		return nil, opts, 0, err
	}
	p, g, err := s.visibleGroup(ctx, r.PathValue("id"))
	if err != nil {
		return nil, opts, 0, err
	}
	opts.Group = g.ID
	return p, opts, trim, nil
}

func (s *Server) ssGroupTargets(ctx context.Context, r *http.Request) (any, error) {
	p, opts, trim, err := s.groupPage(ctx, r)
	if err != nil {
		return nil, err
	}
	targets, _, err := s.Targets.FindTargets(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, err
	}
	targets = targets[min(trim, len(targets)):]
	key := "targets"
	if strings.HasPrefix(r.URL.Path, "/api/ss/assets/") {
		key = "assets"
	}
	return map[string]any{"count": len(targets), key: convert(targets, targetJSON)}, nil
}

func (s *Server) ssGroupVulnerabilities(ctx context.Context, r *http.Request) (any, error) {
	p, opts, trim, err := s.groupPage(ctx, r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if pr := q.Get("priority"); pr != "" {
		sev, ok := map[string]string{"critical": "high", "high": "high", "medium": "medium", "low": "low", "info": "log"}[strings.ToLower(pr)]
		if !ok {
			return nil, vigil.FieldError("priority", "must be Critical, High, Medium, Low or Info; got %q", pr)
		}
		opts.Filters = append(opts.Filters, vigil.Filter{Column: "severity", Kind: vigil.FilterSeverity, Value: sev})
	}
	for param, f := range map[string]vigil.Filter{"startDate": {Column: "first_seen_after", Kind: vigil.FilterAfter},
		"endDate": {Column: "first_seen_before", Kind: vigil.FilterBefore}} {
		if x := q.Get(param); x != "" {
			t, err := time.Parse(time.RFC3339, x)
			if err != nil {
				return nil, vigil.FieldError(param, "must be a UTC time such as 2025-10-15T04:11:03.080Z")
			}
			f.Time = t
			opts.Filters = append(opts.Filters, f)
		}
	}
	fs, _, err := s.Results.FindFindings(ctx, p.OrganizationID, "", opts)
	if err != nil {
		return nil, err
	}
	fs = fs[min(trim, len(fs)):]
	return map[string]any{"count": len(fs), "vulnerabilities": convert(fs, vulnerabilityJSON)}, nil
}

// ssRegenerateKey replaces the caller's SSAPI key; the old one stops working.
func (s *Server) ssRegenerateKey(ctx context.Context, _ *http.Request) (any, error) {
	key, err := s.newSSAPIKey(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"status": "ok", "api_key": key}, nil
}

func (s *Server) newSSAPIKey(ctx context.Context) (string, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return "", err
	}
	if p.ImpersonatorID != "" {
		return "", vigil.Errorf(vigil.EFORBIDDEN, "an impersonated session cannot create keys")
	}
	key := auth.NewToken(auth.PrefixSSAPI)
	if err := s.Accounts.SetSSAPIKey(ctx, p.UserID, auth.HashToken(key)); err != nil {
		return "", err
	}
	s.audit(ctx, "user.ssapi_key_generate", "user", p.UserID, nil)
	return key, nil
}

// SSAPIKeyOutput shows a new SSAPI key once.
type SSAPIKeyOutput struct {
	Body struct {
		Data SSAPIKeyJSON `json:"data"`
	}
}

// SSAPIKeyJSON carries a new key.
type SSAPIKeyJSON struct {
	APIKey string `json:"api_key" doc:"Send it as X-SSAPI-KEY to /api/ss routes; shown once"`
}

func (s *Server) handleSSAPIKeyCreate(ctx context.Context, _ *struct{}) (*SSAPIKeyOutput, error) {
	key, err := s.newSSAPIKey(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &SSAPIKeyOutput{}
	out.Body.Data.APIKey = key
	return out, nil
}

func (s *Server) handleSSAPIKeyRevoke(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Accounts.SetSSAPIKey(ctx, p.UserID, ""); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.ssapi_key_revoke", "user", p.UserID, nil)
	return statusOK(), nil
}
