package httpapi

import (
	"context"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/message"
)

// TwoFactorJSON is the 2FA block of a user.
type TwoFactorJSON struct {
	Enabled          bool    `json:"enabled"`
	OTPSMSEnabled    bool    `json:"otp_sms_enabled"`
	OTPTOTPEnabled   bool    `json:"otp_totp_enabled"`
	OTPPhone         *string `json:"otp_phone" nullable:"true"`
	OTPDefaultMethod *string `json:"otp_default_method" nullable:"true"`
}

// UserAttributes are the CONFIRMED attributes of GET /v2/user/me.
type UserAttributes struct {
	ID                      string        `json:"id" format:"uuid"`
	Username                string        `json:"username"`
	Name                    string        `json:"name"`
	Role                    string        `json:"role" example:"User"`
	Email                   string        `json:"email"`
	Locale                  string        `json:"locale"`
	Timezone                string        `json:"timezone"`
	ActiveProduct           string        `json:"active_product" enum:"pci,vrms,penetration"`
	Organization            OrgRef        `json:"organization"`
	Confirmed               bool          `json:"confirmed"`
	CreatedAt               Timestamp     `json:"created_at"`
	UpdatedAt               Timestamp     `json:"updated_at"`
	LastSignInAt            *Timestamp    `json:"last_sign_in_at" nullable:"true"`
	LastSignInIP            *string       `json:"last_sign_in_ip" nullable:"true"`
	SignInCount             *int          `json:"sign_in_count" nullable:"true"`
	TwoFactorAuthentication TwoFactorJSON `json:"two_factor_authentication"`
	IncompleteDetails       bool          `json:"incomplete_details"`
}

// OrgRef names an organization.
type OrgRef struct {
	ID   string `json:"id" format:"uuid"`
	Name string `json:"name"`
}

// UserResource is the JSON:API-like resource object.
type UserResource struct {
	ID         string         `json:"id" format:"uuid"`
	Type       string         `json:"type" example:"users"`
	Attributes UserAttributes `json:"attributes"`
}

func userResource(u *vigil.User, org *vigil.Organization) UserResource {
	a := UserAttributes{ID: u.ID, Username: u.Email, Name: u.Name, Role: u.Role.Display(), Email: u.Email, Locale: u.Locale, Timezone: u.Timezone,
		ActiveProduct: string(u.ActiveProduct), Organization: OrgRef{ID: org.ID, Name: org.Name}, Confirmed: u.ConfirmedAt != nil,
		CreatedAt: ts(u.CreatedAt), UpdatedAt: ts(u.UpdatedAt), IncompleteDetails: u.Name == ""}
	if u.LastSignInAt != nil {
		t := ts(*u.LastSignInAt)
		a.LastSignInAt, a.LastSignInIP = &t, &u.LastSignInIP
	}
	n := u.SignInCount
	a.SignInCount = &n
	tf := TwoFactorJSON{Enabled: u.MFAEnabled(), OTPSMSEnabled: u.SMSEnabled, OTPTOTPEnabled: u.TOTPEnabled}
	if u.OTPPhone != "" {
		tf.OTPPhone = &u.OTPPhone
	}
	if m := u.MFAMethod(); m != "" {
		tf.OTPDefaultMethod = &m
	}
	a.TwoFactorAuthentication = tf
	return UserResource{ID: u.ID, Type: "users", Attributes: a}
}

// UserOutput wraps one user resource.
type UserOutput struct {
	Body struct {
		Data UserResource `json:"data"`
	}
}

// me loads the caller.
func (s *Server) me(ctx context.Context) (*vigil.Principal, *vigil.User, *vigil.Organization, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := s.Accounts.FindUserByID(ctx, p.OrganizationID, p.UserID)
	if err != nil {
		return nil, nil, nil, err
	}
	org, err := s.Accounts.FindOrganizationByID(ctx, p.OrganizationID)
	return p, u, org, err
}

func (s *Server) handleMe(ctx context.Context, _ *struct{}) (*UserOutput, error) {
	_, u, org, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &UserOutput{}
	out.Body.Data = userResource(u, org)
	return out, nil
}

// UpdateMeInput is PUT /v2/user/me.
type UpdateMeInput struct {
	Body struct {
		User MeFields `json:"user"`
	}
}

