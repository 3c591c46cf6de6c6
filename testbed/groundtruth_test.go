package testbed_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil/internal/testenv"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/checks"
	"github.com/vigilscan/vigil/testbed"
)

// groundTruthPorts are the ports the ground-truth daemons listen on.
const groundTruthPorts = "T:21,22,25,53,80,443,3306,5432,6379,8080,11211,U:53,161"

// expectedFindings is the ground truth: the findings each daemon's
// vulnerable configuration must produce, by port. The safe configuration
// of the same daemon must produce none of them; the only findings it may
// have are those in expectedOnSafe.
var expectedFindings = map[int]map[string][]string{
	testbed.GTSSH: {"22/tcp": {"vigil.ssh-weak-kex", "vigil.ssh-weak-hostkey", "vigil.ssh-weak-cipher", "vigil.ssh-weak-mac", "vigil.ssh-password-auth"}},
	testbed.GTWeb: {
		"80/tcp":   {"vigil.http-directory-listing", "vigil.http-security-headers", "vigil.http-version-disclosure"},
		"8080/tcp": {"vigil.http-default-page", "vigil.http-security-headers", "vigil.http-version-disclosure"},
		// Debian's OpenSSL has no RC4 or 3DES at any security level, so
		// vigil.tls-weak-cipher is proved against Go servers (scan/checks).
		"443/tcp": {"vigil.tls-v1.0-enabled", "vigil.tls-v1.1-enabled", "vigil.tls-cert-not-yet-valid",
			"vigil.tls-rsa-key-short", "vigil.tls-cert-sha1", "vigil.tls-self-signed", "vigil.http-security-headers", "vigil.http-version-disclosure"},
	},
	testbed.GTFTP:       {"21/tcp": {"vigil.ftp-anonymous", "vigil.ftp-cleartext"}},
	testbed.GTRedis:     {"6379/tcp": {"vigil.redis-noauth", "vigil.database-exposed"}},
	testbed.GTMemcached: {"11211/tcp": {"vigil.memcached-noauth", "vigil.database-exposed"}},
	testbed.GTDNS:       {"53/tcp": {"vigil.dns-open-recursion", "vigil.dns-zone-transfer"}, "53/udp": {"vigil.dns-open-recursion"}},
	testbed.GTSNMP:      {"161/udp": {"vigil.snmp-default-community"}},
	testbed.GTSMTP:      {"25/tcp": {"vigil.smtp-open-relay"}},
	testbed.GTPostgres:  {"5432/tcp": {"vigil.postgresql-default-credentials", "vigil.database-exposed"}},
	testbed.GTMariaDB:   {"3306/tcp": {"vigil.mysql-default-credentials", "vigil.database-exposed"}},
}

// expectedOnSafe: a database that answers on the network is itself a
// finding (PCI DSS fails it), however well it is configured.
var expectedOnSafe = map[int]map[string][]string{
	testbed.GTRedis:     {"6379/tcp": {"vigil.database-exposed"}},
	testbed.GTMemcached: {"11211/tcp": {"vigil.database-exposed"}},
	testbed.GTPostgres:  {"5432/tcp": {"vigil.database-exposed"}},
	testbed.GTMariaDB:   {"3306/tcp": {"vigil.database-exposed"}},
}

func requireGroundTruth(t *testing.T) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "the ground-truth testbed needs root (daemons bind privileged ports)"
	} else if m := testbed.GroundTruthMissing(); len(m) > 0 {
		why = "ground-truth packages missing: " + strings.Join(m, ", ") + " (install them as .ci/run does)"
	}
	if why != "" {
		testenv.Unavailable(t, why)
	}
}

func expectedSet(octet func(int) string, table map[int]map[string][]string) map[string]bool {
	out := map[string]bool{}
	for daemon, ports := range table {
		for port, ids := range ports {
			for _, id := range ids {
				out[octet(daemon)+" "+port+" "+id] = true
			}
		}
	}
	return out
}

// scanFindings scans hosts with service detection and every check, and
// returns "host port/proto check" of each finding (open-port and CVE
// findings left out: they are not checks).
func scanFindings(t *testing.T, hosts []string, ports string) map[string]bool {
	t.Helper()
	cfg := scan.DefaultConfig()
	cfg.Hosts, cfg.Ports, cfg.Rate, cfg.ProgressEvery = strings.Join(hosts, ","), ports, 0, 0
	cfg.AliveTest = "consider_alive"
	cfg.Scope, _ = scan.ParseScope("127.0.0.0/8")
	cfg.ServiceDetection, cfg.DetectService = true, detector(t).Detect
	runner := &checks.Runner{OnError: func(addr netip.Addr, port int, id string, err error) {
		t.Logf("undecided: %s:%d %s: %v", addr, port, id, err)
	}}
	cfg.Checks, cfg.CheckTimeout = runner.Run, 2*time.Minute
	s, err := scan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for ev := range s.Run(ctx) {
		switch ev.Type {
		case scan.EventFinding:
			got[fmt.Sprintf("%s %d/%s %s", ev.Host, ev.Finding.Port, ev.Finding.Protocol, ev.Finding.CheckID)] = true
		case scan.EventService:
			for _, f := range scan.ServiceFindings(ev.Host, ev.Port, ev.Protocol, ev.Service, time.Now()) {
				got[fmt.Sprintf("%s %d/%s %s", ev.Host, f.Port, f.Protocol, f.CheckID)] = true
			}
		case scan.EventError:
			t.Logf("scan error: %s:%d %s", ev.Host, ev.Port, ev.Message)
		}
	}
	return got
}

// TestGroundTruth scans every daemon configured vulnerable and configured
// safely and compares the findings with the ground truth written above:
// recall must be 100 % and there must be no false positive.
func TestGroundTruth(t *testing.T) {
	requireGroundTruth(t)
	start := time.Now()
	gt, err := testbed.StartGroundTruth(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gt.Stop)
	if len(gt.Skipped) > 0 {
		t.Fatalf("ground-truth daemons did not start: %s", strings.Join(gt.Skipped, "\n"))
	}
	t.Logf("ground truth started in %s: %d services", time.Since(start).Round(time.Millisecond), len(gt.Services))

	start = time.Now()
	got := scanFindings(t, gt.Hosts(), groundTruthPorts)
	elapsed := time.Since(start)
	want := expectedSet(testbed.VulnHost, expectedFindings)
	for k := range expectedSet(testbed.SafeHost, expectedOnSafe) {
		want[k] = true
	}
	var missed, extra []string
	for k := range want {
		if !got[k] {
			missed = append(missed, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missed)
	sort.Strings(extra)
	vuln := expectedSet(testbed.VulnHost, expectedFindings)
	found := 0
	for k := range vuln {
		if got[k] {
			found++
		}
	}
	t.Logf("ground truth: recall %d/%d (%.0f %%), false positives %d, scan of %d hosts in %s",
		found, len(vuln), 100*float64(found)/float64(len(vuln)), len(extra), len(gt.Hosts()), elapsed.Round(time.Millisecond))
	if len(missed) > 0 {
		t.Errorf("missed (a check silent on a vulnerable service):\n  %s", strings.Join(missed, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("false positives (a finding not in the ground truth):\n  %s", strings.Join(extra, "\n  "))
	}
}
