package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type scannerRow struct {
	bun.BaseModel  `bun:"table:scanners,alias:scanner"`
	ID             string    `bun:"id,pk"`
	OrganizationID string    `bun:"organization_id"`
	Name           string    `bun:"name"`
	Kind           string    `bun:"kind"`
	CreatedAt      time.Time `bun:"created_at"`
}

type scanProfileRow struct {
	bun.BaseModel    `bun:"table:scan_profiles,alias:profile"`
	ID               string    `bun:"id,pk"`
	OrganizationID   string    `bun:"organization_id"`
	BuiltinKey       string    `bun:"builtin_key,nullzero"`
	GVMID            string    `bun:"gvm_id,nullzero"`
	Name             string    `bun:"name"`
	Comment          string    `bun:"comment"`
	PortListID       string    `bun:"port_list_id,nullzero"`
	ServiceDetection bool      `bun:"service_detection"`
	Checks           string    `bun:"checks"`
	Fixed            bool      `bun:"fixed"`
	Active           bool      `bun:"active"`
	AppType          string    `bun:"app_type,nullzero"`
	CreatedAt        time.Time `bun:"created_at"`
	UpdatedAt        time.Time `bun:"updated_at"`
}

func (r *scanProfileRow) domain() *vigil.ScanProfile {
	return &vigil.ScanProfile{ID: r.ID, OrganizationID: r.OrganizationID, BuiltinKey: r.BuiltinKey, GVMID: r.GVMID, Name: r.Name,
		Comment: r.Comment, PortListID: r.PortListID, ServiceDetection: r.ServiceDetection, Checks: vigil.Checks(r.Checks),
		Fixed: r.Fixed, Active: r.Active, AppType: r.AppType, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type scanRow struct {
	bun.BaseModel  `bun:"table:scans,alias:scan"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	Name           string     `bun:"name"`
	Comment        string     `bun:"comment"`
	TargetID       string     `bun:"target_id"`
	ProfileID      string     `bun:"profile_id"`
	ScannerID      string     `bun:"scanner_id"`
	ScheduleID     string     `bun:"schedule_id,nullzero"`
	Status         string     `bun:"status"`
	Progress       int        `bun:"progress"`
	LastRunID      string     `bun:"last_run_id,nullzero"`
	LastRunAt      *time.Time `bun:"last_run_at"`
	LastDoneAt     *time.Time `bun:"last_done_at"`
	NextRunAt      *time.Time `bun:"next_run_at"`
	CountHigh      int        `bun:"count_high"`
	CountMedium    int        `bun:"count_medium"`
	CountLow       int        `bun:"count_low"`
	CountLog       int        `bun:"count_log"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`

	Target  *targetRow      `bun:"rel:belongs-to,join:target_id=id"`
	Profile *scanProfileRow `bun:"rel:belongs-to,join:profile_id=id"`
}

func (r *scanRow) domain() *vigil.Scan {
	s := &vigil.Scan{ID: r.ID, OrganizationID: r.OrganizationID, Name: r.Name, Comment: r.Comment, TargetID: r.TargetID,
		ProfileID: r.ProfileID, ScannerID: r.ScannerID, ScheduleID: r.ScheduleID, Status: vigil.ScanStatus(r.Status),
		Progress: r.Progress, LastRunID: r.LastRunID, LastRunAt: r.LastRunAt, NextRunAt: r.NextRunAt,
		Counts:    vigil.SeverityCounts{High: r.CountHigh, Medium: r.CountMedium, Low: r.CountLow, Log: r.CountLog},
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Target != nil {
		s.Target = r.Target.domain()
	}
	if r.Profile != nil {
		s.Profile = r.Profile.domain()
	}
	return s
}

var scanProfileColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "name": {expr: "name", text: true}, "app_type": {expr: "app_type"},
	"active": {expr: "active"}, "created_at": {expr: "created_at"},
}

var scanColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "name": {expr: "name", text: true}, "comment": {expr: "comment", text: true},
	"status": {expr: "status"}, "target_id": {expr: "target_id", uuid: true}, "config_id": {expr: "profile_id", uuid: true},
	"scanner_id": {expr: "scanner_id", uuid: true}, "progress": {expr: "progress"}, "last_run_at": {expr: "last_run_at"},
	"created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"},
	// Server-side views only (not in vigil.ScanList).
	"last_done_at": {expr: "last_done_at"}, "schedule_id": {expr: "schedule_id"}, "next_run_at": {expr: "next_run_at"},
}

// syncScanDefaults gives orgID its local scanner and the built-in scan
// profiles (after its built-in port lists exist). Idempotent: it runs when
// an organization is created and after every migration.
func (s *Store) syncScanDefaults(ctx context.Context, tx bun.IDB, orgID string) error {
	now := s.now()
	n, err := tx.NewSelect().Model((*scannerRow)(nil)).Where("organization_id = ? AND kind = 'local'", orgID).Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		row := &scannerRow{ID: vigil.NewID(), OrganizationID: orgID, Name: "Local scanner", Kind: "local", CreatedAt: now}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
	}
	var have []string
	if err := tx.NewSelect().Model((*scanProfileRow)(nil)).Column("builtin_key").
		Where("organization_id = ? AND builtin_key IS NOT NULL", orgID).Scan(ctx, &have); err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, k := range have {
		exists[k] = true
	}
	for _, def := range vigil.BuiltinScanProfiles {
		if exists[def.Key] {
			continue
		}
		row := &scanProfileRow{ID: vigil.NewID(), OrganizationID: orgID, BuiltinKey: def.Key, GVMID: def.GVMID, Name: def.Name,
			Comment: def.Comment, ServiceDetection: def.ServiceDetection, Checks: string(def.Checks), Fixed: def.Fixed,
			Active: true, AppType: def.AppType, CreatedAt: now, UpdatedAt: now}
		if def.PortListKey != "" {
			if err := tx.NewSelect().Model((*portListRow)(nil)).Column("id").
				Where("organization_id = ? AND builtin_key = ?", orgID, def.PortListKey).Scan(ctx, &row.PortListID); err != nil {
				return fmt.Errorf("store: built-in port list %s of organization %s: %w", def.PortListKey, orgID, err)
			}
		}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// syncAllScanDefaults backfills every organization (organizations created
// before the scans migration have neither scanner nor profiles).
func (s *Store) syncAllScanDefaults(ctx context.Context) error {
	var orgs []string
	if err := s.wdb.NewSelect().Model((*organizationRow)(nil)).Column("id").Scan(ctx, &orgs); err != nil {
		return err
	}
	for _, id := range orgs {
		if err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error { return s.syncScanDefaults(ctx, tx, id) }); err != nil {
			return err
		}
	}
	return nil
}

// FindScanProfiles lists orgID's scan profiles.
func (s *Store) FindScanProfiles(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.ScanProfile, int, error) {
	var rows []*scanProfileRow
	q := s.db.NewSelect().Model(&rows).Where("profile.organization_id = ?", orgID)
	return listPage(ctx, s, q, &rows, "profile", scanProfileColumns, vigil.ScanProfileList, opts)
}

// FindScans lists orgID's scans with their targets and profiles (one query).
func (s *Store) FindScans(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.Scan, int, error) {
	var rows []*scanRow
	q := s.db.NewSelect().Model(&rows).Relation("Target").Relation("Profile").Where("scan.organization_id = ?", orgID)
	q = scopeToGroups(q, vigil.ResourceScan, "scan", opts)
	return listPage(ctx, s, q, &rows, "scan", scanColumns, vigil.ScanList, opts)
}

// FindScanByID returns ENOTFOUND unless the scan exists in orgID.
func (s *Store) FindScanByID(ctx context.Context, orgID, id string) (*vigil.Scan, error) {
	return s.findScan(ctx, s.db, orgID, id)
}

func (s *Store) findScan(ctx context.Context, db bun.IDB, orgID, id string) (*vigil.Scan, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("scan")
	}
	row := new(scanRow)
	if err := db.NewSelect().Model(row).Relation("Target").Relation("Profile").
		Where("scan.id = ? AND scan.organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "scan")
	}
	return row.domain(), nil
}

// CreateScan validates in and stores a New scan. The profile defaults to
// "Full and fast" and the scanner to the organization's local one.
func (s *Store) CreateScan(ctx context.Context, orgID string, in vigil.ScanInput) (*vigil.Scan, error) {
	var out *vigil.Scan
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = s.createScan(ctx, tx, orgID, in)
		return err
	})
	return out, err
}

func (s *Store) createScan(ctx context.Context, tx bun.Tx, orgID string, in vigil.ScanInput) (*vigil.Scan, error) {
	sc := &vigil.Scan{OrganizationID: orgID, Status: vigil.StatusNew}
	if err := vigil.ApplyScanInput(sc, in); err != nil {
		return nil, err
	}
	if err := s.resolveScanRefs(ctx, tx, sc); err != nil {
		return nil, err
	}
	now := s.now()
	sc.ID, sc.CreatedAt, sc.UpdatedAt = vigil.NewID(), now, now
	if _, err := tx.NewInsert().Model(scanToRow(sc)).Exec(ctx); err != nil {
		return nil, err
	}
	if err := s.copyNextRun(ctx, tx, sc.ID); err != nil {
		return nil, err
	}
	if err := s.stampOwner(ctx, tx, "scans", sc.ID); err != nil {
		return nil, err
	}
	return s.findScan(ctx, tx, orgID, sc.ID)
}

// copyNextRun copies the next run of a scan's schedule onto the scan.
func (s *Store) copyNextRun(ctx context.Context, tx bun.IDB, scanID string) error {
	_, err := tx.NewUpdate().Model((*scanRow)(nil)).
		Set("next_run_at = (SELECT sch.next_run_at FROM schedules AS sch WHERE sch.id = scan.schedule_id)").
		Where("scan.id = ?", scanID).Exec(ctx)
	return err
}

func scanToRow(sc *vigil.Scan) *scanRow {
	return &scanRow{ID: sc.ID, OrganizationID: sc.OrganizationID, Name: sc.Name, Comment: sc.Comment, TargetID: sc.TargetID,
		ProfileID: sc.ProfileID, ScannerID: sc.ScannerID, ScheduleID: sc.ScheduleID, Status: string(sc.Status),
		Progress: sc.Progress, LastRunID: sc.LastRunID, LastRunAt: sc.LastRunAt, CountHigh: sc.Counts.High,
		CountMedium: sc.Counts.Medium, CountLow: sc.Counts.Low, CountLog: sc.Counts.Log, CreatedAt: sc.CreatedAt, UpdatedAt: sc.UpdatedAt}
}

// resolveScanRefs checks the target, profile and scanner belong to the
// scan's organization and fills the defaults. config_id may also be the
// stock GVM id of a built-in profile.
func (s *Store) resolveScanRefs(ctx context.Context, tx bun.IDB, sc *vigil.Scan) error {
	v := vigil.NewValidation("scan")
	n, err := tx.NewSelect().Model((*targetRow)(nil)).Where("id = ? AND organization_id = ?", sc.TargetID, sc.OrganizationID).Count(ctx)
	if err != nil {
		return err
	} else if n == 0 {
		v.Add("target_id", "no such target")
	}
	var ids []string
	q := tx.NewSelect().Model((*scanProfileRow)(nil)).Column("id").Where("organization_id = ?", sc.OrganizationID)
	if sc.ProfileID == "" {
		q = q.Where("builtin_key = ?", "full-and-fast")
	} else {
		q = q.Where("(id = ? OR gvm_id = ?)", sc.ProfileID, sc.ProfileID).Where("active = ?", true)
	}
	if err := q.Scan(ctx, &ids); err != nil {
		return err
	}
	if len(ids) == 0 {
		v.Add("config_id", "no such active scan profile")
	} else {
		sc.ProfileID = ids[0]
	}
	ids = nil
	q = tx.NewSelect().Model((*scannerRow)(nil)).Column("id").Where("organization_id = ?", sc.OrganizationID)
	if sc.ScannerID == "" {
		q = q.Where("kind = 'local'")
	} else {
		q = q.Where("id = ?", sc.ScannerID)
	}
	if err := q.Scan(ctx, &ids); err != nil {
		return err
	}
	if len(ids) == 0 {
		v.Add("scanner_id", "no such scanner")
	} else {
		sc.ScannerID = ids[0]
	}
	if sc.ScheduleID != "" {
		ok, err := tx.NewSelect().Model((*scheduleRow)(nil)).Where("id = ? AND organization_id = ?", sc.ScheduleID, sc.OrganizationID).Exists(ctx)
		if err != nil {
			return err
		}
		if !ok {
			v.Add("schedule_id", "no such schedule")
		}
	}
	return v.Err()
}

// UpdateScan applies a partial update; a scan with an active run cannot change.
func (s *Store) UpdateScan(ctx context.Context, orgID, id string, in vigil.ScanInput) (*vigil.Scan, error) {
	var out *vigil.Scan
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		sc, err := s.findScan(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if sc.Status.Active() {
			return vigil.FieldError("status", "the scan is %s; stop it before changing it", sc.Status)
		}
		if err := vigil.ApplyScanInput(sc, in); err != nil {
			return err
		}
		if err := s.resolveScanRefs(ctx, tx, sc); err != nil {
			return err
		}
		sc.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(scanToRow(sc)).WherePK().
			Column("name", "comment", "target_id", "profile_id", "scanner_id", "schedule_id", "updated_at").Exec(ctx); err != nil {
			return err
		}
		if err := s.copyNextRun(ctx, tx, id); err != nil {
			return err
		}
		out, err = s.findScan(ctx, tx, orgID, id)
		return err
	})
	return out, err
}

// DeleteScans deletes every id or none; scans with an active run stay.
func (s *Store) DeleteScans(ctx context.Context, orgID string, ids []string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkAllExist(ctx, tx, (*scanRow)(nil), orgID, ids, "scan"); err != nil {
			return err
		}
		var running []string
		if err := tx.NewSelect().Model((*scanRow)(nil)).Column("name").
			Where("organization_id = ? AND id IN (?) AND status IN (?)", orgID, bun.In(ids), bun.In(vigil.ActiveStatuses)).
			Scan(ctx, &running); err != nil {
			return err
		}
		if len(running) > 0 {
			return vigil.FieldError("ids", "scans in progress cannot be deleted; stop them first: %v", running)
		}
		// The findings go with their scans; the aggregates they fed are
		// recomputed for the hosts and checks they touched.
		var touched []findingRow
		if err := tx.NewSelect().Model(&touched).ColumnExpr("DISTINCT f.host_id, f.check_id").
			Where("f.scan_id IN (?) AND f.status IN (?)", bun.In(ids), bun.In(openStatuses)).Scan(ctx); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*scanRow)(nil)).Where("organization_id = ? AND id IN (?)", orgID, bun.In(ids)).Exec(ctx); err != nil {
			return err
		}
		hostSet, checkSet := map[string]bool{}, map[string]bool{}
		for _, f := range touched {
			hostSet[f.HostID], checkSet[f.CheckID] = true, true
		}
		now := s.now()
		if err := s.refreshHosts(ctx, tx, setKeys(hostSet), now); err != nil {
			return err
		}
		return s.refreshVulnStats(ctx, tx, orgID, setKeys(checkSet), now)
	})
}

var _ vigil.ScanService = (*Store)(nil)