// MeFields are what a user changes of itself.
type MeFields struct {
	Name     *string `json:"name,omitempty" maxLength:"255"`
	Username *string `json:"username,omitempty" maxLength:"255" doc:"Alias of name (the e-mail is the sign-in name and changes only through an administrator)"`
	Locale   *string `json:"locale,omitempty" maxLength:"10"`
	Timezone *string `json:"timezone,omitempty" maxLength:"64"`
}

func (s *Server) handleUpdateMe(ctx context.Context, in *UpdateMeInput) (*UserOutput, error) {
	p, _, org, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	b := in.Body.User
	upd := vigil.UserUpdate{Name: b.Name, Locale: b.Locale, Timezone: b.Timezone}
	if upd.Name == nil {
		upd.Name = b.Username
	}
	if err := upd.Validate(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	u, err := s.Accounts.UpdateUser(ctx, p.OrganizationID, p.UserID, upd)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.update_self", "user", u.ID, changedFields(map[string]bool{"name": upd.Name != nil, "locale": b.Locale != nil, "timezone": b.Timezone != nil}))
	out := &UserOutput{}
	out.Body.Data = userResource(u, org)
	return out, nil
}

func changedFields(m map[string]bool) map[string]any {
	var f []string
	for k, set := range m {
		if set {
			f = append(f, k)
		}
	}
	return map[string]any{"fields": f}
}

// ChangePasswordInput is PUT /v2/user/me/password.
type ChangePasswordInput struct {
	Body struct {
		CurrentPassword      string `json:"current_password" maxLength:"1024"`
		Password             string `json:"password" maxLength:"1024"`
		PasswordConfirmation string `json:"password_confirmation,omitempty" maxLength:"1024"`
	}
}

// handleChangePassword needs the current password; every other session and
// access token of the user ends.
func (s *Server) handleChangePassword(ctx context.Context, in *ChangePasswordInput) (*StatusOutput, error) {
	p, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.ImpersonatorID != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "an impersonated session cannot change the password"))
	}
	v := vigil.NewValidation("")
	vigil.CheckPassword(v, "password", in.Body.Password)
	if in.Body.PasswordConfirmation != "" && in.Body.PasswordConfirmation != in.Body.Password {
		v.Add("password_confirmation", "doesn't match password")
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.checkLock(ctx, "acct:"+u.Email); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if u.PasswordHash == "" || s.cfg.PasswordVerifier(in.Body.CurrentPassword, u.PasswordHash) != nil {
		if lerr := s.countFailure(ctx, u.OrganizationID, u.ID, u.Email, "current_password", false); lerr != nil {
			return nil, fail(ctx, s.log, lerr)
		}
		return nil, fail(ctx, s.log, vigil.FieldError("current_password", "is incorrect"))
	}
	hash, err := s.cfg.PasswordHasher(in.Body.Password)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if _, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, vigil.UserUpdate{PasswordHash: &hash}); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Accounts.RevokeUserTokens(ctx, u.ID, []vigil.TokenKind{vigil.TokenSession, vigil.TokenAccess}, p.SessionID, s.now()); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if s.Messages != nil {
		_, _ = s.Messages.Send(ctx, u.OrganizationID, u.ID, message.TemplatePassword, u.Email, message.Data{Name: displayName(u), Email: u.Email})
	}
	s.audit(ctx, "auth.password_changed", "user", u.ID, nil)
	return statusOK(), nil
}

// PermissionsOutput lists the caller's permissions.
type PermissionsOutput struct {
	Body struct {
		Data PermissionsJSON `json:"data"`
	}
}

// PermissionsJSON names a permission set and lists it.
type PermissionsJSON struct {
	Role        string   `json:"role" example:"admin" doc:"The permission set: admin, manager, user, viewer or partner_admin"`
	Permissions []string `json:"permissions"`
}

func (s *Server) handlePermissions(ctx context.Context, _ *struct{}) (*PermissionsOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &PermissionsOutput{}
	out.Body.Data.Role = vigil.RoleName(p.Role, p.Partner)
	for _, perm := range vigil.PermissionsOf(out.Body.Data.Role) {
		out.Body.Data.Permissions = append(out.Body.Data.Permissions, string(perm))
	}
	return out, nil
}

// TokenValidOutput answers the token probe.
type TokenValidOutput struct {
	Body struct {
		Data TokenValidJSON `json:"data"`
	}
}

