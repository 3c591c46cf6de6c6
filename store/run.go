package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type runRow struct {
	bun.BaseModel  `bun:"table:scan_runs,alias:run"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	ScanID         string     `bun:"scan_id"`
	ScannerID      string     `bun:"scanner_id"`
	Status         string     `bun:"status"`
	Reason         string     `bun:"reason"`
	Progress       int        `bun:"progress"`
	HostsTotal     int        `bun:"hosts_total"`
	HostsDone      int        `bun:"hosts_done"`
	HostsUp        int        `bun:"hosts_up"`
	CountHigh      int        `bun:"count_high"`
	CountMedium    int        `bun:"count_medium"`
	CountLow       int        `bun:"count_low"`
	CountLog       int        `bun:"count_log"`
	Compliant      *bool      `bun:"compliant"`
	Config         string     `bun:"config"`
	NodeID         string     `bun:"node_id,nullzero"`
	LeaseUntil     *time.Time `bun:"lease_until"`
	RequestedAt    time.Time  `bun:"requested_at"`
	StartedAt      *time.Time `bun:"started_at"`
	EndedAt        *time.Time `bun:"ended_at"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
}

func (r *runRow) domain() *vigil.Run {
	return &vigil.Run{ID: r.ID, OrganizationID: r.OrganizationID, ScanID: r.ScanID, Status: vigil.ScanStatus(r.Status), Reason: r.Reason,
		Progress: r.Progress, HostsTotal: r.HostsTotal, HostsDone: r.HostsDone, HostsUp: r.HostsUp,
		Counts:    vigil.SeverityCounts{High: r.CountHigh, Medium: r.CountMedium, Low: r.CountLow, Log: r.CountLog},
		Compliant: r.Compliant, ScannerID: r.ScannerID, NodeID: r.NodeID, LeaseUntil: r.LeaseUntil, RequestedAt: r.RequestedAt,
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// Runs waiting for a node, and runs a node holds under a lease.
var (
	waitingStatuses = []string{string(vigil.StatusRequested), string(vigil.StatusQueued)}
	heldStatuses    = []string{string(vigil.StatusRunning), string(vigil.StatusStopRequested)}
)

var runColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "status": {expr: "status"}, "requested_at": {expr: "requested_at"},
	"started_at": {expr: "started_at"}, "ended_at": {expr: "ended_at"},
}

// StartScan creates a Requested run; 422 while another run is active.
func (s *Store) StartScan(ctx context.Context, orgID, id string) (*vigil.Run, error) {
	var out *vigil.Run
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = s.startScan(ctx, tx, orgID, id)
		return err
	})
	return out, err
}

