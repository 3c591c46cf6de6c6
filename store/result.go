package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type hostRow struct {
	bun.BaseModel  `bun:"table:hosts,alias:h"`
	ID             string    `bun:"id,pk"`
	OrganizationID string    `bun:"organization_id"`
	IP             string    `bun:"ip"`
	IPKey          string    `bun:"ip_key"`
	Hostname       string    `bun:"hostname"`
	OS             string    `bun:"os"`
	FirstSeenAt    time.Time `bun:"first_seen_at"`
	LastSeenAt     time.Time `bun:"last_seen_at"`
	LastScanID     string    `bun:"last_scan_id,nullzero"`
	LastRunID      string    `bun:"last_run_id,nullzero"`
	CountHigh      int       `bun:"count_high"`
	CountMedium    int       `bun:"count_medium"`
	CountLow       int       `bun:"count_low"`
	CountLog       int       `bun:"count_log"`
	VulnsOpen      int       `bun:"vulns_open"`
	MaxSeverity    float64   `bun:"max_severity"`
	PCIFailures    int       `bun:"pci_failures"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

func (r *hostRow) domain() *vigil.Host {
	return &vigil.Host{ID: r.ID, OrganizationID: r.OrganizationID, IP: r.IP, Hostname: r.Hostname, OS: r.OS,
		FirstSeenAt: r.FirstSeenAt, LastSeenAt: r.LastSeenAt, LastScanID: r.LastScanID, LastRunID: r.LastRunID,
		Counts:      vigil.SeverityCounts{High: r.CountHigh, Medium: r.CountMedium, Low: r.CountLow, Log: r.CountLog},
		MaxSeverity: r.MaxSeverity, PCIFailures: r.PCIFailures, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type runHostRow struct {
	bun.BaseModel  `bun:"table:run_hosts,alias:rh"`
	RunID          string     `bun:"run_id,pk"`
	HostID         string     `bun:"host_id,pk"`
	OrganizationID string     `bun:"organization_id"`
	ScanID         string     `bun:"scan_id"`
	IP             string     `bun:"ip"`
	IPKey          string     `bun:"ip_key"`
	Hostname       string     `bun:"hostname"`
	OS             string     `bun:"os"`
	Status         string     `bun:"status"`
	Reason         string     `bun:"reason"`
	Done           bool       `bun:"done"`
	PortsOpen      int        `bun:"ports_open"`
	CountHigh      int        `bun:"count_high"`
	CountMedium    int        `bun:"count_medium"`
	CountLow       int        `bun:"count_low"`
	CountLog       int        `bun:"count_log"`
	MaxSeverity    float64    `bun:"max_severity"`
	StartedAt      time.Time  `bun:"started_at"`
	EndedAt        *time.Time `bun:"ended_at"`
}

func (r *runHostRow) domain() *vigil.RunHost {
	return &vigil.RunHost{RunID: r.RunID, ScanID: r.ScanID, HostID: r.HostID, IP: r.IP, Hostname: r.Hostname, OS: r.OS,
		Status: r.Status, Reason: r.Reason, Done: r.Done, PortsOpen: r.PortsOpen,
		Counts:      vigil.SeverityCounts{High: r.CountHigh, Medium: r.CountMedium, Low: r.CountLow, Log: r.CountLog},
		MaxSeverity: r.MaxSeverity, StartedAt: r.StartedAt, EndedAt: r.EndedAt}
}

type runPortRow struct {
	bun.BaseModel `bun:"table:run_ports,alias:rp"`
	RunID         string    `bun:"run_id,pk"`
	HostID        string    `bun:"host_id,pk"`
	Port          int       `bun:"port,pk"`
	Protocol      string    `bun:"protocol,pk"`
	State         string    `bun:"state"`
	Reason        string    `bun:"reason"`
	Service       string    `bun:"service"`
	Product       string    `bun:"product"`
	Version       string    `bun:"version"`
	ExtraInfo     string    `bun:"extra_info"`
	CPE           string    `bun:"cpe"`
	Banner        string    `bun:"banner"`
	TLS           string    `bun:"tls"`
	Method        string    `bun:"method"`
	Confidence    int       `bun:"confidence"`
	SeenAt        time.Time `bun:"seen_at"`
}

func (r *runPortRow) domain() *vigil.HostPort {
	var cpe []string
	if r.CPE != "" {
		cpe = strings.Split(r.CPE, " ")
	}
	return &vigil.HostPort{RunID: r.RunID, HostID: r.HostID, Port: r.Port, Protocol: r.Protocol, State: r.State, Reason: r.Reason,
		Service: r.Service, Product: r.Product, Version: r.Version, ExtraInfo: r.ExtraInfo, CPE: cpe, Banner: r.Banner,
		TLS: r.TLS, Method: r.Method, Confidence: r.Confidence, SeenAt: r.SeenAt}
}

type findingRow struct {
	bun.BaseModel  `bun:"table:findings,alias:f"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	ScanID         string     `bun:"scan_id"`
	HostID         string     `bun:"host_id"`
	IP             string     `bun:"ip"`
	IPKey          string     `bun:"ip_key"`
	Hostname       string     `bun:"hostname"`
	Port           int        `bun:"port"`
	Protocol       string     `bun:"protocol"`
	DedupKey       string     `bun:"dedup_key"`
	CheckID        string     `bun:"check_id"`
	CVE            string     `bun:"cve"`
	Name           string     `bun:"name"`
	Family         string     `bun:"family"`
	Severity       float64    `bun:"severity"`
	CVSSVector     string     `bun:"cvss_vector"`
	QoD            int        `bun:"qod"`
	PCIFail        bool       `bun:"pci_fail"`
	KEV            bool       `bun:"kev"`
	EPSS           float64    `bun:"epss"`
	Description    string     `bun:"description"`
	Solution       string     `bun:"solution"`
	Evidence       string     `bun:"evidence"`
	Status         string     `bun:"status"`
	FirstSeenAt    time.Time  `bun:"first_seen_at"`
	LastSeenAt     time.Time  `bun:"last_seen_at"`
	FixedAt        *time.Time `bun:"fixed_at"`
	FirstRunID     string     `bun:"first_run_id"`
	LastRunID      string     `bun:"last_run_id"`
	FixedRunID     string     `bun:"fixed_run_id,nullzero"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`

	OriginalSeverity *float64 `bun:"original_severity"`
	OriginalPCIFail  *bool    `bun:"original_pci_fail"`
	ExceptionID      string   `bun:"exception_id,nullzero"`

	Change string `bun:"change,scanonly"` // a run's diff only
}

