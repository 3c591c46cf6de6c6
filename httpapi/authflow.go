package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/message"
)

// RecoverySignInInput is POST /auth/sign_in_with_recovery_code: the first
// step's otp_session_state (or the password again) and one recovery code.
type RecoverySignInInput struct {
	Body struct {
		OTPSessionState string `json:"otp_session_state,omitempty" maxLength:"200"`
		Username        string `json:"username,omitempty" maxLength:"254"`
		Password        string `json:"password,omitempty" maxLength:"1024"`
		RecoveryCode    string `json:"recovery_code" maxLength:"40" doc:"One of the codes shown when they were generated; each works once"`
	}
	UserAgent string `header:"User-Agent" hidden:"true"`
}

func (s *Server) handleRecoverySignIn(ctx context.Context, in *RecoverySignInInput) (*SignInOutput, error) {
	code := in.Body.RecoveryCode
	if strings.TrimSpace(code) == "" {
		return nil, fail(ctx, s.log, vigil.FieldError("recovery_code", "can't be blank"))
	}
	check := func(u *vigil.User) error {
		err := s.Accounts.UseRecoveryCode(ctx, u.ID, auth.HashScoped(s.cfg.CodeKey, u.ID, code), s.now())
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return vigil.Errorf(vigil.EUNAUTHORIZED, "invalid or already used recovery code")
		}
		if err == nil {
			s.record(ctx, &vigil.AuditEvent{OrganizationID: u.OrganizationID, ActorID: u.ID, Action: "auth.recovery_code_used", ResourceType: "user", ResourceID: u.ID})
		}
		return err
	}
	if in.Body.OTPSessionState != "" {
		return s.signInSecondStep(ctx, in.Body.OTPSessionState, check, in.UserAgent)
	}
	u, err := s.checkPassword(ctx, in.Body.Username, in.Body.Password)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := check(u); err != nil {
		if vigil.ErrorCode(err) == vigil.EUNAUTHORIZED {
			if lerr := s.countFailure(ctx, u.OrganizationID, u.ID, u.Email, "recovery_code", false); lerr != nil {
				return nil, fail(ctx, s.log, lerr)
			}
		}
		return nil, fail(ctx, s.log, err)
	}
	return s.issueSession(ctx, u, in.UserAgent, "email")
}

// OTPStateInput carries the first step's otp_session_state.
type OTPStateInput struct {
	Body struct {
		OTPSessionState string `json:"otp_session_state" maxLength:"200"`
	}
}

// Check2FAOutput says which second factors an account in sign-in has.
type Check2FAOutput struct {
	Body struct {
		Enabled bool     `json:"enabled"`
		Method  string   `json:"method,omitempty" enum:"totp,sms" doc:"The method asked for first"`
		Methods []string `json:"methods" doc:"Every method enrolled"`
		Phone   string   `json:"phone,omitempty" doc:"The SMS number, masked"`
	}
}

// sessionUser resolves a live otp_session_state to its user.
func (s *Server) sessionUser(ctx context.Context, state string) (*vigil.User, error) {
	t, err := s.Accounts.FindUserToken(ctx, vigil.PurposeOTPSession, auth.HashToken(state), s.now())
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "the otp_session_state is invalid or expired; sign in again")
		}
		return nil, err
	}
	return s.Accounts.FindUserByID(ctx, t.OrganizationID, t.UserID)
}

func (s *Server) handleCheck2FA(ctx context.Context, in *OTPStateInput) (*Check2FAOutput, error) {
	u, err := s.sessionUser(ctx, in.Body.OTPSessionState)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &Check2FAOutput{}
	out.Body.Enabled, out.Body.Method, out.Body.Methods = u.MFAEnabled(), u.MFAMethod(), []string{}
	if u.TOTPEnabled {
		out.Body.Methods = append(out.Body.Methods, "totp")
	}
	if u.SMSEnabled {
		out.Body.Methods = append(out.Body.Methods, "sms")
		out.Body.Phone = maskPhone(u.OTPPhone)
	}
	return out, nil
}

func maskPhone(p string) string {
	if len(p) <= 4 {
		return p
	}
	return strings.Repeat("*", len(p)-4) + p[len(p)-4:]
}

// QueuedOutput is {"status": "queued"}, as the CG SMS example shows.
type QueuedOutput struct {
	Body struct {
		Status string `json:"status" example:"queued"`
	}
}

