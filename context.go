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
	// note: extension point. Impersonation (a later issue) sets ActorUserID to
	// the real admin while UserID is the impersonated user; audit records both.
	ActorUserID string
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
