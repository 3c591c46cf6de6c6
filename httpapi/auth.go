package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/message"
)

// SignInBody is the JSON body of sign-in.
type SignInBody struct {
	Username string `json:"username,omitempty" maxLength:"254" doc:"The user's e-mail address" example:"alice@example.com"`
	Email    string `json:"email,omitempty" maxLength:"254" doc:"Alias of username"`
	Password string `json:"password,omitempty" maxLength:"1024" example:"correct horse battery"`
	// Second step of a 2FA sign-in.
	OTPSessionState string `json:"otp_session_state,omitempty" maxLength:"200" doc:"From the first step's answer"`
	OTPAttempt      string `json:"otp_attempt,omitempty" maxLength:"20" doc:"The code from the authenticator app or the SMS"`
}

// SignInInput is POST /auth/sign_in. The CG docs show the fields both in a
// JSON body and, in one doc version, in the query string: both are accepted.
type SignInInput struct {
	QUsername string      `query:"username" maxLength:"254" doc:"Alternative to the body field"`
	QPassword string      `query:"password" maxLength:"1024" doc:"Alternative to the body field"`
	QState    string      `query:"otp_session_state" maxLength:"200" doc:"Alternative to the body field"`
	QAttempt  string      `query:"otp_attempt" maxLength:"20" doc:"Alternative to the body field"`
	Body      *SignInBody `required:"false"`
	UserAgent string      `header:"User-Agent" hidden:"true"`
}

// SignInOutput is the CONFIRMED sign-in body. With 2FA on, the first step
// answers otp_session_state and otp_method instead of a token.
type SignInOutput struct {
	Body SignInBodyOut
}

// SignInBodyOut is the sign-in answer.
type SignInBodyOut struct {
	Status          int         `json:"status" example:"200"`
	StatusText      string      `json:"status_text" example:"OK"`
	Username        string      `json:"username" example:"alice@example.com"`
	Token           string      `json:"token,omitempty" doc:"Send as Authorization: Bearer <token>"`
	ExpiresAt       *Timestamp  `json:"expires_at,omitempty"`
	SignInCount     int         `json:"sign_in_count,omitempty" example:"10"`
	Role            string      `json:"role,omitempty" example:"User"`
	Timezone        string      `json:"timezone,omitempty" example:"UTC"`
	Locale          string      `json:"locale,omitempty" example:"en"`
	Verified        bool        `json:"verified" example:"true"`
	Provider        string      `json:"provider,omitempty" example:"email"`
	Organization    *OrgSummary `json:"organization,omitempty"`
	OTPSessionState string      `json:"otp_session_state,omitempty" doc:"2FA: send back with otp_attempt"`
	OTPMethod       string      `json:"otp_method,omitempty" enum:"totp,sms" doc:"2FA: the method asked for"`
	Impersonator    string      `json:"impersonator,omitempty" doc:"Impersonation: the real user's e-mail"`
}

// OrgSummary names an organization the CG way (uuid, name).
type OrgSummary struct {
	UUID string `json:"uuid" format:"uuid" example:"095be615-a8ad-4c33-8e9c-c7612fbf6c9f"`
	Name string `json:"name" example:"Example Organization"`
}

func (s *Server) handleSignIn(ctx context.Context, in *SignInInput) (*SignInOutput, error) {
	username, password, state, attempt := in.QUsername, in.QPassword, in.QState, in.QAttempt
	if in.Body != nil {
		if in.Body.Username != "" {
			username = in.Body.Username
		} else if in.Body.Email != "" {
			username = in.Body.Email
		}
		if in.Body.Password != "" {
			password = in.Body.Password
		}
		if in.Body.OTPSessionState != "" {
			state, attempt = in.Body.OTPSessionState, in.Body.OTPAttempt
		}
	}
	if state != "" {
		return s.signInSecondStep(ctx, state, func(u *vigil.User) error { return s.checkOTP(ctx, u, attempt) }, in.UserAgent)
	}
	u, err := s.checkPassword(ctx, username, password)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if u.MFAEnabled() {
		return s.startSecondStep(ctx, u)
	}
	return s.issueSession(ctx, u, in.UserAgent, "email")
}

// lockKeys are the throttling keys of a sign-in: the account and the address.
func lockKeys(email, ip string) []string { return []string{"acct:" + email, "ip:" + ip} }

// checkLock refuses while any key is locked out, without checking anything
// else: a locked account must not become an oracle.
func (s *Server) checkLock(ctx context.Context, keys ...string) error {
	now := s.now()
	for _, key := range keys {
		until, err := s.Limiter.AuthBlockedUntil(ctx, key, now)
		if err != nil {
			return err
		}
		if !until.IsZero() {
			return &vigil.Error{Code: vigil.ERATELIMIT, Message: "too many failed sign-in attempts; try again later", RetryAfter: until.Sub(now)}
		}
	}
	return nil
}

