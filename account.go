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
	CreatedAt time.Time
	UpdatedAt time.Time
}

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
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// note: extension point. 2FA (a later issue) adds otp columns; SignIn
	// then returns an otp_session_state instead of a token when they are set.
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

// Token kinds. Access tokens and impersonation tokens come with a later issue.
const (
	TokenSession TokenKind = "session"
)

// Token is a bearer token row. The token itself is shown once; only its
// SHA-256 is stored.
type Token struct {
	ID             string
	OrganizationID string
	UserID         string
	Kind           TokenKind
	TokenHash      string
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
	if len(in.Password) < MinPasswordLen {
		v.Addf("password", "must be at least %d characters", MinPasswordLen)
	} else if len(in.Password) > 1024 {
		v.Add("password", "is too long (maximum is 1024 characters)")
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

// AccountService is the auth core: organizations, users, API keys and tokens.
type AccountService interface {
	CreateOrganization(ctx context.Context, name string) (*Organization, error)
	FindOrganizationByID(ctx context.Context, id string) (*Organization, error)
	CountOrganizations(ctx context.Context) (int, error)
	CreateUser(ctx context.Context, orgID string, in UserInput, passwordHash string) (*User, error)
	FindUserByID(ctx context.Context, orgID, id string) (*User, error)
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
