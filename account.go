package vigil

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// Organization is a tenant: every resource row belongs to exactly one.
// note: extension point. Partners (a later issue) add a parent organization id;
// scoping stays "one organization per request" with partners switching into a
// customer's organization explicitly.
type Organization struct {
	ID        string
	Name      string
	PartnerID string // the partner organization that manages this one; "" for none
	IsPartner bool   // manages customer organizations
	CreatedAt time.Time
	UpdatedAt time.Time
}

// IsOperator reports whether o is the installation's operator: a partner
// with no partner of its own. The operator manages every organization.
func (o *Organization) IsOperator() bool { return o.IsPartner && o.PartnerID == "" }

// User is a person who signs in to one organization.
type User struct {
	ID             string
	OrganizationID string
	Email          string // lowercase; also the sign-in username
	Name           string
	Role           Role
	Locale         string
	Timezone       string
	PasswordHash   string
	SignInCount    int
	LastSignInAt   *time.Time
	LastSignInIP   string
	ConfirmedAt    *time.Time // nil until the e-mail address is confirmed or the invitation accepted
	InvitedAt      *time.Time
	ActiveProduct  Product
	// Second factors. The TOTP secret is sealed at rest and only the store
	// and the sign-in code see it opened.
	TOTPSecret       string
	TOTPEnabled      bool
	OTPLastStep      int64 // the last TOTP time step accepted: a code is good once
	SMSEnabled       bool
	OTPPhone         string // E.164, verified
	OTPPendingPhone  string // E.164, waiting for Verify 2FA installation
	OTPDefaultMethod string // "totp", "sms" or ""
	SSOSubject       string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// MFAEnabled reports whether signing in needs a second factor.
func (u *User) MFAEnabled() bool { return u.TOTPEnabled || u.SMSEnabled }

// MFAMethod is the method asked for first at sign-in.
func (u *User) MFAMethod() string {
	switch {
	case u.OTPDefaultMethod == "sms" && u.SMSEnabled, !u.TOTPEnabled && u.SMSEnabled:
		return "sms"
	case u.TOTPEnabled:
		return "totp"
	}
	return ""
}

// APIKey is an organization's key, sent as x-api-key. Only its hash is stored.
type APIKey struct {
	ID             string
	OrganizationID string
	Name           string
	Prefix         string // first characters of the key, to tell keys apart in listings
	KeyHash        string
	CreatedBy      string // user id, "" when made from the command line
	CreatedAt      time.Time
	LastUsedAt     *time.Time
	RevokedAt      *time.Time
}

// TokenKind distinguishes bearer tokens.
type TokenKind string

// Token kinds.
const (
	TokenSession       TokenKind = "session"       // from sign-in; expires
	TokenAccess        TokenKind = "access"        // long-lived, named, listed, revocable
	TokenImpersonation TokenKind = "impersonation" // minted for an admin acting as another user; short-lived
)

// Token is a bearer token row. The token itself is shown once; only its
// SHA-256 is stored.
type Token struct {
	ID             string
	OrganizationID string
	UserID         string
	Kind           TokenKind
	TokenHash      string
	Name           string // access tokens
	ImpersonatorID string // impersonation tokens: the real user
	ParentTokenID  string // impersonation tokens: the impersonator's own token
	IP             string
	UserAgent      string
	CreatedAt      time.Time
	ExpiresAt      *time.Time
	LastUsedAt     *time.Time
	RevokedAt      *time.Time
}

// NormalizeEmail lowercases and trims an address and checks its form.
func NormalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return s, false
	}
	return s, true
}

