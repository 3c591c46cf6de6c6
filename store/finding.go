package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

var findingColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "severity": {expr: "severity"}, "cvss_min": {expr: "severity"}, "cvss_max": {expr: "severity"},
	"status": {expr: "status"}, "host_id": {expr: "host_id", uuid: true}, "ip": {expr: "ip_key", ip: true},
	"port": {expr: "port"}, "protocol": {expr: "protocol"}, "cve": {expr: "cve"}, "nvt": {expr: "check_id"},
	"scan_id": {expr: "scan_id", uuid: true}, "kev": {expr: "kev"}, "pci_fail": {expr: "pci_fail"}, "name": {expr: "name", text: true},
	"first_seen_after": {expr: "first_seen_at"}, "first_seen_before": {expr: "first_seen_at"},
	"last_seen_after": {expr: "last_seen_at"}, "last_seen_before": {expr: "last_seen_at"},
	"first_seen_at": {expr: "first_seen_at"}, "last_seen_at": {expr: "last_seen_at"},
	"epss": {expr: "epss"}, "epss_min": {expr: "epss"}, "confidence_min": {expr: "qod"},
}

// FindFindings lists the findings of orgID, of one scan when scanID is set.
func (s *Store) FindFindings(ctx context.Context, orgID, scanID string, opts vigil.ListOptions) ([]*vigil.Finding, int, error) {
	var rows []*findingRow
	q := s.db.NewSelect().Model(&rows).Where("f.organization_id = ?", orgID)
	if scanID != "" {
		if _, err := s.scanRun(ctx, orgID, scanID, ""); err != nil {
			return nil, 0, err
		}
		q = q.Where("f.scan_id = ?", scanID)
	}
	// Findings follow their scan's visibility.
	if opts.RestrictTo != "" || opts.Group != "" {
		scans := s.db.NewSelect().TableExpr("scans AS sc").Column("sc.id").Where("sc.organization_id = ?", orgID)
		q = q.Where("f.scan_id IN (?)", scopeToGroups(scans, vigil.ResourceScan, "sc", opts))
	}
	return listPageByID(ctx, s, q, &rows, "f", findingColumns, vigil.FindingList, opts)
}

// FindFindingByID returns a finding of orgID (of scanID when set).
func (s *Store) FindFindingByID(ctx context.Context, orgID, scanID, id string) (*vigil.Finding, error) {
	if scanID != "" {
		if _, err := s.scanRun(ctx, orgID, scanID, ""); err != nil {
			return nil, err
		}
	}
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("vulnerability")
	}
	row := new(findingRow)
	q := s.db.NewSelect().Model(row).Where("f.id = ? AND f.organization_id = ?", id, orgID)
	if scanID != "" {
		q = q.Where("f.scan_id = ?", scanID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "vulnerability")
	}
	return row.domain(), nil
}

// VulnTotals sums the hosts' maintained counts (one row per host, not per
// finding) and reads the trend of the last days.
func (s *Store) VulnTotals(ctx context.Context, orgID string, days int) (*vigil.VulnTotals, error) {
	var sum struct {
		High   int `bun:"high"`
		Medium int `bun:"medium"`
		Low    int `bun:"low"`
		Log    int `bun:"log"`
		Hosts  int `bun:"hosts"`
	}
	if err := s.db.NewSelect().TableExpr("hosts AS h").
		ColumnExpr("COALESCE(sum(h.count_high), 0) AS high, COALESCE(sum(h.count_medium), 0) AS medium").
		ColumnExpr("COALESCE(sum(h.count_low), 0) AS low, COALESCE(sum(h.count_log), 0) AS log").
		ColumnExpr("COALESCE(sum(CASE WHEN h.vulns_open > 0 THEN 1 ELSE 0 END), 0) AS hosts").
		Where("h.organization_id = ?", orgID).Scan(ctx, &sum); err != nil {
		return nil, err
	}
	out := &vigil.VulnTotals{Counts: vigil.SeverityCounts{High: sum.High, Medium: sum.Medium, Low: sum.Low, Log: sum.Log},
		Hosts: sum.Hosts, Trend: []vigil.VulnTrendPoint{}}
	var trend []struct {
		Day    string `bun:"day"`
		High   int    `bun:"count_high"`
		Medium int    `bun:"count_medium"`
		Low    int    `bun:"count_low"`
		Log    int    `bun:"count_log"`
	}
	since := s.now().AddDate(0, 0, -days).Format(time.DateOnly)
	if err := s.db.NewSelect().TableExpr("vuln_daily").Column("day", "count_high", "count_medium", "count_low", "count_log").
		Where("organization_id = ? AND day > ?", orgID, since).OrderExpr("day").Scan(ctx, &trend); err != nil {
		return nil, err
	}
	for _, t := range trend {
		out.Trend = append(out.Trend, vigil.VulnTrendPoint{Day: t.Day,
			Counts: vigil.SeverityCounts{High: t.High, Medium: t.Medium, Low: t.Low, Log: t.Log}})
	}
	return out, nil
}

