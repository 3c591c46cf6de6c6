package main

import (
	"context"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
)

// seedResults reports results for the walkthrough's waiting run the way a
// scanner node does (claim, record, finish), straight through the store:
// the API test server runs no scanner.
func seedResults(t *testing.T, ts *testServer, fx *fixture) {
	ctx := context.Background()
	st, err := (&DBFlags{DataDir: ts.dataDir, Database: ts.database, MaxTargetHosts: 4096}).open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, _, err := st.ClaimRun(ctx, "local", "test-node", time.Minute)
	if err != nil || run == nil || run.ScanID != fx.scan {
		t.Fatalf("claim the walkthrough's run: %+v %v", run, err)
	}
	a := netip.MustParseAddr("192.0.2.10")
	b := &vigil.ResultBatch{
		Hosts: []vigil.HostResult{{Address: a, Status: "up", Reason: "syn-ack", OS: "Debian GNU/Linux"}},
		Ports: []vigil.PortResult{
			{Address: a, Port: 22, Protocol: "tcp", State: "open", Reason: "syn-ack", Service: "ssh", Product: "OpenSSH", Version: "9.2p1",
				CPE: []string{"cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*"}, Method: "banner", Confidence: 10},
			{Address: a, Port: 443, Protocol: "tcp", State: "open", Reason: "syn-ack", Service: "https", Method: "probed", Confidence: 10,
				TLS: `{"version":"TLS 1.3","cipher_suite":"TLS_AES_128_GCM_SHA256","subject":"CN=x","issuer":"CN=x","not_before":"2026-01-01T00:00:00Z","not_after":"2027-01-01T00:00:00Z","self_signed":true,"sha256":"ab"}`},
			{Address: a, Port: 23, Protocol: "tcp", State: "open", Reason: "syn-ack", Service: "telnet", Method: "banner", Confidence: 8},
		},
		Findings: []vigil.FindingResult{
			{Address: a, Port: 22, Protocol: "tcp", CheckID: "vigil.open-port", Name: "Open port", QoD: 95, Evidence: "22/tcp open"},
			{Address: a, Port: 23, Protocol: "tcp", CheckID: "vigil.telnet-exposed", Name: "Telnet service exposed", Severity: 6.5,
				CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N", QoD: 80, Evidence: "23/tcp: telnet"},
			{Address: a, Port: 443, Protocol: "tcp", CheckID: "vigil.tls-self-signed", Name: "Self-signed TLS certificate", Severity: 6.5, QoD: 80},
		},
	}
	if err := st.RecordResults(ctx, run.ID, "test-node", b); err != nil {
		t.Fatal(err)
	}
	done := &vigil.ResultBatch{Hosts: []vigil.HostResult{{Address: a, Done: true, Open: 3}}}
	if err := st.RecordResults(ctx, run.ID, "test-node", done); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(ctx, run.ID, "test-node", vigil.StatusDone, ""); err != nil {
		t.Fatal(err)
	}
	fx.run = run.ID
	hosts, _, err := st.FindHosts(ctx, ts.orgIDOf(t), vigil.ListOptions{Page: 1, PerPage: 1})
	if err != nil || len(hosts) != 1 {
		t.Fatalf("seeded host: %v %v", hosts, err)
	}
	fx.host = hosts[0].ID
	fs, _, err := st.FindFindings(ctx, ts.orgIDOf(t), fx.scan, vigil.ListOptions{Page: 1, PerPage: 1,
		Filters: []vigil.Filter{{Column: "nvt", Kind: vigil.FilterExact, Value: "vigil.telnet-exposed"}}})
	if err != nil || len(fs) != 1 {
		t.Fatalf("seeded finding: %v %v", fs, err)
	}
	fx.finding = fs[0].ID
}

// orgIDOf is the organization created on first start.
func (ts *testServer) orgIDOf(t *testing.T) string {
	if ts.orgID == "" {
		t.Fatal("the test server's organization id is unknown")
	}
	return ts.orgID
}

// resultsWalkthrough reads the seeded results through every results route.
func resultsWalkthrough(t *testing.T, c *client, fx fixture) {
	r := c.do("GET", "/v2/hosts", nil)
	if r.Status != 200 || len(r.list()) != 1 {
		t.Fatalf("hosts: %s", r.Raw)
	}
	h := r.list()[0]
	if h["ip"] != "192.0.2.10" || h["os"] != "Debian GNU/Linux" || h["vulnerabilities_count"] != float64(2) || h["severity"] != 6.5 ||
		h["severity_class"] != "medium" || h["pci_failures"] != float64(2) {
		t.Errorf("host: %v", h)
	}
	r = c.do("GET", "/v2/hosts/"+fx.host, nil)
	d := r.data()
	if r.Status != 200 || len(d["services"].([]any)) != 3 || len(d["vulnerabilities"].([]any)) != 3 || len(d["history"].([]any)) != 1 {
		t.Fatalf("host details: %s", r.Raw)
	}
	var tlsSeen bool
	for _, sv := range d["services"].([]any) {
		if tl, ok := sv.(map[string]any)["tls"].(map[string]any); ok && tl["self_signed"] == true && tl["version"] == "TLS 1.3" {
			tlsSeen = true
		}
	}
	if !tlsSeen {
		t.Errorf("host services lack the TLS summary: %s", r.Raw)
	}
	r = c.do("GET", "/v2/hosts/most_vulnerable?limit=5", nil)
	if r.Status != 200 || len(r.Body["data"].([]any)) != 1 {
		t.Errorf("most vulnerable: %s", r.Raw)
	}
	q := url.Values{"q[severity]": {"medium"}, "q[status]": {"open"}, "sort_by": {"-port"}}
	r = c.do("GET", "/v2/vulnerabilities?"+q.Encode(), nil)
	if r.Status != 200 || len(r.list()) != 2 || r.list()[0]["port"] != "443/tcp" || r.list()[1]["nvt"] != "vigil.telnet-exposed" {
		t.Fatalf("vulnerabilities filtered: %s", r.Raw)
	}
	r = c.do("GET", "/v2/vulnerabilities/"+fx.finding, nil)
	if v := r.data(); r.Status != 200 || v["severity_class"] != "medium" || v["pci_fail"] != true || v["status"] != "open" ||
		v["host"].(map[string]any)["ip"] != "192.0.2.10" || v["last_history_id"] != fx.run {
		t.Errorf("vulnerability: %s", r.Raw)
	}
	for _, bad := range []string{"q[severity]=critical", "q[cvss_min]=high", "q[first_seen_after]=yesterday", "q[nope]=1", "sort_by=evidence"} {
		if r := c.do("GET", "/v2/vulnerabilities?"+bad, nil); r.Status != 422 {
			t.Errorf("GET /v2/vulnerabilities?%s: %d, want 422", bad, r.Status)
		}
	}
	r = c.do("GET", "/v2/vulnerabilities?q[cvss_min]=6.5&q[cvss_max]=6.5&q[first_seen_after]=2000-01-01", nil)
	if r.Status != 200 || len(r.list()) != 2 {
		t.Errorf("cvss range: %s", r.Raw)
	}
	if d := c.do("GET", "/v2/vulnerabilities/total", nil).data(); d["medium"] != float64(2) || d["log"] != float64(1) || d["total"] != float64(2) ||
		d["hosts"] != float64(1) || len(d["trend"].([]any)) != 1 {
		t.Errorf("total widget: %v", d)
	}
	r = c.do("GET", "/v2/vulnerabilities/top?by=risk&limit=1", nil)
	if top := r.Body["data"].([]any); r.Status != 200 || len(top) != 1 || top[0].(map[string]any)["hosts"] != float64(1) {
		t.Errorf("top widget: %s", r.Raw)
	}
	if d := c.do("GET", "/v2/vulnerabilities/pci_compliant", nil).data(); d["compliant"] != false || d["hosts_failing"] != float64(1) {
		t.Errorf("pci widget: %v", d)
	}
	scan := "/v2/scans/" + fx.scan
	r = c.do("GET", scan+"/hosts", nil)
	if r.Status != 200 || len(r.list()) != 1 || r.list()[0]["ports_open"] != float64(3) || r.list()[0]["done"] != true {
		t.Errorf("scan hosts: %s", r.Raw)
	}
	r = c.do("GET", scan+"/hosts/"+fx.host, nil)
	if r.Status != 200 || len(r.data()["services"].([]any)) != 3 || len(r.data()["vulnerabilities"].([]any)) != 3 {
		t.Errorf("scan host: %s", r.Raw)
	}
	r = c.do("GET", scan+"/vulnerabilities?q[nvt]=vigil.open-port", nil)
	if r.Status != 200 || len(r.list()) != 1 || r.list()[0]["severity_class"] != "log" {
		t.Errorf("scan vulnerabilities: %s", r.Raw)
	}
	mustStatus(t, c.do("GET", scan+"/vulnerabilities/"+fx.finding, nil), 200, "scan vulnerability")
	r = c.do("GET", scan+"/statistics", nil)
	if d := r.data(); r.Status != 200 || d["medium"] != float64(2) || d["compliance"] != false || len(d["by_port"].([]any)) != 3 ||
		len(d["by_host"].([]any)) != 1 || d["history_id"] != fx.run {
		t.Errorf("statistics: %s", r.Raw)
	}
	r = c.do("GET", scan+"/histories/"+fx.run, nil)
	if d := r.data(); r.Status != 200 || d["status"] != "Done" || d["compliance"] != false ||
		d["diff"].(map[string]any)["new"] != float64(3) || d["severity"].(map[string]any)["medium"] != float64(2) {
		t.Errorf("history with diff: %s", r.Raw)
	}
	r = c.do("GET", scan+"/histories/"+fx.run+"/diff?q[change]=new&q[severity]=log", nil)
	if r.Status != 200 || len(r.list()) != 1 || r.list()[0]["change"] != "new" {
		t.Errorf("diff: %s", r.Raw)
	}
	if d := c.do("GET", scan, nil).data(); d["status"] != "Done" || d["progress"] != float64(100) {
		t.Errorf("scan after its run: %v", d)
	}
}