// TokenValidJSON says a token is good and what kind it is.
type TokenValidJSON struct {
	Valid bool   `json:"valid"`
	Kind  string `json:"kind" enum:"session,access,impersonation"`
}

func (s *Server) handleTokenValid(ctx context.Context, _ *struct{}) (*TokenValidOutput, error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &TokenValidOutput{}
	out.Body.Data.Valid, out.Body.Data.Kind = true, string(p.TokenKind)
	return out, nil
}

// AccessTokenJSON is a long-lived token; Token is shown once, at creation.
type AccessTokenJSON struct {
	ID         string     `json:"id" format:"uuid"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty" doc:"Shown only in the answer that creates it"`
	CreatedAt  Timestamp  `json:"created_at"`
	LastUsedAt *Timestamp `json:"last_used_at" nullable:"true"`
}

// CreateAccessTokenInput is POST /v2/user/access_token.
type CreateAccessTokenInput struct {
	Body *struct {
		Name string `json:"name,omitempty" maxLength:"255"`
	} `required:"false"`
}

// AccessTokenOutput wraps one token.
type AccessTokenOutput struct {
	Body struct {
		Data AccessTokenJSON `json:"data"`
	}
}

func (s *Server) handleCreateAccessToken(ctx context.Context, in *CreateAccessTokenInput) (*AccessTokenOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.ImpersonatorID != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "an impersonated session cannot create access tokens"))
	}
	name := "access token"
	if in.Body != nil && strings.TrimSpace(in.Body.Name) != "" {
		name = strings.TrimSpace(in.Body.Name)
	}
	token := auth.NewToken(auth.PrefixAccess)
	t := &vigil.Token{OrganizationID: p.OrganizationID, UserID: p.UserID, Kind: vigil.TokenAccess, TokenHash: auth.HashToken(token), Name: name,
		IP: p.IP, UserAgent: p.UserAgent}
	if err := s.Accounts.CreateToken(ctx, t); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "auth.access_token_created", "token", t.ID, map[string]any{"name": name})
	out := &AccessTokenOutput{}
	out.Body.Data = AccessTokenJSON{ID: t.ID, Name: name, Token: token, CreatedAt: ts(t.CreatedAt)}
	return out, nil
}

// AccessTokenListOutput lists the caller's access tokens (never the tokens).
type AccessTokenListOutput struct {
	Body struct {
		Data []AccessTokenJSON `json:"data"`
	}
}

func (s *Server) handleListAccessTokens(ctx context.Context, _ *struct{}) (*AccessTokenListOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ts0, err := s.Accounts.ListTokens(ctx, p.UserID, vigil.TokenAccess)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &AccessTokenListOutput{}
	out.Body.Data = []AccessTokenJSON{}
	for _, t := range ts0 {
		j := AccessTokenJSON{ID: t.ID, Name: t.Name, CreatedAt: ts(t.CreatedAt)}
		if t.LastUsedAt != nil {
			x := ts(*t.LastUsedAt)
			j.LastUsedAt = &x
		}
		out.Body.Data = append(out.Body.Data, j)
	}
	return out, nil
}

// RevokeAccessTokenInput is DELETE /v2/user/access_token: the token given by
// id, or the access token the request is made with.
type RevokeAccessTokenInput struct {
	ID string `query:"id" doc:"The access token to revoke (default: the one this request uses)"`
}

func (s *Server) handleRevokeAccessToken(ctx context.Context, in *RevokeAccessTokenInput) (*StatusOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	id := in.ID
	if id == "" {
		if p.TokenKind != vigil.TokenAccess {
			return nil, fail(ctx, s.log, vigil.FieldError("id", "name the access token to revoke (this request uses a %s token)", p.TokenKind))
		}
		id = p.SessionID
	}
	list, err := s.Accounts.ListTokens(ctx, p.UserID, vigil.TokenAccess)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	found := false
	for _, t := range list {
		found = found || t.ID == id
	}
	if !found {
		return nil, fail(ctx, s.log, vigil.NotFound("access token"))
	}
	if err := s.Accounts.RevokeToken(ctx, id, s.now()); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "auth.access_token_revoked", "token", id, nil)
	return statusOK(), nil
}