// TopVulns reads the maintained per-check rows: by "hosts" (most widespread)
// or "risk" (most severe, then most widespread). Log-level checks are left out.
func (s *Store) TopVulns(ctx context.Context, orgID, by string, limit int) ([]*vigil.TopVuln, error) {
	var rows []*vulnStatRow
	q := s.db.NewSelect().Model(&rows).Where("vs.organization_id = ? AND vs.severity > 0", orgID).Limit(int64(limit))
	if by == "risk" {
		q = q.OrderExpr("vs.severity DESC, vs.hosts DESC, vs.check_id")
	} else {
		q = q.OrderExpr("vs.hosts DESC, vs.severity DESC, vs.check_id")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*vigil.TopVuln, len(rows))
	for i, r := range rows {
		out[i] = &vigil.TopVuln{CheckID: r.CheckID, Name: r.Name, Severity: r.Severity, Hosts: r.Hosts, Findings: r.Findings}
	}
	return out, nil
}

// PCISummary applies the PCI rule to the hosts' maintained counts.
func (s *Store) PCISummary(ctx context.Context, orgID string) (*vigil.PCISummary, error) {
	var sum struct {
		Passing int `bun:"passing"`
		Failing int `bun:"failing"`
		Fails   int `bun:"fails"`
	}
	if err := s.db.NewSelect().TableExpr("hosts AS h").
		ColumnExpr("COALESCE(sum(CASE WHEN h.pci_failures = 0 THEN 1 ELSE 0 END), 0) AS passing").
		ColumnExpr("COALESCE(sum(CASE WHEN h.pci_failures > 0 THEN 1 ELSE 0 END), 0) AS failing").
		ColumnExpr("COALESCE(sum(h.pci_failures), 0) AS fails").
		Where("h.organization_id = ?", orgID).Scan(ctx, &sum); err != nil {
		return nil, err
	}
	return &vigil.PCISummary{Compliant: sum.Failing == 0, HostsPassing: sum.Passing, HostsFailing: sum.Failing,
		FailingChecks: sum.Fails}, nil
}

// Caps of the statistics breakdowns.
const statsTop = 20

// ScanStatistics summarizes a scan as its latest run left it. Counts come
// from the run's maintained per-host rows, not from counting findings.
func (s *Store) ScanStatistics(ctx context.Context, orgID, scanID string) (*vigil.ScanStatistics, error) {
	runID, err := s.scanRun(ctx, orgID, scanID, "")
	if err != nil {
		return nil, err
	}
	st := &vigil.ScanStatistics{LastRunID: runID, ByHost: []vigil.HostCount{}, ByPort: []vigil.PortCount{}, Compliant: true}
	if err := s.db.NewSelect().TableExpr("findings AS f").ColumnExpr("count(*)").
		Where("f.scan_id = ? AND f.status = ?", scanID, vigil.FindingFixed).Scan(ctx, &st.Fixed); err != nil {
		return nil, err
	}
	if runID == "" {
		return st, nil
	}
	var sum struct {
		High   int `bun:"high"`
		Medium int `bun:"medium"`
		Low    int `bun:"low"`
		Log    int `bun:"log"`
	}
	if err := s.db.NewSelect().TableExpr("run_hosts AS rh").
		ColumnExpr("COALESCE(sum(rh.count_high), 0) AS high, COALESCE(sum(rh.count_medium), 0) AS medium").
		ColumnExpr("COALESCE(sum(rh.count_low), 0) AS low, COALESCE(sum(rh.count_log), 0) AS log").
		Where("rh.run_id = ?", runID).Scan(ctx, &sum); err != nil {
		return nil, err
	}
	st.Counts = vigil.SeverityCounts{High: sum.High, Medium: sum.Medium, Low: sum.Low, Log: sum.Log}
	// Automatic failures below CVSS 4.0, through the partial index on pci_fail.
	var autoFails int
	if err := s.db.NewSelect().TableExpr("findings AS f").ColumnExpr("count(*)").
		Where("f.scan_id = ? AND f.last_run_id = ? AND f.status IN (?) AND f.severity < ?", scanID, runID,
			bun.In(openStatuses), vigil.PCIFailScore).
		Where(s.boolTrue("f.pci_fail")).Scan(ctx, &autoFails); err != nil {
		return nil, err
	}
	st.PCIFails = st.Counts.High + st.Counts.Medium + autoFails
	st.Compliant = st.PCIFails == 0
	run := new(runRow)
	if err := s.db.NewSelect().Model(run).Column("hosts_total", "hosts_up").Where("id = ?", runID).Scan(ctx); err != nil {
		return nil, err
	}
	st.HostsTotal, st.HostsUp = run.HostsTotal, run.HostsUp
	var hosts []*runHostRow
	if err := s.db.NewSelect().Model(&hosts).Where("rh.run_id = ?", runID).
		OrderExpr("rh.max_severity DESC, rh.host_id DESC").Limit(statsTop).Scan(ctx); err != nil {
		return nil, err
	}
	for _, h := range hosts {
		st.ByHost = append(st.ByHost, vigil.HostCount{HostID: h.HostID, IP: h.IP, Hostname: h.Hostname, MaxSeverity: h.MaxSeverity,
			Counts: vigil.SeverityCounts{High: h.CountHigh, Medium: h.CountMedium, Low: h.CountLow, Log: h.CountLog}})
	}
	var ports []struct {
		Port     int    `bun:"port"`
		Protocol string `bun:"protocol"`
		N        int    `bun:"n"`
		Hosts    int    `bun:"hosts"`
	}
	// Index-only over findings_scan_port (scan_id, port, protocol, status, host_id).
	if err := s.db.NewSelect().TableExpr("findings AS f").
		ColumnExpr("f.port, f.protocol, count(*) AS n, count(DISTINCT f.host_id) AS hosts").
		Where("f.scan_id = ? AND f.port > 0 AND f.status IN (?)", scanID, bun.In(openStatuses)).
		GroupExpr("f.port, f.protocol").OrderExpr("n DESC, f.port").Limit(statsTop).Scan(ctx, &ports); err != nil {
		return nil, err
	}
	for _, p := range ports {
		st.ByPort = append(st.ByPort, vigil.PortCount{Port: p.Port, Protocol: p.Protocol, Count: p.N, Hosts: p.Hosts})
	}
	return st, nil
}

