package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
)

// SignInBody is the JSON body of sign-in.
type SignInBody struct {
	Username string `json:"username,omitempty" maxLength:"254" doc:"The user's e-mail address" example:"alice@example.com"`
	Email    string `json:"email,omitempty" maxLength:"254" doc:"Alias of username"`
	Password string `json:"password,omitempty" maxLength:"1024" example:"correct horse battery"`
	// note: extension point. otp_attempt and otp_session_state (2FA, a later
	// issue) arrive here; they are not accepted until then.
}

// SignInInput is POST /auth/sign_in. The CG docs show the fields both in a
// JSON body and, in one doc version, in the query string: both are accepted.
type SignInInput struct {
	QUsername string      `query:"username" maxLength:"254" doc:"Alternative to the body field"`
	QPassword string      `query:"password" maxLength:"1024" doc:"Alternative to the body field"`
	Body      *SignInBody `required:"false"`
	UserAgent string      `header:"User-Agent" hidden:"true"`

	remoteAddr string
}

// Resolve captures the peer address for throttling.
func (in *SignInInput) Resolve(ctx huma.Context) []error {
	in.remoteAddr = ctx.RemoteAddr()
	return nil
}

// SignInOutput is the CONFIRMED sign-in body.
type SignInOutput struct {
	Body struct {
		Status       int        `json:"status" example:"200"`
		StatusText   string     `json:"status_text" example:"OK"`
		Username     string     `json:"username" example:"alice@example.com"`
		Token        string     `json:"token" doc:"Send as Authorization: Bearer <token>"`
		ExpiresAt    Timestamp  `json:"expires_at"`
		SignInCount  int        `json:"sign_in_count" example:"10"`
		Role         string     `json:"role" example:"User"`
		Timezone     string     `json:"timezone" example:"UTC"`
		Locale       string     `json:"locale" example:"en"`
		Verified     bool       `json:"verified" example:"true"`
		Provider     string     `json:"provider" example:"email"`
		Organization OrgSummary `json:"organization"`
	}
}

// OrgSummary names an organization the CG way (uuid, name).
type OrgSummary struct {
	UUID string `json:"uuid" format:"uuid" example:"095be615-a8ad-4c33-8e9c-c7612fbf6c9f"`
	Name string `json:"name" example:"Example Organization"`
}

func (s *Server) handleSignIn(ctx context.Context, in *SignInInput) (*SignInOutput, error) {
	username, password := in.QUsername, in.QPassword
	if in.Body != nil {
		if in.Body.Username != "" {
			username = in.Body.Username
		} else if in.Body.Email != "" {
			username = in.Body.Email
		}
		if in.Body.Password != "" {
			password = in.Body.Password
		}
	}
	v := vigil.NewValidation("")
	if username == "" {
		v.Add("username", "can't be blank")
	}
	if password == "" {
		v.Add("password", "can't be blank")
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	email := strings.ToLower(strings.TrimSpace(username))
	ip := hostOf(in.remoteAddr)
	acctKey, ipKey := "acct:"+email, "ip:"+ip
	now := s.now()

	// Refuse early while either key is locked out, without checking the
	// password: a locked account must not become an oracle.
	for _, key := range []string{acctKey, ipKey} {
		until, err := s.Limiter.AuthBlockedUntil(ctx, key, now)
		if err != nil {
			return nil, fail(ctx, s.log, err)
		}
		if !until.IsZero() {
			return nil, fail(ctx, s.log, &vigil.Error{Code: vigil.ERATELIMIT, Message: "too many failed sign-in attempts; try again later", RetryAfter: until.Sub(now)})
		}
	}

	u, err := s.Accounts.FindUserByEmail(ctx, email)
	switch {
	case err == nil:
		err = s.cfg.PasswordVerifier(password, u.PasswordHash)
	case vigil.ErrorCode(err) == vigil.ENOTFOUND:
		s.cfg.BurnPasswordCheck(password) // same time as a wrong password
	default:
		return nil, fail(ctx, s.log, err)
	}
	p := vigil.PrincipalFromContext(ctx)
	if err == nil && p != nil && p.OrganizationID != "" && p.OrganizationID != u.OrganizationID {
		err = auth.ErrMismatch // the API key is another organization's
	}
	if err != nil {
		s.log.WarnContext(ctx, "audit: sign-in failed", "email", email, "ip", ip)
		var until time.Time
		for _, k := range []struct {
			key string
			max int
		}{{acctKey, s.cfg.AccountMaxFailures}, {ipKey, s.cfg.IPMaxFailures}} {
			t, rerr := s.Limiter.RecordAuthFailure(ctx, k.key, now, s.cfg.FailureWindow, k.max, s.cfg.Lockout)
			if rerr != nil {
				return nil, fail(ctx, s.log, rerr)
			}
			if t.After(until) {
				until = t
			}
		}
		if !until.IsZero() {
			return nil, fail(ctx, s.log, &vigil.Error{Code: vigil.ERATELIMIT, Message: "too many failed sign-in attempts; try again later", RetryAfter: until.Sub(now)})
		}
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "invalid username or password"))
	}
	if err := s.Limiter.ResetAuthFailures(ctx, acctKey); err != nil {
		return nil, fail(ctx, s.log, err)
	}

	token := auth.NewToken(auth.PrefixSession)
	expires := now.Add(s.cfg.SessionTTL)
	t := &vigil.Token{OrganizationID: u.OrganizationID, UserID: u.ID, Kind: vigil.TokenSession, TokenHash: auth.HashToken(token),
		IP: ip, UserAgent: truncate(in.UserAgent, 255), ExpiresAt: &expires}
	if err := s.Accounts.CreateToken(ctx, t); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Accounts.RecordSignIn(ctx, u.ID, ip, now); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	org, err := s.Accounts.FindOrganizationByID(ctx, u.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.log.InfoContext(ctx, "audit: signed in", "user_id", u.ID, "organization_id", u.OrganizationID, "ip", ip)
	out := &SignInOutput{}
	b := &out.Body
	b.Status, b.StatusText = http.StatusOK, "OK"
	b.Username, b.Token, b.ExpiresAt = u.Email, token, ts(expires)
	b.SignInCount, b.Role, b.Timezone, b.Locale = u.SignInCount+1, u.Role.Display(), u.Timezone, u.Locale
	b.Verified, b.Provider = true, "email"
	b.Organization = OrgSummary{UUID: org.ID, Name: org.Name}
	return out, nil
}

// StatusOutput is the status-style body of auth routes.
type StatusOutput struct {
	Body struct {
		Status     int    `json:"status" example:"200"`
		StatusText string `json:"status_text" example:"OK"`
	}
}

func (s *Server) handleSignOut(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Accounts.RevokeToken(ctx, p.SessionID, s.now()); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.log.InfoContext(ctx, "audit: signed out", "user_id", p.UserID, "organization_id", p.OrganizationID)
	out := &StatusOutput{}
	out.Body.Status, out.Body.StatusText = http.StatusOK, "OK"
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