func (r *findingRow) domain() *vigil.Finding {
	return &vigil.Finding{ID: r.ID, OrganizationID: r.OrganizationID, ScanID: r.ScanID, HostID: r.HostID, IP: r.IP,
		Hostname: r.Hostname, Port: r.Port, Protocol: r.Protocol, CheckID: r.CheckID, CVE: r.CVE, Name: r.Name,
		Family: r.Family, Severity: r.Severity, CVSSVector: r.CVSSVector, QoD: r.QoD, PCIFail: r.PCIFail, KEV: r.KEV,
		EPSS: r.EPSS, Description: r.Description, Solution: r.Solution, Evidence: r.Evidence, Status: vigil.FindingStatus(r.Status),
		FirstSeenAt: r.FirstSeenAt, LastSeenAt: r.LastSeenAt, FixedAt: r.FixedAt, FirstRunID: r.FirstRunID,
		LastRunID: r.LastRunID, FixedRunID: r.FixedRunID, Change: vigil.FindingChange(r.Change),
		OriginalSeverity: r.OriginalSeverity, OriginalPCIFail: r.OriginalPCIFail, ExceptionID: r.ExceptionID}
}

type runFindingRow struct {
	bun.BaseModel `bun:"table:run_findings,alias:rf"`
	RunID         string `bun:"run_id,pk"`
	FindingID     string `bun:"finding_id,pk"`
	Change        string `bun:"change"`
}

// ipKey is a sortable form of an address: 32 hex digits of its 16-byte form.
func ipKey(a netip.Addr) string {
	b := a.As16()
	return hex.EncodeToString(b[:])
}

// openStatuses are the statuses of findings still to fix.
var openStatuses = []string{string(vigil.FindingOpen), string(vigil.FindingReopened)}

// hostKey identifies an asset within an organization.
type hostKey struct{ ip, hostname string }

// RecordResults writes a batch a node reported for runID in one transaction:
// hosts (assets and the run's view of them), ports with their services, and
// findings with their status across the scan's runs and the run's diff. The
// hosts' aggregates are refreshed in the same transaction.
func (s *Store) RecordResults(ctx context.Context, runID, nodeID string, b *vigil.ResultBatch) error {
	if b == nil || b.Len() == 0 {
		return nil
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		run, err := s.heldRun(ctx, tx, runID, nodeID)
		if err != nil {
			return err
		}
		now := s.now()
		ids, err := s.recordHosts(ctx, tx, run, b, now)
		if err != nil {
			return err
		}
		if err := s.recordPorts(ctx, tx, run, b.Ports, ids, now); err != nil {
			return err
		}
		deltas, err := s.recordFindings(ctx, tx, run, b.Findings, ids, now)
		if err != nil {
			return err
		}
		hostIDs := make([]string, 0, len(deltas))
		for id := range deltas {
			hostIDs = append(hostIDs, id)
		}
		if err := s.refreshHosts(ctx, tx, hostIDs, now); err != nil {
			return err
		}
		// The per-check rows (Top Vulnerabilities) span every host, so they
		// are recomputed once when the run ends, not per batch.
		return s.addRunHostCounts(ctx, tx, run.ID, deltas)
	})
}

