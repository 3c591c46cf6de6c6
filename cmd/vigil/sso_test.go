package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// idp is an OpenID provider run by the test: discovery, keys, an authorize
// step the test drives, and a token endpoint that checks PKCE and signs ID
// tokens with claims the test chooses.
type idp struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	mu     sync.Mutex
	codes  map[string]idpCode
	claims map[string]any // for the next code
}

type idpCode struct {
	challenge, nonce string
	claims           map[string]any
}

func startIdP(t *testing.T) *idp {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{key: key, codes: map[string]idpCode{}}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	iss := p.srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"jwks_uri": iss + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		c, ok := p.codes[r.Form.Get("code")]
		delete(p.codes, r.Form.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		claims := map[string]any{"iss": iss, "aud": "vigil-client", "exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix(), "nonce": c.nonce}
		for k, v := range c.claims {
			claims[k] = v
		}
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		payload, _ := json.Marshal(claims)
		jws, _ := signer.Sign(payload)
		idt, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": idt})
	})
	return p
}

// authorize plays the user signing in at the IdP: it returns the callback
// query the IdP would redirect the browser to.
func (p *idp) authorize(t *testing.T, location string, claims map[string]any) url.Values {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil || u.Host != p.srv.Listener.Addr().String() {
		t.Fatalf("authorize went to %q", location)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("client_id") != "vigil-client" {
		t.Fatalf("authorization request without PKCE/nonce: %s", location)
	}
	code := "code-" + q.Get("state")[:12]
	p.mu.Lock()
	p.codes[code] = idpCode{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), claims: claims}
	p.mu.Unlock()
	return url.Values{"code": {code}, "state": {q.Get("state")}}
}

