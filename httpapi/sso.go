package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
)

// Single sign-on: OIDC authorization code flow with PKCE, one provider per
// organization. The browser goes to /auth/sso/authorize, the IdP sends it
// back to /auth/sso/callback, which matches the user by verified e-mail,
// syncs its group memberships from the groups claim and sends the browser to
// the portal with a one-time link token; the portal trades that for a
// session at POST /auth/sso_link_login.

// ssoStateTTL bounds the round trip through the IdP; ssoLinkTTL the hop
// from the callback to the portal.
const (
	ssoStateTTL = 10 * time.Minute
	ssoLinkTTL  = 2 * time.Minute
)

// SSOProviderJSON is the provider configuration; the secret never leaves.
type SSOProviderJSON struct {
	Issuer          string     `json:"issuer" doc:"OIDC issuer URL (discovery at /.well-known/openid-configuration)"`
	ClientID        string     `json:"client_id"`
	HasClientSecret bool       `json:"has_client_secret"`
	GroupsClaim     string     `json:"groups_claim" doc:"ID token claim with the user's IdP groups"`
	Enabled         bool       `json:"enabled"`
	RedirectURI     string     `json:"redirect_uri" doc:"Register this at the IdP"`
	LoginURL        string     `json:"login_url" doc:"Where users start signing in"`
	UpdatedAt       *Timestamp `json:"updated_at,omitempty"`
}

func (s *Server) ssoProviderJSON(p *vigil.OIDCProvider, base string) SSOProviderJSON {
	t := ts(p.UpdatedAt)
	return SSOProviderJSON{Issuer: p.Issuer, ClientID: p.ClientID, HasClientSecret: p.ClientSecret != "", GroupsClaim: p.GroupsClaim,
		Enabled: p.Enabled, RedirectURI: base + "/auth/sso/callback", LoginURL: base + "/auth/sso/authorize?organization_id=" + p.OrganizationID,
		UpdatedAt: &t}
}

// publicBase is the API's own URL, for the redirect URI. Without
// --public-url it is the request's host over http: vigil serve does not
// terminate TLS itself, so a proxy in front must set --public-url.
func (s *Server) publicBase(host string) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	return "http://" + host
}

// SSOConfigInput is PUT /v2/user/organization/sso.
type SSOConfigInput struct {
	Host string `header:"Host" hidden:"true"`
	Body struct {
		Issuer       string  `json:"issuer" maxLength:"2000"`
		ClientID     string  `json:"client_id" maxLength:"500"`
		ClientSecret *string `json:"client_secret,omitempty" maxLength:"2000" doc:"Absent: keep the stored secret"`
		GroupsClaim  string  `json:"groups_claim,omitempty" maxLength:"100" doc:"Default groups"`
		Enabled      *bool   `json:"enabled,omitempty" doc:"Default true"`
	}
}

// loopbackURL allows plain http only to the local machine (tests, a local IdP).
func loopbackURL(u *url.URL) bool {
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()
}

func (s *Server) handleSSOConfigSet(ctx context.Context, in *SSOConfigInput) (*DataOutput[SSOProviderJSON], error) {
	p, err := permit(ctx, vigil.PermOrganization)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	b := in.Body
	v := vigil.NewValidation("")
	u, perr := url.Parse(b.Issuer)
	if perr != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && loopbackURL(u)) {
		v.Add("issuer", "must be an https URL")
	}
	if strings.TrimSpace(b.ClientID) == "" {
		v.Add("client_id", "can't be blank")
	}
	claim := b.GroupsClaim
	if claim == "" {
		claim = "groups"
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	prov := &vigil.OIDCProvider{OrganizationID: p.OrganizationID, Issuer: strings.TrimSuffix(b.Issuer, "/"), ClientID: b.ClientID,
		GroupsClaim: claim, Enabled: b.Enabled == nil || *b.Enabled}
	if b.ClientSecret != nil {
		prov.ClientSecret = *b.ClientSecret
	}
	if err := s.SSO.SetOIDCProvider(ctx, prov); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "organization.sso_update", "organization", p.OrganizationID, map[string]any{"issuer": prov.Issuer, "client_id": prov.ClientID,
		"client_secret_changed": b.ClientSecret != nil, "enabled": prov.Enabled})
	if prov, err = s.SSO.FindOIDCProvider(ctx, p.OrganizationID); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(s.ssoProviderJSON(prov, s.publicBase(in.Host))), nil
}

