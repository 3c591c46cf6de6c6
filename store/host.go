package store

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

var hostColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "ip": {expr: "ip", text: true, sort: "ip_key"}, "hostname": {expr: "hostname", text: true},
	"os": {expr: "os", text: true}, "severity": {expr: "max_severity"}, "vulnerabilities_count": {expr: "vulns_open"},
	"first_seen_at": {expr: "first_seen_at"}, "last_seen_at": {expr: "last_seen_at"},
}

// FindHosts lists the assets of orgID.
func (s *Store) FindHosts(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.Host, int, error) {
	var rows []*hostRow
	q := s.db.NewSelect().Model(&rows).Where("h.organization_id = ?", orgID)
	return listPage(ctx, s, q, &rows, "h", hostColumns, vigil.HostList, opts)
}

// Caps of the lists embedded in a host's details.
const (
	detailFindings = 200
	detailHistory  = 20
)

// FindHostDetail returns a host with the ports its latest run saw, its open
// findings and its latest runs.
func (s *Store) FindHostDetail(ctx context.Context, orgID, id string) (*vigil.HostDetail, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("host")
	}
	row := new(hostRow)
	if err := s.db.NewSelect().Model(row).Where("h.id = ? AND h.organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "host")
	}
	d := &vigil.HostDetail{Host: row.domain()}
	if row.LastRunID != "" {
		var ports []*runPortRow
		if err := s.db.NewSelect().Model(&ports).Where("rp.run_id = ? AND rp.host_id = ?", row.LastRunID, row.ID).
			OrderExpr("rp.protocol, rp.port").Scan(ctx); err != nil {
			return nil, err
		}
		for _, p := range ports {
			d.Ports = append(d.Ports, p.domain())
		}
	}
	var fs []*findingRow
	if err := s.db.NewSelect().Model(&fs).Where("f.host_id = ? AND f.status IN (?)", row.ID, bun.In(openStatuses)).
		OrderExpr("f.severity DESC, f.id DESC").Limit(detailFindings).Scan(ctx); err != nil {
		return nil, err
	}
	for _, f := range fs {
		d.Findings = append(d.Findings, f.domain())
	}
	var hist []*runHostRow
	if err := s.db.NewSelect().Model(&hist).Where("rh.host_id = ?", row.ID).OrderExpr("rh.started_at DESC").
		Limit(detailHistory).Scan(ctx); err != nil {
		return nil, err
	}
	for _, h := range hist {
		d.History = append(d.History, h.domain())
	}
	return d, nil
}

// MostVulnerableHosts returns the hosts with open findings, most severe first.
func (s *Store) MostVulnerableHosts(ctx context.Context, orgID string, limit int) ([]*vigil.Host, error) {
	var rows []*hostRow
	if err := s.db.NewSelect().Model(&rows).Where("h.organization_id = ? AND h.max_severity > 0", orgID).
		OrderExpr("h.max_severity DESC, h.vulns_open DESC, h.id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*vigil.Host, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

var runHostColumns = map[string]column{
	"host_id": {expr: "host_id", uuid: true}, "ip": {expr: "ip", text: true, sort: "ip_key"}, "hostname": {expr: "hostname", text: true},
	"status": {expr: "status"}, "severity": {expr: "max_severity"}, "ports_open": {expr: "ports_open"}, "started_at": {expr: "started_at"},
	"id": {expr: "host_id"},
}

// scanRun resolves the run of scanID in orgID that a results route reads:
// runID, or the scan's latest run ("" when it never ran).
func (s *Store) scanRun(ctx context.Context, orgID, scanID, runID string) (string, error) {
	if !vigil.IsUUID(scanID) {
		return "", vigil.NotFound("scan")
	}
	sc := new(scanRow)
	if err := s.db.NewSelect().Model(sc).Column("id", "last_run_id").Where("id = ? AND organization_id = ?", scanID, orgID).
		Scan(ctx); err != nil {
		return "", notFound(err, "scan")
	}
	if runID == "" {
		return sc.LastRunID, nil
	}
	if !vigil.IsUUID(runID) {
		return "", vigil.NotFound("scan history")
	}
	ok, err := s.db.NewSelect().Model((*runRow)(nil)).Where("id = ? AND scan_id = ?", runID, scanID).Exists(ctx)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", vigil.NotFound("scan history")
	}
	return runID, nil
}

// FindRunHosts lists the hosts of a run of scanID (runID "": the latest).
func (s *Store) FindRunHosts(ctx context.Context, orgID, scanID, runID string, opts vigil.ListOptions) ([]*vigil.RunHost, int, error) {
	runID, err := s.scanRun(ctx, orgID, scanID, runID)
	if err != nil {
		return nil, 0, err
	}
	if runID == "" {
		return []*vigil.RunHost{}, 0, nil
	}
	var rows []*runHostRow
	// run_hosts has no id column; runHostColumns maps "id" (the tiebreaker) to host_id.
	q := s.db.NewSelect().Model(&rows).Where("rh.run_id = ?", runID)
	return listPage(ctx, s, q, &rows, "rh", runHostColumns, vigil.RunHostList, opts)
}

// FindRunHostDetail returns a host as the latest run of scanID that saw it
// reported it: its ports and the scan's findings on it.
func (s *Store) FindRunHostDetail(ctx context.Context, orgID, scanID, hostID string) (*vigil.RunHost, []*vigil.HostPort, []*vigil.Finding, error) {
	if _, err := s.scanRun(ctx, orgID, scanID, ""); err != nil {
		return nil, nil, nil, err
	}
	if !vigil.IsUUID(hostID) {
		return nil, nil, nil, vigil.NotFound("host")
	}
	rh := new(runHostRow)
	if err := s.db.NewSelect().Model(rh).Where("rh.host_id = ? AND rh.scan_id = ? AND rh.organization_id = ?", hostID, scanID, orgID).
		OrderExpr("rh.started_at DESC").Limit(1).Scan(ctx); err != nil {
		return nil, nil, nil, notFound(err, "host")
	}
	var ports []*runPortRow
	if err := s.db.NewSelect().Model(&ports).Where("rp.run_id = ? AND rp.host_id = ?", rh.RunID, hostID).
		OrderExpr("rp.protocol, rp.port").Scan(ctx); err != nil {
		return nil, nil, nil, err
	}
	var fs []*findingRow
	if err := s.db.NewSelect().Model(&fs).Where("f.host_id = ? AND f.scan_id = ?", hostID, scanID).
		OrderExpr("f.severity DESC, f.id DESC").Limit(detailFindings).Scan(ctx); err != nil {
		return nil, nil, nil, err
	}
	hp := make([]*vigil.HostPort, len(ports))
	for i, p := range ports {
		hp[i] = p.domain()
	}
	out := make([]*vigil.Finding, len(fs))
	for i, f := range fs {
		out[i] = f.domain()
	}
	return rh.domain(), hp, out, nil
}