// TestSSO signs in through an OIDC provider run here: the code flow with
// PKCE, ID tokens verified, users matched by verified e-mail, IdP groups
// synced to group memberships at each sign-in, and the one-time link.
func TestSSO(t *testing.T) {
	ts := startServer(t, "sqlite", "--portal-url", "https://portal.test")
	admin := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	p := startIdP(t)

	mustStatus(t, admin.do("POST", "/v2/users", map[string]any{"user": map[string]any{"email": "sam@example.com", "role": "user",
		"password": "sam-password-1", "skip_confirmation": true}}), 201, "sam")
	g := admin.do("POST", "/v2/groups", map[string]any{"group": map[string]any{"name": "Devs", "linked_groups_upload": []string{"idp-devs"}}})
	mustStatus(t, g, 201, "group")
	r := admin.do("PUT", "/v2/user/organization/sso", map[string]any{"issuer": p.srv.URL, "client_id": "vigil-client", "client_secret": "s3cret"})
	mustStatus(t, r, 200, "configure sso")
	if r.data()["has_client_secret"] != true || len(r.Raw) == 0 || strings.Contains(string(r.Raw), "s3cret") {
		t.Fatalf("provider body leaks or lacks the secret flag: %s", r.Raw)
	}
	if r := admin.do("PUT", "/v2/user/organization/sso", map[string]any{"issuer": "http://idp.example.com", "client_id": "x"}); r.Status != 422 {
		t.Errorf("plain-http issuer: %d", r.Status)
	}
	browser := &client{ts: ts}
	login := func(claims map[string]any) *response {
		t.Helper()
		r := browser.raw("GET", "/auth/sso/authorize?organization_id="+ts.orgID, "", nil, nil)
		if r.Status != http.StatusFound {
			t.Fatalf("authorize: %d %s", r.Status, r.Raw)
		}
		cb := p.authorize(t, r.Header.Get("Location"), claims)
		return browser.raw("GET", "/auth/sso/callback?"+cb.Encode(), "", nil, nil)
	}
	linkOf := func(r *response) string {
		t.Helper()
		u, err := url.Parse(r.Header.Get("Location"))
		if r.Status != http.StatusFound || err != nil || u.Host != "portal.test" || u.Query().Get("sso_link_token") == "" {
			t.Fatalf("callback: %d %s %s", r.Status, r.Header.Get("Location"), r.Raw)
		}
		return u.Query().Get("sso_link_token")
	}

	// Sam signs in with the IdP group idp-devs: a session, and Upload in Devs.
	link := linkOf(login(map[string]any{"sub": "sam-1", "email": "SAM@example.com", "email_verified": true, "groups": []string{"idp-devs", "other"}}))
	anon := ts.client()
	s := anon.do("POST", "/auth/sso_link_login", map[string]any{"sso_link_token": link})
	mustStatus(t, s, 200, "sso link login")
	if s.Body["provider"] != "sso" || s.Body["token"] == "" {
		t.Errorf("sign-in body: %s", s.Raw)
	}
	if r := anon.do("POST", "/auth/sso_link_login", map[string]any{"sso_link_token": link}); r.Status != 401 {
		t.Errorf("link reused: %d", r.Status)
	}
	sam := &client{ts: ts, apiKey: ts.apiKey, token: s.Body["token"].(string)}
	me := sam.do("GET", "/v2/user/me", nil)
	samID := id(me.data())
	if r := sam.do("GET", "/v2/users/"+samID+"/groups", nil); len(r.list()) != 1 || r.list()[0]["access_level"] != "Upload" || r.list()[0]["origin"] != "sso" {
		t.Errorf("synced membership: %s", r.Raw)
	}
	// Next sign-in without the group: the SSO membership goes; a manual one stays.
	manual := admin.do("POST", "/v2/groups", map[string]any{"group": map[string]any{"name": "Manual"}})
	mustStatus(t, admin.do("PUT", "/v2/groups/"+id(manual.data())+"/members/"+samID, map[string]any{"access_level": "View"}), 200, "manual member")
	link = linkOf(login(map[string]any{"sub": "sam-1", "email": "sam@example.com", "email_verified": true, "groups": []string{}}))
	mustStatus(t, anon.do("POST", "/auth/sso_link_login", map[string]any{"sso_link_token": link}), 200, "second sso login")
	if r := admin.do("GET", "/v2/users/"+samID+"/groups", nil); len(r.list()) != 1 || r.list()[0]["group_name"] != "Manual" {
		t.Errorf("after sync without groups: %s", r.Raw)
	}

	// Refusals: an unverified address, an unknown address, a replayed state.
	if r := login(map[string]any{"sub": "x", "email": "sam@example.com", "email_verified": false}); r.Status != 401 {
		t.Errorf("unverified e-mail: %d %s", r.Status, r.Raw)
	}
	if r := login(map[string]any{"sub": "x", "email": "stranger@example.com", "email_verified": true}); r.Status != 401 {
		t.Errorf("unknown e-mail: %d", r.Status)
	}
	r = browser.raw("GET", "/auth/sso/authorize?organization_id="+ts.orgID, "", nil, nil)
	cb := p.authorize(t, r.Header.Get("Location"), map[string]any{"sub": "sam-1", "email": "sam@example.com", "email_verified": true})
	linkOf(browser.raw("GET", "/auth/sso/callback?"+cb.Encode(), "", nil, nil))
	if r := browser.raw("GET", "/auth/sso/callback?"+cb.Encode(), "", nil, nil); r.Status != 401 {
		t.Errorf("replayed state: %d", r.Status)
	}
	// A stolen code without the verifier is useless: the IdP refuses the exchange.
	r = browser.raw("GET", "/auth/sso/authorize?organization_id="+ts.orgID, "", nil, nil)
	cb = p.authorize(t, r.Header.Get("Location"), map[string]any{"sub": "sam-1", "email": "sam@example.com", "email_verified": true})
	p.mu.Lock()
	c := p.codes[cb.Get("code")]
	c.challenge = "tampered"
	p.codes[cb.Get("code")] = c
	p.mu.Unlock()
	if r := browser.raw("GET", "/auth/sso/callback?"+cb.Encode(), "", nil, nil); r.Status != 401 {
		t.Errorf("code without matching verifier: %d", r.Status)
	}
	// The audit trail has the SSO events.
	if r := admin.do("GET", "/v2/user/organization/sso", nil); r.Status != 200 {
		t.Errorf("show sso: %d", r.Status)
	}
	mustStatus(t, admin.do("DELETE", "/v2/user/organization/sso", nil), 200, "delete sso")
	if r := browser.raw("GET", "/auth/sso/authorize?organization_id="+ts.orgID, "", nil, nil); r.Status != 404 {
		t.Errorf("authorize without provider: %d", r.Status)
	}
}
