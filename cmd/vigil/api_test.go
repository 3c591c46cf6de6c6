package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/storetest"
)

func TestAPISQLite(t *testing.T) { testAPI(t, "sqlite") }

func TestAPIPostgres(t *testing.T) {
	storetest.PostgresURL(t) // skips, or fails under CI, without PostgreSQL
	testAPI(t, "postgres")
}

// fixture is what the walkthrough created in organization A.
type fixture struct {
	target, credential, portList, rangeID string
	scan, run                             string
	host, finding                         string // results of run, reported by seedResults
}

func testAPI(t *testing.T, backend string) {
	// No scanner node: the walkthrough's runs stay where the API put them,
	// and results are reported by the test itself (seedResults).
	ts := startServer(t, backend, "--no-scanner")
	admin := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	var fx fixture
	t.Run("Walkthrough", func(t *testing.T) { fx = walkthrough(t, admin) })
	if t.Failed() {
		return
	}
	t.Run("Results", func(t *testing.T) {
		seedResults(t, ts, &fx)
		resultsWalkthrough(t, admin, fx)
		// The scan is active again, as the bad-input cases expect.
		mustStatus(t, admin.do("POST", "/v2/scans/"+fx.scan+"/start", nil), 200, "start after the results")
	})
	if t.Failed() {
		return
	}
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, ts, admin, fx) })
	t.Run("Viewer", func(t *testing.T) { testViewer(t, ts, admin, fx) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, admin, fx) })
	t.Run("EditsAndDeletes", func(t *testing.T) { testEditsAndDeletes(t, admin) })
	t.Run("Auth", func(t *testing.T) { testAuth(t, ts) })
	t.Run("System", func(t *testing.T) { testSystem(t, ts) })
	t.Run("Audit", func(t *testing.T) { ts.assertAudited(t, adminPassword, "s3cret-pass", ts.apiKey, admin.token) })
}