func (s *Server) handleSendSMSOTP(ctx context.Context, in *OTPStateInput) (*QueuedOutput, error) {
	u, err := s.sessionUser(ctx, in.Body.OTPSessionState)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if !u.SMSEnabled {
		return nil, fail(ctx, s.log, vigil.FieldError("method", "SMS is not enabled for this account"))
	}
	if err := s.sendSMSCode(ctx, u, u.OTPPhone); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &QueuedOutput{}
	out.Body.Status = "queued"
	return out, nil
}

// ForgotPasswordInput is POST /auth/password.
type ForgotPasswordInput struct {
	Body struct {
		Email    string `json:"email,omitempty" maxLength:"254"`
		Username string `json:"username,omitempty" maxLength:"254" doc:"Alias of email"`
	}
}

// handleForgotPassword answers the same whether or not the address is known,
// and in about the same time; a known, confirmed user gets a reset link that
// works once, for ResetTTL, and voids earlier links.
func (s *Server) handleForgotPassword(ctx context.Context, in *ForgotPasswordInput) (*StatusOutput, error) {
	email := in.Body.Email
	if email == "" {
		email = in.Body.Username
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return nil, fail(ctx, s.log, vigil.FieldError("email", "can't be blank"))
	}
	p := vigil.PrincipalFromContext(ctx)
	now := s.now()
	// Throttle per address so the endpoint cannot flood a mailbox.
	if until, err := s.Limiter.RecordAuthFailure(ctx, "reset:"+p.IP, now, s.cfg.FailureWindow, s.cfg.IPMaxFailures, s.cfg.Lockout); err != nil {
		return nil, fail(ctx, s.log, err)
	} else if !until.IsZero() {
		return nil, fail(ctx, s.log, &vigil.Error{Code: vigil.ERATELIMIT, Message: "too many requests; try again later", RetryAfter: until.Sub(now)})
	}
	u, err := s.Accounts.FindUserByEmail(ctx, email)
	switch {
	case err == nil && u.ConfirmedAt != nil:
		if err := s.sendLink(ctx, u, vigil.PurposeReset, message.TemplateReset, "/reset-password?reset_password_token=", s.cfg.ResetTTL, nil); err != nil {
			return nil, fail(ctx, s.log, err)
		}
		s.record(ctx, &vigil.AuditEvent{OrganizationID: u.OrganizationID, ActorID: u.ID, Action: "auth.password_reset_requested",
			ResourceType: "user", ResourceID: u.ID, IP: p.IP})
	case err != nil && vigil.ErrorCode(err) != vigil.ENOTFOUND:
		return nil, fail(ctx, s.log, err)
	}
	return statusOK(), nil
}

// sendLink makes a one-time token for purpose and mails its link.
func (s *Server) sendLink(ctx context.Context, u *vigil.User, purpose, template, path string, ttl time.Duration, extra map[string]string) error {
	if s.Messages == nil {
		return vigil.FieldError("email", "this server has no e-mail delivery configured")
	}
	now := s.now()
	if err := s.Accounts.ExpireUserTokens(ctx, u.ID, purpose, now); err != nil {
		return err
	}
	token := auth.NewToken(auth.PrefixOneTime)
	d := ttl
	if err := s.Accounts.CreateUserToken(ctx, &vigil.UserToken{OrganizationID: u.OrganizationID, UserID: u.ID, Purpose: purpose,
		TokenHash: auth.HashToken(token), ExpiresAt: now.Add(d)}); err != nil {
		return err
	}
	link := strings.TrimSuffix(s.cfg.PortalURL, "/") + path + url.QueryEscape(token)
	_, err := s.Messages.Send(ctx, u.OrganizationID, u.ID, template, u.Email, message.Data{Name: displayName(u), Email: u.Email, Link: link,
		Expiry: "on " + now.Add(d).UTC().Format("2 Jan 2006 at 15:04 UTC"), Extra: extra})
	return err
}

func displayName(u *vigil.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Email
}

func statusOK() *StatusOutput {
	out := &StatusOutput{}
	out.Body.Status, out.Body.StatusText = http.StatusOK, "OK"
	return out
}

// ResetPasswordInput is PUT /auth/password.
type ResetPasswordInput struct {
	Body struct {
		ResetPasswordToken   string `json:"reset_password_token" maxLength:"200"`
		Password             string `json:"password" maxLength:"1024"`
		PasswordConfirmation string `json:"password_confirmation,omitempty" maxLength:"1024"`
	}
}