// SSOShowInput is GET /v2/user/organization/sso.
type SSOShowInput struct {
	Host string `header:"Host" hidden:"true"`
}

func (s *Server) handleSSOConfigShow(ctx context.Context, in *SSOShowInput) (*DataOutput[SSOProviderJSON], error) {
	p, err := permit(ctx, vigil.PermOrganization)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	prov, err := s.SSO.FindOIDCProvider(ctx, p.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(s.ssoProviderJSON(prov, s.publicBase(in.Host))), nil
}

func (s *Server) handleSSOConfigDelete(ctx context.Context, _ *struct{}) (*StatusOutput, error) {
	p, err := permit(ctx, vigil.PermOrganization)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.SSO.DeleteOIDCProvider(ctx, p.OrganizationID); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "organization.sso_delete", "organization", p.OrganizationID, nil)
	return statusOK(), nil
}

// oidcClient is the provider's discovery document and oauth2 settings.
func (s *Server) oidcClient(ctx context.Context, prov *vigil.OIDCProvider, base string) (context.Context, *oidc.Provider, *oauth2.Config, error) {
	client := s.cfg.SSOHTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	ctx = oidc.ClientContext(ctx, client)
	op, err := oidc.NewProvider(ctx, prov.Issuer)
	if err != nil {
		s.log.WarnContext(ctx, "sso: provider discovery failed", "issuer", prov.Issuer, "err", err)
		return nil, nil, nil, vigil.Errorf(vigil.EINVALID, "the organization's identity provider cannot be reached")
	}
	cfg := &oauth2.Config{ClientID: prov.ClientID, ClientSecret: prov.ClientSecret, Endpoint: op.Endpoint(),
		RedirectURL: base + "/auth/sso/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	return ctx, op, cfg, nil
}

// ssoState is kept server-side under the state token.
type ssoState struct {
	OrganizationID string `json:"organization_id"`
	Verifier       string `json:"verifier"`
	Nonce          string `json:"nonce"`
}

// RedirectOutput sends the browser elsewhere.
type RedirectOutput struct {
	Status   int
	Location string `header:"Location"`
}

// SSOAuthorizeInput is GET /auth/sso/authorize.
type SSOAuthorizeInput struct {
	OrganizationID string `query:"organization_id" doc:"The organization whose identity provider to use"`
	Host           string `header:"Host" hidden:"true"`
}

func (s *Server) handleSSOAuthorize(ctx context.Context, in *SSOAuthorizeInput) (*RedirectOutput, error) {
	prov, err := s.SSO.FindOIDCProvider(ctx, in.OrganizationID)
	if err == nil && !prov.Enabled {
		err = vigil.NotFound("SSO provider")
	}
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	base := s.publicBase(in.Host)
	_, _, cfg, err := s.oidcClient(ctx, prov, base)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	st := ssoState{OrganizationID: prov.OrganizationID, Verifier: oauth2.GenerateVerifier(), Nonce: auth.NewToken("")}
	data, _ := json.Marshal(st)
	state := auth.NewToken(auth.PrefixOneTime)
	if err := s.Accounts.CreateUserToken(ctx, &vigil.UserToken{OrganizationID: prov.OrganizationID, Purpose: vigil.PurposeSSOState,
		TokenHash: auth.HashToken(state), Data: string(data), ExpiresAt: s.now().Add(ssoStateTTL)}); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	loc := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce))
	return &RedirectOutput{Status: http.StatusFound, Location: loc}, nil
}

// SSOCallbackInput is GET /auth/sso/callback.
type SSOCallbackInput struct {
	Code             string `query:"code"`
	State            string `query:"state"`
	Error            string `query:"error"`
	ErrorDescription string `query:"error_description"`
	Host             string `header:"Host" hidden:"true"`
	UserAgent        string `header:"User-Agent" hidden:"true"`
}

