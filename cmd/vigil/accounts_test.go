package main

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/internal/mailtest"
)

// TestAccountFlows walks the sign-in factors through HTTP: a reset link
// followed from a real SMTP server, TOTP enrolment with codes computed here,
// replayed codes and recovery codes refused, the lockout, access tokens,
// impersonation and its audit trail.
func TestAccountFlows(t *testing.T) {
	smtpd := mailtest.Start(t)
	ts := startServer(t, "sqlite", "--smtp-url", smtpd.URL(), "--smtp-from", "noreply@vigil.test", "--portal-url", "https://portal.test")
	admin := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	defer func() {
		if !t.Failed() {
			ts.assertAudited(t, adminPassword, ts.apiKey)
		}
	}()
	ctx := context.Background()
	st, err := (&DBFlags{DataDir: ts.dataDir, MaxTargetHosts: 4096}).open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := createUser(ctx, st, ts.orgID, vigil.UserInput{Email: "carol@example.com", Name: "Carol", Role: vigil.RoleUser, Password: "carol-password-1"}); err != nil {
		t.Fatal(err)
	}

	// Forgot password: same answer for a stranger; Carol gets a link that works once.
	anon := ts.client()
	mustStatus(t, anon.do("POST", "/auth/password", map[string]any{"email": "nobody@example.com"}), 200, "forgot, unknown")
	mustStatus(t, anon.do("POST", "/auth/password", map[string]any{"email": "carol@example.com"}), 200, "forgot")
	mail := smtpd.WaitFor(t, "carol@example.com", "Reset your", 15*time.Second)
	m := regexp.MustCompile(`reset_password_token=([^\s"<]+)`).FindStringSubmatch(mail.Text)
	if m == nil {
		t.Fatalf("no reset link in %q", mail.Text)
	}
	token, _ := url.QueryUnescape(m[1])
	if len(smtpd.Messages()) != 1 {
		t.Errorf("%d mails; the unknown address must get none", len(smtpd.Messages()))
	}
	reset := map[string]any{"reset_password_token": token, "password": "carol-new-password", "password_confirmation": "carol-new-password"}
	mustStatus(t, anon.do("PUT", "/auth/password", reset), 200, "reset")
	if r := anon.do("PUT", "/auth/password", reset); r.Status != 422 || r.errorFields()["reset_password_token"] == nil {
		t.Errorf("reset link reused: %d %s", r.Status, r.Raw)
	}
	if r := anon.do("POST", "/auth/sign_in", map[string]any{"username": "carol@example.com", "password": "carol-password-1"}); r.Status != 401 {
		t.Errorf("old password still works: %d", r.Status)
	}
	carol := ts.signIn(ts.apiKey, "carol@example.com", "carol-new-password")

	// TOTP enrolment.
	r := carol.do("PUT", "/v2/user/mfa/enable?method=totp", nil)
	mustStatus(t, r, 200, "enable totp")
	secret, _ := r.Body["secret"].(string)
	if !strings.HasPrefix(r.Body["otpauth_uri"].(string), "otpauth://totp/") || !strings.HasPrefix(r.Body["qr_code"].(string), "data:image/png;base64,") {
		t.Fatalf("enrolment body %s", r.Raw)
	}
	code := func(at time.Time) string { c, _ := auth.TOTPCode(secret, at); return c }
	now := time.Now()
	if r := carol.do("PUT", "/v2/user/mfa/verify_installation?method=totp&otp_attempt=000000", nil); r.Status != 422 {
		t.Errorf("wrong code verified: %d", r.Status)
	}
	r = carol.do("PUT", "/v2/user/mfa/verify_installation?method=totp&otp_attempt="+code(now.Add(-30*time.Second)), nil)
	mustStatus(t, r, 200, "verify totp")
	if r.Body["status"] != "verified" {
		t.Errorf("verify body %s", r.Raw)
	}
	r = carol.do("POST", "/v2/user/mfa/recovery_codes", nil)
	mustStatus(t, r, 200, "recovery codes")
	codes, _ := r.Body["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("recovery codes %s", r.Raw)
	}

	// Two-step sign-in: no token until the code; the same code never twice.
	first := anon.do("POST", "/auth/sign_in", map[string]any{"username": "carol@example.com", "password": "carol-new-password"})
	mustStatus(t, first, 200, "sign in step 1")
	state, _ := first.Body["otp_session_state"].(string)
	if state == "" || first.Body["token"] != nil || first.Body["otp_method"] != "totp" {
		t.Fatalf("step 1 body %s", first.Raw)
	}
	c2 := code(time.Now())
	step2 := anon.do("POST", "/auth/sign_in", map[string]any{"otp_session_state": state, "otp_attempt": c2})
	mustStatus(t, step2, 200, "sign in step 2")
	if tok, _ := step2.Body["token"].(string); tok == "" {
		t.Fatalf("no token after step 2: %s", step2.Raw)
	}
	if r := anon.do("POST", "/auth/sign_in", map[string]any{"otp_session_state": state, "otp_attempt": c2}); r.Status != 401 {
		t.Errorf("used otp_session_state accepted: %d", r.Status)
	}
	again := anon.do("POST", "/auth/sign_in", map[string]any{"username": "carol@example.com", "password": "carol-new-password"})
	if r := anon.do("POST", "/auth/sign_in", map[string]any{"otp_session_state": again.Body["otp_session_state"], "otp_attempt": c2}); r.Status != 401 {
		t.Errorf("replayed TOTP code accepted: %d %s", r.Status, r.Raw)
	}
	// A recovery code works once.
	rc := codes[0].(string)
	s3 := anon.do("POST", "/auth/sign_in", map[string]any{"username": "carol@example.com", "password": "carol-new-password"})
	mustStatus(t, anon.do("POST", "/auth/sign_in_with_recovery_code", map[string]any{"otp_session_state": s3.Body["otp_session_state"], "recovery_code": rc}), 200, "recovery code")
	s4 := anon.do("POST", "/auth/sign_in", map[string]any{"username": "carol@example.com", "password": "carol-new-password"})
	if r := anon.do("POST", "/auth/sign_in_with_recovery_code", map[string]any{"otp_session_state": s4.Body["otp_session_state"], "recovery_code": rc}); r.Status != 401 {
		t.Errorf("recovery code reused: %d", r.Status)
	}
	if r := carol.do("GET", "/v2/user/me", nil); r.data()["attributes"].(map[string]any)["two_factor_authentication"].(map[string]any)["otp_totp_enabled"] != true {
		t.Errorf("me: %s", r.Raw)
	}

	// Permissions per role.
	if r := carol.do("GET", "/v2/user/permissions", nil); r.data()["role"] != "user" || strings.Contains(string(r.Raw), "users.manage") {
		t.Errorf("carol's permissions: %s", r.Raw)
	}
	if r := admin.do("GET", "/v2/user/permissions", nil); r.data()["role"] != "partner_admin" || !strings.Contains(string(r.Raw), "customers.manage") {
		t.Errorf("operator admin's permissions: %s", r.Raw)
	}

	// Access tokens: long-lived, listed without the secret, revocable.
	r = carol.do("POST", "/v2/user/access_token", map[string]any{"name": "ci"})
	mustStatus(t, r, 201, "access token")
	access := &client{ts: ts, apiKey: ts.apiKey, token: r.data()["token"].(string)}
	mustStatus(t, access.do("GET", "/v2/targets", nil), 200, "access token works")
	if l := carol.do("GET", "/v2/user/access_tokens", nil); len(l.list()) != 1 || l.list()[0]["token"] != nil {
		t.Errorf("token list %s", l.Raw)
	}
	mustStatus(t, access.do("DELETE", "/v2/user/access_token", nil), 200, "revoke")
	mustStatus(t, access.do("GET", "/v2/targets", nil), 401, "revoked access token")

	// Impersonation: admin only, marked, audited with both identities.
	carolID := carol.do("GET", "/v2/user/me", nil).data()["id"].(string)
	if r := carol.do("POST", "/auth/impersonate", map[string]any{"user_id": carolID}); r.Status != 403 {
		t.Errorf("a user impersonates: %d", r.Status)
	}
	r = admin.do("POST", "/auth/impersonate", map[string]any{"user_id": carolID})
	mustStatus(t, r, 200, "impersonate")
	imp := &client{ts: ts, apiKey: ts.apiKey, token: r.Body["token"].(string)}
	if r.Body["impersonator"] != adminEmail || r.Body["username"] != "carol@example.com" {
		t.Errorf("impersonation body %s", r.Raw)
	}
	if v := imp.do("GET", "/v2/user/token/valid", nil); v.data()["kind"] != "impersonation" {
		t.Errorf("token kind %s", v.Raw)
	}
	mustStatus(t, imp.do("GET", "/v2/targets", nil), 200, "impersonated request")
	mustStatus(t, imp.do("PUT", "/v2/user/me/password", map[string]any{"current_password": "x", "password": "yyyyyyyyyyyy"}), 403, "impersonated password change")
	mustStatus(t, imp.do("DELETE", "/auth/impersonate", nil), 200, "stop impersonation")
	mustStatus(t, imp.do("GET", "/v2/targets", nil), 401, "after stop")
	events, _, err := st.ListAudit(ctx, ts.orgID, vigil.ListOptions{Page: 1, PerPage: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		seen[e.Action] = true
		if e.Action == "impersonation.request" && (e.ActorID != carolID || e.ImpersonatorID == "") {
			t.Errorf("impersonated request audited as %+v", e)
		}
	}
	for _, a := range []string{"auth.sign_in", "auth.password_reset", "auth.mfa_enabled", "auth.recovery_code_used", "auth.access_token_created",
		"auth.access_token_revoked", "auth.impersonation_start", "impersonation.request", "auth.impersonation_stop", "auth.sign_in_failed"} {
		if !seen[a] {
			t.Errorf("no %s in the audit trail", a)
		}
	}

	// Brute force: wrong codes lock the account with 429; the audit shows it.
	s5 := anon.do("POST", "/auth/sign_in", map[string]any{"username": "carol@example.com", "password": "carol-new-password"})
	var last *response
	for i := 0; i < 20; i++ {
		last = anon.do("POST", "/auth/sign_in", map[string]any{"otp_session_state": s5.Body["otp_session_state"], "otp_attempt": "000000"})
		if last.Status == 429 {
			break
		}
	}
	if last.Status != 429 || last.Header.Get("Retry-After") == "" {
		t.Fatalf("20 wrong codes: %d %s", last.Status, last.Raw)
	}
	if r := anon.do("POST", "/auth/sign_in", map[string]any{"username": "carol@example.com", "password": "carol-new-password"}); r.Status != 429 {
		t.Errorf("locked account signs in: %d", r.Status)
	}
	events, _, _ = st.ListAudit(ctx, ts.orgID, vigil.ListOptions{Page: 1, PerPage: 500, Filters: []vigil.Filter{{Column: "action", Kind: vigil.FilterText, Value: "auth.lockout"}}})
	if len(events) == 0 {
		t.Error("no auth.lockout in the audit trail")
	}
}

// TestLockoutEnds sends 20 wrong passwords for one account: it is locked
// with 429 and Retry-After, the right password is refused while locked, the
// audit trail shows the lockout, and the lock ends after its period.
func TestLockoutEnds(t *testing.T) {
	ts := startServer(t, "sqlite", "--lockout", "2s")
	admin := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	mustStatus(t, admin.do("POST", "/v2/users", map[string]any{"user": map[string]any{"email": "lee@example.com", "role": "user",
		"password": "lee-password-1", "skip_confirmation": true}}), 201, "lee")
	anon := ts.client()
	locked := 0
	for i := 0; i < 20; i++ {
		r := anon.do("POST", "/auth/sign_in", map[string]any{"username": "lee@example.com", "password": "wrong-password-" + strconv.Itoa(i)})
		switch r.Status {
		case 429:
			locked++
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		case 401:
			if locked > 0 {
				t.Fatalf("attempt %d: 401 after the lock began", i)
			}
		default:
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Raw)
		}
	}
	if locked < 15 {
		t.Fatalf("only %d of 20 attempts locked", locked)
	}
	if r := anon.do("POST", "/auth/sign_in", map[string]any{"username": "lee@example.com", "password": "lee-password-1"}); r.Status != 429 {
		t.Fatalf("right password while locked: %d", r.Status)
	}
	st, err := (&DBFlags{DataDir: ts.dataDir, MaxTargetHosts: 4096}).open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, _, _ := st.ListAudit(context.Background(), ts.orgID, vigil.ListOptions{Page: 1, PerPage: 500,
		Filters: []vigil.Filter{{Column: "action", Kind: vigil.FilterText, Value: "auth.lockout"}}})
	if len(events) == 0 {
		t.Error("no auth.lockout in the audit trail")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(500 * time.Millisecond)
		r := anon.do("POST", "/auth/sign_in", map[string]any{"username": "lee@example.com", "password": "lee-password-1"})
		if r.Status == 200 {
			break
		}
		if r.Status != 429 || time.Now().After(deadline) {
			t.Fatalf("the lock did not end: %d %s", r.Status, r.Raw)
		}
	}
}