// CreateScanWizard creates the target, the scan and (if asked) its first run
// in one transaction: a failure leaves none of them.
func (s *Store) CreateScanWizard(ctx context.Context, orgID string, in vigil.WizardInput) (*vigil.Scan, *vigil.Run, error) {
	t := &vigil.Target{OrganizationID: orgID}
	if in.Target.Name == nil {
		in.Target.Name = in.Scan.Name
	}
	if err := vigil.ApplyTargetInput(t, in.Target, true, s.opts.MaxTargetHosts); err != nil {
		return nil, nil, err
	}
	var sc *vigil.Scan
	var run *vigil.Run
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkTargetRefs(ctx, tx, t); err != nil {
			return err
		}
		now := s.now()
		t.ID, t.CreatedAt, t.UpdatedAt = vigil.NewID(), now, now
		if _, err := tx.NewInsert().Model(targetToRow(t)).Exec(ctx); err != nil {
			return err
		}
		in.Scan.TargetID = &t.ID
		var err error
		if sc, err = s.createScan(ctx, tx, orgID, in.Scan); err != nil {
			return err
		}
		if in.StartNow {
			if run, err = s.startScan(ctx, tx, orgID, sc.ID); err != nil {
				return err
			}
			sc, err = s.findScan(ctx, tx, orgID, sc.ID)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return sc, run, nil
}

func (s *Store) startScan(ctx context.Context, tx bun.Tx, orgID, id string) (*vigil.Run, error) {
	var out *vigil.Run
	err := func() error {
		sc, err := s.findScan(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if sc.Status.Active() {
			return vigil.FieldError("status", "the scan is already %s; stop it or wait for it to end", sc.Status)
		}
		// A run after a completed one is a rescan, which the plan may limit.
		err = s.checkLimit(ctx, tx, orgID, vigil.FeatureRescans, "rescans", 0, func() (int64, error) {
			n, err := tx.NewSelect().Model((*runRow)(nil)).Where("scan_id = ? AND status = ?", sc.ID, vigil.StatusDone).Count(ctx)
			return int64(n), err
		})
		if err != nil {
			if f := vigil.FieldsOf(err); f != nil {
				return vigil.FieldError("scan", "%s", f[vigil.FeatureRescans][0])
			}
			return err
		}
		cfg, err := s.runConfig(ctx, tx, sc)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(cfg)
		now := s.now()
		row := &runRow{ID: vigil.NewID(), OrganizationID: orgID, ScanID: sc.ID, ScannerID: sc.ScannerID, Status: string(vigil.StatusRequested),
			Config: string(b), RequestedAt: now, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*scanRow)(nil)).Where("id = ?", sc.ID).
			Set("status = ?", row.Status).Set("progress = 0").Set("last_run_id = ?", row.ID).Set("last_run_at = ?", now).
			Set("updated_at = ?", now).Exec(ctx); err != nil {
			return err
		}
		out = row.domain()
		return nil
	}()
	return out, err
}

// runConfig resolves what a run of sc scans.
func (s *Store) runConfig(ctx context.Context, tx bun.IDB, sc *vigil.Scan) (*vigil.RunConfig, error) {
	t, p := sc.Target, sc.Profile
	listID := t.PortListID
	if p.PortListID != "" && (p.Fixed || listID == "") {
		listID = p.PortListID
	}
	var ports string
	if err := tx.NewSelect().Model((*portListRow)(nil)).Column("port_range").Where("id = ?", listID).Scan(ctx, &ports); err != nil {
		return nil, err
	}
	return &vigil.RunConfig{Hosts: t.Hosts, ExcludeHosts: t.ExcludeHosts, Ports: ports, AliveTest: string(t.AliveTest),
		ServiceDetection: p.ServiceDetection, Checks: string(p.Checks), Profile: p.Name, SSHCredentialID: t.Credentials.SSH}, nil
}

// StopScan stops the active run: one no node has claimed yet ends Stopped at
// once; a running one goes to Stop Requested and its node stops it.
func (s *Store) StopScan(ctx context.Context, orgID, id string) (*vigil.Run, error) {
	var out *vigil.Run
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sc, err := s.findScan(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		row := new(runRow)
		err = tx.NewSelect().Model(row).Where("scan_id = ? AND status IN (?)", sc.ID, bun.In(vigil.ActiveStatuses)).Limit(1).Scan(ctx)
		if err != nil {
			if vigil.ErrorCode(translate(err)) == vigil.ENOTFOUND {
				return vigil.FieldError("status", "the scan is %s, not running; there is nothing to stop", sc.Status)
			}
			return err
		}
		now := s.now()
		switch vigil.ScanStatus(row.Status) {
		case vigil.StatusRequested, vigil.StatusQueued:
			row.Status, row.EndedAt, row.Reason = string(vigil.StatusStopped), &now, "stopped before a scanner started it"
		case vigil.StatusRunning:
			row.Status = string(vigil.StatusStopRequested)
		}
		row.UpdatedAt = now
		if _, err := tx.NewUpdate().Model(row).WherePK().Column("status", "ended_at", "reason", "updated_at").Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model((*scanRow)(nil)).Where("id = ?", sc.ID).
			Set("status = ?", row.Status).Set("updated_at = ?", now).Exec(ctx); err != nil {
			return err
		}
		if row.Status == string(vigil.StatusStopped) {
			if err := s.emitScanEvent(ctx, tx, row); err != nil {
				return err
			}
		}
		out = row.domain()
		return nil
	})
	return out, err
}

