package checks

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// Versions whose support ended. A version matches a branch when it equals
// it or continues it with a dot ("2.2" covers 2.2.34, not 2.20). Dates are
// the vendors' published end of support (for Debian, the end of LTS); the
// check compares them with the scan's clock, so a branch becomes a finding
// on the day its support ends without a new release of Vigil.
type eolBranch struct {
	product  string // lower-case substring of the detected product name
	branches []string
	ends     string // YYYY-MM-DD
	ref      string
}

var eolProducts = []eolBranch{
	{"apache httpd", []string{"1.3", "2.0"}, "2010-07-10", "https://httpd.apache.org/"},
	{"apache httpd", []string{"2.2"}, "2017-12-31", "https://httpd.apache.org/"},
	{"php", []string{"5", "7.0", "7.1", "7.2", "7.3", "7.4"}, "2022-11-28", "https://www.php.net/eol.php"},
	{"php", []string{"8.0"}, "2023-11-26", "https://www.php.net/eol.php"},
	{"php", []string{"8.1"}, "2025-12-31", "https://www.php.net/eol.php"},
	{"php", []string{"8.2"}, "2026-12-31", "https://www.php.net/eol.php"},
	{"openssl", []string{"0.9", "1.0.0", "1.0.1"}, "2016-12-31", "https://openssl-library.org/policies/releasestrat/"},
	{"openssl", []string{"1.0.2"}, "2019-12-31", "https://openssl-library.org/policies/releasestrat/"},
	{"openssl", []string{"1.1.0"}, "2019-09-11", "https://openssl-library.org/policies/releasestrat/"},
	{"openssl", []string{"1.1.1"}, "2023-09-11", "https://openssl-library.org/policies/releasestrat/"},
	{"openssl", []string{"3.0"}, "2026-09-07", "https://openssl-library.org/policies/releasestrat/"},
	{"postgresql", []string{"8", "9", "10"}, "2022-11-10", "https://www.postgresql.org/support/versioning/"},
	{"postgresql", []string{"11"}, "2023-11-09", "https://www.postgresql.org/support/versioning/"},
	{"postgresql", []string{"12"}, "2024-11-21", "https://www.postgresql.org/support/versioning/"},
	{"postgresql", []string{"13"}, "2025-11-13", "https://www.postgresql.org/support/versioning/"},
	{"postgresql", []string{"14"}, "2026-11-12", "https://www.postgresql.org/support/versioning/"},
	{"mysql", []string{"5.0", "5.1", "5.5", "5.6"}, "2021-02-28", "https://www.mysql.com/support/eol-notice.html"},
	{"mysql", []string{"5.7"}, "2023-10-31", "https://www.mysql.com/support/eol-notice.html"},
	{"mysql", []string{"8.0"}, "2026-04-30", "https://www.mysql.com/support/eol-notice.html"},
	{"mariadb", []string{"5.5", "10.0", "10.1", "10.2", "10.3"}, "2023-05-25", "https://mariadb.org/about/#maintenance-policy"},
	{"mariadb", []string{"10.4"}, "2024-06-18", "https://mariadb.org/about/#maintenance-policy"},
	{"mariadb", []string{"10.5"}, "2025-06-24", "https://mariadb.org/about/#maintenance-policy"},
	{"isc bind", []string{"9.9", "9.10", "9.11", "9.12", "9.13", "9.14", "9.15"}, "2022-03-31", "https://kb.isc.org/docs/aa-00896"},
	{"isc bind", []string{"9.16"}, "2024-04-30", "https://kb.isc.org/docs/aa-00896"},
	{"mongodb", []string{"3", "4.0", "4.2"}, "2023-04-30", "https://www.mongodb.com/legal/support-policy/lifecycles"},
	{"mongodb", []string{"4.4"}, "2024-02-29", "https://www.mongodb.com/legal/support-policy/lifecycles"},
	{"mongodb", []string{"5.0"}, "2024-10-31", "https://www.mongodb.com/legal/support-policy/lifecycles"},
	{"mongodb", []string{"6.0"}, "2025-07-31", "https://www.mongodb.com/legal/support-policy/lifecycles"},
	{"elasticsearch", []string{"1", "2", "5", "6"}, "2022-02-10", "https://www.elastic.co/support/eol"},
	{"elasticsearch", []string{"7"}, "2026-01-15", "https://www.elastic.co/support/eol"},
	{"microsoft iis", []string{"5.0", "6.0"}, "2015-07-14", "https://learn.microsoft.com/en-us/lifecycle/products/"},
	{"microsoft iis", []string{"7.0", "7.5"}, "2020-01-14", "https://learn.microsoft.com/en-us/lifecycle/products/"},
}

