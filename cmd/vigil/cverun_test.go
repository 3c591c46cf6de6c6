package main

import (
	"strings"
	"testing"

	"github.com/vigilscan/vigil/internal/testenv"
)

// TestScanRunCVEFindings: with the sample's feeds imported, a scan of an
// OpenSSH banner with a Debian 12 revision reports, through the API, the
// CVEs the Debian tracker says that revision still has (confidence 80) and
// not those Debian fixed by backport, such as CVE-2024-6387 (fixed in
// deb12u3).
func TestScanRunCVEFindings(t *testing.T) {
	dir := testenv.VulnDB(t)
	ts := startServer(t, "sqlite", "--scan-rate", "50000")
	if out, err := runCLI(t, ts.args("feeds", "import", "--no-progress", dir)...); err != nil {
		t.Fatalf("feeds import: %v\n%s", err, out)
	}
	c := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	const host = "127.0.4.11"
	bannerServer(t, host+":2222", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
	r := c.do("POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "ssh", "port_range": "T:2222"}})
	mustStatus(t, r, 201, "port list")
	r = c.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "ssh", "hosts": host,
		"port_list_id": id(r.data()), "alive_test": "consider_alive"}})
	mustStatus(t, r, 201, "target")
	r = c.do("POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "cve", "target_id": id(r.data())}})
	mustStatus(t, r, 201, "scan")
	scan := id(r.data())
	if run := runToEnd(t, c, scan); run["status"] != "Done" {
		t.Fatalf("run: %v", run)
	}
	cves := map[string]map[string]any{}
	for _, f := range c.do("GET", "/v2/scans/"+scan+"/vulnerabilities?per_page=100&q[nvt]=vigil.cve", nil).list() {
		cves[f["cve"].(string)] = f
	}
	if f := cves["CVE-2025-26465"]; f == nil || f["confidence"] != float64(80) || f["severity"].(float64) < 4 ||
		!strings.Contains(f["solution"].(string), "1:9.2p1-2+deb12u5") {
		t.Errorf("CVE-2025-26465 (fixed in deb12u5): %v", f)
	}
	if f := cves["CVE-2024-6387"]; f != nil {
		t.Errorf("CVE-2024-6387 is fixed in deb12u3 but reported: %v", f)
	}
	r = c.do("GET", "/v2/vulnerabilities?q[cve]=CVE-2025-26465&q[confidence_min]=80", nil)
	if len(r.list()) != 1 {
		t.Errorf("filter by cve and confidence: %s", r.Raw)
	}
	r = c.do("GET", "/v2/vulnerabilities?q[cve]=CVE-2025-26465&q[confidence_min]=81", nil)
	if len(r.list()) != 0 {
		t.Errorf("confidence_min above the finding's: %s", r.Raw)
	}
}