// MFAQuery carries the CONFIRMED query parameters of the 2FA routes.
type MFAQuery struct {
	Method      string `query:"method" enum:"sms,totp" doc:"Required"`
	PhoneNumber string `query:"phone_number" maxLength:"32"`
	CountryCode string `query:"country_code" maxLength:"8" example:"+1"`
	OTPAttempt  string `query:"otp_attempt" maxLength:"20"`
}

// MFAEnableOutput is {"status": "queued"} for SMS, provisioning data for TOTP.
type MFAEnableOutput struct {
	Body struct {
		Status     string `json:"status" enum:"queued,pending"`
		Method     string `json:"method" enum:"sms,totp"`
		OTPAuthURI string `json:"otpauth_uri,omitempty" doc:"TOTP: for authenticator apps"`
		Secret     string `json:"secret,omitempty" doc:"TOTP: the base32 secret, for manual entry"`
		QRCode     string `json:"qr_code,omitempty" doc:"TOTP: the otpauth URI as a PNG data: URI"`
	}
}

// parsePhone validates a phone number with libphonenumber and returns E.164.
func parsePhone(number, country string) (e164, kind, region string, err error) {
	country = strings.TrimSpace(country)
	raw := strings.TrimSpace(number)
	if country != "" && !strings.HasPrefix(raw, "+") {
		raw = "+" + strings.TrimPrefix(country, "+") + raw
	}
	num, perr := phonenumbers.Parse(raw, "")
	if perr != nil || !phonenumbers.IsValidNumber(num) {
		return "", "", "", vigil.FieldError("phone_number", "is not a valid phone number")
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE:
		kind = "mobile"
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		kind = "fixed_line_or_mobile"
	case phonenumbers.FIXED_LINE:
		kind = "fixed_line"
	case phonenumbers.VOIP:
		kind = "voip"
	case phonenumbers.TOLL_FREE:
		kind = "toll_free"
	default:
		kind = "other"
	}
	return phonenumbers.Format(num, phonenumbers.E164), kind, phonenumbers.GetRegionCodeForNumber(num), nil
}

func (s *Server) handleMFAEnable(ctx context.Context, in *MFAQuery) (*MFAEnableOutput, error) {
	p, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.ImpersonatorID != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "an impersonated session cannot change 2FA"))
	}
	out := &MFAEnableOutput{}
	out.Body.Method = in.Method
	switch in.Method {
	case "totp":
		if u.TOTPEnabled {
			return nil, fail(ctx, s.log, vigil.FieldError("method", "TOTP is already enabled; disable it first"))
		}
		k, err := auth.NewTOTP(s.cfg.Issuer, u.Email)
		if err != nil {
			return nil, fail(ctx, s.log, err)
		}
		if _, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, vigil.UserUpdate{TOTPSecret: &k.Secret}); err != nil {
			return nil, fail(ctx, s.log, err)
		}
		out.Body.Status, out.Body.OTPAuthURI, out.Body.Secret, out.Body.QRCode = "pending", k.URI, k.Secret, auth.PNGDataURI(k.QRPNG)
	case "sms":
		phone, kind, _, err := parsePhone(in.PhoneNumber, in.CountryCode)
		if err != nil {
			return nil, fail(ctx, s.log, err)
		}
		if kind != "mobile" && kind != "fixed_line_or_mobile" {
			return nil, fail(ctx, s.log, vigil.FieldError("phone_number", "must be a mobile number (this is %s)", kind))
		}
		if _, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, vigil.UserUpdate{OTPPendingPhone: &phone}); err != nil {
			return nil, fail(ctx, s.log, err)
		}
		if err := s.sendSMSCode(ctx, u, phone); err != nil {
			return nil, fail(ctx, s.log, err)
		}
		out.Body.Status = "queued"
	default:
		return nil, fail(ctx, s.log, vigil.FieldError("method", "must be sms or totp"))
	}
	return out, nil
}

// MFAStatusOutput is {"status": "verified"} / {"status": "disabled", "method": ...}.
type MFAStatusOutput struct {
	Body struct {
		Status string `json:"status" enum:"verified,disabled,updated"`
		Method string `json:"method,omitempty" enum:"sms,totp"`
	}
}