func walkthrough(t *testing.T, c *client) fixture {
	r := c.do("POST", "/v2/credentials", map[string]any{"credential": map[string]any{
		"name": "Linux servers", "type": "ssh", "username": "scanner", "password": "s3cret-pass"}})
	mustStatus(t, r, 201, "create credential")
	cred := r.data()
	if cred["has_password"] != true || strings.Contains(string(r.Raw), "s3cret-pass") {
		t.Fatalf("credential response leaks or hides state: %s", r.Raw)
	}
	// The unwrapped body works too.
	r = c.do("POST", "/v2/port_lists", map[string]any{"name": "Web and DNS", "port_range": "T:80,443,8000-8100,U:53"})
	mustStatus(t, r, 201, "create port list (unwrapped)")
	pl := r.data()
	if pl["port_count"] != float64(104) || pl["port_range"] != "T:80,443,8000-8100,U:53" {
		t.Fatalf("port list: %s", r.Raw)
	}
	r = c.do("POST", "/v2/targets", map[string]any{"target": map[string]any{
		"name": "Web servers", "hosts": "192.0.2.0/24, www.example.com", "exclude_hosts": "192.0.2.5",
		"credentials": map[string]any{"ssh": id(cred)}, "port_list_id": id(pl), "alive_test": "icmp", "comment": "DMZ"}})
	mustStatus(t, r, 201, "create target")
	tg := r.data()
	if tg["host_count"] != float64(256) || tg["alive_test"] != "icmp" {
		t.Fatalf("target: %s", r.Raw)
	}
	for i := 0; i < 3; i++ {
		mustStatus(t, c.do("POST", "/v2/targets", map[string]any{"target": map[string]any{
			"name": fmt.Sprintf("db-%d", i), "hosts": fmt.Sprintf("198.51.100.%d", i+1)}}), 201, "create db target")
	}

	// Show, list with filter and sort, paging meta.
	r = c.do("GET", "/v2/targets/"+id(tg), nil)
	mustStatus(t, r, 200, "show target")
	creds := r.data()["credentials"].(map[string]any)
	if creds["ssh"] != id(cred) || creds["smb"] != nil {
		t.Errorf("credentials: %v", creds)
	}
	r = c.do("GET", "/v2/targets?"+url.Values{"q[name]": {"DB*"}, "sort_by": {"name desc"}, "per_page": {"2"}}.Encode(), nil)
	mustStatus(t, r, 200, "filtered list")
	names := []string{}
	for _, it := range r.list() {
		names = append(names, it["name"].(string))
	}
	meta := r.Body["meta"].(map[string]any)
	if fmt.Sprint(names) != "[db-2 db-1]" || meta["total_count"] != float64(3) || meta["total_pages"] != float64(2) || meta["per_page"] != float64(2) {
		t.Errorf("filtered list: %v %v", names, meta)
	}
	r = c.do("GET", "/v2/targets?sort_by=-host_count&relative_date_range=1d", nil)
	if r.Status != 200 || len(r.list()) != 4 || r.list()[0]["name"] != "Web servers" {
		t.Errorf("sort by host_count: %s", r.Raw)
	}

	// Partial update: only the comment changes.
	r = c.do("PUT", "/v2/targets/"+id(tg), map[string]any{"target": map[string]any{"comment": "moved"}})
	mustStatus(t, r, 200, "update target")
	if d := r.data(); d["comment"] != "moved" || d["name"] != "Web servers" || d["hosts"] != tg["hosts"] || d["alive_test"] != "icmp" {
		t.Errorf("partial update: %s", r.Raw)
	}
	r = c.do("POST", "/v2/targets/calculate_hosts", map[string]any{"hosts": "192.0.2.0/24", "exclude_hosts": "192.0.2.0/30"})
	if r.Status != 200 || r.data()["count"] != float64(252) {
		t.Errorf("calculate_hosts: %s", r.Raw)
	}

	// Port list ranges, activation, app_type, sync.
	r = c.do("POST", "/v2/port_lists/"+id(pl)+"/ranges", map[string]any{"port_range": map[string]any{"start": 9000, "end": 9010, "protocol": "tcp"}})
	mustStatus(t, r, 201, "add range")
	var rangeID string
	for _, rr := range r.data()["ranges"].([]any) {
		if m := rr.(map[string]any); m["start"] == float64(9000) {
			rangeID = m["id"].(string)
		}
	}
	r = c.do("GET", "/v2/port_lists/"+id(pl)+"/ranges", nil)
	if r.Status != 200 || len(r.Body["data"].([]any)) != 5 {
		t.Errorf("ranges: %s", r.Raw)
	}
	r = c.do("DELETE", "/v2/port_lists/"+id(pl)+"/ranges/"+rangeID, nil)
	if r.Status != 200 || r.data()["port_count"] != float64(104) {
		t.Errorf("delete range: %s", r.Raw)
	}
	mustStatus(t, c.do("POST", "/v2/port_lists/"+id(pl)+"/ranges", map[string]any{"port_range": map[string]any{"start": 9000, "end": 9010}}), 201, "re-add range")
	r = c.do("GET", "/v2/port_lists/"+id(pl)+"/ranges", nil)
	for _, rr := range r.Body["data"].([]any) {
		if m := rr.(map[string]any); m["start"] == float64(9000) {
			rangeID = m["id"].(string)
		}
	}
	r = c.do("PUT", "/v2/port_lists/"+id(pl)+"/deactivate", nil)
	if r.Status != 200 || r.data()["active"] != false {
		t.Errorf("deactivate: %s", r.Raw)
	}
	r = c.do("GET", "/v2/port_lists/activated?per_page=100", nil)
	for _, l := range r.list() {
		if id(l) == id(pl) {
			t.Error("a deactivated list is listed as activated")
		}
	}
	if len(r.list()) != len(vigil.BuiltinPortLists()) {
		t.Errorf("activated lists: %d", len(r.list()))
	}
	mustStatus(t, c.do("PUT", "/v2/port_lists/"+id(pl)+"/activate", nil), 200, "activate")
	r = c.do("PUT", "/v2/port_lists/"+id(pl)+"/app_type", map[string]any{"app_type": "pci"})
	if r.Status != 200 || r.data()["app_type"] != "pci" {
		t.Errorf("app_type: %s", r.Raw)
	}
	r = c.do("POST", "/v2/port_lists/sync", nil)
	if r.Status != 200 || len(r.data()["unchanged"].([]any)) != len(vigil.BuiltinPortLists()) {
		t.Errorf("sync: %s", r.Raw)
	}

	// In use: the credential and the port list cannot be deleted.
	r = c.do("DELETE", "/v2/credentials/"+id(cred), nil)
	if r.Status != 422 || !strings.Contains(string(r.Raw), "Web servers") {
		t.Errorf("delete credential in use: %d %s", r.Status, r.Raw)
	}
	r = c.do("DELETE", "/v2/port_lists/"+id(pl), nil)
	if r.Status != 422 {
		t.Errorf("delete port list in use: %d %s", r.Status, r.Raw)
	}

	// Bulk delete, body and query forms.
	r = c.do("GET", "/v2/targets?q[name]=db*", nil)
	dbs := r.list()
	mustStatus(t, c.do("DELETE", "/v2/targets", map[string]any{"ids": []string{id(dbs[0]), id(dbs[1])}}), 200, "bulk delete (body)")
	mustStatus(t, c.do("DELETE", "/v2/targets?ids[]="+id(dbs[2]), nil), 200, "bulk delete (query)")
	r = c.do("GET", "/v2/targets", nil)
	if len(r.list()) != 1 {
		t.Errorf("after bulk delete: %s", r.Raw)
	}
	// A throwaway credential: create, update, delete.
	r = c.do("POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "tmp", "type": "snmp", "community": "public"}})
	mustStatus(t, r, 201, "create snmp credential")
	tmp := id(r.data())
	r = c.do("PUT", "/v2/credentials/"+tmp, map[string]any{"credential": map[string]any{"name": "tmp2"}})
	if r.Status != 200 || r.data()["name"] != "tmp2" || r.data()["has_community"] != true {
		t.Errorf("update credential: %s", r.Raw)
	}
	mustStatus(t, c.do("DELETE", "/v2/credentials/"+tmp, nil), 200, "delete credential")
	mustStatus(t, c.do("GET", "/v2/credentials/"+tmp, nil), 404, "deleted credential")
	scan, run := scanWalkthrough(t, c, id(tg))
	return fixture{target: id(tg), credential: id(cred), portList: id(pl), rangeID: rangeID, scan: scan, run: run}
}

// scanWalkthrough creates, starts, stops and restarts a scan of target tg
// and returns the scan and its first run.
func scanWalkthrough(t *testing.T, c *client, tg string) (scan, run string) {
	r := c.do("GET", "/v2/scan_profiles", nil)
	mustStatus(t, r, 200, "scan profiles")
	profiles := map[string]string{}
	for _, p := range r.list() {
		profiles[p["name"].(string)] = id(p)
	}
	if len(profiles) != 3 || profiles["Discovery"] == "" || profiles["PCI external"] == "" {
		t.Fatalf("profiles: %s", r.Raw)
	}
	r = c.do("POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "Weekly DMZ", "target_id": tg}})
	mustStatus(t, r, 201, "create scan")
	sc := r.data()
	if sc["status"] != "New" || sc["config"].(map[string]any)["name"] != "Full and fast" || sc["target"].(map[string]any)["name"] != "Web servers" {
		t.Fatalf("scan: %s", r.Raw)
	}
	r = c.do("PUT", "/v2/scans/"+id(sc), map[string]any{"scan": map[string]any{"config_id": profiles["Discovery"], "comment": "ports only"}})
	if r.Status != 200 || r.data()["config"].(map[string]any)["name"] != "Discovery" || r.data()["comment"] != "ports only" {
		t.Fatalf("update scan: %s", r.Raw)
	}
	r = c.do("POST", "/v2/scans/"+id(sc)+"/start", nil)
	mustStatus(t, r, 200, "start scan")
	first := r.data()
	if first["status"] != "Requested" || first["scan_id"] != id(sc) {
		t.Fatalf("start: %s", r.Raw)
	}
	r = c.do("POST", "/v2/scans/"+id(sc)+"/start", nil)
	if r.Status != 422 || r.errorFields()["status"] == nil {
		t.Errorf("second start: %d %s", r.Status, r.Raw)
	}
	r = c.do("GET", "/v2/scans/running", nil)
	if r.Status != 200 || len(r.list()) != 1 || id(r.list()[0]) != id(sc) {
		t.Errorf("running: %s", r.Raw)
	}
	mustStatus(t, c.do("DELETE", "/v2/scans/"+id(sc), nil), 422, "delete a requested scan")
	r = c.do("POST", "/v2/scans/"+id(sc)+"/stop", nil)
	if r.Status != 200 || r.data()["status"] != "Stopped" {
		t.Fatalf("stop: %s", r.Raw)
	}
	r = c.do("POST", "/v2/scans/"+id(sc)+"/stop", nil)
	if r.Status != 422 || r.errorFields()["status"] == nil {
		t.Errorf("stop an idle scan: %d %s", r.Status, r.Raw)
	}
	mustStatus(t, c.do("POST", "/v2/scans/"+id(sc)+"/start", nil), 200, "start again")
	r = c.do("GET", "/v2/scans/"+id(sc)+"/histories", nil)
	if r.Status != 200 || len(r.list()) != 2 || r.Body["meta"].(map[string]any)["total_count"] != float64(2) {
		t.Fatalf("histories: %s", r.Raw)
	}
	r = c.do("GET", "/v2/scans/"+id(sc)+"/histories/"+id(first), nil)
	if r.Status != 200 || r.data()["status"] != "Stopped" || r.data()["ended_at"] == nil {
		t.Errorf("history details: %s", r.Raw)
	}
	r = c.do("GET", "/v2/scans?"+url.Values{"q[status]": {"Requested"}, "sort_by": {"-created_at"}}.Encode(), nil)
	if r.Status != 200 || len(r.list()) != 1 {
		t.Errorf("scans by status: %s", r.Raw)
	}
	mustStatus(t, c.do("GET", "/v2/scans/recent", nil), 200, "recent scans")
	mustStatus(t, c.do("GET", "/v2/scans/upcoming", nil), 200, "upcoming scans")
	// A throwaway scan with the stock GVM id of Full and fast, bulk-deleted.
	r = c.do("POST", "/v2/scans", map[string]any{"name": "tmp", "target_id": tg, "config_id": "daba56c8-73ec-11df-a475-002264764cea"})
	mustStatus(t, r, 201, "create scan (unwrapped, GVM config id)")
	mustStatus(t, c.do("DELETE", "/v2/scans", map[string]any{"ids": []string{id(r.data())}}), 200, "bulk delete scans")
	return id(sc), id(first)
}

// memberRoutes are the routes that take an id of organization A's records.
func memberRoutes(fx fixture) []struct {
	method, path string
	body         any
} {
	type rt = struct {
		method, path string
		body         any
	}
	return []rt{
		{"GET", "/v2/targets/" + fx.target, nil},
		{"PUT", "/v2/targets/" + fx.target, map[string]any{"target": map[string]any{"comment": "x"}}},
		{"DELETE", "/v2/targets/" + fx.target, nil},
		{"DELETE", "/v2/targets?ids[]=" + fx.target, nil},
		{"GET", "/v2/credentials/" + fx.credential, nil},
		{"PUT", "/v2/credentials/" + fx.credential, map[string]any{"credential": map[string]any{"name": "x"}}},
		{"DELETE", "/v2/credentials/" + fx.credential, nil},
		{"DELETE", "/v2/credentials", map[string]any{"ids": []string{fx.credential}}},
		{"GET", "/v2/port_lists/" + fx.portList, nil},
		{"PUT", "/v2/port_lists/" + fx.portList, map[string]any{"port_list": map[string]any{"name": "x"}}},
		{"DELETE", "/v2/port_lists/" + fx.portList, nil},
		{"DELETE", "/v2/port_lists", map[string]any{"ids": []string{fx.portList}}},
		{"GET", "/v2/port_lists/" + fx.portList + "/ranges", nil},
		{"POST", "/v2/port_lists/" + fx.portList + "/ranges", map[string]any{"port_range": map[string]any{"start": 1, "end": 2}}},
		{"DELETE", "/v2/port_lists/" + fx.portList + "/ranges/" + fx.rangeID, nil},
		{"PUT", "/v2/port_lists/" + fx.portList + "/activate", nil},
		{"PUT", "/v2/port_lists/" + fx.portList + "/deactivate", nil},
		{"PUT", "/v2/port_lists/" + fx.portList + "/app_type", map[string]any{"app_type": "vrms"}},
		{"GET", "/v2/scans/" + fx.scan, nil},
		{"PUT", "/v2/scans/" + fx.scan, map[string]any{"scan": map[string]any{"comment": "x"}}},
		{"DELETE", "/v2/scans/" + fx.scan, nil},
		{"DELETE", "/v2/scans", map[string]any{"ids": []string{fx.scan}}},
		{"POST", "/v2/scans/" + fx.scan + "/start", nil},
		{"POST", "/v2/scans/" + fx.scan + "/stop", nil},
		{"GET", "/v2/scans/" + fx.scan + "/histories", nil},
		{"GET", "/v2/scans/" + fx.scan + "/histories/" + fx.run, nil},
		{"GET", "/v2/scans/" + fx.scan + "/histories/" + fx.run + "/diff", nil},
		{"GET", "/v2/scans/" + fx.scan + "/hosts", nil},
		{"GET", "/v2/scans/" + fx.scan + "/hosts/" + fx.host, nil},
		{"GET", "/v2/scans/" + fx.scan + "/vulnerabilities", nil},
		{"GET", "/v2/scans/" + fx.scan + "/vulnerabilities/" + fx.finding, nil},
		{"GET", "/v2/scans/" + fx.scan + "/statistics", nil},
		{"GET", "/v2/hosts/" + fx.host, nil},
		{"GET", "/v2/vulnerabilities/" + fx.finding, nil},
	}
}

// snapshot is everything organization A's lists show, to prove that
// refused requests changed nothing.
func snapshot(t *testing.T, c *client) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"/v2/targets?per_page=500", "/v2/credentials?per_page=500", "/v2/port_lists?per_page=500", "/v2/scans?per_page=500",
		"/v2/hosts?per_page=500", "/v2/vulnerabilities?per_page=500", "/v2/vulnerabilities/total"} {
		r := c.do("GET", p, nil)
		mustStatus(t, r, 200, p)
		b.Write(r.Raw)
	}
	return b.String()
}