// handleSSOCallback finishes the IdP round trip: the state is single use,
// the code is exchanged with the PKCE verifier, the ID token's signature,
// issuer, audience, expiry and nonce are verified, and the e-mail must be
// verified by the IdP and belong to a user of the organization.
func (s *Server) handleSSOCallback(ctx context.Context, in *SSOCallbackInput) (*RedirectOutput, error) {
	if in.Error != "" {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "the identity provider refused: %s %s", in.Error, in.ErrorDescription))
	}
	t, err := s.Accounts.ConsumeUserToken(ctx, vigil.PurposeSSOState, auth.HashToken(in.State), s.now())
	if err != nil {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "unknown, used or expired SSO state"))
	}
	var st ssoState
	if err := json.Unmarshal([]byte(t.Data), &st); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	prov, err := s.SSO.FindOIDCProvider(ctx, st.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	octx, op, cfg, err := s.oidcClient(ctx, prov, s.publicBase(in.Host))
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	refuse := func(why string, args ...any) (*RedirectOutput, error) {
		s.record(ctx, &vigil.AuditEvent{OrganizationID: prov.OrganizationID, Action: "auth.sso_failed", ResourceType: "organization",
			ResourceID: prov.OrganizationID, Changes: map[string]any{"reason": why}, IP: vigil.PrincipalFromContext(ctx).IP})
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "SSO sign-in refused: "+why, args...))
	}
	tok, err := cfg.Exchange(octx, in.Code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return refuse("the authorization code was not accepted")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := op.Verifier(&oidc.Config{ClientID: prov.ClientID, Now: s.now}).Verify(octx, raw)
	if err != nil {
		return refuse("the ID token is not valid")
	}
	if idt.Nonce != st.Nonce {
		return refuse("the ID token's nonce does not match")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return refuse("the ID token's claims cannot be read")
	}
	email, _ := claims["email"].(string)
	if verified, _ := claims["email_verified"].(bool); !verified || email == "" {
		return refuse("the identity provider did not verify the e-mail address")
	}
	u, err := s.Accounts.FindUserByEmail(ctx, strings.ToLower(email))
	if err != nil || u.OrganizationID != prov.OrganizationID {
		return refuse("no user of this organization has the address %s", email)
	}
	upd := vigil.UserUpdate{SSOSubject: &idt.Subject}
	if u.ConfirmedAt == nil {
		now := s.now()
		upd.ConfirmedAt = &now // the IdP vouched for the address
	}
	if _, err := s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, upd); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	groups := stringList(claims[prov.GroupsClaim])
	if err := s.Groups.SyncSSOMemberships(ctx, u.OrganizationID, u.ID, groups); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	link := auth.NewToken(auth.PrefixOneTime)
	if err := s.Accounts.CreateUserToken(ctx, &vigil.UserToken{OrganizationID: u.OrganizationID, UserID: u.ID, Purpose: vigil.PurposeSSOLink,
		TokenHash: auth.HashToken(link), ExpiresAt: s.now().Add(ssoLinkTTL)}); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.record(ctx, &vigil.AuditEvent{OrganizationID: u.OrganizationID, ActorID: u.ID, Action: "auth.sso_callback", ResourceType: "user",
		ResourceID: u.ID, Changes: map[string]any{"issuer": prov.Issuer, "subject": idt.Subject, "groups": groups}, IP: vigil.PrincipalFromContext(ctx).IP})
	return &RedirectOutput{Status: http.StatusFound, Location: strings.TrimSuffix(s.cfg.PortalURL, "/") + "/sso?sso_link_token=" + url.QueryEscape(link)}, nil
}

// stringList reads a claim that is a list of strings (or one string).
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// SSOLinkInput is POST /auth/sso_link_login.
type SSOLinkInput struct {
	Body struct {
		SSOLinkToken string `json:"sso_link_token" maxLength:"200" doc:"The one-time token the SSO callback put in the portal link"`
	}
	UserAgent string `header:"User-Agent" hidden:"true"`
}

// handleSSOLinkLogin trades a one-time SSO link token for a session. The IdP
// authenticated the user, so Vigil's own second factor is not asked again.
func (s *Server) handleSSOLinkLogin(ctx context.Context, in *SSOLinkInput) (*SignInOutput, error) {
	t, err := s.Accounts.ConsumeUserToken(ctx, vigil.PurposeSSOLink, auth.HashToken(in.Body.SSOLinkToken), s.now())
	if err != nil {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EUNAUTHORIZED, "unknown, used or expired SSO link"))
	}
	u, err := s.Accounts.FindUserByID(ctx, t.OrganizationID, t.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.issueSession(ctx, u, in.UserAgent, "sso")
}