// Debian releases by the codename ParseDistroBuild finds in a banner, with
// the end of their long-term support.
var eolDebian = map[string]struct{ version, ends string }{
	"jessie":   {"8", "2020-06-30"},
	"stretch":  {"9", "2022-06-30"},
	"buster":   {"10", "2024-06-30"},
	"bullseye": {"11", "2026-08-31"},
	"bookworm": {"12", "2028-06-30"},
	"trixie":   {"13", "2030-06-30"},
}

func init() {
	register(
		&Check{ID: "vigil.eol-software", Name: "Software version is end of life", Family: "End of life",
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "The service reports a version whose vendor support has ended: security flaws found since are not fixed.",
			Impact:      "Vulnerabilities published after the end of support stay open for good; PCI DSS fails unsupported software.",
			Solution:    "Upgrade to a supported release of the product.",
			Evidence:    "the detected product and version, the branch and the end-of-support date with its source",
			QoD:         80,
			Applies: func(ps scan.PortService) bool {
				return ps.Service.Version != "" || productVersions.MatchString(ps.Service.Banner)
			},
			Run: runEOLSoftware},
		&Check{ID: "vigil.eol-os-debian", Name: "Debian release is end of life", Family: "End of life",
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "A service's version string names a Debian release whose security support, long-term support included, has ended.",
			Impact:      "Packages of the release get no more security updates.",
			Solution:    "Upgrade the host to a supported Debian release.",
			References:  []string{"https://wiki.debian.org/LTS"},
			Evidence:    "the version string, the release and the end of its LTS",
			QoD:         80,
			Applies:     func(ps scan.PortService) bool { return ps.Service.Banner != "" || ps.Service.Version != "" },
			Run:         runEOLDebian},
	)
}

// productVersions finds "Product/1.2.3" pairs in a banner or Server
// header (Apache/2.2.34 (Unix) OpenSSL/1.0.2k PHP/5.6.40).
var productVersions = regexp.MustCompile(`(?i)\b(apache|openssl|php|microsoft-iis)/(\d+(?:\.\d+)*)`)

// branchOf reports whether version is branch or a release of it.
func branchOf(version, branch string) bool {
	return version == branch || strings.HasPrefix(version, branch+".")
}

func eolFor(product, version string, now time.Time) (eolBranch, string, bool) {
	p := strings.ToLower(product)
	for _, e := range eolProducts {
		if !strings.Contains(p, e.product) {
			continue
		}
		for _, b := range e.branches {
			if !branchOf(version, b) {
				continue
			}
			ends, _ := time.Parse(time.DateOnly, e.ends)
			return e, b, !now.Before(ends.AddDate(0, 0, 1))
		}
	}
	return eolBranch{}, "", false
}

// versionOnly cuts a detected version to its numeric release ("2.2.34" of
// "2.2.34-Debian", "5.7.44" of "5.7.44-log").
var versionOnly = regexp.MustCompile(`^\d+(?:\.\d+)*`)

func runEOLSoftware(_ context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	type pv struct{ product, version string }
	cands := []pv{{ps.Service.Product, versionOnly.FindString(ps.Service.Version)}}
	for _, m := range productVersions.FindAllStringSubmatch(ps.Service.Banner, -1) {
		name := strings.ToLower(m[1])
		switch name {
		case "apache":
			name = "apache httpd"
		case "microsoft-iis":
			name = "microsoft iis"
		}
		cands = append(cands, pv{name, m[2]})
	}
	var found []string
	seen := map[string]bool{}
	for _, c := range cands {
		if c.product == "" || c.version == "" {
			continue
		}
		e, branch, ended := eolFor(c.product, c.version, t.Now)
		key := e.product + " " + branch
		if !ended || seen[key] {
			continue
		}
		seen[key] = true
		found = append(found, fmt.Sprintf("%s %s: branch %s support ended %s (%s)", c.product, c.version, branch, e.ends, e.ref))
	}
	if len(found) == 0 {
		return "", false, nil
	}
	return strings.Join(found, "; "), true, nil
}

func runEOLDebian(_ context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	for _, s := range []string{ps.Service.Banner, ps.Service.Version, ps.Service.ExtraInfo} {
		b, ok := vulnmatch.ParseDistroBuild(s)
		if !ok || b.Distro != "debian" || b.Release == "" {
			continue
		}
		rel, known := eolDebian[b.Release]
		if !known {
			continue
		}
		ends, _ := time.Parse(time.DateOnly, rel.ends)
		if t.Now.Before(ends.AddDate(0, 0, 1)) {
			return "", false, nil
		}
		return fmt.Sprintf("%q names Debian %s (%s), whose LTS ended %s", firstLine(s), rel.version, b.Release, rel.ends), true, nil
	}
	return "", false, nil
}