func testIsolation(t *testing.T, ts *testServer, a *client, fx fixture) {
	ctx := context.Background()
	st, err := (&DBFlags{DataDir: ts.dataDir, Database: ts.database, MaxTargetHosts: 4096}).open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orgB, err := st.CreateOrganization(ctx, "Org B")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createUser(ctx, st, orgB.ID, vigil.UserInput{Email: "b@example.com", Role: vigil.RoleAdmin, Password: "b-password-123"}); err != nil {
		t.Fatal(err)
	}
	keyB, err := createAPIKey(ctx, st, orgB.ID, "b", "")
	if err != nil {
		t.Fatal(err)
	}
	b := ts.signIn(keyB, "b@example.com", "b-password-123")
	mustStatus(t, b.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "b-only", "hosts": "203.0.113.1"}}), 201, "B creates a target")

	before := snapshot(t, a)
	for _, rt := range memberRoutes(fx) {
		if r := b.do(rt.method, rt.path, rt.body); r.Status != 404 || r.Body["status_text"] != "Record Not Found" {
			t.Errorf("B %s %s: %d %s, want 404", rt.method, rt.path, r.Status, r.Raw)
		}
	}
	if after := snapshot(t, a); after != before {
		t.Error("B's requests changed A's records")
	}
	// Lists never mix organizations.
	for _, p := range []string{"/v2/targets", "/v2/credentials", "/v2/port_lists?per_page=100", "/v2/scans", "/v2/scans/running", "/v2/scan_profiles",
		"/v2/hosts", "/v2/hosts/most_vulnerable", "/v2/vulnerabilities"} {
		for _, it := range b.do("GET", p, nil).list() {
			if id(it) == fx.target || id(it) == fx.credential || id(it) == fx.portList || id(it) == fx.scan || id(it) == fx.host || id(it) == fx.finding {
				t.Errorf("B's %s shows A's %s", p, id(it))
			}
		}
	}
	for _, it := range a.do("GET", "/v2/targets", nil).list() {
		if it["name"] == "b-only" {
			t.Error("A's list shows B's target")
		}
	}
	// B's widgets count none of A's findings.
	if d := b.do("GET", "/v2/vulnerabilities/total", nil).data(); d["total"] != float64(0) || d["log"] != float64(0) {
		t.Errorf("B's total widget: %v", d)
	}
	if d := b.do("GET", "/v2/vulnerabilities/pci_compliant", nil).data(); d["hosts_failing"] != float64(0) || d["compliant"] != true {
		t.Errorf("B's PCI widget: %v", d)
	}
	if top := b.do("GET", "/v2/vulnerabilities/top", nil); len(top.Body["data"].([]any)) != 0 {
		t.Errorf("B's top widget: %s", top.Raw)
	}
	// B cannot point a target at A's port list or credential.
	r := b.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "203.0.113.2",
		"port_list_id": fx.portList, "credentials": map[string]any{"ssh": fx.credential}}})
	if r.Status != 422 || r.errorFields()["target.port_list_id"] == nil || r.errorFields()["target.credentials.ssh"] == nil {
		t.Errorf("B uses A's references: %d %s", r.Status, r.Raw)
	}
	// A's API key with B's token is refused.
	mixed := &client{ts: ts, apiKey: ts.apiKey, token: b.token}
	mustStatus(t, mixed.do("GET", "/v2/targets", nil), 401, "A's key with B's token")
}