// recordHosts upserts the assets and run hosts of b (also those only named by
// a port or finding) and returns their ids by address.
func (s *Store) recordHosts(ctx context.Context, tx bun.Tx, run *runRow, b *vigil.ResultBatch, now time.Time) (map[netip.Addr]string, error) {
	reported := map[netip.Addr]vigil.HostResult{}
	var order []netip.Addr
	add := func(h vigil.HostResult) {
		old, seen := reported[h.Address]
		if !seen {
			order = append(order, h.Address)
		} else {
			// A later report of the same host completes the earlier one.
			if h.Hostname == "" {
				h.Hostname = old.Hostname
			}
			if h.OS == "" {
				h.OS = old.OS
			}
			if h.Status == "" {
				h.Status, h.Reason = old.Status, old.Reason
			}
			h.Done = h.Done || old.Done
		}
		reported[h.Address] = h
	}
	for _, h := range b.Hosts {
		add(h)
	}
	ids := map[netip.Addr]string{}
	// Ports and findings of hosts reported in earlier batches.
	var others []string
	for _, p := range b.Ports {
		if _, ok := reported[p.Address]; !ok {
			others = append(others, p.Address.String())
		}
	}
	for _, f := range b.Findings {
		if _, ok := reported[f.Address]; !ok {
			others = append(others, f.Address.String())
		}
	}
	if len(others) > 0 {
		var known []runHostRow
		if err := tx.NewSelect().Model(&known).Column("host_id", "ip").Where("run_id = ? AND ip IN (?)", run.ID, bun.In(others)).
			Scan(ctx); err != nil {
			return nil, err
		}
		for _, k := range known {
			if a, err := netip.ParseAddr(k.IP); err == nil {
				ids[a] = k.HostID
			}
		}
		for _, o := range others {
			a, _ := netip.ParseAddr(o)
			if _, ok := ids[a]; !ok {
				if _, ok := reported[a]; !ok {
					add(vigil.HostResult{Address: a, Status: "up", Reason: "reported"})
				}
			}
		}
	}
	if len(order) == 0 {
		return ids, nil
	}

	hosts := make([]*hostRow, 0, len(order))
	for _, a := range order {
		h := reported[a]
		hosts = append(hosts, &hostRow{ID: vigil.NewID(), OrganizationID: run.OrganizationID, IP: a.String(), IPKey: ipKey(a),
			Hostname: strings.ToLower(h.Hostname), OS: h.OS, FirstSeenAt: now, LastSeenAt: now, LastScanID: run.ScanID,
			LastRunID: run.ID, CreatedAt: now, UpdatedAt: now})
	}
	if _, err := tx.NewInsert().Model(&hosts).
		On("CONFLICT (organization_id, ip, hostname) DO UPDATE").
		Set("last_seen_at = EXCLUDED.last_seen_at").
		Set("last_scan_id = EXCLUDED.last_scan_id").
		Set("last_run_id = EXCLUDED.last_run_id").
		Set("os = CASE WHEN EXCLUDED.os <> '' THEN EXCLUDED.os ELSE h.os END").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx); err != nil {
		return nil, err
	}
	ips := make([]string, len(hosts))
	for i, h := range hosts {
		ips[i] = h.IP
	}
	var stored []hostRow
	if err := tx.NewSelect().Model(&stored).Column("id", "ip", "hostname").
		Where("organization_id = ? AND ip IN (?)", run.OrganizationID, bun.In(ips)).Scan(ctx); err != nil {
		return nil, err
	}
	byKey := map[hostKey]string{}
	for _, h := range stored {
		byKey[hostKey{h.IP, strings.ToLower(h.Hostname)}] = h.ID
	}
	rhs := make([]*runHostRow, 0, len(hosts))
	for _, h := range hosts {
		id := byKey[hostKey{h.IP, h.Hostname}]
		a, _ := netip.ParseAddr(h.IP)
		ids[a] = id
		r := reported[a]
		rh := &runHostRow{RunID: run.ID, HostID: id, OrganizationID: run.OrganizationID, ScanID: run.ScanID, IP: h.IP,
			IPKey: h.IPKey, Hostname: h.Hostname, OS: r.OS, Status: r.Status, Reason: r.Reason, Done: r.Done,
			PortsOpen: r.Open, StartedAt: now}
		if rh.Status == "" {
			rh.Status = "up"
		}
		if r.Done {
			rh.EndedAt = &now
		}
		rhs = append(rhs, rh)
	}
	_, err := tx.NewInsert().Model(&rhs).
		On("CONFLICT (run_id, host_id) DO UPDATE").
		// A report without a reason (a host's "done", or a host only named by
		// a port) keeps the status and reason it had.
		Set("status = CASE WHEN EXCLUDED.reason IN ('', 'reported') THEN rh.status ELSE EXCLUDED.status END").
		Set("reason = CASE WHEN EXCLUDED.reason IN ('', 'reported') THEN rh.reason ELSE EXCLUDED.reason END").
		Set("os = CASE WHEN EXCLUDED.os <> '' THEN EXCLUDED.os ELSE rh.os END").
		Set("done = EXCLUDED.done OR rh.done").
		Set("ports_open = CASE WHEN EXCLUDED.done THEN EXCLUDED.ports_open ELSE rh.ports_open END").
		Set("ended_at = COALESCE(EXCLUDED.ended_at, rh.ended_at)").
		Exec(ctx)
	return ids, err
}