// UserInput creates a user. Password is plaintext and hashed by the service.
type UserInput struct {
	Email    string
	Name     string
	Role     Role
	Password string
	Locale   string
	Timezone string
	// Product is the user's active product (default vrms).
	Product Product
	// Unconfirmed leaves the user to confirm the e-mail address (or accept an
	// invitation, with Invited) before signing in. Password may then be empty.
	Unconfirmed bool
	Invited     bool
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 10

// Validate checks a new user's fields.
func (in *UserInput) Validate() error {
	v := NewValidation("user")
	var ok bool
	if in.Email, ok = NormalizeEmail(in.Email); !ok {
		v.Add("email", "is not a valid e-mail address")
	}
	checkText(v, "name", in.Name, MaxNameLen, false)
	if _, ok := ParseRole(string(in.Role)); !ok {
		v.Addf("role", "must be one of admin, manager, user, viewer; got %q", in.Role)
	}
	if !in.Invited || in.Password != "" {
		CheckPassword(v, "password", in.Password)
	}
	if in.Product == "" {
		in.Product = ProductVRMS
	} else if !in.Product.Valid() {
		v.Addf("active_product", "must be one of pci, vrms, penetration; got %q", in.Product)
	}
	if in.Locale == "" {
		in.Locale = "en"
	}
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(in.Timezone); err != nil {
		v.Addf("timezone", "unknown time zone %q", in.Timezone)
	}
	return v.Err()
}

// CheckPassword adds field's problems with a new password to v.
func CheckPassword(v *Validation, field, password string) {
	if len(password) < MinPasswordLen {
		v.Addf(field, "must be at least %d characters", MinPasswordLen)
	} else if len(password) > 1024 {
		v.Add(field, "is too long (maximum is 1024 characters)")
	}
}

// UserUpdate changes a user; nil fields are left as they are.
type UserUpdate struct {
	Email            *string
	Name             *string
	Role             *Role
	Locale           *string
	Timezone         *string
	ActiveProduct    *Product
	PasswordHash     *string
	ConfirmedAt      *time.Time
	TOTPSecret       *string // "" clears
	TOTPEnabled      *bool
	OTPLastStep      *int64
	SMSEnabled       *bool
	OTPPhone         *string
	OTPPendingPhone  *string
	OTPDefaultMethod *string
	SSOSubject       *string
}

// Validate checks the fields that are set.
func (in *UserUpdate) Validate() error {
	v := NewValidation("user")
	if in.Email != nil {
		e, ok := NormalizeEmail(*in.Email)
		if !ok {
			v.Add("email", "is not a valid e-mail address")
		}
		in.Email = &e
	}
	if in.Name != nil {
		checkText(v, "name", *in.Name, MaxNameLen, false)
	}
	if in.Role != nil {
		r, ok := ParseRole(string(*in.Role))
		if !ok {
			v.Addf("role", "must be one of admin, manager, user, viewer; got %q", *in.Role)
		}
		in.Role = &r
	}
	if in.Timezone != nil {
		if _, err := time.LoadLocation(*in.Timezone); err != nil || *in.Timezone == "" {
			v.Addf("timezone", "unknown time zone %q", *in.Timezone)
		}
	}
	if in.Locale != nil && (len(*in.Locale) < 2 || len(*in.Locale) > 10) {
		v.Add("locale", "must be a language tag such as en or en-GB")
	}
	if in.ActiveProduct != nil && !in.ActiveProduct.Valid() {
		v.Addf("active_product", "must be one of pci, vrms, penetration; got %q", *in.ActiveProduct)
	}
	return v.Err()
}

// UserToken purposes: single-use secrets sent to a user or held by a client
// between two steps.
const (
	PurposeConfirm    = "confirm"     // e-mail confirmation link
	PurposeInvite     = "invite"      // invitation link
	PurposeReset      = "reset"       // password reset link
	PurposeOTPSession = "otp_session" // otp_session_state between the two sign-in steps
	PurposeSMSCode    = "sms_code"    // an SMS one-time code
	PurposeSSOState   = "sso_state"   // OIDC state, with the PKCE verifier and nonce in Data
	PurposeSSOLink    = "sso_link"    // one-time SSO link, exchanged for a session
)

// UserToken is a single-use secret; only its hash is stored.
type UserToken struct {
	ID             string
	OrganizationID string
	UserID         string
	Purpose        string
	TokenHash      string
	Data           string
	Attempts       int
	CreatedAt      time.Time
	ExpiresAt      time.Time
	UsedAt         *time.Time
}

// UserFilter narrows a user listing.
type UserFilter struct {
	OrganizationIDs []string // empty: none
}

// UserList is what GET /v2/users filters and sorts on.
var UserList = ListSpec{
	Filters: map[string]FilterKind{"email": FilterText, "name": FilterText, "role": FilterExact, "active_product": FilterExact,
		"organization_id": FilterExact},
	Sorts:       []string{"email", "name", "role", "created_at", "last_sign_in_at"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}

// ResourceCounts are the resources a user owns.
type ResourceCounts struct {
	Targets     int `json:"targets"`
	Scans       int `json:"scans"`
	Credentials int `json:"credentials"`
	PortLists   int `json:"port_lists"`
}

// AccountService is the auth core: organizations, users, API keys and tokens.
type AccountService interface {
	CreateOrganization(ctx context.Context, name string) (*Organization, error)
	FindOrganizationByID(ctx context.Context, id string) (*Organization, error)
	// FindOrganizationsByIDs loads several organizations in one query.
	FindOrganizationsByIDs(ctx context.Context, ids []string) (map[string]*Organization, error)
	CountOrganizations(ctx context.Context) (int, error)
	CreateUser(ctx context.Context, orgID string, in UserInput, passwordHash string) (*User, error)
	FindUserByID(ctx context.Context, orgID, id string) (*User, error)
	// FindUserAnywhere looks a user up across organizations; callers check
	// that the caller manages the user's organization.
	FindUserAnywhere(ctx context.Context, id string) (*User, error)
	// FindUserByEmail looks across organizations: sign-in happens before the
	// organization is known. ENOTFOUND if none.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	RecordSignIn(ctx context.Context, userID, ip string, at time.Time) error

	CreateAPIKey(ctx context.Context, k *APIKey) error
	// FindAPIKeyByHash returns ENOTFOUND for unknown or revoked keys.
	FindAPIKeyByHash(ctx context.Context, hash string) (*APIKey, error)

	CreateToken(ctx context.Context, t *Token) error
	// FindTokenByHash returns ENOTFOUND for unknown, revoked or expired tokens.
	FindTokenByHash(ctx context.Context, hash string, now time.Time) (*Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// RevokeUserTokens revokes the user's tokens of the given kinds but keepID.
	RevokeUserTokens(ctx context.Context, userID string, kinds []TokenKind, keepID string, at time.Time) error
	ListTokens(ctx context.Context, userID string, kind TokenKind) ([]*Token, error)

	UpdateUser(ctx context.Context, orgID, id string, in UserUpdate) (*User, error)
	DeleteUser(ctx context.Context, orgID, id string) error
	ListUsers(ctx context.Context, orgIDs []string, opts ListOptions) ([]*User, int, error)
	CountUsers(ctx context.Context, orgID string) (int, error)
	// CountAdmins counts the confirmed admins of an organization.
	CountAdmins(ctx context.Context, orgID string) (int, error)
	OwnedResources(ctx context.Context, orgID, userID string) (ResourceCounts, error)
	// TransferResources gives every resource fromID owns to toID (both in orgID).
	TransferResources(ctx context.Context, orgID, fromID, toID string) (ResourceCounts, error)
	// MoveUser puts a user into another organization; the resources it owns stay behind.
	MoveUser(ctx context.Context, userID, toOrgID string) error
	SetSSAPIKey(ctx context.Context, userID, hash string) error
	FindUserBySSAPIKey(ctx context.Context, hash string) (*User, error)
	// ImportUsers creates every user or none.
	ImportUsers(ctx context.Context, orgID string, in []UserInput, hashes []string) ([]*User, error)

	CreateUserToken(ctx context.Context, t *UserToken) error
	// FindUserToken returns a live (unused, unexpired) token or ENOTFOUND.
	FindUserToken(ctx context.Context, purpose, hash string, now time.Time) (*UserToken, error)
	// ConsumeUserToken marks a live token used, exactly once across replicas.
	ConsumeUserToken(ctx context.Context, purpose, hash string, now time.Time) (*UserToken, error)
	// CountUserTokenAttempt adds a failed attempt and returns the new count.
	CountUserTokenAttempt(ctx context.Context, id string) (int, error)
	// ExpireUserTokens ends the user's live tokens of a purpose (a new reset link voids older ones).
	ExpireUserTokens(ctx context.Context, userID, purpose string, now time.Time) error

	// ReplaceRecoveryCodes stores new code hashes, voiding the old codes.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error
	// UseRecoveryCode consumes a code; ENOTFOUND if it is unknown or used.
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error
	CountRecoveryCodes(ctx context.Context, userID string) (unused int, err error)
	// UseTOTPStep records a TOTP step as used; false if it (or a later one) was.
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
}

// AuthLimiter counts failed sign-ins per key ("acct:<email>", "ip:<addr>")
// across server replicas.
type AuthLimiter interface {
	// AuthBlockedUntil returns when key is allowed again (zero if not blocked).
	AuthBlockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error)
	// RecordAuthFailure counts a failure in the window and blocks key for
	// lockout once max failures are reached; it returns the block end, if any.
	RecordAuthFailure(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockout time.Duration) (time.Time, error)
	ResetAuthFailures(ctx context.Context, key string) error
}

// Notification events a user can opt in or out of (CG preference names).
var NotificationEvents = []string{"scan_event", "report_event", "exception_event", "overdue_pci_reminder"}

// NotificationParams narrow when an event notifies. Empty lists match all.
type NotificationParams struct {
	WhenStatus  []string `json:"when_status"`  // scan states: started, completed, stopped, failed
	IfCompleted []string `json:"if_completed"` // PCI outcome of a completed scan: pass, fail
	IfSeverity  []int    `json:"if_severity"`  // severities (0-10, rounded down) that notify
}

// Validate checks the lists.
func (p *NotificationParams) Validate() error {
	v := NewValidation("")
	for _, s := range p.WhenStatus {
		if s != "started" && s != "completed" && s != "stopped" && s != "failed" {
			v.Addf("when_status", "must hold started, completed, stopped, failed; got %q", s)
		}
	}
	for _, s := range p.IfCompleted {
		if s != "pass" && s != "fail" {
			v.Addf("if_completed", "must hold pass, fail; got %q", s)
		}
	}
	for _, n := range p.IfSeverity {
		if n < 0 || n > 10 {
			v.Addf("if_severity", "must hold severities 0 to 10; got %d", n)
		}
	}
	return v.Err()
}

// NotificationPreference is a user's setting for one event. A user without a
// stored preference gets the default: enabled, no narrowing.
type NotificationPreference struct {
	ID             string
	OrganizationID string
	UserID         string
	Name           string
	Enabled        bool
	Email          bool // also e-mail these (opt-in)
	Params         NotificationParams
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ValidNotificationEvent reports whether name is a preference name.
func ValidNotificationEvent(name string) bool {
	for _, n := range NotificationEvents {
		if n == name {
			return true
		}
	}
	return false
}

// PreferenceService stores notification preferences.
type PreferenceService interface {
	// NotificationPreferences returns every event's preference for the user,
	// defaults filled in, in NotificationEvents order.
	NotificationPreferences(ctx context.Context, orgID, userID string) ([]*NotificationPreference, error)
	// SetNotificationPreference changes enabled, email and/or params (nil: kept).
	SetNotificationPreference(ctx context.Context, orgID, userID, name string, enabled, email *bool, params *NotificationParams) (*NotificationPreference, error)
}