func testViewer(t *testing.T, ts *testServer, admin *client, fx fixture) {
	out, err := runCLI(t, ts.args("admin", "create-user", "--organization", ts.orgID, "--email", "viewer@example.com",
		"--role", "viewer", "--password", "viewer-password-1")...)
	if err != nil || !strings.Contains(out, "Viewer") {
		t.Fatalf("admin create-user: %v %s", err, out)
	}
	v := ts.signIn(ts.apiKey, "viewer@example.com", "viewer-password-1")
	mustStatus(t, v.do("GET", "/v2/targets/"+fx.target, nil), 200, "viewer reads")
	for _, rt := range memberRoutes(fx) {
		if rt.method == "GET" {
			mustStatus(t, v.do("GET", rt.path, nil), 200, "viewer reads "+rt.path)
		}
	}
	for _, p := range []string{"/v2/hosts", "/v2/hosts/most_vulnerable", "/v2/vulnerabilities", "/v2/vulnerabilities/total",
		"/v2/vulnerabilities/top", "/v2/vulnerabilities/pci_compliant"} {
		mustStatus(t, v.do("GET", p, nil), 200, "viewer reads "+p)
	}
	before := snapshot(t, admin)
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "v", "hosts": "192.0.2.1"}}},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "v", "type": "esxi", "username": "u", "password": "p"}}},
		{"POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "v", "port_range": "1"}}},
		{"POST", "/v2/port_lists/sync", nil},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "v", "target_id": fx.target}}},
		{"POST", "/v2/scans/wizard", map[string]any{"wizard": map[string]any{"name": "v", "hosts": "127.0.0.1"}}},
	}
	for _, rt := range memberRoutes(fx) {
		if rt.method != "GET" {
			writes = append(writes, rt)
		}
	}
	for _, w := range writes {
		if r := v.do(w.method, w.path, w.body); r.Status != 403 || r.Body["status_text"] != "Forbidden" {
			t.Errorf("viewer %s %s: %d %s, want 403", w.method, w.path, r.Status, r.Raw)
		}
	}
	if after := snapshot(t, admin); after != before {
		t.Error("the viewer's writes changed something")
	}
}