func (s *Server) handleMFAVerify(ctx context.Context, in *MFAQuery) (*MFAStatusOutput, error) {
	p, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.ImpersonatorID != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "an impersonated session cannot change 2FA"))
	}
	code := strings.TrimSpace(in.OTPAttempt)
	if code == "" {
		return nil, fail(ctx, s.log, vigil.FieldError("otp_attempt", "can't be blank"))
	}
	t, on := true, ""
	upd := vigil.UserUpdate{}
	switch in.Method {
	case "totp":
		if u.TOTPSecret == "" || u.TOTPEnabled {
			return nil, fail(ctx, s.log, vigil.FieldError("method", "enable TOTP first"))
		}
		step, ok := auth.MatchTOTP(u.TOTPSecret, code, s.now())
		if !ok {
			return nil, fail(ctx, s.log, s.badCode(ctx, u))
		}
		if fresh, err := s.Accounts.UseTOTPStep(ctx, u.ID, step); err != nil || !fresh {
			return nil, fail(ctx, s.log, firstErr(err, vigil.FieldError("otp_attempt", "was already used; wait for the next code")))
		}
		upd.TOTPEnabled, on = &t, "totp"
	case "sms":
		if u.OTPPendingPhone == "" {
			return nil, fail(ctx, s.log, vigil.FieldError("method", "enable SMS first"))
		}
		if _, err := s.Accounts.ConsumeUserToken(ctx, vigil.PurposeSMSCode, auth.HashScoped(s.cfg.CodeKey, u.ID, code), s.now()); err != nil {
			if vigil.ErrorCode(err) == vigil.ENOTFOUND {
				return nil, fail(ctx, s.log, s.badCode(ctx, u))
			}
			return nil, fail(ctx, s.log, err)
		}
		empty := ""
		upd.SMSEnabled, upd.OTPPhone, upd.OTPPendingPhone, on = &t, &u.OTPPendingPhone, &empty, "sms"
	default:
		return nil, fail(ctx, s.log, vigil.FieldError("method", "must be sms or totp"))
	}
	if u.OTPDefaultMethod == "" {
		upd.OTPDefaultMethod = &on
	}
	if _, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, upd); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "auth.mfa_enabled", "user", u.ID, map[string]any{"method": on})
	s.notifyMFA(ctx, u, "Two-factor authentication by "+on+" was turned on")
	out := &MFAStatusOutput{}
	out.Body.Status, out.Body.Method = "verified", on
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// badCode counts a wrong code towards the account's lockout.
func (s *Server) badCode(ctx context.Context, u *vigil.User) error {
	if err := s.countFailure(ctx, u.OrganizationID, u.ID, u.Email, "otp", false); err != nil {
		return err
	}
	return vigil.FieldError("otp_attempt", "is not a valid code")
}

func (s *Server) notifyMFA(ctx context.Context, u *vigil.User, change string) {
	if s.Messages != nil {
		_, _ = s.Messages.Send(ctx, u.OrganizationID, u.ID, message.TemplateMFAChange, u.Email,
			message.Data{Name: displayName(u), Email: u.Email, Extra: map[string]string{"change": change}})
	}
}

// handleMFADisable turns a method off; it takes a current code of any
// enrolled method (a lost phone must not lock the user out of TOTP changes).
func (s *Server) handleMFADisable(ctx context.Context, in *MFAQuery) (*MFAStatusOutput, error) {
	p, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.ImpersonatorID != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "an impersonated session cannot change 2FA"))
	}
	if in.Method != "sms" && in.Method != "totp" {
		return nil, fail(ctx, s.log, vigil.FieldError("method", "must be sms or totp"))
	}
	if in.Method == "totp" && !u.TOTPEnabled || in.Method == "sms" && !u.SMSEnabled {
		return nil, fail(ctx, s.log, vigil.FieldError("method", "%s is not enabled", in.Method))
	}
	if err := s.checkLock(ctx, "acct:"+u.Email); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.checkOTP(ctx, u, in.OTPAttempt); err != nil {
		if vigil.ErrorCode(err) == vigil.EUNAUTHORIZED {
			return nil, fail(ctx, s.log, s.badCode(ctx, u))
		}
		return nil, fail(ctx, s.log, err)
	}
	f, empty := false, ""
	upd := vigil.UserUpdate{}
	if in.Method == "totp" {
		upd.TOTPEnabled, upd.TOTPSecret = &f, &empty
		if u.OTPDefaultMethod == "totp" {
			other := ""
			if u.SMSEnabled {
				other = "sms"
			}
			upd.OTPDefaultMethod = &other
		}
	} else {
		upd.SMSEnabled, upd.OTPPhone = &f, &empty
		if u.OTPDefaultMethod == "sms" {
			other := ""
			if u.TOTPEnabled {
				other = "totp"
			}
			upd.OTPDefaultMethod = &other
		}
	}
	nu, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, upd)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if !nu.MFAEnabled() {
		if err := s.Accounts.ReplaceRecoveryCodes(ctx, u.ID, nil); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	s.audit(ctx, "auth.mfa_disabled", "user", u.ID, map[string]any{"method": in.Method})
	s.notifyMFA(ctx, u, "Two-factor authentication by "+in.Method+" was turned off")
	out := &MFAStatusOutput{}
	out.Body.Status, out.Body.Method = "disabled", in.Method
	return out, nil
}