// recordPorts upserts the run's ports; a later report (the service) fills
// in what an earlier one (the open port) left empty.
func (s *Store) recordPorts(ctx context.Context, tx bun.Tx, run *runRow, ports []vigil.PortResult, ids map[netip.Addr]string, now time.Time) error {
	if len(ports) == 0 {
		return nil
	}
	type key struct {
		host, proto string
		port        int
	}
	merged := map[key]*runPortRow{}
	var rows []*runPortRow
	for _, p := range ports {
		k := key{ids[p.Address], p.Protocol, p.Port}
		r := merged[k]
		if r == nil {
			r = &runPortRow{RunID: run.ID, HostID: k.host, Port: p.Port, Protocol: p.Protocol, SeenAt: now}
			merged[k] = r
			rows = append(rows, r)
		}
		if p.State != "" {
			r.State, r.Reason = p.State, p.Reason
		}
		if p.Method != "" {
			r.Service, r.Product, r.Version, r.ExtraInfo = p.Service, p.Product, p.Version, p.ExtraInfo
			r.CPE, r.Banner, r.TLS, r.Method, r.Confidence = strings.Join(p.CPE, " "), p.Banner, p.TLS, p.Method, p.Confidence
		}
	}
	for _, r := range rows {
		if r.State == "" {
			r.State = "open"
		}
	}
	q := tx.NewInsert().Model(&rows).On("CONFLICT (run_id, host_id, protocol, port) DO UPDATE").
		Set("state = EXCLUDED.state").
		Set("reason = CASE WHEN EXCLUDED.reason <> '' THEN EXCLUDED.reason ELSE rp.reason END")
	for _, c := range []string{"service", "product", "version", "extra_info", "cpe", "banner", "tls", "confidence"} {
		q = q.Set(c + " = CASE WHEN EXCLUDED.method <> '' THEN EXCLUDED." + c + " ELSE rp." + c + " END")
	}
	_, err := q.Set("method = CASE WHEN EXCLUDED.method <> '' THEN EXCLUDED.method ELSE rp.method END").Exec(ctx)
	return err
}

// runHostDelta is what a batch adds to a run host's counts.
type runHostDelta struct {
	counts vigil.SeverityCounts
	max    float64
}