func testBadInput(t *testing.T, c *client, fx fixture) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		method, path string
		body         any
		status       int
		field        string // an errors key the answer must name ("" = any)
	}{
		{"POST", "/v2/targets", `{"target": {"name": "x",`, 422, "body"},
		{"POST", "/v2/targets", `not json`, 422, "body"},
		{"POST", "/v2/targets", `[1,2,3]`, 422, ""},
		{"POST", "/v2/targets", `{"target": "web"}`, 422, "target"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": 5, "hosts": "192.0.2.1"}}, 422, "target.name"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": []string{"192.0.2.1"}}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "alive_test": "ping"}}, 422, "target.alive_test"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "alive_test": 3}}, 422, "target.alive_test"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"hosts": "192.0.2.1"}}, 422, "target.name"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x"}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "", "hosts": "192.0.2.1"}}, 422, "target.name"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": long, "hosts": "192.0.2.1"}}, 422, "target.name"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "300.1.1.1"}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.0/33"}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.9-192.0.2.1"}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "bad_host!"}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.0/16"}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "exclude_hosts": "192.0.2.1"}}, 422, "target.hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "exclude_hosts": "nope!"}}, 422, "target.exclude_hosts"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "port_list_id": "not-a-uuid"}}, 422, "target.port_list_id"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "port_list_id": vigil.NewID()}}, 422, "target.port_list_id"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "credentials": map[string]any{"smb": fx.credential}}}, 422, "target.credentials.smb"},
		{"POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "x", "hosts": "192.0.2.1", "credentials": "ssh"}}, 422, "target.credentials"},
		{"PUT", "/v2/targets/" + fx.target, map[string]any{"target": map[string]any{"hosts": "not a host!"}}, 422, "target.hosts"},
		{"PUT", "/v2/targets/" + fx.target, map[string]any{"target": map[string]any{"alive_test": "sometimes"}}, 422, "target.alive_test"},
		{"PUT", "/v2/targets/" + vigil.NewID(), map[string]any{"target": map[string]any{"comment": "x"}}, 404, ""},
		{"PUT", "/v2/targets/not-a-uuid", map[string]any{"target": map[string]any{"comment": "x"}}, 404, ""},
		{"DELETE", "/v2/targets", nil, 422, "ids"},
		{"DELETE", "/v2/targets", map[string]any{"ids": "abc"}, 422, "ids"},
		{"DELETE", "/v2/targets", map[string]any{"ids": []string{fx.target, vigil.NewID()}}, 404, ""},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"target_id": fx.target}}, 422, "scan.name"},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "x"}}, 422, "scan.target_id"},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "x", "target_id": "web"}}, 422, "scan.target_id"},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "x", "target_id": vigil.NewID()}}, 422, "scan.target_id"},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "x", "target_id": fx.target, "config_id": vigil.NewID()}}, 422, "scan.config_id"},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "x", "target_id": fx.target, "scanner_id": vigil.NewID()}}, 422, "scan.scanner_id"},
		{"POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "x", "target_id": fx.target, "schedule_id": vigil.NewID()}}, 422, "scan.schedule_id"},
		{"PUT", "/v2/scans/" + fx.scan, map[string]any{"scan": map[string]any{"comment": "x"}}, 422, "status"},
		{"POST", "/v2/scans/" + vigil.NewID() + "/start", nil, 404, ""},
		{"GET", "/v2/scans/" + fx.scan + "/histories/" + vigil.NewID(), nil, 404, ""},
		{"GET", "/v2/scans?" + url.Values{"q[status]": {"Run*"}}.Encode(), nil, 422, "q[status]"},
		{"GET", "/v2/scans?sort_by=target", nil, 422, "sort_by"},
		{"GET", "/v2/targets?page=-1", nil, 422, "page"},
		{"GET", "/v2/targets?page=abc", nil, 422, "page"},
		{"GET", "/v2/targets?per_page=0", nil, 422, "per_page"},
		{"GET", "/v2/targets?per_page=501", nil, 422, "per_page"},
		{"GET", "/v2/targets?sort_by=password", nil, 422, "sort_by"},
		{"GET", "/v2/targets?sort_by=" + url.QueryEscape("name; DROP TABLE targets"), nil, 422, "sort_by"},
		{"GET", "/v2/targets?sort_by=" + url.QueryEscape("name sideways"), nil, 422, "sort_by"},
		{"GET", "/v2/targets?" + url.Values{"q[password_hash]": {"x"}}.Encode(), nil, 422, "q[password_hash]"},
		{"GET", "/v2/targets?" + url.Values{"q[port_list_id]": {"' OR 1=1 --"}}.Encode(), nil, 422, "q[port_list_id]"},
		{"GET", "/v2/targets?" + url.Values{"q[name": {"x"}}.Encode(), nil, 422, "q[name"},
		{"GET", "/v2/targets?date_range_start=yesterday", nil, 422, "date_range_start"},
		{"GET", "/v2/targets?relative_date_range=10w", nil, 422, "relative_date_range"},
		{"GET", "/v2/targets?relative_date_range=5q2020", nil, 422, "relative_date_range"},
		{"GET", "/v2/targets?date_range_start=2024-02-01%2000:00:00&date_range_end=2024-01-01%2000:00:00", nil, 422, "date_range_end"},
		{"GET", "/v2/port_lists?" + url.Values{"q[active]": {"maybe"}}.Encode(), nil, 422, "q[active]"},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "x", "type": "telnet"}}, 422, "credential.type"},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "x", "username": "u"}}, 422, "credential.type"},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "x", "type": "ssh", "username": "u"}}, 422, "credential.password"},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "x", "type": "ssh", "username": "u", "private_key": "-----BEGIN nonsense"}}, 422, "credential.private_key"},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "x", "type": "ssh", "username": "u", "password": "p", "port": 0}}, 422, "credential.port"},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "x", "type": "snmp", "snmp_version": "v1", "community": "c"}}, 422, "credential.snmp_version"},
		{"POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "x", "type": "smb", "username": "u", "password": "p", "community": "c"}}, 422, "credential.community"},
		{"PUT", "/v2/credentials/" + fx.credential, map[string]any{"credential": map[string]any{"type": "smb"}}, 422, "credential.type"},
		{"POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "x", "port_range": "0-10"}}, 422, "port_list.port_range"},
		{"POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "x", "port_range": "10-5"}}, 422, "port_list.port_range"},
		{"POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "x", "port_range": "1-100,50-60"}}, 422, "port_list.port_range"},
		{"POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "x"}}, 422, "port_list.port_range"},
		{"POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "x", "ranges": []any{map[string]any{"start": 1, "end": 70000}}}}, 422, "port_list.ranges[0].end"},
		{"POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "x", "ranges": []any{map[string]any{"start": 1, "end": 2, "protocol": "sctp"}}}}, 422, "port_list.ranges[0].protocol"},
		{"POST", "/v2/port_lists/" + fx.portList + "/ranges", map[string]any{"port_range": map[string]any{"start": 80, "end": 80}}, 422, "port_list.port_range"},
		{"PUT", "/v2/port_lists/" + fx.portList + "/app_type", map[string]any{"app_type": "gaming"}, 422, "port_list.app_type"},
		{"DELETE", "/v2/port_lists/" + fx.portList + "/ranges/" + vigil.NewID(), nil, 404, ""},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d bad-input cases", len(cases))
	}
	// Built-in lists are read-only.
	var builtin string
	for _, l := range c.do("GET", "/v2/port_lists?q[builtin]=true", nil).list() {
		builtin = id(l)
	}
	cases = append(cases,
		struct {
			method, path string
			body         any
			status       int
			field        string
		}{"PUT", "/v2/port_lists/" + builtin, map[string]any{"port_list": map[string]any{"name": "mine"}}, 422, ""},
		struct {
			method, path string
			body         any
			status       int
			field        string
		}{"DELETE", "/v2/port_lists/" + builtin, nil, 422, ""})

	before := snapshot(t, c)
	for i, tc := range cases {
		r := c.do(tc.method, tc.path, tc.body)
		if r.Status != tc.status {
			t.Errorf("case %d %s %s: status %d, want %d: %s", i, tc.method, tc.path, r.Status, tc.status, r.Raw)
			continue
		}
		if r.Body["status"] != float64(tc.status) || r.Body["status_text"] == nil {
			t.Errorf("case %d: error body %s", i, r.Raw)
		}
		if tc.field != "" && r.errorFields()[tc.field] == nil {
			t.Errorf("case %d %s %s: errors do not name %q: %s", i, tc.method, tc.path, tc.field, r.Raw)
		}
	}
	if after := snapshot(t, c); after != before {
		t.Error("a refused request changed state")
	}
}

func testAuth(t *testing.T, ts *testServer) {
	anon := &client{ts: ts}
	mustStatus(t, anon.do("GET", "/v2/targets", nil), 401, "no credentials")
	mustStatus(t, anon.do("POST", "/auth/sign_in", map[string]any{"username": adminEmail, "password": adminPassword}), 401, "sign-in without API key")
	bad := &client{ts: ts, apiKey: "vgk_wrong"}
	mustStatus(t, bad.do("POST", "/auth/sign_in", map[string]any{"username": adminEmail, "password": adminPassword}), 401, "sign-in with a bad API key")
	keyOnly := ts.client()
	mustStatus(t, keyOnly.do("GET", "/v2/targets", nil), 401, "API key without token")
	keyOnly.token = "vgs_forged"
	mustStatus(t, keyOnly.do("GET", "/v2/targets", nil), 401, "forged token")
	r := keyOnly.do("POST", "/auth/sign_in", map[string]any{"username": adminEmail})
	if r.Status != 422 || r.errorFields()["password"] == nil {
		t.Errorf("sign-in without password: %s", r.Raw)
	}

	// The query-string form of sign-in works, and sign-out revokes the token.
	c := ts.client()
	r = c.do("POST", "/auth/sign_in?"+url.Values{"username": {adminEmail}, "password": {adminPassword}}.Encode(), nil)
	mustStatus(t, r, 200, "sign-in by query")
	if r.Body["role"] != "Admin" || r.Body["status_text"] != "OK" {
		t.Errorf("sign-in body: %s", r.Raw)
	}
	c.token = r.Body["token"].(string)
	mustStatus(t, c.do("GET", "/v2/targets", nil), 200, "token works")
	mustStatus(t, c.do("DELETE", "/auth/sign_out", nil), 200, "sign out")
	mustStatus(t, c.do("GET", "/v2/targets", nil), 401, "revoked token")

	// Lockout: repeated failures for one account get 429 with Retry-After,
	// even with the right password, while other accounts still sign in.
	for i := 0; i < 5; i++ {
		r = keyOnly.do("POST", "/auth/sign_in", map[string]any{"username": "viewer@example.com", "password": "wrong-password"})
		want := 401
		if i == 4 {
			want = 429
		}
		mustStatus(t, r, want, fmt.Sprintf("failure %d", i+1))
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	r = keyOnly.do("POST", "/auth/sign_in", map[string]any{"username": "viewer@example.com", "password": "viewer-password-1"})
	mustStatus(t, r, 429, "right password while locked")
	ts.signIn(ts.apiKey, adminEmail, adminPassword)
}

func testSystem(t *testing.T, ts *testServer) {
	c := &client{ts: ts}
	r := c.do("GET", "/healthz", nil)
	mustStatus(t, r, 200, "healthz")
	r = c.do("GET", "/readyz", nil)
	if r.Status != 200 || r.Body["status"] != "ok" || !strings.Contains(fmt.Sprint(r.Body["detail"]), "feeds not loaded: nvd, kev, epss, debian") {
		t.Errorf("readyz before any feed import: %s", r.Raw)
	}
	testFeeds(t, ts)
	resp, err := httpGet(ts.url + "/metrics")
	if err != nil || !strings.Contains(resp, `vigil_http_requests_total{method="GET",route="GET /v2/targets",status="200"}`) ||
		!strings.Contains(resp, "vigil_http_request_duration_seconds_bucket") {
		t.Errorf("metrics: %v\n%.500s", err, resp)
	}
	page, err := httpGet(ts.url + "/v2/docs")
	if err != nil || !strings.Contains(page, "/v2/targets/calculate_hosts") || !strings.Contains(page, "Port Lists") {
		t.Errorf("docs page: %v", err)
	}
}

// testFeeds imports two small feeds with the CLI into the running server's
// database and reads their status through /v2/feeds and /readyz.
func testFeeds(t *testing.T, ts *testServer) {
	dir := t.TempDir()
	writeFile(t, dir, "kev.json", `{"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2026.11.20",
		"dateReleased": "2026-11-20T17:00:00.000Z", "count": 1, "vulnerabilities": [{"cveID": "CVE-2024-6387", "vendorProject": "OpenBSD",
		"product": "OpenSSH", "vulnerabilityName": "test entry", "dateAdded": "2026-11-20"}]}`)
	writeFile(t, dir, "epss_scores-current.csv", "#model_version:v2026.06.15,score_date:2026-11-20T00:00:00Z\ncve,epss,percentile\nCVE-2024-6387,0.5,0.97\n")
	out, err := runCLI(t, ts.args("feeds", "import", "--no-progress", dir)...)
	if err != nil || !strings.Contains(out, "kev           1 file(s), 1 record(s) read, 1 stored, version 2026.11.20") {
		t.Fatalf("feeds import: %v\n%s", err, out)
	}
	anon := &client{ts: ts}
	mustStatus(t, anon.do("GET", "/v2/feeds", nil), 401, "feeds without credentials")
	c := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	r := c.do("GET", "/v2/feeds", nil)
	mustStatus(t, r, 200, "list feeds")
	got := map[string]map[string]any{}
	for _, f := range r.list() {
		got[f["source"].(string)] = f
	}
	if len(got) != 2 || got["kev"]["version"] != "2026.11.20" || got["kev"]["records"] != float64(1) || got["kev"]["last_sync_at"] == nil ||
		got["epss"]["version"] != "v2026.06.15 2026-11-20T00:00:00Z" {
		t.Errorf("feeds: %s", r.Raw)
	}
	r = anon.do("GET", "/readyz", nil)
	feeds, _ := r.Body["feeds"].([]any)
	if r.Status != 200 || len(feeds) != 2 || !strings.Contains(fmt.Sprint(r.Body["detail"]), "feeds not loaded: nvd, debian") {
		t.Errorf("readyz after importing KEV and EPSS: %s", r.Raw)
	}
}

// testEditsAndDeletes updates and deletes, one by one and in bulk, records
// made for it: each is gone afterwards, and what they used is not.
func testEditsAndDeletes(t *testing.T, c *client) {
	mk := func(path, key string, fields map[string]any) string {
		t.Helper()
		r := c.do("POST", path, map[string]any{key: fields})
		mustStatus(t, r, 201, "create "+key)
		return id(r.data())
	}
	pl1 := mk("/v2/port_lists", "port_list", map[string]any{"name": "edit-1", "port_range": "T:1-100"})
	pl2 := mk("/v2/port_lists", "port_list", map[string]any{"name": "edit-2", "port_range": "T:443"})
	pl3 := mk("/v2/port_lists", "port_list", map[string]any{"name": "edit-3", "port_range": "U:53"})
	mustStatus(t, c.do("PUT", "/v2/port_lists/"+pl1, map[string]any{"port_list": map[string]any{"port_range": "T:22,80,443"}}), 200, "update port list")
	if r := c.do("GET", "/v2/port_lists/"+pl1, nil); r.data()["port_range"] != "T:22,80,443" {
		t.Errorf("updated port list: %s", r.Raw)
	}
	mustStatus(t, c.do("DELETE", "/v2/port_lists/"+pl1, nil), 200, "delete port list")
	mustStatus(t, c.do("DELETE", "/v2/port_lists", map[string]any{"ids": []string{pl2, pl3}}), 200, "bulk delete port lists")
	for _, pl := range []string{pl1, pl2, pl3} {
		mustStatus(t, c.do("GET", "/v2/port_lists/"+pl, nil), 404, "deleted port list")
	}

	cr1 := mk("/v2/credentials", "credential", map[string]any{"name": "edit-1", "type": "ssh", "username": "a", "password": "pw-edit-1"})
	cr2 := mk("/v2/credentials", "credential", map[string]any{"name": "edit-2", "type": "ssh", "username": "b", "password": "pw-edit-2"})
	mustStatus(t, c.do("DELETE", "/v2/credentials?ids[]="+cr1+"&ids[]="+cr2, nil), 200, "bulk delete credentials")
	for _, cr := range []string{cr1, cr2} {
		mustStatus(t, c.do("GET", "/v2/credentials/"+cr, nil), 404, "deleted credential")
	}

	tg := mk("/v2/targets", "target", map[string]any{"name": "edit-target", "hosts": "192.0.2.77"})
	sc := mk("/v2/scans", "scan", map[string]any{"name": "edit-scan", "target_id": tg})
	mustStatus(t, c.do("DELETE", "/v2/scans/"+sc, nil), 200, "delete scan")
	mustStatus(t, c.do("GET", "/v2/scans/"+sc, nil), 404, "deleted scan")
	mustStatus(t, c.do("DELETE", "/v2/targets/"+tg, nil), 200, "delete target")
	mustStatus(t, c.do("GET", "/v2/targets/"+tg, nil), 404, "deleted target")
}