func (s *Server) handleResetPassword(ctx context.Context, in *ResetPasswordInput) (*StatusOutput, error) {
	u, err := s.useLink(ctx, vigil.PurposeReset, "reset_password_token", in.Body.ResetPasswordToken, in.Body.Password, in.Body.PasswordConfirmation, true)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	// A reset signs out every session: whoever knew the old password is out.
	if err := s.Accounts.RevokeUserTokens(ctx, u.ID, []vigil.TokenKind{vigil.TokenSession, vigil.TokenAccess, vigil.TokenImpersonation}, "", s.now()); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.record(ctx, &vigil.AuditEvent{OrganizationID: u.OrganizationID, ActorID: u.ID, Action: "auth.password_reset", ResourceType: "user", ResourceID: u.ID,
		IP: vigil.PrincipalFromContext(ctx).IP})
	return statusOK(), nil
}

// useLink checks password rules, consumes a one-time link token and sets
// the password (and confirms the address: the link proved it).
func (s *Server) useLink(ctx context.Context, purpose, field, token, password, confirmation string, needPassword bool) (*vigil.User, error) {
	v := vigil.NewValidation("")
	if token == "" {
		v.Add(field, "can't be blank")
	}
	if needPassword || password != "" {
		vigil.CheckPassword(v, "password", password)
		if confirmation != "" && confirmation != password {
			v.Add("password_confirmation", "doesn't match password")
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	t, err := s.Accounts.ConsumeUserToken(ctx, purpose, auth.HashToken(token), s.now())
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return nil, vigil.FieldError(field, "is invalid or expired")
		}
		return nil, err
	}
	upd := vigil.UserUpdate{}
	now := s.now()
	upd.ConfirmedAt = &now
	if password != "" {
		hash, err := s.cfg.PasswordHasher(password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &hash
	}
	return s.Accounts.UpdateUser(ctx, t.OrganizationID, t.UserID, upd)
}

// TokenQuery carries a token in the query string.
type ConfirmationQuery struct {
	Token string `query:"confirmation_token" maxLength:"200"`
}

// LinkInfoOutput describes what a link's form needs.
type LinkInfoOutput struct {
	Body struct {
		Valid            bool   `json:"valid"`
		Email            string `json:"email,omitempty"`
		Organization     string `json:"organization,omitempty"`
		PasswordRequired bool   `json:"password_required"`
	}
}

func (s *Server) linkInfo(ctx context.Context, purpose, token string) (*LinkInfoOutput, error) {
	out := &LinkInfoOutput{}
	t, err := s.Accounts.FindUserToken(ctx, purpose, auth.HashToken(token), s.now())
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return out, nil
		}
		return nil, fail(ctx, s.log, err)
	}
	u, err := s.Accounts.FindUserByID(ctx, t.OrganizationID, t.UserID)
	if err != nil {
		return out, nil
	}
	org, err := s.Accounts.FindOrganizationByID(ctx, u.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out.Body.Valid, out.Body.Email, out.Body.Organization, out.Body.PasswordRequired = true, u.Email, org.Name, u.PasswordHash == ""
	return out, nil
}

func (s *Server) handleShowConfirmation(ctx context.Context, in *ConfirmationQuery) (*LinkInfoOutput, error) {
	return s.linkInfo(ctx, vigil.PurposeConfirm, in.Token)
}

// ConfirmInput is POST /auth/confirmation.
type ConfirmInput struct {
	Body struct {
		ConfirmationToken    string `json:"confirmation_token" maxLength:"200"`
		Password             string `json:"password,omitempty" maxLength:"1024" doc:"Required when the account has no password yet"`
		PasswordConfirmation string `json:"password_confirmation,omitempty" maxLength:"1024"`
	}
}

func (s *Server) handleConfirm(ctx context.Context, in *ConfirmInput) (*StatusOutput, error) {
	need := false
	if t, err := s.Accounts.FindUserToken(ctx, vigil.PurposeConfirm, auth.HashToken(in.Body.ConfirmationToken), s.now()); err == nil {
		if u, err := s.Accounts.FindUserByID(ctx, t.OrganizationID, t.UserID); err == nil {
			need = u.PasswordHash == ""
		}
	}
	u, err := s.useLink(ctx, vigil.PurposeConfirm, "confirmation_token", in.Body.ConfirmationToken, in.Body.Password, in.Body.PasswordConfirmation, need)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.record(ctx, &vigil.AuditEvent{OrganizationID: u.OrganizationID, ActorID: u.ID, Action: "auth.confirmed", ResourceType: "user", ResourceID: u.ID})
	return statusOK(), nil
}

// InvitationQuery is GET /auth/invitation.
type InvitationQuery struct {
	Token string `query:"invitation_token" maxLength:"200"`
}

func (s *Server) handleCheckInvitation(ctx context.Context, in *InvitationQuery) (*LinkInfoOutput, error) {
	return s.linkInfo(ctx, vigil.PurposeInvite, in.Token)
}