// recordFindings upserts findings and the run's diff entries. A finding seen
// again after it was fixed is reopened. It returns, per host of the batch,
// what the findings the run had not seen before add to its counts.
func (s *Store) recordFindings(ctx context.Context, tx bun.Tx, run *runRow, fs []vigil.FindingResult, ids map[netip.Addr]string, now time.Time) (map[string]*runHostDelta, error) {
	if len(fs) == 0 {
		return nil, nil
	}
	type key struct{ host, dedup string }
	rows := make([]*findingRow, 0, len(fs))
	byKey := map[key]*findingRow{}
	hostSet, keySet := map[string]bool{}, map[string]bool{}
	for i := range fs {
		f := &fs[i]
		hostID := ids[f.Address]
		k := key{hostID, f.DedupKey()}
		r := byKey[k]
		if r == nil {
			r = &findingRow{ID: vigil.NewID(), OrganizationID: run.OrganizationID, ScanID: run.ScanID, HostID: hostID,
				IP: f.Address.String(), IPKey: ipKey(f.Address), DedupKey: k.dedup, Status: string(vigil.FindingOpen),
				FirstSeenAt: now, FirstRunID: run.ID, CreatedAt: now}
			byKey[k] = r
			rows = append(rows, r)
		}
		r.Port, r.Protocol, r.CheckID, r.CVE, r.Name, r.Family = f.Port, f.Protocol, f.CheckID, f.CVE, f.Name, f.Family
		r.Severity, r.CVSSVector, r.QoD, r.PCIFail, r.KEV, r.EPSS = f.Severity, f.CVSSVector, f.QoD, f.PCIFail, f.KEV, f.EPSS
		r.Description, r.Solution, r.Evidence = f.Description, f.Solution, f.Evidence
		r.LastSeenAt, r.LastRunID, r.UpdatedAt = now, run.ID, now
		hostSet[hostID], keySet[k.dedup] = true, true
	}
	hostIDs, keys := setKeys(hostSet), setKeys(keySet)
	if err := s.applyExceptionsAtIngest(ctx, tx, run, rows); err != nil {
		return nil, err
	}

	var existing []findingRow
	if err := tx.NewSelect().Model(&existing).Column("id", "host_id", "dedup_key", "status", "last_run_id").
		Where("scan_id = ? AND host_id IN (?) AND dedup_key IN (?)", run.ScanID, bun.In(hostIDs), bun.In(keys)).
		Scan(ctx); err != nil {
		return nil, err
	}
	changes := make([]*runFindingRow, 0, len(rows))
	seen := map[string]bool{}
	counted := map[string]bool{} // already in this run's counts
	reopened := map[string]bool{}
	for _, e := range existing {
		r := byKey[key{e.HostID, e.DedupKey}]
		if r == nil {
			continue
		}
		r.ID = e.ID
		counted[e.ID] = e.LastRunID == run.ID
		seen[e.ID] = true
		// Only changes are written: a run's unchanged findings are counted
		// from its hosts' counts (RunDiff), which keeps steady-state runs cheap.
		if e.Status == string(vigil.FindingFixed) {
			r.Status = string(vigil.FindingReopened)
			reopened[r.ID] = true
			changes = append(changes, &runFindingRow{RunID: run.ID, FindingID: r.ID, Change: string(vigil.ChangeReopened)})
		} else {
			r.Status = e.Status
		}
	}
	deltas := map[string]*runHostDelta{}
	var opened []openedFinding // new and reopened: what Top Vulnerabilities gains
	for _, r := range rows {
		if !seen[r.ID] {
			changes = append(changes, &runFindingRow{RunID: run.ID, FindingID: r.ID, Change: string(vigil.ChangeNew)})
		}
		if !seen[r.ID] || reopened[r.ID] {
			opened = append(opened, openedFinding{check: r.CheckID, host: r.HostID, name: r.Name, severity: r.Severity, n: 1})
		}
		d := deltas[r.HostID]
		if d == nil {
			d = &runHostDelta{}
			deltas[r.HostID] = d
		}
		if !counted[r.ID] {
			d.counts.Add(r.Severity, 1)
			d.max = max(d.max, r.Severity)
		}
	}
	// The hostname is the asset's.
	var names []hostRow
	if err := tx.NewSelect().Model(&names).Column("id", "hostname").Where("id IN (?)", bun.In(hostIDs)).Scan(ctx); err != nil {
		return nil, err
	}
	hostname := map[string]string{}
	for _, h := range names {
		hostname[h.ID] = h.Hostname
	}
	for _, r := range rows {
		r.Hostname = hostname[r.HostID]
	}

	q := tx.NewInsert().Model(&rows).On("CONFLICT (scan_id, host_id, dedup_key) DO UPDATE")
	for _, c := range []string{"port", "protocol", "check_id", "cve", "name", "family", "severity", "cvss_vector", "qod",
		"pci_fail", "kev", "epss", "description", "solution", "evidence", "status", "last_seen_at", "last_run_id", "updated_at",
		"original_severity", "original_pci_fail", "exception_id"} {
		q = q.Set(c + " = EXCLUDED." + c)
	}
	if _, err := q.Set("fixed_at = NULL").Set("fixed_run_id = NULL").Exec(ctx); err != nil {
		return nil, err
	}
	// A finding reported twice in one run keeps its first change.
	if len(changes) > 0 {
		if _, err := tx.NewInsert().Model(&changes).On("CONFLICT (run_id, finding_id) DO NOTHING").Exec(ctx); err != nil {
			return nil, err
		}
	}
	if err := s.emitFound(ctx, tx, run, rows, seen, reopened); err != nil {
		return nil, err
	}
	return deltas, s.adjustVulnStats(ctx, tx, run.OrganizationID, opened, now)
}

// applyExceptionsAtIngest gives the findings of a batch the severity of the
// active exception that matches them (the latest reviewed wins), keeping
// the engine's verdict beside it, as reapplyExceptions would.
func (s *Store) applyExceptionsAtIngest(ctx context.Context, tx bun.IDB, run *runRow, rows []*findingRow) error {
	ids := map[string]bool{}
	for _, r := range rows {
		ids[r.CheckID] = true
		if r.CVE != "" {
			ids[r.CVE] = true
		}
	}
	var active []*exceptionRow
	if err := tx.NewSelect().Model(&active).Where("ex.organization_id = ? AND ex.status = ? AND ex.nvt IN (?)",
		run.OrganizationID, vigil.ExceptionActive, bun.In(setKeys(ids))).OrderExpr("ex.reviewed_at, ex.id").Scan(ctx); err != nil {
		return err
	}
	if len(active) == 0 {
		return nil
	}
	exs := domains(active)
	for _, r := range rows {
		addr, err := netip.ParseAddr(r.IP)
		if err != nil {
			continue
		}
		f := &vigil.FindingResult{Address: addr, Port: r.Port, CheckID: r.CheckID, CVE: r.CVE}
		var match *vigil.Exception
		for _, e := range exs {
			if e.Matches(f, run.ScanID) {
				match = e
			}
		}
		if match == nil {
			continue
		}
		sev, pci := r.Severity, r.PCIFail
		r.OriginalSeverity, r.OriginalPCIFail, r.ExceptionID = &sev, &pci, match.ID
		r.Severity, r.PCIFail = match.NewSeverity, false
	}
	return nil
}