// boolTrue is a condition that col is true, spelled so that a partial index
// "WHERE col" (PostgreSQL) or "WHERE col = 1" (SQLite) applies.
func (s *Store) boolTrue(col string) string {
	if s.dialect == Postgres {
		return col
	}
	return col + " = 1"
}

// RunDiff counts how a run changed its scan's findings.
func (s *Store) RunDiff(ctx context.Context, orgID, scanID, runID string) (*vigil.RunDiff, error) {
	if _, err := s.scanRun(ctx, orgID, scanID, runID); err != nil {
		return nil, err
	}
	var counts []struct {
		Change string `bun:"change"`
		N      int    `bun:"n"`
	}
	if err := s.db.NewSelect().TableExpr("run_findings AS rf").ColumnExpr("rf.change, count(*) AS n").
		Where("rf.run_id = ?", runID).GroupExpr("rf.change").Scan(ctx, &counts); err != nil {
		return nil, err
	}
	d := &vigil.RunDiff{}
	for _, c := range counts {
		switch vigil.FindingChange(c.Change) {
		case vigil.ChangeNew:
			d.New = c.N
		case vigil.ChangeReopened:
			d.Reopened = c.N
		case vigil.ChangeFixed:
			d.Fixed = c.N
		}
	}
	// Unchanged: what the run saw (its hosts' counts) less what it changed.
	var seen int
	if err := s.db.NewSelect().TableExpr("run_hosts AS rh").
		ColumnExpr("COALESCE(sum(rh.count_high + rh.count_medium + rh.count_low + rh.count_log), 0)").
		Where("rh.run_id = ?", runID).Scan(ctx, &seen); err != nil {
		return nil, err
	}
	d.Unchanged = max(seen-d.New-d.Reopened, 0)
	return d, nil
}

var diffColumns = map[string]column{
	"change": {expr: "change"}, "severity": {expr: "severity"}, "name": {expr: "name", text: true},
}

// FindRunDiff lists the findings a run changed (new, reopened, fixed), each
// with its change; unchanged ones are only counted (RunDiff).
func (s *Store) FindRunDiff(ctx context.Context, orgID, scanID, runID string, opts vigil.ListOptions) ([]*vigil.Finding, int, error) {
	if _, err := s.scanRun(ctx, orgID, scanID, runID); err != nil {
		return nil, 0, err
	}
	var rows []*findingRow
	q := s.db.NewSelect().Model(&rows).ColumnExpr("f.*").ColumnExpr("rf.change AS change").
		Join("JOIN run_findings AS rf ON rf.finding_id = f.id").Where("rf.run_id = ?", runID)
	// change is a column of run_findings, not of f.
	var rest []vigil.Filter
	for _, f := range opts.Filters {
		if f.Column == "change" {
			q = q.Where("rf.change = ?", f.Value)
		} else {
			rest = append(rest, f)
		}
	}
	opts.Filters = rest
	return listPage(ctx, s, q, &rows, "f", diffColumns, vigil.DiffList, opts)
}

var _ vigil.ResultService = (*Store)(nil)
