package storetest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/store"
)

var (
	addrA = netip.MustParseAddr("192.0.2.10")
	addrB = netip.MustParseAddr("192.0.2.9")
)

// runOnce claims the scan's new run and reports batches, then finishes it
// with status.
func runOnce(t *testing.T, s *store.Store, orgID, scanID string, status vigil.ScanStatus, batches ...*vigil.ResultBatch) *vigil.Run {
	t.Helper()
	if _, err := s.StartScan(ctx, orgID, scanID); err != nil {
		t.Fatal(err)
	}
	run, _, err := s.ClaimRun(ctx, "local", "node", time.Minute)
	if err != nil || run == nil {
		t.Fatalf("claim: %v %v", run, err)
	}
	for _, b := range batches {
		if err := s.RecordResults(ctx, run.ID, "node", b); err != nil {
			t.Fatalf("record: %v", err)
		}
	}
	if err := s.FinishRun(ctx, run.ID, "node", status, ""); err != nil {
		t.Fatal(err)
	}
	r, err := s.FindRunByID(ctx, orgID, scanID, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openPort(a netip.Addr, port int) vigil.FindingResult {
	return vigil.FindingResult{Address: a, Port: port, Protocol: "tcp", CheckID: "vigil.open-port", Name: "Open port", Evidence: fmt.Sprint(port)}
}

func telnet(a netip.Addr) vigil.FindingResult {
	return vigil.FindingResult{Address: a, Port: 23, Protocol: "tcp", CheckID: "vigil.telnet", Name: "Telnet exposed", Severity: 6.5,
		CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N", Evidence: "banner"}
}

func hostBatch(a netip.Addr, fs ...vigil.FindingResult) *vigil.ResultBatch {
	b := &vigil.ResultBatch{Hosts: []vigil.HostResult{{Address: a, Status: "up", Reason: "syn-ack", OS: "Debian"}}}
	for _, f := range fs {
		b.Ports = append(b.Ports, vigil.PortResult{Address: a, Port: f.Port, Protocol: "tcp", State: "open", Reason: "syn-ack"})
		b.Findings = append(b.Findings, f)
	}
	// The service arrives after the port, in the same batch here.
	b.Ports = append(b.Ports, vigil.PortResult{Address: a, Port: 22, Protocol: "tcp", Service: "ssh", Product: "OpenSSH",
		Version: "9.2p1", CPE: []string{"cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*"}, Method: "banner", Confidence: 10})
	return b
}

func doneBatch(a netip.Addr, open int) *vigil.ResultBatch {
	return &vigil.ResultBatch{Hosts: []vigil.HostResult{{Address: a, Done: true, Open: open}}}
}

// testResultsAcrossRuns: findings are new, unchanged, fixed (only by a Done
// run that finished the host) and reopened across runs; aggregates follow.
func testResultsAcrossRuns(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	other := mustOrg(t, s, "Other")
	tg := mustTarget(t, s, org.ID, "lan", "192.0.2.9-10")
	sc, err := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr("weekly"), TargetID: &tg.ID})
	if err != nil {
		t.Fatal(err)
	}

	// Run 1: A has ssh and telnet; B has ssh. Results come in two batches.
	r1 := runOnce(t, s, org.ID, sc.ID, vigil.StatusDone,
		hostBatch(addrA, openPort(addrA, 22), openPort(addrA, 23), telnet(addrA)),
		hostBatch(addrB, openPort(addrB, 22)),
		&vigil.ResultBatch{Hosts: []vigil.HostResult{{Address: addrA, Done: true, Open: 2}, {Address: addrB, Done: true, Open: 1}}})
	if r1.Counts != (vigil.SeverityCounts{Medium: 1, Log: 3}) || r1.Compliant == nil || *r1.Compliant {
		t.Fatalf("run 1 counts %+v compliant %v", r1.Counts, r1.Compliant)
	}
	if d, err := s.RunDiff(ctx, org.ID, sc.ID, r1.ID); err != nil || *d != (vigil.RunDiff{New: 4}) {
		t.Fatalf("run 1 diff %+v %v", d, err)
	}
	hosts, total, err := s.FindHosts(ctx, org.ID, vigil.ListOptions{Page: 1, PerPage: 10})
	if err != nil || total != 2 || hosts[0].IP != "192.0.2.9" || hosts[1].IP != "192.0.2.10" {
		t.Fatalf("hosts sort by address numerically: %v %d %v", hosts, total, err)
	}
	a := hosts[1]
	if a.Counts != (vigil.SeverityCounts{Medium: 1, Log: 2}) || a.MaxSeverity != 6.5 || a.PCIFailures != 1 || a.OS != "Debian" {
		t.Fatalf("host A aggregates: %+v", a)
	}
	detail, err := s.FindHostDetail(ctx, org.ID, a.ID)
	if err != nil || len(detail.Ports) != 2 || detail.Ports[0].Port != 22 || detail.Ports[0].Product != "OpenSSH" ||
		detail.Ports[0].State != "open" || len(detail.Ports[0].CPE) != 1 || len(detail.Findings) != 3 || len(detail.History) != 1 {
		t.Fatalf("host detail: %+v %v", detail, err)
	}
	if pci, _ := s.PCISummary(ctx, org.ID); pci.Compliant || pci.HostsFailing != 1 || pci.HostsPassing != 1 {
		t.Fatalf("pci: %+v", pci)
	}
	if top, _ := s.TopVulns(ctx, org.ID, "hosts", 10); len(top) != 1 || top[0].CheckID != "vigil.telnet" || top[0].Hosts != 1 {
		t.Fatalf("top: %+v", top)
	}

	// Run 2: telnet is gone from A; B is down (not reported): its finding stays open.
	r2 := runOnce(t, s, org.ID, sc.ID, vigil.StatusDone, hostBatch(addrA, openPort(addrA, 22)), doneBatch(addrA, 1))
	d2, _ := s.RunDiff(ctx, org.ID, sc.ID, r2.ID)
	if *d2 != (vigil.RunDiff{Unchanged: 1, Fixed: 2}) {
		t.Fatalf("run 2 diff %+v", *d2)
	}
	fixed, n, err := s.FindFindings(ctx, org.ID, sc.ID, vigil.ListOptions{Page: 1, PerPage: 10,
		Filters: []vigil.Filter{{Column: "status", Kind: vigil.FilterExact, Value: "fixed"}}})
	if err != nil || n != 2 {
		t.Fatalf("fixed findings: %d %v", n, err)
	}
	for _, f := range fixed {
		if f.IP != "192.0.2.10" || f.FixedRunID != r2.ID || f.FixedAt == nil {
			t.Errorf("fixed finding %+v", f)
		}
	}
	if pci, _ := s.PCISummary(ctx, org.ID); !pci.Compliant {
		t.Fatalf("pci after fix: %+v", pci)
	}
	if top, _ := s.TopVulns(ctx, org.ID, "hosts", 10); len(top) != 0 {
		t.Fatalf("top after fix: %+v", top)
	}

	// Run 3 is stopped: a stopped run fixes nothing.
	r3 := runOnce(t, s, org.ID, sc.ID, vigil.StatusStopped, hostBatch(addrA), doneBatch(addrA, 0))
	if d, _ := s.RunDiff(ctx, org.ID, sc.ID, r3.ID); d.Fixed != 0 {
		t.Fatalf("stopped run fixed: %+v", d)
	}

	// Run 4: telnet is back: reopened.
	r4 := runOnce(t, s, org.ID, sc.ID, vigil.StatusDone, hostBatch(addrA, openPort(addrA, 22), openPort(addrA, 23), telnet(addrA)), doneBatch(addrA, 2))
	if d, _ := s.RunDiff(ctx, org.ID, sc.ID, r4.ID); *d != (vigil.RunDiff{Unchanged: 1, Reopened: 2}) {
		t.Fatalf("run 4 diff %+v", *d)
	}
	changed, n, err := s.FindRunDiff(ctx, org.ID, sc.ID, r4.ID, vigil.ListOptions{Page: 1, PerPage: 10,
		Filters: []vigil.Filter{{Column: "change", Kind: vigil.FilterExact, Value: "reopened"}}})
	if err != nil || n != 2 || changed[0].Change != vigil.ChangeReopened || changed[0].Status != vigil.FindingReopened ||
		changed[0].CheckID != "vigil.telnet" {
		t.Fatalf("run 4 reopened: %d %+v %v", n, changed, err)
	}

	// Lists: two filters and a sort; severity classes.
	list, n, err := s.FindFindings(ctx, org.ID, "", vigil.ListOptions{Page: 1, PerPage: 10,
		Filters: []vigil.Filter{{Column: "severity", Kind: vigil.FilterSeverity, Value: "medium,high"},
			{Column: "status", Kind: vigil.FilterExact, Value: "reopened"}}, Sort: []vigil.Sort{{Column: "ip", Desc: true}}})
	if err != nil || n != 1 || list[0].CheckID != "vigil.telnet" {
		t.Fatalf("filtered list: %d %v", n, err)
	}
	if _, n, _ := s.FindFindings(ctx, org.ID, "", vigil.ListOptions{Page: 1, PerPage: 10,
		Filters: []vigil.Filter{{Column: "cvss_min", Kind: vigil.FilterMin, Number: 7}}}); n != 0 {
		t.Fatalf("cvss_min 7: %d", n)
	}
	st, err := s.ScanStatistics(ctx, org.ID, sc.ID)
	// Statistics are the latest run's: B (down since run 1) is not in them.
	if err != nil || st.Counts != (vigil.SeverityCounts{Medium: 1, Log: 2}) || st.Compliant || st.PCIFails != 1 || st.Fixed != 0 ||
		len(st.ByPort) != 2 || len(st.ByHost) != 1 {
		t.Fatalf("statistics: %+v %v", st, err)
	}
	tot, err := s.VulnTotals(ctx, org.ID, 30)
	if err != nil || tot.Counts != (vigil.SeverityCounts{Medium: 1, Log: 3}) || tot.Hosts != 1 || len(tot.Trend) != 1 {
		t.Fatalf("totals: %+v %v", tot, err)
	}
	runHosts, n, err := s.FindRunHosts(ctx, org.ID, sc.ID, "", vigil.ListOptions{Page: 1, PerPage: 10})
	if err != nil || n != 1 || runHosts[0].IP != "192.0.2.10" || !runHosts[0].Done || runHosts[0].PortsOpen != 2 ||
		runHosts[0].Counts.Medium != 1 {
		t.Fatalf("run hosts: %d %+v %v", n, runHosts, err)
	}
	if _, _, fs, err := s.FindRunHostDetail(ctx, org.ID, sc.ID, a.ID); err != nil || len(fs) != 3 {
		t.Fatalf("run host detail: %v %v", fs, err)
	}

	// Another organization sees none of it.
	if _, n, _ := s.FindHosts(ctx, other.ID, vigil.ListOptions{Page: 1, PerPage: 10}); n != 0 {
		t.Errorf("other org hosts: %d", n)
	}
	wantCode(t, errOf(s.FindHostDetail(ctx, other.ID, a.ID)), vigil.ENOTFOUND)
	wantCode(t, errOf(s.FindFindingByID(ctx, other.ID, "", list[0].ID)), vigil.ENOTFOUND)
	wantCode(t, errOf(s.ScanStatistics(ctx, other.ID, sc.ID)), vigil.ENOTFOUND)
	if _, n, _ := s.FindFindings(ctx, other.ID, "", vigil.ListOptions{Page: 1, PerPage: 10}); n != 0 {
		t.Errorf("other org findings: %d", n)
	}
	if tot, _ := s.VulnTotals(ctx, other.ID, 30); tot.Counts != (vigil.SeverityCounts{}) {
		t.Errorf("other org totals: %+v", tot)
	}

	// Deleting the scan takes its findings and the aggregates they fed.
	if err := s.DeleteScans(ctx, org.ID, []string{sc.ID}); err != nil {
		t.Fatal(err)
	}
	if tot, _ := s.VulnTotals(ctx, org.ID, 30); tot.Counts != (vigil.SeverityCounts{}) {
		t.Errorf("totals after delete: %+v", tot)
	}
}

// testResultsRejectStaleNode: a node that lost its run cannot write to it.
func testResultsRejectStaleNode(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	tg := mustTarget(t, s, org.ID, "lan", "192.0.2.10")
	sc, _ := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr("s"), TargetID: &tg.ID})
	if _, err := s.StartScan(ctx, org.ID, sc.ID); err != nil {
		t.Fatal(err)
	}
	run, _, _ := s.ClaimRun(ctx, "local", "node", time.Minute)
	wantCode(t, s.RecordResults(ctx, run.ID, "intruder", hostBatch(addrA)), vigil.ECONFLICT)
	if _, n, _ := s.FindHosts(ctx, org.ID, vigil.ListOptions{Page: 1, PerPage: 10}); n != 0 {
		t.Fatalf("a rejected batch left %d hosts", n)
	}
}