// emitFound writes a vulnerability_found event per finding of the batch
// that is new or reopened and above Log, when a webhook listens for them
// (the event exists for webhooks only, so no listener means no rows).
func (s *Store) emitFound(ctx context.Context, tx bun.IDB, run *runRow, rows []*findingRow, seen, reopened map[string]bool) error {
	listening, err := tx.NewSelect().Model((*webhookRow)(nil)).
		Where("wh.active AND wh.events LIKE ?", "%"+vigil.EventVulnerabilityFound+"%").
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("wh.organization_id = ?", run.OrganizationID).
				WhereOr("wh.include_customers AND wh.organization_id = (SELECT partner_id FROM organizations WHERE id = ?)", run.OrganizationID)
		}).Exists(ctx)
	if err != nil || !listening {
		return err
	}
	var evs []*vigil.Event
	for _, r := range rows {
		if (seen[r.ID] && !reopened[r.ID]) || r.Severity <= 0 {
			continue
		}
		change := vigil.ChangeNew
		if reopened[r.ID] {
			change = vigil.ChangeReopened
		}
		evs = append(evs, &vigil.Event{OrganizationID: run.OrganizationID, Type: vigil.EventVulnerabilityFound,
			ResourceType: "vulnerability", ResourceID: r.ID, Title: r.Name, MaxSeverity: r.Severity,
			Data: map[string]any{"vulnerability": map[string]any{"id": r.ID, "scan_id": r.ScanID, "run_id": run.ID, "host_id": r.HostID,
				"ip": r.IP, "hostname": r.Hostname, "port": r.Port, "protocol": r.Protocol, "nvt": r.CheckID, "cve": nilIfEmpty(r.CVE),
				"name": r.Name, "severity": r.Severity, "severity_class": vigil.SeverityClass(r.Severity), "cvss_vector": r.CVSSVector,
				"kev": r.KEV, "epss": r.EPSS, "pci_fail": r.PCIFail, "change": string(change), "solution": r.Solution}}})
	}
	return s.emit(ctx, tx, evs...)
}

func setKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// severityCountsSQL are the count columns of an aggregate over findings f.
const severityCountsSQL = `count_high = (SELECT count(*) FROM findings f WHERE %[1]s AND f.severity >= 7),
	count_medium = (SELECT count(*) FROM findings f WHERE %[1]s AND f.severity >= 4 AND f.severity < 7),
	count_low = (SELECT count(*) FROM findings f WHERE %[1]s AND f.severity > 0 AND f.severity < 4),
	count_log = (SELECT count(*) FROM findings f WHERE %[1]s AND f.severity > -0.5 AND f.severity <= 0),
	max_severity = COALESCE((SELECT max(f.severity) FROM findings f WHERE %[1]s), 0)`

// refreshHosts recomputes the open-finding aggregates of hostIDs.
func (s *Store) refreshHosts(ctx context.Context, tx bun.IDB, hostIDs []string, now time.Time) error {
	for _, chunk := range chunks(hostIDs, 500) {
		cond := "f.host_id = h.id AND f.status IN ('open', 'reopened')"
		_, err := tx.NewUpdate().Model((*hostRow)(nil)).
			Set(fmt.Sprintf(severityCountsSQL, cond)).
			Set("vulns_open = (SELECT count(*) FROM findings f WHERE "+cond+" AND f.severity > 0)").
			Set("pci_failures = (SELECT count(*) FROM findings f WHERE "+cond+" AND (f.severity >= ? OR f.pci_fail))", vigil.PCIFailScore).
			Set("updated_at = ?", now).
			Where("h.id IN (?)", bun.In(chunk)).Exec(ctx)
		if err != nil {
			return err
		}
	}
	return nil
}

