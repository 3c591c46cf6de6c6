package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilscan/vigil/internal/testenv"
	"github.com/vigilscan/vigil/scan/vulnmatch"
	"github.com/vigilscan/vigil/testbed"
)

// upgradeTo reads "Upgrade <package> to <version> or later." solutions.
var upgradeTo = regexp.MustCompile(`^Upgrade (\S+) to (\S+) or later\.$`)

// TestAuthenticatedScanBackportTrap is the backport trap on a real host:
// this machine's sshd on a loopback address, with a key the test creates
// for root. With the target's ssh credential, the scan reads the installed
// packages and reports only CVEs whose fix is newer than what is installed,
// never CVE-2024-6387 for Debian's patched OpenSSH; without it, the banner
// path reports CVE-2024-6387 only below the display threshold, or not at all.
func TestAuthenticatedScanBackportTrap(t *testing.T) {
	dir := testenv.VulnDB(t)
	testenv.RequireRoot(t, "the backport trap (sshd on a loopback address)")
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		testenv.Unavailable(t, "openssh-server is not installed (install it as .ci/run does)")
	}
	const host = "127.0.4.21"
	sshd, err := testbed.StartSSHD(context.Background(), t.TempDir(), host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sshd.Stop)
	installed := map[string]string{}
	out, err := exec.Command("dpkg-query", "-W", "-f=${source:Package} ${source:Version}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if src, ver, ok := strings.Cut(l, " "); ok {
			installed[src] = ver
		}
	}

	ts := startServer(t, "sqlite", "--scan-rate", "50000")
	if out, err := runCLI(t, ts.args("feeds", "import", "--no-progress", dir)...); err != nil {
		t.Fatalf("feeds import: %v\n%s", err, out)
	}
	c := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	r := c.do("POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "ssh", "port_range": "T:22"}})
	mustStatus(t, r, 201, "port list")
	ports := id(r.data())
	r = c.do("POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "root key", "type": "ssh", "username": "root",
		"private_key": sshd.RootKey}})
	mustStatus(t, r, 201, "credential")
	if strings.Contains(string(r.Raw), "OPENSSH PRIVATE KEY") {
		t.Fatal("the credential's private key came back in the response")
	}
	cred := id(r.data())
	scanOf := func(name string, credentials map[string]any) string {
		target := map[string]any{"name": name, "hosts": host, "port_list_id": ports, "alive_test": "consider_alive"}
		if credentials != nil {
			target["credentials"] = credentials
		}
		r := c.do("POST", "/v2/targets", map[string]any{"target": target})
		mustStatus(t, r, 201, "target "+name)
		r = c.do("POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": name, "target_id": id(r.data())}})
		mustStatus(t, r, 201, "scan "+name)
		s := id(r.data())
		if run := runToEnd(t, c, s); run["status"] != "Done" {
			t.Fatalf("run %s: %v", name, run)
		}
		return s
	}

	auth := scanOf("authenticated", map[string]any{"ssh": cred})
	inv := c.do("GET", "/v2/scans/"+auth+"/vulnerabilities?per_page=10&q[nvt]=vigil.auth-inventory", nil).list()
	if len(inv) != 1 {
		failed := c.do("GET", "/v2/scans/"+auth+"/vulnerabilities?per_page=10&q[nvt]=vigil.auth-failed", nil)
		t.Fatalf("no inventory finding (%d); auth failures: %s", len(inv), failed.Raw)
	}
	pkgFindings := c.do("GET", "/v2/scans/"+auth+"/vulnerabilities?per_page=500&q[nvt]=vigil.package-cve", nil).list()
	for _, f := range pkgFindings {
		if f["cve"] == "CVE-2024-6387" {
			t.Errorf("authenticated scan reports CVE-2024-6387 for Debian's patched OpenSSH: %v", f)
		}
		if f["confidence"] != float64(vulnmatch.ConfidencePackage) {
			t.Errorf("package finding at confidence %v: %v", f["confidence"], f)
		}
		m := upgradeTo.FindStringSubmatch(f["solution"].(string))
		if m == nil {
			continue // open in the tracker: no fixed version yet
		}
		have, ok := installed[m[1]]
		if !ok {
			t.Errorf("finding for %s, which this host does not have: %v", m[1], f)
			continue
		}
		if cmp, err := vulnmatch.CompareDebVersions(have, m[2]); err != nil || cmp >= 0 {
			t.Errorf("%s %s: installed %s already has the fix %s (a backport false positive)", m[1], f["cve"], have, m[2])
		}
	}
	for _, f := range c.do("GET", "/v2/scans/"+auth+"/vulnerabilities?per_page=500&q[nvt]=vigil.cve", nil).list() {
		if strings.Contains(f["name"].(string), "openssh") || f["cve"] == "CVE-2024-6387" {
			t.Errorf("banner finding for a package the authenticated scan judged: %v", f)
		}
	}
	t.Logf("authenticated: %v; %d package findings", inv[0]["evidence"], len(pkgFindings))
	for _, f := range pkgFindings {
		t.Logf("  %s %v confidence %v: %s", f["name"], f["severity"], f["confidence"], f["solution"])
	}

	banner := scanOf("banner only", nil)
	for _, f := range c.do("GET", "/v2/scans/"+banner+"/vulnerabilities?per_page=500&q[cve]=CVE-2024-6387", nil).list() {
		if conf, _ := f["confidence"].(float64); conf >= vulnmatch.DisplayThreshold {
			t.Errorf("banner-only scan reports CVE-2024-6387 at confidence %v (installed openssh %s): %v", conf, installed["openssh"], f)
		}
	}
}