// TestSelfService walks one account through what its owner does alone:
// confirming it, editing the profile and password, SMS 2FA (enrolment,
// codes on demand, the sign-in challenge, default method, disabling), an
// SSAPI key revoked, and finally deleting the account. SMS go to the
// outbox, read with `vigil admin outbox`.
func TestSelfService(t *testing.T) {
	smtpd := mailtest.Start(t)
	ts := startServer(t, "sqlite", "--smtp-url", smtpd.URL(), "--smtp-from", "noreply@vigil.test", "--portal-url", "https://portal.test")
	admin := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	anon := ts.client()
	const email, phone = "dana@example.com", "+447400123456"
	lastCode := func(want int) string {
		t.Helper()
		var lines []string
		waitFor(t, 10*time.Second, fmt.Sprintf("%d SMS in the outbox", want), func() bool {
			out, err := runCLI(t, "admin", "outbox", "--data-dir", ts.dataDir)
			if err != nil {
				t.Fatal(err)
			}
			lines = strings.Split(strings.TrimSpace(out), "\n")
			return len(lines) == want && strings.Contains(lines[0], phone)
		})
		m := regexp.MustCompile(`\b(\d{6})\b`).FindStringSubmatch(lines[0])
		if m == nil {
			t.Fatalf("no code in %q", lines[0])
		}
		return m[1]
	}

	// Confirmation: the account is created with a password and confirmed by link.
	mustStatus(t, admin.do("POST", "/v2/users", map[string]any{"user": map[string]any{"email": email, "name": "Dana", "role": "user",
		"password": "dana-password-1"}}), 201, "create dana")
	mail := smtpd.WaitFor(t, email, "Confirm your", 15*time.Second)
	mustStatus(t, anon.do("POST", "/auth/confirmation", map[string]any{"confirmation_token": linkToken(t, mail, "confirmation_token")}), 200, "confirm")
	dana := ts.signIn(ts.apiKey, email, "dana-password-1")

	// Profile and password.
	mustStatus(t, dana.do("PUT", "/v2/user/me", map[string]any{"user": map[string]any{"name": "Dana Scully", "timezone": "Europe/Berlin"}}), 200, "update me")
	if a := attr(dana.do("GET", "/v2/user/me", nil)); a["name"] != "Dana Scully" || a["timezone"] != "Europe/Berlin" {
		t.Errorf("me after update: %v", a)
	}
	mustStatus(t, dana.do("PUT", "/v2/user/me/password", map[string]any{"current_password": "dana-password-1", "password": "dana-password-2"}), 200, "change password")
	mustStatus(t, anon.do("POST", "/auth/sign_in", map[string]any{"username": email, "password": "dana-password-1"}), 401, "the old password")
	dana = ts.signIn(ts.apiKey, email, "dana-password-2")

	// SMS 2FA: enrol with a code, ask for another, make it the default.
	r := dana.do("PUT", "/v2/user/mfa/enable?method=sms&country_code=%2B44&phone_number=7400123456", nil)
	mustStatus(t, r, 200, "enable sms")
	mustStatus(t, dana.do("PUT", "/v2/user/mfa/verify_installation?method=sms&otp_attempt="+lastCode(1), nil), 200, "verify sms")
	mustStatus(t, dana.do("PUT", "/v2/user/mfa/default_method?method=sms", nil), 200, "default method")
	mustStatus(t, dana.do("PUT", "/v2/user/mfa/default_method?method=totp", nil), 422, "a method not enabled")
	r = dana.do("POST", "/v2/user/mfa/sms_code", nil)
	mustStatus(t, r, 200, "sms code on demand")
	lastCode(2)

	// Sign-in asks for the second factor and texts it; check_2fa names it,
	// send_sms_otp sends another.
	first := anon.do("POST", "/auth/sign_in", map[string]any{"username": email, "password": "dana-password-2"})
	state, _ := first.Body["otp_session_state"].(string)
	if state == "" || first.Body["token"] != nil {
		t.Fatalf("sign-in without the second factor: %s", first.Raw)
	}
	r = anon.do("POST", "/auth/check_2fa", map[string]any{"otp_session_state": state})
	mustStatus(t, r, 200, "check 2fa")
	if r.Body["method"] != "sms" || !strings.HasSuffix(fmt.Sprint(r.Body["phone"]), "3456") || strings.Contains(string(r.Raw), "7400123") {
		t.Errorf("check_2fa: %s", r.Raw)
	}
	lastCode(3) // the sign-in texted the default method's code
	mustStatus(t, anon.do("POST", "/auth/send_sms_otp", map[string]any{"otp_session_state": state}), 200, "send sms otp")
	r = anon.do("POST", "/auth/sign_in", map[string]any{"otp_session_state": state, "otp_attempt": lastCode(4)})
	mustStatus(t, r, 200, "sign in with the SMS code")
	dana = &client{ts: ts, apiKey: ts.apiKey, token: r.Body["token"].(string)}

	// Disabling SMS takes a fresh code.
	mustStatus(t, dana.do("POST", "/v2/user/mfa/sms_code", nil), 200, "code to disable")
	mustStatus(t, dana.do("PUT", "/v2/user/mfa/disable?method=sms&otp_attempt="+lastCode(5), nil), 200, "disable sms")
	if tfa := attr(dana.do("GET", "/v2/user/me", nil))["two_factor_authentication"].(map[string]any); tfa["otp_sms_enabled"] != false {
		t.Errorf("2fa after disabling: %v", tfa)
	}

	// SSAPI key: generated, then revoked, after which it opens nothing.
	r = dana.do("POST", "/v2/user/ssapi_key", nil)
	mustStatus(t, r, 201, "ssapi key")
	key := r.data()["api_key"].(string)
	mustStatus(t, ss(dana, key, "GET", "/api/ss/groups", nil), 200, "the key works")
	mustStatus(t, dana.do("DELETE", "/v2/user/ssapi_key", nil), 200, "revoke the key")
	mustStatus(t, ss(dana, key, "GET", "/api/ss/groups", nil), 401, "the revoked key")

	// Deleting the account takes its password; afterwards it cannot sign in.
	mustStatus(t, dana.do("DELETE", "/v2/user/me", map[string]any{"current_password": "wrong-password"}), 422, "delete with a wrong password")
	mustStatus(t, dana.do("DELETE", "/v2/user/me", map[string]any{"current_password": "dana-password-2"}), 200, "delete my account")
	mustStatus(t, anon.do("POST", "/auth/sign_in", map[string]any{"username": email, "password": "dana-password-2"}), 401, "deleted account")
	ts.assertAudited(t, "dana-password-1", "dana-password-2", key)
}
