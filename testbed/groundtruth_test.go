package testbed_test

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/checks"
	"github.com/vigilscan/vigil/testbed"
)

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
	requireDaemons(t, "the ground-truth testbed", testbed.GroundTruthMissing())
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
	got := scanFindings(t, gt.Hosts(), testbed.GroundTruthPorts)
	elapsed := time.Since(start)
	want := expectedSet(testbed.VulnHost, testbed.Expected)
	for k := range expectedSet(testbed.SafeHost, testbed.ExpectedOnSafe) {
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
	vuln := expectedSet(testbed.VulnHost, testbed.Expected)
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
