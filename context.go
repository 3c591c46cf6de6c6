package vigil

import "context"

// Principal is who is making a request: a user acting through a session or
// access token, scoped to exactly one organization.
type Principal struct {
	OrganizationID string
	UserID         string
	Role           Role
	SessionID      string // the token row that authenticated the request, if any
	APIKeyID       string // the organization API key presented, if any
	// Partner is set when the organization is a partner (its admins are
	// partner admins).
	Partner bool
	// ImpersonatorID is the real user behind an impersonation token; UserID
	// is then the impersonated user. Audit records both.
	ImpersonatorID string
	// TokenKind is the kind of token that authenticated the request.
	TokenKind TokenKind
	// Restricted is set for roles that see only the grouped resources of their
	// own groups (see GroupService); admins and managers see everything.
	Restricted bool
	// IP and UserAgent of the request, for the audit trail.
	IP, UserAgent string
}

type principalKey struct{}

// NewContextWithPrincipal returns ctx carrying p.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the principal in ctx, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