// LookupPhoneOutput is libphonenumber's view of a number.
type LookupPhoneOutput struct {
	Body struct {
		Valid       bool   `json:"valid"`
		PhoneNumber string `json:"phone_number,omitempty" doc:"E.164"`
		Type        string `json:"type,omitempty" enum:"mobile,fixed_line_or_mobile,fixed_line,voip,toll_free,other"`
		Region      string `json:"region,omitempty" example:"US"`
	}
}

func (s *Server) handleLookupPhone(ctx context.Context, in *MFAQuery) (*LookupPhoneOutput, error) {
	if _, err := permit(ctx, vigil.PermOwnAccount); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &LookupPhoneOutput{}
	if e164, kind, region, err := parsePhone(in.PhoneNumber, in.CountryCode); err == nil {
		out.Body.Valid, out.Body.PhoneNumber, out.Body.Type, out.Body.Region = true, e164, kind, region
	}
	return out, nil
}

func (s *Server) handleMFADefault(ctx context.Context, in *MFAQuery) (*MFAStatusOutput, error) {
	_, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if in.Method == "totp" && !u.TOTPEnabled || in.Method == "sms" && !u.SMSEnabled || in.Method == "" {
		return nil, fail(ctx, s.log, vigil.FieldError("method", "must be a method you have enabled"))
	}
	m := in.Method
	if _, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, vigil.UserUpdate{OTPDefaultMethod: &m}); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "auth.mfa_default_method", "user", u.ID, map[string]any{"method": m})
	out := &MFAStatusOutput{}
	out.Body.Status, out.Body.Method = "updated", m
	return out, nil
}

// RecoveryCodesOutput shows new codes once; later reads give only the count.
type RecoveryCodesOutput struct {
	Body struct {
		RecoveryCodes []string `json:"recovery_codes,omitempty" doc:"Shown only now; each works once"`
		Remaining     int      `json:"remaining"`
	}
}

func (s *Server) handleGenerateRecoveryCodes(ctx context.Context, _ *struct{}) (*RecoveryCodesOutput, error) {
	p, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if p.ImpersonatorID != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "an impersonated session cannot see recovery codes"))
	}
	if !u.MFAEnabled() {
		return nil, fail(ctx, s.log, vigil.FieldError("method", "turn on two-factor authentication first"))
	}
	codes := auth.RecoveryCodes(10)
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = auth.HashScoped(s.cfg.CodeKey, u.ID, c)
	}
	if err := s.Accounts.ReplaceRecoveryCodes(ctx, u.ID, hashes); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "auth.recovery_codes_generated", "user", u.ID, nil)
	out := &RecoveryCodesOutput{}
	out.Body.RecoveryCodes, out.Body.Remaining = codes, len(codes)
	return out, nil
}

func (s *Server) handleGetRecoveryCodes(ctx context.Context, _ *struct{}) (*RecoveryCodesOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	n, err := s.Accounts.CountRecoveryCodes(ctx, p.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &RecoveryCodesOutput{}
	out.Body.Remaining = n
	return out, nil
}

// handleMFASendSMS texts a code to the caller's SMS number (to disable SMS).
func (s *Server) handleMFASendSMS(ctx context.Context, _ *struct{}) (*QueuedOutput, error) {
	_, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if !u.SMSEnabled {
		return nil, fail(ctx, s.log, vigil.FieldError("method", "SMS is not enabled"))
	}
	if err := s.sendSMSCode(ctx, u, u.OTPPhone); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &QueuedOutput{}
	out.Body.Status = "queued"
	return out, nil
}