// AcceptInvitationInput is PUT /auth/invitation.
type AcceptInvitationInput struct {
	Body struct {
		InvitationToken      string `json:"invitation_token" maxLength:"200"`
		Password             string `json:"password" maxLength:"1024"`
		PasswordConfirmation string `json:"password_confirmation,omitempty" maxLength:"1024"`
		Name                 string `json:"name,omitempty" maxLength:"255"`
	}
}

func (s *Server) handleAcceptInvitation(ctx context.Context, in *AcceptInvitationInput) (*StatusOutput, error) {
	u, err := s.useLink(ctx, vigil.PurposeInvite, "invitation_token", in.Body.InvitationToken, in.Body.Password, in.Body.PasswordConfirmation, true)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if in.Body.Name != "" {
		name := in.Body.Name
		if _, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, vigil.UserUpdate{Name: &name}); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	s.record(ctx, &vigil.AuditEvent{OrganizationID: u.OrganizationID, ActorID: u.ID, Action: "auth.invitation_accepted", ResourceType: "user", ResourceID: u.ID})
	return statusOK(), nil
}

// ImpersonateInput is POST /auth/impersonate.
type ImpersonateInput struct {
	Body struct {
		UserID string `json:"user_id" format:"uuid" doc:"The user to act as"`
	}
	UserAgent string `header:"User-Agent" hidden:"true"`
}

// handleImpersonate mints a short-lived token to act as another user: an
// admin over the users of its organization, a partner admin also over those
// of the customers it manages. Never nested, never towards a partner admin of
// another organization.
func (s *Server) handleImpersonate(ctx context.Context, in *ImpersonateInput) (*SignInOutput, error) {
	p, err := permit(ctx, vigil.PermImpersonate)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.ImpersonatorID != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "stop the current impersonation first"))
	}
	id := in.Body.UserID
	if id == p.UserID {
		return nil, fail(ctx, s.log, vigil.FieldError("user_id", "is yourself"))
	}
	target, err := s.findManagedUser(ctx, p, id)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	now := s.now()
	token := auth.NewToken(auth.PrefixImpersonation)
	expires := now.Add(s.cfg.ImpersonationTTL)
	t := &vigil.Token{OrganizationID: target.OrganizationID, UserID: target.ID, Kind: vigil.TokenImpersonation, TokenHash: auth.HashToken(token),
		ImpersonatorID: p.UserID, ParentTokenID: p.SessionID, IP: p.IP, UserAgent: truncate(in.UserAgent, 255), ExpiresAt: &expires}
	if err := s.Accounts.CreateToken(ctx, t); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "auth.impersonation_start", "user", target.ID, map[string]any{"target_organization_id": target.OrganizationID, "token_id": t.ID})
	org, err := s.Accounts.FindOrganizationByID(ctx, target.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	me, err := s.Accounts.FindUserByID(ctx, p.OrganizationID, p.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	exp := ts(expires)
	out := &SignInOutput{}
	out.Body = SignInBodyOut{Status: http.StatusOK, StatusText: "OK", Username: target.Email, Token: token, ExpiresAt: &exp,
		SignInCount: target.SignInCount, Role: target.Role.Display(), Timezone: target.Timezone, Locale: target.Locale, Verified: true,
		Provider: "impersonation", Organization: &OrgSummary{UUID: org.ID, Name: org.Name}, Impersonator: me.Email}
	return out, nil
}

// findManagedUser returns a user of the caller's organization or of one it
// manages (partners); anyone else is "not found".
func (s *Server) findManagedUser(ctx context.Context, p *vigil.Principal, id string) (*vigil.User, error) {
	u, err := s.Accounts.FindUserByID(ctx, p.OrganizationID, id)
	if err == nil || vigil.ErrorCode(err) != vigil.ENOTFOUND || !p.Has(vigil.PermCustomers) || !vigil.IsUUID(id) {
		return u, err
	}
	orgs, err := s.Accounts.FindUserAnywhere(ctx, id)
	if err != nil {
		return nil, err
	}
	ok, err := s.Tenancy.Manages(ctx, p.OrganizationID, orgs.OrganizationID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, vigil.NotFound("user")
	}
	return orgs, nil
}

func (s *Server) handleStopImpersonation(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.TokenKind != vigil.TokenImpersonation {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "this token is not an impersonation token"))
	}
	if err := s.Accounts.RevokeToken(ctx, p.SessionID, s.now()); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "auth.impersonation_stop", "user", p.UserID, nil)
	return statusOK(), nil
}