// addRunHostCounts adds a batch's new findings to the run's host counts.
func (s *Store) addRunHostCounts(ctx context.Context, tx bun.IDB, runID string, deltas map[string]*runHostDelta) error {
	for hostID, d := range deltas {
		if d.counts == (vigil.SeverityCounts{}) {
			continue
		}
		if _, err := tx.NewUpdate().Model((*runHostRow)(nil)).
			Set("count_high = count_high + ?", d.counts.High).Set("count_medium = count_medium + ?", d.counts.Medium).
			Set("count_low = count_low + ?", d.counts.Low).Set("count_log = count_log + ?", d.counts.Log).
			Set("max_severity = CASE WHEN max_severity < ? THEN ? ELSE max_severity END", d.max, d.max).
			Where("rh.run_id = ? AND rh.host_id = ?", runID, hostID).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// openedFinding is a finding that became open (n = 1) or was fixed (n = -1).
type openedFinding struct {
	check, host, name string
	severity          float64
	n                 int
}

// adjustVulnStats applies findings that opened or closed to the Top
// Vulnerabilities rows of their checks, in the transaction that changed them,
// so a run costs its changes and not the organization's size. A check's host
// count changes where a host gained its first open finding of the check or
// lost its last: the open counts of the touched (check, host) pairs now, less
// what changed, are the counts before.
func (s *Store) adjustVulnStats(ctx context.Context, tx bun.IDB, orgID string, fs []openedFinding, now time.Time) error {
	if len(fs) == 0 {
		return nil
	}
	type pair struct{ check, host string }
	changed := map[pair]int{}
	stats := map[string]*vulnStatRow{}
	hostSet := map[string]bool{}
	for _, f := range fs {
		changed[pair{f.check, f.host}] += f.n
		hostSet[f.host] = true
		st := stats[f.check]
		if st == nil {
			st = &vulnStatRow{OrganizationID: orgID, CheckID: f.check, UpdatedAt: now}
			stats[f.check] = st
		}
		st.Findings += f.n
		if f.n > 0 {
			st.Name, st.Severity = f.name, f.severity
		}
	}
	checks := make([]string, 0, len(stats))
	for c := range stats {
		checks = append(checks, c)
	}
	// Lock the checks' rows first, in one order: a concurrent batch touching
	// the same check waits here and then counts with this one's findings.
	slices.Sort(checks)
	rows := make([]*vulnStatRow, len(checks))
	for i, c := range checks {
		rows[i] = &vulnStatRow{OrganizationID: orgID, CheckID: c, Name: stats[c].Name, Severity: stats[c].Severity, UpdatedAt: now}
	}
	if _, err := tx.NewInsert().Model(&rows).On("CONFLICT (organization_id, check_id) DO UPDATE").
		Set("updated_at = EXCLUDED.updated_at").Exec(ctx); err != nil {
		return err
	}
	open := map[pair]int{}
	for _, chunk := range chunks(checks, 500) {
		var counts []struct {
			CheckID string `bun:"check_id"`
			HostID  string `bun:"host_id"`
			N       int    `bun:"n"`
		}
		if err := tx.NewSelect().TableExpr("findings AS f").ColumnExpr("f.check_id, f.host_id, count(*) AS n").
			Where("f.organization_id = ? AND f.check_id IN (?) AND f.status IN (?) AND f.host_id IN (?)",
				orgID, bun.In(chunk), bun.In(openStatuses), bun.In(setKeys(hostSet))).
			GroupExpr("f.check_id, f.host_id").Scan(ctx, &counts); err != nil {
			return err
		}
		for _, c := range counts {
			open[pair{c.CheckID, c.HostID}] = c.N
		}
	}
	for p, d := range changed {
		isOpen, wasOpen := open[p] > 0, open[p]-d > 0
		switch {
		case isOpen && !wasOpen:
			stats[p.check].Hosts++
		case wasOpen && !isOpen:
			stats[p.check].Hosts--
		}
	}
	for i, c := range checks {
		rows[i].Hosts, rows[i].Findings = stats[c].Hosts, stats[c].Findings
	}
	// A fixed finding carries no name: the row keeps the one it has.
	if _, err := tx.NewInsert().Model(&rows).On("CONFLICT (organization_id, check_id) DO UPDATE").
		Set("hosts = vs.hosts + EXCLUDED.hosts").Set("findings = vs.findings + EXCLUDED.findings").
		Set("name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE vs.name END").
		Set("severity = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.severity ELSE vs.severity END").
		Exec(ctx); err != nil {
		return err
	}
	_, err := tx.NewDelete().Model((*vulnStatRow)(nil)).
		Where("organization_id = ? AND check_id IN (?) AND findings <= 0", orgID, bun.In(checks)).Exec(ctx)
	return err
}

// refreshVulnStats recomputes the Top Vulnerabilities rows of checks.
func (s *Store) refreshVulnStats(ctx context.Context, tx bun.IDB, orgID string, checks []string, now time.Time) error {
	if len(checks) == 0 {
		return nil
	}
	for _, chunk := range chunks(checks, 200) {
		var stats []*vulnStatRow
		if err := tx.NewSelect().TableExpr("findings AS f").
			ColumnExpr("f.check_id, max(f.name) AS name, max(f.severity) AS severity, count(DISTINCT f.host_id) AS hosts, count(*) AS findings").
			Where("f.organization_id = ? AND f.check_id IN (?) AND f.status IN (?)", orgID, bun.In(chunk), bun.In(openStatuses)).
			GroupExpr("f.check_id").Scan(ctx, &stats); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*vulnStatRow)(nil)).Where("organization_id = ? AND check_id IN (?)", orgID, bun.In(chunk)).
			Exec(ctx); err != nil {
			return err
		}
		if len(stats) == 0 {
			continue
		}
		for _, st := range stats {
			st.OrganizationID, st.UpdatedAt = orgID, now
		}
		if _, err := tx.NewInsert().Model(&stats).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

type vulnStatRow struct {
	bun.BaseModel  `bun:"table:vuln_stats,alias:vs"`
	OrganizationID string    `bun:"organization_id,pk"`
	CheckID        string    `bun:"check_id,pk"`
	Name           string    `bun:"name"`
	Severity       float64   `bun:"severity"`
	Hosts          int       `bun:"hosts"`
	Findings       int       `bun:"findings"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

// finalizeRun closes the books of a run that ended: a Done run fixes the
// findings of the hosts it finished without seeing them again; every ended
// run gets its counts, and the organization's trend gets today's totals.
func (s *Store) finalizeRun(ctx context.Context, tx bun.IDB, row *runRow) error {
	now := row.UpdatedAt
	if row.Status == string(vigil.StatusDone) {
		fixedCond := func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("f.scan_id = ? AND f.status IN (?) AND f.last_run_id <> ?", row.ScanID, bun.In(openStatuses), row.ID).
				Where("f.host_id IN (SELECT host_id FROM run_hosts WHERE run_id = ? AND done)", row.ID)
		}
		var fixed []findingRow
		if err := fixedCond(tx.NewSelect().Model(&fixed).Column("id", "host_id", "check_id")).Scan(ctx); err != nil {
			return err
		}
		if len(fixed) > 0 {
			ids := make([]string, len(fixed))
			hostSet := map[string]bool{}
			changes := make([]*runFindingRow, len(fixed))
			closed := make([]openedFinding, len(fixed))
			for i, f := range fixed {
				ids[i] = f.ID
				hostSet[f.HostID] = true
				changes[i] = &runFindingRow{RunID: row.ID, FindingID: f.ID, Change: string(vigil.ChangeFixed)}
				closed[i] = openedFinding{check: f.CheckID, host: f.HostID, n: -1}
			}
			for _, chunk := range chunks(ids, 500) {
				if _, err := tx.NewUpdate().Model((*findingRow)(nil)).Set("status = ?", vigil.FindingFixed).
					Set("fixed_at = ?", now).Set("fixed_run_id = ?", row.ID).Set("updated_at = ?", now).
					Where("f.id IN (?)", bun.In(chunk)).Exec(ctx); err != nil {
					return err
				}
			}
			for _, chunk := range chunks(changes, 500) {
				if _, err := tx.NewInsert().Model(&chunk).On("CONFLICT (run_id, finding_id) DO NOTHING").Exec(ctx); err != nil {
					return err
				}
			}
			if err := s.refreshHosts(ctx, tx, setKeys(hostSet), now); err != nil {
				return err
			}
			if err := s.adjustVulnStats(ctx, tx, row.OrganizationID, closed, now); err != nil {
				return err
			}
		}
	}
	if err := s.runVerdict(ctx, tx, row); err != nil {
		return err
	}
	if err := s.emitScanEvent(ctx, tx, row); err != nil {
		return err
	}
	return s.snapshotTrend(ctx, tx, row.OrganizationID, now)
}

// runVerdict sets a run's counts from its hosts' and, once Done, its PCI
// verdict: no finding of CVSS 4.0 or more (High and Medium, after
// exceptions) and no automatic failure among what the run saw.
func (s *Store) runVerdict(ctx context.Context, tx bun.IDB, row *runRow) error {
	var c vigil.SeverityCounts
	if err := tx.NewSelect().TableExpr("run_hosts AS rh").
		ColumnExpr("COALESCE(sum(rh.count_high), 0) AS high, COALESCE(sum(rh.count_medium), 0) AS medium").
		ColumnExpr("COALESCE(sum(rh.count_low), 0) AS low, COALESCE(sum(rh.count_log), 0) AS log").
		Where("rh.run_id = ?", row.ID).Scan(ctx, &c.High, &c.Medium, &c.Low, &c.Log); err != nil {
		return err
	}
	row.CountHigh, row.CountMedium, row.CountLow, row.CountLog = c.High, c.Medium, c.Low, c.Log
	cols := []string{"count_high", "count_medium", "count_low", "count_log"}
	if row.Status == string(vigil.StatusDone) {
		compliant := c.High+c.Medium == 0
		if compliant {
			failed, err := tx.NewSelect().TableExpr("findings AS f").
				Where("f.scan_id = ? AND f.pci_fail AND f.status IN (?) AND f.last_run_id = ?", row.ScanID, bun.In(openStatuses), row.ID).
				Exists(ctx)
			if err != nil {
				return err
			}
			compliant = !failed
		}
		row.Compliant = &compliant
		cols = append(cols, "compliant")
	}
	_, err := tx.NewUpdate().Model(row).WherePK().Column(cols...).Exec(ctx)
	return err
}

// snapshotTrend records the organization's open counts for today.
func (s *Store) snapshotTrend(ctx context.Context, tx bun.IDB, orgID string, now time.Time) error {
	var sum struct {
		High   int `bun:"high"`
		Medium int `bun:"medium"`
		Low    int `bun:"low"`
		Log    int `bun:"log"`
	}
	if err := tx.NewSelect().TableExpr("hosts AS h").
		ColumnExpr("COALESCE(sum(h.count_high), 0) AS high, COALESCE(sum(h.count_medium), 0) AS medium").
		ColumnExpr("COALESCE(sum(h.count_low), 0) AS low, COALESCE(sum(h.count_log), 0) AS log").
		Where("h.organization_id = ?", orgID).Scan(ctx, &sum); err != nil {
		return err
	}
	row := map[string]any{"organization_id": orgID, "day": now.UTC().Format(time.DateOnly),
		"count_high": sum.High, "count_medium": sum.Medium, "count_low": sum.Low, "count_log": sum.Log}
	_, err := tx.NewInsert().Model(&row).TableExpr("vuln_daily").On("CONFLICT (organization_id, day) DO UPDATE").
		Set("count_high = EXCLUDED.count_high").Set("count_medium = EXCLUDED.count_medium").
		Set("count_low = EXCLUDED.count_low").Set("count_log = EXCLUDED.count_log").Exec(ctx)
	return err
}

func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

var _ vigil.ResultSink = (*Store)(nil)