// countFailure records a failed password or code against the account (and
// the address, for passwords); it returns the 429 once a key locks.
func (s *Server) countFailure(ctx context.Context, orgID, userID, email, what string, withIP bool) error {
	p := vigil.PrincipalFromContext(ctx)
	ip := ""
	if p != nil {
		ip = p.IP
	}
	now := s.now()
	s.record(ctx, &vigil.AuditEvent{OrganizationID: orgID, ActorID: userID, Action: "auth.sign_in_failed", ResourceType: "user",
		ResourceID: userID, IP: ip, Changes: map[string]any{"email": email, "factor": what}})
	keys := []struct {
		key string
		max int
	}{{"acct:" + email, s.cfg.AccountMaxFailures}}
	if withIP {
		keys = append(keys, struct {
			key string
			max int
		}{"ip:" + ip, s.cfg.IPMaxFailures})
	}
	var until time.Time
	for _, k := range keys {
		t, err := s.Limiter.RecordAuthFailure(ctx, k.key, now, s.cfg.FailureWindow, k.max, s.cfg.Lockout)
		if err != nil {
			return err
		}
		if t.After(until) {
			until = t
		}
	}
	if !until.IsZero() {
		s.record(ctx, &vigil.AuditEvent{OrganizationID: orgID, ActorID: userID, Action: "auth.lockout", ResourceType: "user",
			ResourceID: userID, IP: ip, Changes: map[string]any{"email": email, "until": until.UTC().Format(time.RFC3339)}})
		return &vigil.Error{Code: vigil.ERATELIMIT, Message: "too many failed sign-in attempts; try again later", RetryAfter: until.Sub(now)}
	}
	return nil
}

// checkPassword verifies a username and password, with throttling, and
// returns the confirmed user.
func (s *Server) checkPassword(ctx context.Context, username, password string) (*vigil.User, error) {
	v := vigil.NewValidation("")
	if username == "" {
		v.Add("username", "can't be blank")
	}
	if password == "" {
		v.Add("password", "can't be blank")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	email := strings.ToLower(strings.TrimSpace(username))
	p := vigil.PrincipalFromContext(ctx)
	if err := s.checkLock(ctx, lockKeys(email, p.IP)...); err != nil {
		return nil, err
	}
	u, err := s.Accounts.FindUserByEmail(ctx, email)
	switch {
	case err == nil && u.PasswordHash != "":
		err = s.cfg.PasswordVerifier(password, u.PasswordHash)
	case err == nil:
		s.cfg.BurnPasswordCheck(password) // invited, no password yet
		err = auth.ErrMismatch
	case vigil.ErrorCode(err) == vigil.ENOTFOUND:
		s.cfg.BurnPasswordCheck(password) // same time as a wrong password
	default:
		return nil, err
	}
	if err == nil && p.OrganizationID != "" && p.OrganizationID != u.OrganizationID {
		ok, merr := s.Tenancy.PartnerOf(ctx, p.OrganizationID, u.OrganizationID)
		if merr != nil {
			return nil, merr
		}
		if !ok {
			err = auth.ErrMismatch // the API key is another organization's
		}
	}
	if err != nil {
		var orgID, userID string
		if u != nil {
			orgID, userID = u.OrganizationID, u.ID
		}
		if lerr := s.countFailure(ctx, orgID, userID, email, "password", true); lerr != nil {
			return nil, lerr
		}
		return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "invalid username or password")
	}
	if u.ConfirmedAt == nil {
		return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "confirm your e-mail address before signing in")
	}
	return u, nil
}

// startSecondStep answers the first step of a 2FA sign-in: an
// otp_session_state, and an SMS code when SMS is the method.
func (s *Server) startSecondStep(ctx context.Context, u *vigil.User) (*SignInOutput, error) {
	state := auth.NewToken(auth.PrefixOneTime)
	if err := s.Accounts.CreateUserToken(ctx, &vigil.UserToken{OrganizationID: u.OrganizationID, UserID: u.ID, Purpose: vigil.PurposeOTPSession,
		TokenHash: auth.HashToken(state), ExpiresAt: s.now().Add(s.cfg.OTPSessionTTL)}); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	method := u.MFAMethod()
	if method == "sms" {
		if err := s.sendSMSCode(ctx, u, u.OTPPhone); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	out := &SignInOutput{}
	out.Body = SignInBodyOut{Status: http.StatusOK, StatusText: "OK", Username: u.Email, Verified: true, OTPSessionState: state, OTPMethod: method}
	return out, nil
}

// signInSecondStep finishes a 2FA sign-in once check accepts the factor.
func (s *Server) signInSecondStep(ctx context.Context, state string, check func(*vigil.User) error, userAgent string) (*SignInOutput, error) {
	t, err := s.Accounts.FindUserToken(ctx, vigil.PurposeOTPSession, auth.HashToken(state), s.now())
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "the otp_session_state is invalid or expired; sign in again"))
		}
		return nil, fail(ctx, s.log, err)
	}
	u, err := s.Accounts.FindUserByID(ctx, t.OrganizationID, t.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "the otp_session_state is invalid or expired; sign in again"))
	}
	if err := s.checkLock(ctx, "acct:"+u.Email); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := check(u); err != nil {
		if vigil.ErrorCode(err) != vigil.EUNAUTHORIZED {
			return nil, fail(ctx, s.log, err)
		}
		if lerr := s.countFailure(ctx, u.OrganizationID, u.ID, u.Email, "otp", false); lerr != nil {
			return nil, fail(ctx, s.log, lerr)
		}
		return nil, fail(ctx, s.log, err)
	}
	if _, err := s.Accounts.ConsumeUserToken(ctx, vigil.PurposeOTPSession, auth.HashToken(state), s.now()); err != nil {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "the otp_session_state was already used; sign in again"))
	}
	return s.issueSession(ctx, u, userAgent, "email")
}