// FindRuns lists the runs of one scan of orgID.
func (s *Store) FindRuns(ctx context.Context, orgID, scanID string, opts vigil.ListOptions) ([]*vigil.Run, int, error) {
	if !vigil.IsUUID(scanID) {
		return nil, 0, vigil.NotFound("scan")
	}
	if ok, err := s.db.NewSelect().Model((*scanRow)(nil)).Where("id = ? AND organization_id = ?", scanID, orgID).Exists(ctx); err != nil {
		return nil, 0, err
	} else if !ok {
		return nil, 0, vigil.NotFound("scan")
	}
	var rows []*runRow
	q := s.db.NewSelect().Model(&rows).Where("run.organization_id = ? AND run.scan_id = ?", orgID, scanID)
	return listPage(ctx, s, q, &rows, "run", runColumns, vigil.RunList, opts)
}

// FindRunByID returns ENOTFOUND unless the run belongs to scanID in orgID.
func (s *Store) FindRunByID(ctx context.Context, orgID, scanID, runID string) (*vigil.Run, error) {
	if !vigil.IsUUID(scanID) || !vigil.IsUUID(runID) {
		return nil, vigil.NotFound("scan history")
	}
	row := new(runRow)
	if err := s.db.NewSelect().Model(row).Where("id = ? AND scan_id = ? AND organization_id = ?", runID, scanID, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "scan history")
	}
	return row.domain(), nil
}

// ClaimRun hands the oldest waiting run of a scanner of kind to nodeID, with
// the config it was requested with.
func (s *Store) ClaimRun(ctx context.Context, kind, nodeID string, lease time.Duration) (*vigil.Run, *vigil.RunConfig, error) {
	var out *vigil.Run
	var cfg *vigil.RunConfig
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row := new(runRow)
		q := tx.NewSelect().Model(row).
			Where("run.status IN (?)", bun.In(waitingStatuses)).
			Where("run.scanner_id IN (SELECT id FROM scanners WHERE kind = ?)", kind).
			OrderExpr("run.requested_at, run.id").Limit(1)
		if s.dialect == Postgres {
			// Replicas claiming at once skip each other's rows instead of
			// waiting; SQLite has one writer, so its transactions serialize.
			q = q.For("UPDATE OF run SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil {
			if vigil.ErrorCode(translate(err)) == vigil.ENOTFOUND {
				return nil
			}
			return err
		}
		now := s.now()
		until := now.Add(lease)
		row.Status, row.NodeID, row.LeaseUntil, row.StartedAt, row.UpdatedAt = string(vigil.StatusRunning), nodeID, &until, &now, now
		if _, err := tx.NewUpdate().Model(row).WherePK().Column("status", "node_id", "lease_until", "started_at", "updated_at").Exec(ctx); err != nil {
			return err
		}
		if err := s.setScanFromRun(ctx, tx, row); err != nil {
			return err
		}
		if err := s.emitScanEvent(ctx, tx, row); err != nil {
			return err
		}
		cfg = new(vigil.RunConfig)
		if err := json.Unmarshal([]byte(row.Config), cfg); err != nil {
			return fmt.Errorf("store: config of run %s: %w", row.ID, err)
		}
		if err := s.attachSSHLogin(ctx, tx, row.OrganizationID, cfg); err != nil {
			return err
		}
		out = row.domain()
		return nil
	})
	return out, cfg, err
}

// attachSSHLogin decrypts the run's ssh credential for the node that claimed
// it. A credential deleted since the scan started leaves the run
// unauthenticated rather than failing it.
func (s *Store) attachSSHLogin(ctx context.Context, tx bun.IDB, orgID string, cfg *vigil.RunConfig) error {
	cfg.SSH = nil
	if cfg.SSHCredentialID == "" {
		return nil
	}
	c, err := s.findCredential(ctx, tx, orgID, cfg.SSHCredentialID)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Type == vigil.CredentialSSH {
		cfg.SSH = c.SSHLogin()
	}
	return nil
}

// setScanFromRun mirrors a run's status and progress on its scan, when the
// run is the scan's latest.
func (s *Store) setScanFromRun(ctx context.Context, tx bun.IDB, row *runRow) error {
	q := tx.NewUpdate().Model((*scanRow)(nil)).Where("id = ? AND last_run_id = ?", row.ScanID, row.ID).
		Set("status = ?", row.Status).Set("progress = ?", row.Progress).Set("updated_at = ?", row.UpdatedAt)
	if row.Status == string(vigil.StatusDone) {
		q = q.Set("last_done_at = ?", row.EndedAt).
			Set("count_high = ?", row.CountHigh).Set("count_medium = ?", row.CountMedium).
			Set("count_low = ?", row.CountLow).Set("count_log = ?", row.CountLog)
	}
	_, err := q.Exec(ctx)
	return err
}