// testTopVulnsMaintained: the Top Vulnerabilities rows, kept up to date by
// each batch's changes, always equal a count over the findings, through
// random runs of two scans that share hosts (a check open on several ports of
// a host, and in both scans, counts the host once), fixes, reopenings, a
// stopped run and a deleted scan.
func testTopVulnsMaintained(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	tg := mustTarget(t, s, org.ID, "lan", "192.0.2.1-192.0.2.6")
	var scans []string
	for _, name := range []string{"a", "b"} {
		sc, err := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr(name), TargetID: &tg.ID})
		if err != nil {
			t.Fatal(err)
		}
		scans = append(scans, sc.ID)
	}
	hosts := []netip.Addr{}
	for a := netip.MustParseAddr("192.0.2.1"); len(hosts) < 6; a = a.Next() {
		hosts = append(hosts, a)
	}
	want := func(step string) {
		t.Helper()
		var rows []struct {
			CheckID  string `bun:"check_id"`
			Hosts    int    `bun:"hosts"`
			Findings int    `bun:"findings"`
		}
		if err := s.DB().NewSelect().TableExpr("findings AS f").
			ColumnExpr("f.check_id, count(DISTINCT f.host_id) AS hosts, count(*) AS findings").
			Where("f.organization_id = ? AND f.status IN ('open', 'reopened') AND f.severity > 0", org.ID).
			GroupExpr("f.check_id").OrderExpr("hosts DESC, f.check_id").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		top, err := s.TopVulns(ctx, org.ID, "hosts", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(top) != len(rows) {
			t.Fatalf("%s: %d top rows, want %d: %+v", step, len(top), len(rows), rows)
		}
		got := map[string][2]int{}
		for _, v := range top {
			got[v.CheckID] = [2]int{v.Hosts, v.Findings}
		}
		for _, r := range rows {
			if got[r.CheckID] != [2]int{r.Hosts, r.Findings} {
				t.Fatalf("%s: %s has %v (hosts, findings), want %d, %d", step, r.CheckID, got[r.CheckID], r.Hosts, r.Findings)
			}
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range 12 {
		scanID := scans[i%2]
		status := vigil.StatusDone
		if i == 7 {
			status = vigil.StatusStopped
		}
		var batches []*vigil.ResultBatch
		for _, a := range hosts {
			b := hostBatch(a)
			b.Findings, b.Ports = nil, nil
			for c := range 4 {
				for _, port := range []int{80, 443} {
					if rnd.IntN(3) == 0 {
						b.Findings = append(b.Findings, vigil.FindingResult{Address: a, Port: port, Protocol: "tcp",
							CheckID: fmt.Sprintf("test.check-%d", c), Name: fmt.Sprintf("Check %d", c), Severity: float64(2 + c)})
					}
				}
			}
			batches = append(batches, b, doneBatch(a, 2))
		}
		runOnce(t, s, org.ID, scanID, status, batches...)
		want(fmt.Sprintf("run %d", i+1))
	}
	checkFindingPages(t, s, org.ID)
	if err := s.DeleteScans(ctx, org.ID, scans[:1]); err != nil {
		t.Fatal(err)
	}
	want("after deleting a scan")
}

// checkFindingPages: walking the pages of a finding list gives the one-page
// list, in order, whatever the sort and filter, with the same total.
func checkFindingPages(t *testing.T, s *store.Store, orgID string) {
	t.Helper()
	for _, o := range []vigil.ListOptions{
		{Sort: []vigil.Sort{{Column: "severity", Desc: true}}},
		{Sort: []vigil.Sort{{Column: "last_seen_at", Desc: true}}, Filters: []vigil.Filter{{Column: "port", Kind: vigil.FilterExact, Value: "443"}}},
		{Sort: []vigil.Sort{{Column: "ip"}}, Filters: []vigil.Filter{{Column: "status", Kind: vigil.FilterExact, Value: "fixed"}}},
		{Sort: []vigil.Sort{{Column: "name"}, {Column: "first_seen_at", Desc: true}}},
	} {
		o.Page, o.PerPage = 1, 1000
		all, total, err := s.FindFindings(ctx, orgID, "", o)
		if err != nil || total != len(all) || total < 10 {
			t.Fatalf("%+v: %d of %d, %v", o, len(all), total, err)
		}
		var walked []string
		for o.Page, o.PerPage = 1, 7; len(walked) < total && o.Page < 100; o.Page++ {
			page, n, err := s.FindFindings(ctx, orgID, "", o)
			if err != nil || n != total || len(page) == 0 {
				t.Fatalf("%+v: %d rows, total %d, %v", o, len(page), n, err)
			}
			for _, f := range page {
				walked = append(walked, f.ID)
			}
		}
		for i, f := range all {
			if i >= len(walked) || walked[i] != f.ID {
				t.Fatalf("%+v: page walk differs from the full list at %d", o, i)
			}
		}
	}
}

func errOf[T any](_ T, err error) error { return err }
