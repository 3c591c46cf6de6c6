package main

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil/internal/mailtest"
)

// raw sends a request outside the OpenAPI validation (SSAPI routes, CSV,
// multipart, redirects) and does not follow redirects.
func (c *client) raw(method, path, contentType string, body []byte, header map[string]string) *response {
	c.ts.t.Helper()
	req, err := http.NewRequest(method, c.ts.url+path, bytes.NewReader(body))
	if err != nil {
		c.ts.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.apiKey != "" {
		req.Header.Set("x-api-key", c.apiKey)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		c.ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	c.ts.recordWrite(req, resp)
	out := &response{Status: resp.StatusCode, Header: resp.Header}
	out.Raw, _ = io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(out.Raw, &out.Body)
	}
	return out
}

// ss calls an /api/ss route with an SSAPI key.
func ss(c *client, key, method, path string, body any) *response {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	anon := &client{ts: c.ts}
	return anon.raw(method, path, "application/json", raw, map[string]string{"X-SSAPI-KEY": key})
}

// linkToken pulls a token parameter out of a received mail.
func linkToken(t *testing.T, m mailtest.Mail, param string) string {
	t.Helper()
	x := regexp.MustCompile(param + `=([^\s"<&]+)`).FindStringSubmatch(m.Text)
	if x == nil {
		t.Fatalf("no %s link in %q", param, m.Text)
	}
	v, _ := url.QueryUnescape(x[1])
	return v
}

func attr(r *response) map[string]any {
	a, _ := r.data()["attributes"].(map[string]any)
	return a
}

// TestTenancyFlows runs the partner's and the customer's administration
// through HTTP: plans with enforced features, the new-customer flow with its
// invitation e-mail, users (create, invite, import, export, roles, delete),
// organizations and subscriptions, whitelabel, the current user's routes,
// groups in both API forms with their access levels enforced, and an
// isolation matrix across organizations, partners and roles.
func TestTenancyFlows(t *testing.T) { testTenancy(t, "sqlite") }

// TestTenancyFlowsPostgres runs the same flows on PostgreSQL.
func TestTenancyFlowsPostgres(t *testing.T) { testTenancy(t, "postgres") }

func testTenancy(t *testing.T, backend string) {
	smtpd := mailtest.Start(t)
	ts := startServer(t, backend, "--smtp-url", smtpd.URL(), "--smtp-from", "noreply@vigil.test", "--portal-url", "https://portal.test")
	op := ts.signIn(ts.apiKey, adminEmail, adminPassword) // the operator's admin: a partner admin
	defer func() {
		if !t.Failed() {
			ts.assertAudited(t, adminPassword, ts.apiKey)
		}
	}()

	// Plans: the operator sells a PCI plan with four addresses and three users.
	plan := map[string]any{"plan": map[string]any{"code": "pci-small", "name": "PCI small", "product": "pci", "is_default": true,
		"default_interval": "monthly", "features": map[string]any{"max_ips": 4, "rescans": 0, "users": 3, "scanners": 1}}}
	mustStatus(t, op.do("POST", "/v2/plans", plan), 201, "create plan")
	if r := op.do("POST", "/v2/plans", map[string]any{"plan": map[string]any{"code": "x", "name": "x", "product": "pci"}}); r.Status != 422 || r.errorFields()["plan.features.max_ips"] == nil {
		t.Errorf("plan without max_ips: %d %s", r.Status, r.Raw)
	}
	vrms := op.do("POST", "/v2/plans", map[string]any{"plan": map[string]any{"code": "vrms-big", "name": "VRMS", "product": "vrms", "features": map[string]any{"max_ips": -1, "users": -1, "rescans": -1}}})
	mustStatus(t, vrms, 201, "vrms plan")
	mustStatus(t, op.do("PUT", "/v2/plans/"+id(vrms.data()), map[string]any{"plan": map[string]any{"description": "everything"}}), 200, "update plan")
	if r := op.do("GET", "/v2/plans", nil); len(r.list()) != 2 {
		t.Errorf("plans: %s", r.Raw)
	}

	// New customer: organization, default subscription and an invited admin in one go.
	r := op.do("POST", "/v2/users/customer", map[string]any{"user": map[string]any{"email": "ann@c1.example", "name": "Ann"},
		"organization": map[string]any{"name": "Customer One"}})
	mustStatus(t, r, 201, "create customer")
	c1 := id(r.data()["organization"].(map[string]any))
	annID := id(r.data()["user"].(map[string]any))
	inv := smtpd.WaitFor(t, "ann@c1.example", "invited", 15*time.Second)
	anon := ts.client()
	if r := anon.do("GET", "/auth/invitation?invitation_token="+url.QueryEscape(linkToken(t, inv, "invitation_token")), nil); r.Status != 200 {
		t.Fatalf("check invitation: %d %s", r.Status, r.Raw)
	}
	mustStatus(t, anon.do("PUT", "/auth/invitation", map[string]any{"invitation_token": linkToken(t, inv, "invitation_token"), "password": "ann-password-1"}), 200, "accept")
	ann := ts.signIn(ts.apiKey, "ann@c1.example", "ann-password-1") // a partner's key carries its customers' tokens
	subs := op.do("GET", "/v2/organizations/"+c1+"/subscriptions/active", nil)
	if l := subs.list(); len(l) != 1 || l[0]["plan"] != "pci-small" || l[0]["status"] != "active" {
		t.Fatalf("default subscription: %s", subs.Raw)
	}
	sub := id(subs.list()[0])

	// max_ips is enforced; a feature assigned to the subscription lifts it; revoked, it is back.
	if r := ann.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "big", "hosts": "127.0.0.1-5"}}); r.Status != 422 || r.errorFields()["target.hosts"] == nil {
		t.Errorf("5 addresses on a 4-address plan: %d %s", r.Status, r.Raw)
	}
	t1 := ann.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "web", "hosts": "127.0.0.1-4"}})
	mustStatus(t, t1, 201, "target within plan")
	mustStatus(t, op.do("PUT", "/v2/organizations/"+c1+"/subscriptions/"+sub+"/features", map[string]any{"feature": "max_ips", "value": 8}), 200, "assign feature")
	t2 := ann.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "db", "hosts": "127.0.0.5-8"}})
	mustStatus(t, t2, 201, "target with assigned feature")
	if f := op.do("GET", "/v2/organizations/"+c1+"/features", nil); !strings.Contains(string(f.Raw), `"name":"max_ips","value":8`) {
		t.Errorf("features: %s", f.Raw)
	}
	mustStatus(t, op.do("DELETE", "/v2/organizations/"+c1+"/subscriptions/"+sub+"/features/max_ips", nil), 200, "revoke feature")
	if r := ann.do("PUT", "/v2/targets/"+id(t2.data()), map[string]any{"target": map[string]any{"hosts": "127.0.0.5-9"}}); r.Status != 422 {
		t.Errorf("update over the plan after revoke: %d", r.Status)
	}
	// A customer cannot change its own subscription; the partner can.
	if r := ann.do("PUT", "/v2/organizations/"+c1+"/subscriptions/"+sub, map[string]any{"subscription": map[string]any{"price": 1}}); r.Status != 403 {
		t.Errorf("customer updates its subscription: %d", r.Status)
	}
	r = op.do("PUT", "/v2/organizations/"+c1+"/subscriptions/"+sub, map[string]any{"subscription": map[string]any{"price": 14.33, "trial_enabled": true}})
	if r.Status != 200 || r.data()["price"] != 14.33 {
		t.Errorf("update subscription: %d %s", r.Status, r.Raw)
	}

	// Users: the customer's admin creates users up to the plan's three.
	bob := ann.do("POST", "/v2/users", map[string]any{"user": map[string]any{"email": "bob@c1.example", "name": "Bob", "role": "user", "password": "bob-password-1", "skip_confirmation": true}})
	mustStatus(t, bob, 201, "create user")
	bobID := id(bob.data())
	ts.signIn(ts.apiKey, "bob@c1.example", "bob-password-1")
	vic := ann.do("POST", "/v2/users/invite", map[string]any{"email": "vic@c1.example", "role": "viewer"})
	mustStatus(t, vic, 201, "invite")
	vicMail := smtpd.WaitFor(t, "vic@c1.example", "invited", 15*time.Second)
	mustStatus(t, anon.do("PUT", "/auth/invitation", map[string]any{"invitation_token": linkToken(t, vicMail, "invitation_token"), "password": "vic-password-1"}), 200, "vic accepts")
	viewer := ts.signIn(ts.apiKey, "vic@c1.example", "vic-password-1")
	if r := ann.do("POST", "/v2/users/invite", map[string]any{"email": "dan@c1.example"}); r.Status != 422 {
		t.Errorf("fourth user on a three-user plan: %d %s", r.Status, r.Raw)
	}
	if r := ann.do("POST", "/v2/users/"+bobID+"/resend_confirmation", nil); r.Status != 422 {
		t.Errorf("resend to a confirmed user: %d", r.Status)
	}
	if r := ann.do("GET", "/v2/users", nil); len(r.list()) != 3 {
		t.Errorf("customer sees %d users: %s", len(r.list()), r.Raw)
	}
	if r := op.do("GET", "/v2/users?q[organization_id]="+c1, nil); len(r.list()) != 3 {
		t.Errorf("partner sees %d of its customer's users", len(r.list()))
	}
	// Roles: the last admin stays; an admin cannot change its own role.
	if r := ann.do("PUT", "/v2/users/"+annID, map[string]any{"user": map[string]any{"role": "user"}}); r.Status != 422 {
		t.Errorf("last admin demoted: %d %s", r.Status, r.Raw)
	}
	if r := ann.do("PUT", "/v2/users/"+bobID, map[string]any{"user": map[string]any{"role": "manager", "timezone": "Europe/Paris"}}); r.Status != 200 || attr(r)["role"] != "Manager" {
		t.Errorf("promote bob: %d %s", r.Status, r.Raw)
	}
	if r := ann.do("GET", "/v2/users/"+annID+"/can_delete", nil); r.data()["can_delete"] != false {
		t.Errorf("can_delete self: %s", r.Raw)
	}
	// Resources change hands: Bob inherits Ann's targets.
	if r := ann.do("PUT", "/v2/users/"+bobID+"/inherit_resources", map[string]any{"from_user_id": annID}); r.Status != 200 || r.data()["targets"] != float64(2) {
		t.Errorf("inherit: %d %s", r.Status, r.Raw)
	}
	if r := ann.do("PUT", "/v2/user/transfer_resources", map[string]any{"from_user_id": bobID, "to_user_id": annID}); r.Status != 200 || r.data()["targets"] != float64(2) {
		t.Errorf("transfer back: %d %s", r.Status, r.Raw)
	}

	// Import: one bad row rejects the file with its line numbers; nothing is created.
	importCSV := func(c *client, body string) *response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "users.csv")
		_, _ = fw.Write([]byte(body))
		_ = mw.Close()
		return c.raw("POST", "/v2/users/import", mw.FormDataContentType(), buf.Bytes(), nil)
	}
	bad := "email,name,role\nok1@op.example,One,user\nnot-an-email,Two,user\nok1@op.example,Dup,user\nok3@op.example,Three,boss\n"
	r = importCSV(op, bad)
	if r.Status != 422 || r.errorFields()["file.line_3.email"] == nil || r.errorFields()["file.line_4.email"] == nil || r.errorFields()["file.line_5.role"] == nil {
		t.Errorf("bad import: %d %s", r.Status, r.Raw)
	}
	if r := op.do("GET", "/v2/users?q[email]=ok1@op.example", nil); len(r.list()) != 0 {
		t.Errorf("bad import created users: %s", r.Raw)
	}
	r = importCSV(op, "email,name,role\nok1@op.example,\"=HYPERLINK(\"\"x\"\")\",viewer\nok2@op.example,Two,user\n")
	if r.Status != 201 || r.Body["meta"].(map[string]any)["imported"] != float64(2) {
		t.Fatalf("import: %d %s", r.Status, r.Raw)
	}
	smtpd.WaitFor(t, "ok2@op.example", "invited", 15*time.Second)
	// Export: a CSV a spreadsheet will not run.
	r = op.raw("GET", "/v2/users/export", "", nil, nil)
	rows, err := csv.NewReader(bytes.NewReader(r.Raw)).ReadAll()
	if r.Status != 200 || err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %v %s", r.Status, err, r.Raw)
	}
	found := false
	for _, row := range rows {
		if row[1] == "ok1@op.example" {
			found = row[2] == `'=HYPERLINK("x")`
		}
	}
	if !found || len(rows) < 7 {
		t.Errorf("export rows (formula must be defused): %q", rows)
	}

	// Delete a user: its resources go to transfer_to.
	mustStatus(t, ann.do("PUT", "/v2/user/transfer_resources", map[string]any{"from_user_id": annID, "to_user_id": bobID}), 200, "give bob the targets")
	if r := ann.do("DELETE", "/v2/users/"+bobID+"?transfer_to="+annID, nil); r.Status != 200 {
		t.Fatalf("delete bob: %d %s", r.Status, r.Raw)
	}
	if r := ann.do("GET", "/v2/users/"+bobID, nil); r.Status != 404 {
		t.Errorf("deleted user still there: %d", r.Status)
	}

	// The current user's routes.
	if r := ann.do("GET", "/v2/user/products", nil); !strings.Contains(string(r.Raw), `"code":"pci","name":"PCI ASV Scanning","available":true`) ||
		!strings.Contains(string(r.Raw), `"code":"vrms","name":"Vulnerability Risk Management","available":false`) {
		t.Errorf("products: %s", r.Raw)
	}
	if r := ann.do("PUT", "/v2/user/product", map[string]any{"product": "vrms"}); r.Status != 422 {
		t.Errorf("product without subscription: %d", r.Status)
	}
	if r := ann.do("PUT", "/v2/user/product?product=pci", nil); r.Status != 200 || attr(r)["active_product"] != "pci" {
		t.Errorf("change product: %d %s", r.Status, r.Raw)
	}
	if r := ann.do("GET", "/v2/user/plans", nil); len(r.list()) != 1 {
		t.Errorf("plans: %s", r.Raw)
	}
	if r := ann.do("GET", "/v2/user/subscriptions/history", nil); len(r.list()) != 1 {
		t.Errorf("history: %s", r.Raw)
	}
	if r := ann.do("PUT", "/v2/user/organization", map[string]any{"organization": map[string]any{"name": "Customer One Ltd"}}); r.data()["name"] != "Customer One Ltd" {
		t.Errorf("rename organization: %s", r.Raw)
	}
	if r := viewer.do("PUT", "/v2/user/organization", map[string]any{"organization": map[string]any{"name": "x"}}); r.Status != 403 {
		t.Errorf("viewer renames organization: %d", r.Status)
	}
	if r := viewer.do("GET", "/v2/user/organization/members", nil); len(r.list()) != 2 {
		t.Errorf("members: %s", r.Raw)
	}
	if r := ann.do("GET", "/v2/user/preferences/notifications", nil); len(r.list()) != 4 || r.list()[0]["attributes"].(map[string]any)["enabled"] != true {
		t.Errorf("preferences: %s", r.Raw)
	}
	r = ann.do("PUT", "/v2/user/preferences/notifications/scan_event", map[string]any{"when_status": []string{"started"}, "if_status": []string{"fail", "pass"}, "if_severity": []int{6}})
	if r.Status != 200 || !strings.Contains(string(r.Raw), `"if_completed":["fail","pass"]`) {
		t.Errorf("update preference: %d %s", r.Status, r.Raw)
	}
	if r := ann.do("PUT", "/v2/user/preferences/notifications/scan_event", map[string]any{"when_status": []string{"exploded"}}); r.Status != 422 {
		t.Errorf("bad when_status: %d", r.Status)
	}
	if r := ann.do("PUT", "/v2/user/preferences/notifications/nope/disable", nil); r.Status != 422 {
		t.Errorf("unknown preference: %d", r.Status)
	}
	if r := ann.do("PUT", "/v2/user/preferences/notifications/report_event/disable", nil); attr(r)["enabled"] != false {
		t.Errorf("disable: %s", r.Raw)
	}
	if r := ann.do("PUT", "/v2/user/preferences/notifications/report_event/enable", nil); attr(r)["enabled"] != true {
		t.Errorf("enable: %s", r.Raw)
	}
	if r := ann.do("GET", "/v2/user/can_delete", nil); r.data()["can_delete"] != false {
		t.Errorf("the last admin can delete itself: %s", r.Raw)
	}
	if r := viewer.do("DELETE", "/v2/user/me", map[string]any{"current_password": "wrong-password"}); r.Status != 422 {
		t.Errorf("delete me with a wrong password: %d", r.Status)
	}

	// Whitelabel: the partner brands, its customers inherit, the login page reads it by domain.
	var logo bytes.Buffer
	_ = png.Encode(&logo, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	wl := map[string]any{"whitelabel_setting": map[string]any{"company_name": "Acme Security", "primary_color": "#0a5cff",
		"domain": "portal.acme.example", "support_email": "help@acme.example", "logo": "data:image/png;base64," + base64.StdEncoding.EncodeToString(logo.Bytes())}}
	mustStatus(t, op.do("PUT", "/v2/whitelabel_settings", wl), 200, "whitelabel")
	if r := ann.do("GET", "/v2/whitelabel_settings", nil); r.data()["company_name"] != "Acme Security" || r.data()["inherited"] != true {
		t.Errorf("inherited whitelabel: %s", r.Raw)
	}
	if r := ann.do("PUT", "/v2/whitelabel_settings", wl); r.Status != 403 {
		t.Errorf("customer admin updates whitelabel: %d", r.Status)
	}
	if r := op.do("PUT", "/v2/whitelabel_settings", map[string]any{"whitelabel_setting": map[string]any{"logo": base64.StdEncoding.EncodeToString([]byte("<svg onload=alert(1)>"))}}); r.Status != 422 {
		t.Errorf("svg logo: %d", r.Status)
	}
	pub := (&client{ts: ts}).do("GET", "/v2/whitelabel_settings/public?domain=PORTAL.acme.example", nil)
	if pub.Status != 200 || pub.data()["company_name"] != "Acme Security" || !strings.HasPrefix(pub.data()["logo"].(string), "data:image/png;base64,") {
		t.Errorf("public whitelabel: %d %s", pub.Status, truncateForLog(pub.Raw))
	}
	// E-mails sent from now on carry the branding.
	ok2 := op.do("GET", "/v2/users?q[email]=ok2@op.example", nil).list()
	mustStatus(t, op.do("POST", "/v2/users/"+id(ok2[0])+"/resend_confirmation", nil), 200, "resend invitation")
	smtpd.WaitFor(t, "ok2@op.example", "You are invited to Acme Security", 15*time.Second)

	// Organizations: the partner lists, renames, exports; subscribe, unsubscribe, dependents.
	if r := op.do("GET", "/v2/organizations", nil); len(r.list()) != 2 {
		t.Errorf("organizations: %s", r.Raw)
	}
	if r := ann.do("GET", "/v2/organizations", nil); r.Status != 403 {
		t.Errorf("customer lists organizations: %d", r.Status)
	}
	mustStatus(t, op.do("POST", "/v2/organizations/"+c1+"/subscribe", map[string]any{"plan": "vrms-big"}), 201, "subscribe vrms")
	if r := op.do("POST", "/v2/organizations/"+c1+"/subscribe", map[string]any{"plan": "vrms-big"}); r.Status != 422 {
		t.Errorf("second active vrms subscription: %d", r.Status)
	}
	if r := op.do("GET", "/v2/organizations/dependent_subscriptions", nil); len(r.list()) != 2 {
		t.Errorf("dependent subscriptions: %s", r.Raw)
	}
	if r := op.do("POST", "/v2/organizations/"+c1+"/unsubscribe", map[string]any{"plan": "vrms-big"}); r.Status != 200 || r.data()["status"] != "canceled" {
		t.Errorf("unsubscribe: %d %s", r.Status, r.Raw)
	}
	if r := op.raw("GET", "/v2/organizations/export", "", nil, nil); r.Status != 200 || !strings.Contains(string(r.Raw), "Customer One Ltd") {
		t.Errorf("export organizations: %d %s", r.Status, r.Raw)
	}

	// A second partner with a customer of its own, for the isolation matrix.
	p2 := op.do("POST", "/v2/organizations", map[string]any{"organization": map[string]any{"name": "Partner Two", "is_partner": true}})
	mustStatus(t, p2, 201, "second partner")
	p2ID := id(p2.data())
	mustStatus(t, op.do("POST", "/v2/users", map[string]any{"user": map[string]any{"email": "pat@p2.example", "role": "admin", "organization_id": p2ID,
		"password": "pat-password-1", "skip_confirmation": true}}), 201, "partner two admin")
	pat := ts.signIn(ts.apiKey, "pat@p2.example", "pat-password-1")
	mustStatus(t, pat.do("POST", "/v2/plans", map[string]any{"plan": map[string]any{"code": "p2", "name": "P2", "product": "vrms", "is_default": true, "features": map[string]any{"max_ips": 10, "users": 5}}}), 201, "p2 plan")
	c2 := pat.do("POST", "/v2/users/customer", map[string]any{"user": map[string]any{"email": "cy@c2.example", "password": "cy-password-12", "skip_confirmation": true},
		"organization": map[string]any{"name": "Customer Two"}})
	mustStatus(t, c2, 201, "p2 customer")
	cy := ts.signIn(ts.apiKey, "cy@c2.example", "cy-password-12")
	if r := pat.do("GET", "/v2/organizations", nil); len(r.list()) != 2 {
		t.Errorf("partner two sees: %s", r.Raw)
	}

	// Groups (CG form): Ann groups target web; Vic (viewer) and a new user get levels.
	eve := ann.do("POST", "/v2/users", map[string]any{"user": map[string]any{"email": "eve@c1.example", "role": "user", "password": "eve-password-1", "skip_confirmation": true}})
	mustStatus(t, eve, 201, "eve")
	eveID := id(eve.data())
	eveC := ts.signIn(ts.apiKey, "eve@c1.example", "eve-password-1")
	g := ann.do("POST", "/v2/groups", map[string]any{"group": map[string]any{"name": "Web team", "group_owner": "Ann", "linked_groups_view": []string{"idp-web"}}})
	mustStatus(t, g, 201, "create group")
	gID := id(g.data())
	web, db := id(t1.data()), id(t2.data())
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/resources", map[string]any{"target_ids": []string{web}}), 200, "group resources")
	if r := ann.do("PUT", "/v2/groups/"+gID+"/resources", map[string]any{"target_ids": []string{id(c2.data()["organization"].(map[string]any))}}); r.Status != 404 && r.Status != 422 {
		t.Errorf("foreign id in a group: %d", r.Status)
	}
	scanR := ann.do("POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "web scan", "target_id": web}})
	mustStatus(t, scanR, 201, "scan on grouped target")
	scanID := id(scanR.data())
	// Eve is in no group: the grouped target and its scan do not exist for her.
	if r := eveC.do("GET", "/v2/targets/"+web, nil); r.Status != 404 {
		t.Errorf("non-member sees grouped target: %d", r.Status)
	}
	if r := eveC.do("GET", "/v2/targets", nil); len(r.list()) != 1 || id(r.list()[0]) != db {
		t.Errorf("non-member target list: %s", r.Raw)
	}
	if r := eveC.do("GET", "/v2/scans/"+scanID, nil); r.Status != 404 {
		t.Errorf("non-member sees grouped scan: %d", r.Status)
	}
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/members/"+eveID, map[string]any{"access_level": "View"}), 200, "eve view")
	if r := eveC.do("GET", "/v2/targets/"+web, nil); r.Status != 200 {
		t.Errorf("view member reads target: %d", r.Status)
	}
	if r := eveC.do("PUT", "/v2/targets/"+web, map[string]any{"target": map[string]any{"name": "x"}}); r.Status != 403 {
		t.Errorf("view member edits target: %d", r.Status)
	}
	if r := eveC.do("POST", "/v2/scans/"+scanID+"/stop", nil); r.Status != 403 {
		t.Errorf("view member stops scan: %d", r.Status)
	}
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/members/"+eveID, map[string]any{"access_level": "Upload"}), 200, "eve upload")
	if r := eveC.do("POST", "/v2/scans/"+scanID+"/stop", nil); r.Status == 403 || r.Status == 404 {
		t.Errorf("upload member may stop a scan (any answer but a refusal): %d %s", r.Status, r.Raw)
	}
	if r := eveC.do("PUT", "/v2/targets/"+web, map[string]any{"target": map[string]any{"name": "x"}}); r.Status != 403 {
		t.Errorf("upload member edits target: %d", r.Status)
	}
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/members/"+eveID, map[string]any{"access_level": "Edit"}), 200, "eve edit")
	if r := eveC.do("PUT", "/v2/targets/"+web, map[string]any{"target": map[string]any{"name": "web2"}}); r.Status != 200 {
		t.Errorf("edit member edits target: %d %s", r.Status, r.Raw)
	}
	// Archived, the group gives no access but its resources stay restricted.
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/archive", nil), 200, "archive")
	if r := eveC.do("GET", "/v2/targets/"+web, nil); r.Status != 404 {
		t.Errorf("archived group still gives access: %d", r.Status)
	}
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/restore", nil), 200, "restore")
	if r := ann.do("GET", "/v2/groups/"+gID, nil); len(r.data()["members"].([]any)) != 1 || len(r.data()["targets"].([]any)) != 1 || len(r.data()["scans"].([]any)) != 1 {
		t.Errorf("group detail: %s", r.Raw)
	}
	if r := eveC.do("GET", "/v2/users/"+eveID+"/groups", nil); len(r.list()) != 1 || r.list()[0]["access_level"] != "Edit" {
		t.Errorf("eve's groups: %s", r.Raw)
	}

	// Groups (AttackForge SSAPI form) with Ann's key.
	key := ann.do("POST", "/v2/user/ssapi_key", nil)
	mustStatus(t, key, 201, "ssapi key")
	ak := key.data()["api_key"].(string)
	if r := ss(ann, "vgf_wrong", "GET", "/api/ss/groups", nil); r.Status != 401 || r.Body["status"] != "error" {
		t.Errorf("bad SSAPI key: %d %s", r.Status, r.Raw)
	}
	r = ss(ann, ak, "POST", "/api/ss/group", map[string]any{"name": "Pentest Team", "group_owner": "John Citizen", "primary_contact_email": "john@c1.example",
		"custom_fields": []map[string]string{{"key": "client_code", "value": "C001"}}, "enable_project_team_notification": true,
		"access": map[string]any{"sso_1": []map[string]any{{"group_name": "AD-PENTEST", "project_access_level": "edit", "project_request_access_level": "action"}}}})
	if r.Status != 200 || r.Body["status"] != "ok" || r.Body["group"].(map[string]any)["enable_project_team_notifications"] != true {
		t.Fatalf("CreateGroup: %d %s", r.Status, r.Raw)
	}
	sg := r.Body["group"].(map[string]any)["id"].(string)
	if r := ss(ann, ak, "POST", "/api/ss/group", map[string]any{"name": "Pentest Team"}); r.Status != 409 && r.Status != 400 {
		t.Errorf("duplicate group name: %d %s", r.Status, r.Raw)
	}
	r = ss(ann, ak, "PUT", "/api/ss/group/"+sg, map[string]any{"primary_contact_number": "(555)555-5555", "custom_fields": []map[string]string{{"key": "region", "value": "EU"}},
		"access": map[string]any{"sso_1": []map[string]any{{"action": "remove", "group_name": "AD-PENTEST"}}}})
	if r.Status != 200 || r.Body["status"] != "Group Updated" || len(r.Body["group"].(map[string]any)["custom_fields"].([]any)) != 2 ||
		len(r.Body["group"].(map[string]any)["access"].(map[string]any)["sso_1"].([]any)) != 0 {
		t.Errorf("UpdateGroup: %d %s", r.Status, r.Raw)
	}
	if r := ss(ann, ak, "POST", "/api/ss/group/user", map[string]any{"group_id": sg, "user_id": eveID, "access_level": "View"}); r.Body["status"] != "User Added To Group" {
		t.Errorf("AddUserToGroup: %d %s", r.Status, r.Raw)
	}
	if r := ss(ann, ak, "POST", "/api/ss/group/user", map[string]any{"group_id": sg, "user_id": eveID, "access_level": "Admin"}); r.Status != 400 {
		t.Errorf("bad access level: %d", r.Status)
	}
	if r := ss(ann, ak, "PUT", "/api/ss/group/user/"+eveID, map[string]any{"group_id": sg, "user_id": eveID, "access_level": "Upload"}); r.Body["status"] != "User Access Updated On Group" {
		t.Errorf("UpdateUserAccessOnGroup: %d %s", r.Status, r.Raw)
	}
	if r := ss(ann, ak, "GET", "/api/ss/user/"+eveID+"/groups", nil); r.Body["count"] != float64(2) {
		t.Errorf("GetUserGroups: %s", r.Raw)
	}
	if r := ss(ann, ak, "GET", "/api/ss/groups?allGroups=true", nil); r.Body["count"] != float64(2) || !strings.Contains(string(r.Raw), `"group_name":"Pentest Team"`) {
		t.Errorf("GetGroups allGroups: %s", r.Raw)
	}
	if r := ss(ann, ak, "GET", "/api/ss/group/"+sg+"?cf_key_allowlist=region", nil); len(r.Body["group"].(map[string]any)["custom_fields"].([]any)) != 1 ||
		r.Body["group"].(map[string]any)["members"].([]any)[0].(map[string]any)["accessLevel"] != "Upload" {
		t.Errorf("GetGroup: %s", r.Raw)
	}
	if r := ss(ann, ak, "GET", "/api/ss/groups/"+gID+"/targets", nil); r.Body["count"] != float64(1) {
		t.Errorf("group targets: %s", r.Raw)
	}
	if r := ss(ann, ak, "GET", "/api/ss/groups/"+gID+"/projects", nil); r.Body["count"] != float64(1) {
		t.Errorf("group projects: %s", r.Raw)
	}
	if r := ss(ann, ak, "GET", "/api/ss/groups/"+gID+"/vulnerabilities?limit=10", nil); r.Status != 200 || r.Body["count"] != float64(0) {
		t.Errorf("group vulnerabilities: %d %s", r.Status, r.Raw)
	}
	if r := ss(ann, ak, "PUT", "/api/ss/group/user/"+eveID, map[string]any{"group_id": sg, "access_level": "Delete"}); r.Status != 200 {
		t.Errorf("remove member: %d %s", r.Status, r.Raw)
	}
	for _, a := range []string{"archive", "restore"} {
		if r := ss(ann, ak, "PUT", "/api/ss/group/"+sg+"/"+a, map[string]any{}); r.Body["status"] != "ok" {
			t.Errorf("%s: %s", a, r.Raw)
		}
	}
	eveKey := eveC.do("POST", "/v2/user/ssapi_key", nil).data()["api_key"].(string)
	if r := ss(eveC, eveKey, "GET", "/api/ss/groups?allGroups=true", nil); r.Status != 403 {
		t.Errorf("user lists all groups: %d", r.Status)
	}
	if r := ss(eveC, eveKey, "GET", "/api/ss/groups", nil); r.Body["count"] != float64(1) {
		t.Errorf("eve's own groups: %s", r.Raw)
	}
	if r := ss(eveC, eveKey, "POST", "/api/ss/group", map[string]any{"name": "Mine"}); r.Status != 403 {
		t.Errorf("user creates group: %d", r.Status)
	}
	if r := ss(eveC, eveKey, "GET", "/api/ss/group/"+sg, nil); r.Status != 404 {
		t.Errorf("non-member reads group: %d", r.Status)
	}
	regen := ss(eveC, eveKey, "POST", "/api/ss/apikey/regenerate", nil)
	if r := ss(eveC, eveKey, "GET", "/api/ss/groups", nil); regen.Status != 200 || r.Status != 401 {
		t.Errorf("old key after regenerate: %d %d", regen.Status, r.Status)
	}

	// Set partner: Customer One becomes a partner; its admin then has partner rights.
	mustStatus(t, op.do("PUT", "/v2/users/"+annID+"/set_partner", nil), 200, "set partner")
	if r := ann.do("GET", "/v2/user/permissions", nil); r.data()["role"] != "partner_admin" {
		t.Errorf("after set_partner: %s", r.Raw)
	}
	mustStatus(t, op.do("PUT", "/v2/users/"+annID+"/unset_partner", nil), 200, "unset partner")
	if r := ann.do("PUT", "/v2/users/"+annID+"/set_partner", nil); r.Status != 403 {
		t.Errorf("customer sets itself partner: %d", r.Status)
	}

	// Isolation matrix: who may touch Customer One's records.
	vicID := id(vic.data())
	routes := []struct{ method, path string }{
		{"GET", "/v2/users/" + annID}, {"PUT", "/v2/users/" + vicID}, {"DELETE", "/v2/users/" + vicID},
		{"GET", "/v2/users/" + vicID + "/can_delete"}, {"POST", "/v2/users/" + vicID + "/resend_confirmation"},
		{"PUT", "/v2/users/" + vicID + "/inherit_resources"}, {"PUT", "/v2/users/" + annID + "/set_partner"},
		{"GET", "/v2/organizations/" + c1}, {"PUT", "/v2/organizations/" + c1}, {"DELETE", "/v2/organizations/" + c1},
		{"GET", "/v2/organizations/" + c1 + "/subscriptions"}, {"GET", "/v2/organizations/" + c1 + "/subscriptions/" + sub},
		{"PUT", "/v2/organizations/" + c1 + "/subscriptions/" + sub}, {"POST", "/v2/organizations/" + c1 + "/subscribe"},
		{"GET", "/v2/organizations/" + c1 + "/features"}, {"PUT", "/v2/organizations/" + c1 + "/move_user"},
		{"GET", "/v2/targets/" + web}, {"PUT", "/v2/targets/" + web}, {"DELETE", "/v2/targets/" + web},
		{"GET", "/v2/scans/" + scanID}, {"POST", "/v2/scans/" + scanID + "/start"}, {"GET", "/v2/scans/" + scanID + "/vulnerabilities"},
		{"GET", "/v2/groups/" + gID}, {"PUT", "/v2/groups/" + gID}, {"PUT", "/v2/groups/" + gID + "/members/" + vicID},
		{"GET", "/v2/users/" + eveID + "/groups"},
	}
	bodies := map[string]any{"PUT": map[string]any{"user": map[string]any{"name": "x"}, "organization": map[string]any{"name": "x"},
		"target": map[string]any{"name": "x"}, "group": map[string]any{"name": "x"}, "subscription": map[string]any{"price": 1},
		"access_level": "View", "from_user_id": annID, "user_id": vicID, "organization_id": c1}, "POST": map[string]any{"plan": "pci-small"}}
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/members/"+vicID, map[string]any{"access_level": "View"}), 200, "vic in group")
	refused := func(who string, c *client, ok func(route string, status int) bool) {
		t.Helper()
		before := op.do("GET", "/v2/users?q[organization_id]="+c1, nil).Raw
		for _, rt := range routes {
			r := c.do(rt.method, rt.path, bodies[rt.method])
			if !ok(rt.method+" "+rt.path, r.Status) {
				t.Errorf("%s: %s %s -> %d %s", who, rt.method, rt.path, r.Status, truncateForLog(r.Raw))
			}
		}
		if after := op.do("GET", "/v2/users?q[organization_id]="+c1, nil).Raw; !bytes.Equal(before, after) {
			t.Errorf("%s changed Customer One's users", who)
		}
	}
	// Another partner's customer and another partner: nothing exists. A
	// route that needs a partner's permission refuses a customer before
	// looking anything up (403 for any id, so it tells nothing).
	partnerOnly := map[string]bool{"PUT /v2/users/" + annID + "/set_partner": true, "DELETE /v2/organizations/" + c1: true,
		"PUT /v2/organizations/" + c1 + "/subscriptions/" + sub: true, "POST /v2/organizations/" + c1 + "/subscribe": true,
		"PUT /v2/organizations/" + c1 + "/move_user": true}
	refused("other partner's customer", cy, func(route string, s int) bool { return s == 404 || partnerOnly[route] && s == 403 })
	refused("other partner", pat, func(_ string, s int) bool { return s == 404 })
	// A viewer who is a View member of the group: reads grouped records, changes nothing.
	refused("viewer with View", viewer, func(route string, s int) bool {
		switch route {
		case "GET /v2/targets/" + web, "GET /v2/scans/" + scanID, "GET /v2/scans/" + scanID + "/vulnerabilities", "GET /v2/groups/" + gID,
			"GET /v2/organizations/" + c1, "GET /v2/organizations/" + c1 + "/subscriptions", "GET /v2/organizations/" + c1 + "/subscriptions/" + sub,
			"GET /v2/organizations/" + c1 + "/features":
			return s == 200
		case "GET /v2/users/" + eveID + "/groups":
			return s == 404
		}
		return s == 403
	})
	// A user with View in the group: as the viewer, but its role may write what is not grouped.
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID+"/members/"+eveID, map[string]any{"access_level": "View"}), 200, "eve back to view")
	refused("user with View", eveC, func(route string, s int) bool {
		switch route {
		case "GET /v2/targets/" + web, "GET /v2/scans/" + scanID, "GET /v2/scans/" + scanID + "/vulnerabilities", "GET /v2/groups/" + gID,
			"GET /v2/organizations/" + c1, "GET /v2/organizations/" + c1 + "/subscriptions", "GET /v2/organizations/" + c1 + "/subscriptions/" + sub,
			"GET /v2/organizations/" + c1 + "/features", "GET /v2/users/" + eveID + "/groups":
			return s == 200
		}
		return s == 403
	})

	// The writes the matrix only saw refused, made by those allowed to.
	mustStatus(t, ann.do("PUT", "/v2/groups/"+gID, map[string]any{"group": map[string]any{"name": "Web and API team"}}), 200, "rename group")
	if r := ann.do("GET", "/v2/groups/"+gID, nil); r.data()["name"] != "Web and API team" {
		t.Errorf("renamed group: %s", r.Raw)
	}
	mustStatus(t, ann.do("DELETE", "/v2/groups/"+gID+"/members/"+vicID, nil), 200, "remove vic from the group")
	if r := ann.do("GET", "/v2/groups/"+gID, nil); strings.Contains(string(r.Raw), vicID) {
		t.Errorf("vic still a member: %s", r.Raw)
	}
	mustStatus(t, ann.do("POST", "/v2/organizations/subscribe", map[string]any{"plan": "vrms-big"}), 201, "customer subscribes itself")
	if r := op.do("GET", "/v2/organizations/"+c1+"/subscriptions/active", nil); !strings.Contains(string(r.Raw), "vrms-big") {
		t.Errorf("self-subscription not active: %s", r.Raw)
	}
	mustStatus(t, op.do("PUT", "/v2/organizations/"+c1, map[string]any{"organization": map[string]any{"name": "Customer One Pty"}}), 200, "rename customer")
	if r := op.do("GET", "/v2/organizations/"+c1, nil); !strings.Contains(string(r.Raw), "Customer One Pty") {
		t.Errorf("renamed customer: %s", r.Raw)
	}
	c3R := op.do("POST", "/v2/organizations", map[string]any{"organization": map[string]any{"name": "Customer Three"}})
	mustStatus(t, c3R, 201, "third customer")
	c3 := id(c3R.data())
	mustStatus(t, op.do("PUT", "/v2/organizations/"+c1+"/move_user", map[string]any{"user_id": vicID, "organization_id": c3}), 200, "move vic")
	if r := op.do("GET", "/v2/users?q[organization_id]="+c3, nil); len(r.list()) != 1 || id(r.list()[0]) != vicID {
		t.Errorf("vic after the move: %s", r.Raw)
	}
	mustStatus(t, op.do("DELETE", "/v2/organizations/"+c3, nil), 200, "delete the third customer")
	mustStatus(t, op.do("GET", "/v2/organizations/"+c3, nil), 404, "deleted customer")
	trial := op.do("POST", "/v2/plans", map[string]any{"plan": map[string]any{"code": "trial", "name": "Trial", "product": "pci",
		"features": map[string]any{"max_ips": 1, "users": 1}}})
	mustStatus(t, trial, 201, "trial plan")
	mustStatus(t, op.do("DELETE", "/v2/plans/"+id(trial.data()), nil), 200, "delete an unused plan")
	mustStatus(t, op.do("GET", "/v2/plans/"+id(trial.data()), nil), 404, "deleted plan")
	_ = fmt.Sprint()
}