// heldRun loads runID if nodeID holds it (Running or Stop Requested).
func (s *Store) heldRun(ctx context.Context, tx bun.IDB, runID, nodeID string) (*runRow, error) {
	row := new(runRow)
	err := tx.NewSelect().Model(row).Where("id = ? AND node_id = ? AND status IN (?)", runID, nodeID,
		bun.In(heldStatuses)).Scan(ctx)
	if err != nil {
		if vigil.ErrorCode(translate(err)) == vigil.ENOTFOUND {
			return nil, vigil.Errorf(vigil.ECONFLICT, "run %s is not held by node %s (finished, or its lease expired)", runID, nodeID)
		}
		return nil, err
	}
	return row, nil
}

// HeartbeatRun renews nodeID's lease on runID and records its progress.
func (s *Store) HeartbeatRun(ctx context.Context, runID, nodeID string, p vigil.RunProgress, lease time.Duration) (bool, error) {
	var stop bool
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.heldRun(ctx, tx, runID, nodeID)
		if err != nil {
			return err
		}
		now := s.now()
		until := now.Add(lease)
		row.LeaseUntil, row.UpdatedAt = &until, now
		row.Progress, row.HostsTotal, row.HostsDone, row.HostsUp = min(max(p.Progress, 0), 99), p.HostsTotal, p.HostsDone, p.HostsUp
		if _, err := tx.NewUpdate().Model(row).WherePK().
			Column("lease_until", "updated_at", "progress", "hosts_total", "hosts_done", "hosts_up").Exec(ctx); err != nil {
			return err
		}
		stop = row.Status == string(vigil.StatusStopRequested)
		return s.setScanFromRun(ctx, tx, row)
	})
	return stop, err
}

// FinishRun ends nodeID's run.
func (s *Store) FinishRun(ctx context.Context, runID, nodeID string, status vigil.ScanStatus, reason string) error {
	if status != vigil.StatusDone && status != vigil.StatusStopped && status != vigil.StatusFailed && status != vigil.StatusInterrupted {
		return vigil.FieldError("status", "a node finishes a run as Done, Stopped, Failed or Interrupted, not %s", status)
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.heldRun(ctx, tx, runID, nodeID)
		if err != nil {
			return err
		}
		now := s.now()
		row.Status, row.Reason, row.EndedAt, row.LeaseUntil, row.UpdatedAt = string(status), reason, &now, nil, now
		if status == vigil.StatusDone {
			row.Progress = 100
		}
		if _, err := tx.NewUpdate().Model(row).WherePK().Column("status", "reason", "ended_at", "lease_until", "progress", "updated_at").Exec(ctx); err != nil {
			return err
		}
		if err := s.finalizeRun(ctx, tx, row); err != nil {
			return err
		}
		return s.setScanFromRun(ctx, tx, row)
	})
}

// ExpireRuns ends every run whose node stopped renewing its lease.
func (s *Store) ExpireRuns(ctx context.Context) (int, error) {
	n := 0
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var rows []*runRow
		if err := tx.NewSelect().Model(&rows).Where("status IN (?) AND lease_until < ?",
			bun.In(heldStatuses), s.now()).Scan(ctx); err != nil {
			return err
		}
		now := s.now()
		for _, row := range rows {
			if row.Status == string(vigil.StatusStopRequested) {
				row.Status, row.Reason = string(vigil.StatusStopped), "stopped; the scanner node stopped reporting before it confirmed"
			} else {
				row.Status, row.Reason = string(vigil.StatusInterrupted), "the scanner node stopped reporting (lease expired); results so far are kept"
			}
			row.EndedAt, row.LeaseUntil, row.UpdatedAt = &now, nil, now
			if _, err := tx.NewUpdate().Model(row).WherePK().Column("status", "reason", "ended_at", "lease_until", "updated_at").Exec(ctx); err != nil {
				return err
			}
			if err := s.finalizeRun(ctx, tx, row); err != nil {
				return err
			}
			if err := s.setScanFromRun(ctx, tx, row); err != nil {
				return err
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
}

var _ vigil.RunQueue = (*Store)(nil)