// checkOTP accepts a TOTP code (once) or a live SMS code of the user.
func (s *Server) checkOTP(ctx context.Context, u *vigil.User, code string) error {
	code = strings.TrimSpace(code)
	if code == "" {
		return vigil.FieldError("otp_attempt", "can't be blank")
	}
	if u.TOTPEnabled {
		if step, ok := auth.MatchTOTP(u.TOTPSecret, code, s.now()); ok {
			fresh, err := s.Accounts.UseTOTPStep(ctx, u.ID, step)
			if err != nil {
				return err
			}
			if fresh {
				return nil
			}
			return vigil.Errorf(vigil.EUNAUTHORIZED, "this code was already used; wait for the next one")
		}
	}
	if u.SMSEnabled {
		if _, err := s.Accounts.ConsumeUserToken(ctx, vigil.PurposeSMSCode, auth.HashScoped(s.cfg.CodeKey, u.ID, code), s.now()); err == nil {
			return nil
		} else if vigil.ErrorCode(err) != vigil.ENOTFOUND {
			return err
		}
	}
	return vigil.Errorf(vigil.EUNAUTHORIZED, "invalid two-factor code")
}

// sendSMSCode texts a fresh code to phone, at most 5 per 15 minutes per user.
func (s *Server) sendSMSCode(ctx context.Context, u *vigil.User, phone string) error {
	if s.Messages == nil {
		return vigil.FieldError("method", "this server has no SMS delivery configured")
	}
	now := s.now()
	until, err := s.Limiter.RecordAuthFailure(ctx, "sms:"+u.ID, now, 15*time.Minute, 6, 15*time.Minute)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		return &vigil.Error{Code: vigil.ERATELIMIT, Message: "too many codes sent; try again later", RetryAfter: until.Sub(now)}
	}
	code := auth.NewNumericCode(6)
	if err := s.Accounts.CreateUserToken(ctx, &vigil.UserToken{OrganizationID: u.OrganizationID, UserID: u.ID, Purpose: vigil.PurposeSMSCode,
		TokenHash: auth.HashScoped(s.cfg.CodeKey, u.ID, code), ExpiresAt: now.Add(s.cfg.SMSCodeTTL)}); err != nil {
		return err
	}
	_, err = s.Messages.Send(ctx, u.OrganizationID, u.ID, message.TemplateSMSCode, phone,
		message.Data{Code: code, Expiry: "in " + s.cfg.SMSCodeTTL.String()})
	return err
}

// issueSession mints a session token for u and answers the sign-in body.
func (s *Server) issueSession(ctx context.Context, u *vigil.User, userAgent, provider string) (*SignInOutput, error) {
	p := vigil.PrincipalFromContext(ctx)
	if err := s.Limiter.ResetAuthFailures(ctx, "acct:"+u.Email); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	now := s.now()
	token := auth.NewToken(auth.PrefixSession)
	expires := now.Add(s.cfg.SessionTTL)
	t := &vigil.Token{OrganizationID: u.OrganizationID, UserID: u.ID, Kind: vigil.TokenSession, TokenHash: auth.HashToken(token),
		IP: p.IP, UserAgent: truncate(userAgent, 255), ExpiresAt: &expires}
	if err := s.Accounts.CreateToken(ctx, t); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Accounts.RecordSignIn(ctx, u.ID, p.IP, now); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	org, err := s.Accounts.FindOrganizationByID(ctx, u.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.record(ctx, &vigil.AuditEvent{OrganizationID: u.OrganizationID, ActorID: u.ID, Action: "auth.sign_in", ResourceType: "user",
		ResourceID: u.ID, IP: p.IP, UserAgent: p.UserAgent, Changes: map[string]any{"provider": provider, "mfa": u.MFAEnabled()}})
	out := &SignInOutput{}
	exp := ts(expires)
	out.Body = SignInBodyOut{Status: http.StatusOK, StatusText: "OK", Username: u.Email, Token: token, ExpiresAt: &exp,
		SignInCount: u.SignInCount + 1, Role: u.Role.Display(), Timezone: u.Timezone, Locale: u.Locale, Verified: true,
		Provider: provider, Organization: &OrgSummary{UUID: org.ID, Name: org.Name}}
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
	s.audit(ctx, "auth.sign_out", "user", p.UserID, nil)
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
