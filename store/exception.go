package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type exceptionRow struct {
	bun.BaseModel  `bun:"table:exceptions,alias:ex"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	OwnerID        string     `bun:"owner_id,nullzero"`
	Text           string     `bun:"text"`
	NVT            string     `bun:"nvt"`
	Hosts          string     `bun:"hosts"`
	Port           *int       `bun:"port"`
	ScanID         string     `bun:"scan_id,nullzero"`
	NewSeverity    float64    `bun:"new_severity"`
	Reason         string     `bun:"reason"`
	Status         string     `bun:"status"`
	EndDate        *time.Time `bun:"end_date"`
	ReviewerID     string     `bun:"reviewer_id,nullzero"`
	ReviewedAt     *time.Time `bun:"reviewed_at"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`

	Findings int `bun:"findings_count,scanonly"`
}

func (r *exceptionRow) domain() *vigil.Exception {
	return &vigil.Exception{ID: r.ID, OrganizationID: r.OrganizationID, OwnerID: r.OwnerID, Text: r.Text, NVT: r.NVT,
		Hosts: r.Hosts, Port: r.Port, ScanID: r.ScanID, NewSeverity: r.NewSeverity, Reason: r.Reason,
		Status: vigil.ExceptionStatus(r.Status), EndDate: r.EndDate, ReviewerID: r.ReviewerID, ReviewedAt: r.ReviewedAt,
		Findings: r.Findings, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func exceptionToRow(e *vigil.Exception) *exceptionRow {
	return &exceptionRow{ID: e.ID, OrganizationID: e.OrganizationID, OwnerID: e.OwnerID, Text: e.Text, NVT: e.NVT, Hosts: e.Hosts,
		Port: e.Port, ScanID: e.ScanID, NewSeverity: e.NewSeverity, Reason: e.Reason, Status: string(e.Status), EndDate: e.EndDate,
		ReviewerID: e.ReviewerID, ReviewedAt: e.ReviewedAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

var exceptionColumns = map[string]column{
	"text": {expr: "text", text: true}, "nvt": {expr: "nvt"}, "status": {expr: "status"}, "scan_id": {expr: "scan_id", uuid: true},
	"hosts": {expr: "hosts", text: true}, "id": {expr: "id", uuid: true}, "owner_id": {expr: "owner_id", uuid: true},
	"created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"}, "end_date": {expr: "end_date"},
	"new_severity": {expr: "new_severity"},
}

// withFindingCount adds how many findings each exception applies to.
func withFindingCount(q *bun.SelectQuery) *bun.SelectQuery {
	return q.ColumnExpr("ex.*").ColumnExpr("(SELECT count(*) FROM findings AS f WHERE f.exception_id = ex.id) AS findings_count")
}

// FindExceptions lists an organization's exceptions.
func (s *Store) FindExceptions(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.Exception, int, error) {
	var rows []*exceptionRow
	q := withFindingCount(s.db.NewSelect().Model(&rows)).Where("ex.organization_id = ?", orgID)
	return listPage(ctx, s, q, &rows, "ex", exceptionColumns, vigil.ExceptionList, opts)
}

// FindExceptionByID returns one exception of orgID.
func (s *Store) FindExceptionByID(ctx context.Context, orgID, id string) (*vigil.Exception, error) {
	row, err := s.findException(ctx, s.db, orgID, id)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (s *Store) findException(ctx context.Context, db bun.IDB, orgID, id string) (*exceptionRow, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("exception")
	}
	row := new(exceptionRow)
	if err := withFindingCount(db.NewSelect().Model(row)).Where("ex.id = ? AND ex.organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "exception")
	}
	return row, nil
}

// checkExceptionScan refuses a scan of another organization.
func (s *Store) checkExceptionScan(ctx context.Context, tx bun.IDB, orgID, scanID string) error {
	if scanID == "" {
		return nil
	}
	ok, err := tx.NewSelect().Model((*scanRow)(nil)).Where("id = ? AND organization_id = ?", scanID, orgID).Exists(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return vigil.FieldError("exception.scan", "no such scan")
	}
	return nil
}

// CreateException stores a pending exception (a request for review).
func (s *Store) CreateException(ctx context.Context, orgID, ownerID string, in vigil.ExceptionInput) (*vigil.Exception, error) {
	now := s.now()
	e := &vigil.Exception{OrganizationID: orgID, OwnerID: ownerID, NewSeverity: vigil.FalsePositive, Status: vigil.ExceptionPending}
	if err := vigil.ApplyExceptionInput(e, in, now); err != nil {
		return nil, err
	}
	e.ID, e.CreatedAt, e.UpdatedAt = vigil.NewID(), now, now
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkExceptionScan(ctx, tx, orgID, e.ScanID); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(exceptionToRow(e)).Exec(ctx); err != nil {
			return err
		}
		return s.emit(ctx, tx, exceptionEvent(e, vigil.EventExceptionCreated))
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// UpdateException changes an exception. A change of what it matches or of
// its severity sends an active one back to review (pending) unless
// keepActive; either way the findings it touched are recomputed.
func (s *Store) UpdateException(ctx context.Context, orgID, id string, in vigil.ExceptionInput, keepActive bool) (*vigil.Exception, error) {
	var out *vigil.Exception
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.findException(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		before := row.domain()
		e := row.domain()
		now := s.now()
		if err := vigil.ApplyExceptionInput(e, in, now); err != nil {
			return err
		}
		if err := s.checkExceptionScan(ctx, tx, orgID, e.ScanID); err != nil {
			return err
		}
		scopeChanged := before.NVT != e.NVT || before.Hosts != e.Hosts || before.ScanID != e.ScanID ||
			!samePort(before.Port, e.Port) || before.NewSeverity != e.NewSeverity
		if e.Active() && scopeChanged && !keepActive {
			e.Status, e.ReviewerID, e.ReviewedAt = vigil.ExceptionPending, "", nil
		}
		e.UpdatedAt = now
		if _, err := tx.NewUpdate().Model(exceptionToRow(e)).WherePK().
			Column("text", "nvt", "hosts", "port", "scan_id", "new_severity", "reason", "status", "end_date",
				"reviewer_id", "reviewed_at", "updated_at").Exec(ctx); err != nil {
			return err
		}
		if before.Active() || e.Active() {
			if err := s.reapplyExceptions(ctx, tx, orgID, []string{before.NVT, e.NVT}, now); err != nil {
				return err
			}
		}
		row, err = s.findException(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		out = row.domain()
		return nil
	})
	return out, err
}

func samePort(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// DeleteExceptions deletes all of ids or none; the findings of active
// ones get their own severity back.
func (s *Store) DeleteExceptions(ctx context.Context, orgID string, ids []string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		rows, err := s.exceptionsByIDs(ctx, tx, orgID, ids)
		if err != nil {
			return err
		}
		var nvts []string
		for _, r := range rows {
			if r.Status == string(vigil.ExceptionActive) {
				nvts = append(nvts, r.NVT)
			}
		}
		if _, err := tx.NewDelete().Model((*exceptionRow)(nil)).Where("id IN (?) AND organization_id = ?", bun.In(ids), orgID).
			Exec(ctx); err != nil {
			return err
		}
		return s.reapplyExceptions(ctx, tx, orgID, nvts, s.now())
	})
}

// exceptionsByIDs loads ids of orgID: all of them, or ENOTFOUND.
func (s *Store) exceptionsByIDs(ctx context.Context, tx bun.IDB, orgID string, ids []string) ([]*exceptionRow, error) {
	if len(ids) == 0 {
		return nil, vigil.FieldError("ids", "can't be blank")
	}
	for _, id := range ids {
		if !vigil.IsUUID(id) {
			return nil, vigil.NotFound("exception")
		}
	}
	var rows []*exceptionRow
	if err := tx.NewSelect().Model(&rows).Where("ex.id IN (?) AND ex.organization_id = ?", bun.In(ids), orgID).Scan(ctx); err != nil {
		return nil, err
	}
	if len(rows) != len(dedupe(ids)) {
		return nil, vigil.NotFound("exception")
	}
	return rows, nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// ReviewExceptions activates, rejects or resets (pending) ids, all or
// none, and recomputes the findings they touch in the same transaction.
// Activating an exception whose end date passed is refused.
func (s *Store) ReviewExceptions(ctx context.Context, orgID string, ids []string, rv vigil.ExceptionReview) ([]*vigil.Exception, error) {
	status, reviewerID := rv.Status, rv.ReviewerID
	var out []*vigil.Exception
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		rows, err := s.exceptionsByIDs(ctx, tx, orgID, ids)
		if err != nil {
			return err
		}
		now := s.now()
		var nvts []string
		var events []*vigil.Event
		for _, r := range rows {
			was := vigil.ExceptionStatus(r.Status)
			if status == vigil.ExceptionActive && rv.EndDate != nil && (r.EndDate == nil || rv.ReplaceEnd) {
				r.EndDate = rv.EndDate
				if _, err := tx.NewUpdate().Model(r).WherePK().Column("end_date").Exec(ctx); err != nil {
					return err
				}
			}
			if status == vigil.ExceptionActive && r.EndDate != nil && !r.EndDate.After(now) {
				return vigil.FieldError("ids", "exception %s ended on %s; give it a new end_date first", r.ID, r.EndDate.Format(time.RFC3339))
			}
			if status == vigil.ExceptionRejected && was == vigil.ExceptionActive {
				return vigil.FieldError("ids", "exception %s is active; reset it before rejecting it", r.ID)
			}
			if was == status {
				continue
			}
			r.Status, r.UpdatedAt = string(status), now
			if status == vigil.ExceptionPending {
				r.ReviewerID, r.ReviewedAt = "", nil
			} else {
				r.ReviewerID, r.ReviewedAt = reviewerID, &now
			}
			if _, err := tx.NewUpdate().Model(r).WherePK().Column("status", "reviewer_id", "reviewed_at", "updated_at").Exec(ctx); err != nil {
				return err
			}
			if was == vigil.ExceptionActive || status == vigil.ExceptionActive {
				nvts = append(nvts, r.NVT)
			}
			switch status {
			case vigil.ExceptionActive:
				events = append(events, exceptionEvent(r.domain(), vigil.EventExceptionActivated))
			case vigil.ExceptionRejected:
				events = append(events, exceptionEvent(r.domain(), vigil.EventExceptionRejected))
			}
		}
		if err := s.reapplyExceptions(ctx, tx, orgID, nvts, now); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, events...); err != nil {
			return err
		}
		var fresh []*exceptionRow
		if err := withFindingCount(tx.NewSelect().Model(&fresh)).Where("ex.id IN (?)", bun.In(ids)).OrderExpr("ex.created_at, ex.id").
			Scan(ctx); err != nil {
			return err
		}
		out = domains(fresh)
		return nil
	})
	return out, err
}

// ExpireExceptions ends every active exception whose end date passed, of
// every organization, and gives their findings back their own severity.
// Several replicas may run it at once: a row flips (and its event is
// written) only once.
func (s *Store) ExpireExceptions(ctx context.Context) (int, error) {
	n := 0
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		now := s.now()
		var rows []*exceptionRow
		q := tx.NewSelect().Model(&rows).Where("ex.status = ? AND ex.end_date <= ?", vigil.ExceptionActive, now).
			OrderExpr("ex.organization_id").Limit(1000)
		if s.dialect == Postgres {
			q = q.For("UPDATE SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		byOrg := map[string][]string{}
		for _, r := range rows {
			r.Status, r.UpdatedAt = string(vigil.ExceptionExpired), now
			if _, err := tx.NewUpdate().Model(r).WherePK().Column("status", "updated_at").Exec(ctx); err != nil {
				return err
			}
			byOrg[r.OrganizationID] = append(byOrg[r.OrganizationID], r.NVT)
			if err := s.emit(ctx, tx, exceptionEvent(r.domain(), vigil.EventExceptionExpired)); err != nil {
				return err
			}
		}
		for org, nvts := range byOrg {
			if err := s.reapplyExceptions(ctx, tx, org, nvts, now); err != nil {
				return err
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
}

// ExceptionFindings lists the findings an exception applies to; for one not
// active, those it would apply to.
func (s *Store) ExceptionFindings(ctx context.Context, orgID, id string, opts vigil.ListOptions) ([]*vigil.Finding, int, error) {
	row, err := s.findException(ctx, s.db, orgID, id)
	if err != nil {
		return nil, 0, err
	}
	var rows []*findingRow
	q := s.db.NewSelect().Model(&rows)
	if row.Status == string(vigil.ExceptionActive) {
		q = q.Where("f.exception_id = ?", row.ID)
	} else {
		q = exceptionScope(q, row.domain())
	}
	return listPageByID(ctx, s, q, &rows, "f", findingColumns, vigil.FindingList, opts)
}

// ExceptionStatistics counts exceptions by status, active ones by the
// class of their new severity, and the findings active ones override.
func (s *Store) ExceptionStatistics(ctx context.Context, orgID string) (*vigil.ExceptionStats, error) {
	st := &vigil.ExceptionStats{ByStatus: map[vigil.ExceptionStatus]int{}, BySeverity: map[string]int{}}
	for _, x := range []vigil.ExceptionStatus{vigil.ExceptionPending, vigil.ExceptionActive, vigil.ExceptionExpired, vigil.ExceptionRejected} {
		st.ByStatus[x] = 0
	}
	var byStatus []struct {
		Status      string  `bun:"status"`
		NewSeverity float64 `bun:"new_severity"`
		N           int     `bun:"n"`
	}
	if err := s.db.NewSelect().Model((*exceptionRow)(nil)).ColumnExpr("ex.status, ex.new_severity, count(*) AS n").
		Where("ex.organization_id = ?", orgID).GroupExpr("ex.status, ex.new_severity").Scan(ctx, &byStatus); err != nil {
		return nil, err
	}
	for _, r := range byStatus {
		st.ByStatus[vigil.ExceptionStatus(r.Status)] += r.N
		if r.Status == string(vigil.ExceptionActive) {
			st.BySeverity[vigil.SeverityClass(r.NewSeverity)] += r.N
		}
	}
	n, err := s.db.NewSelect().Model((*findingRow)(nil)).Where("f.organization_id = ? AND f.exception_id IS NOT NULL", orgID).Count(ctx)
	st.Findings = int(n)
	return st, err
}

func exceptionEvent(e *vigil.Exception, typ string) *vigil.Event {
	verb := map[string]string{vigil.EventExceptionCreated: "requested", vigil.EventExceptionActivated: "activated",
		vigil.EventExceptionRejected: "rejected", vigil.EventExceptionExpired: "expired"}[typ]
	data := map[string]any{"id": e.ID, "text": e.Text, "nvt": e.NVT, "hosts": e.Hosts, "port": e.Port, "scan_id": nilIfEmpty(e.ScanID),
		"new_severity": e.NewSeverity, "status": string(e.Status), "end_date": stamp(e.EndDate), "reason": e.Reason}
	return &vigil.Event{OrganizationID: e.OrganizationID, Type: typ, ResourceType: "exception", ResourceID: e.ID,
		Title:   "Exception " + verb + ": " + truncateText(e.Text, 100),
		Message: "Exception \"" + truncateText(e.Text, 200) + "\" for " + e.NVT + " was " + verb + ".",
		Data:    map[string]any{"exception": data}}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// exceptionScope narrows a findings query to what e matches.
func exceptionScope(q *bun.SelectQuery, e *vigil.Exception) *bun.SelectQuery {
	q = q.Where("f.organization_id = ? AND (f.check_id = ? OR f.cve = ?)", e.OrganizationID, e.NVT, e.NVT)
	if e.ScanID != "" {
		q = q.Where("f.scan_id = ?", e.ScanID)
	}
	if e.Port != nil {
		q = q.Where("f.port = ?", *e.Port)
	}
	if prefixes := e.Prefixes(); len(prefixes) > 0 {
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			for _, p := range prefixes {
				lo, hi := prefixKeys(p)
				q = q.WhereOr("f.ip_key BETWEEN ? AND ?", lo, hi)
			}
			return q
		})
	}
	return q
}

// prefixKeys are the ipKey bounds of a prefix.
func prefixKeys(p netip.Prefix) (lo, hi string) {
	p = p.Masked()
	b := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	last := b
	for i := bits; i < 128; i++ {
		last[i/8] |= 1 << (7 - i%8)
	}
	return hex.EncodeToString(b[:]), hex.EncodeToString(last[:])
}

// reapplyExceptions recomputes the findings of the checks nvts in orgID
// from the exceptions active now: first every override on them is undone,
// then the active exceptions are applied oldest review first, so the newest
// wins where several match. The hosts, Top Vulnerabilities rows and latest
// runs (counts and PCI verdict) of the touched findings follow, in the
// caller's transaction.
func (s *Store) reapplyExceptions(ctx context.Context, tx bun.IDB, orgID string, nvts []string, now time.Time) error {
	nvts = dedupe(nvts)
	if len(nvts) == 0 {
		return nil
	}
	onChecks := func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("f.organization_id = ? AND (f.check_id IN (?) OR f.cve IN (?))", orgID, bun.In(nvts), bun.In(nvts))
	}
	type touched struct {
		HostID  string `bun:"host_id"`
		ScanID  string `bun:"scan_id"`
		CheckID string `bun:"check_id"`
	}
	var before []touched
	if err := onChecks(tx.NewSelect().Model((*findingRow)(nil)).ColumnExpr("DISTINCT f.host_id, f.scan_id, f.check_id")).
		Where("f.exception_id IS NOT NULL").Scan(ctx, &before); err != nil {
		return err
	}
	if _, err := tx.NewUpdate().Model((*findingRow)(nil)).
		Set("severity = original_severity").Set("pci_fail = original_pci_fail").
		Set("original_severity = NULL").Set("original_pci_fail = NULL").Set("exception_id = NULL").
		Where("organization_id = ? AND exception_id IS NOT NULL AND (check_id IN (?) OR cve IN (?))", orgID, bun.In(nvts), bun.In(nvts)).
		Exec(ctx); err != nil {
		return err
	}
	var active []*exceptionRow
	if err := tx.NewSelect().Model(&active).Where("ex.organization_id = ? AND ex.status = ? AND ex.nvt IN (?)",
		orgID, vigil.ExceptionActive, bun.In(nvts)).OrderExpr("ex.reviewed_at, ex.id").Scan(ctx); err != nil {
		return err
	}
	for _, e := range active {
		sub := exceptionScope(tx.NewSelect().Model((*findingRow)(nil)).Column("f.id"), e.domain())
		if _, err := tx.NewUpdate().Model((*findingRow)(nil)).
			Set("original_severity = COALESCE(original_severity, severity)").
			Set("original_pci_fail = COALESCE(original_pci_fail, pci_fail)").
			Set("severity = ?", e.NewSeverity).Set("pci_fail = ?", false).Set("exception_id = ?", e.ID).
			Where("id IN (?)", sub).Exec(ctx); err != nil {
			return err
		}
	}
	var after []touched
	if err := onChecks(tx.NewSelect().Model((*findingRow)(nil)).ColumnExpr("DISTINCT f.host_id, f.scan_id, f.check_id")).
		Where("f.exception_id IS NOT NULL").Scan(ctx, &after); err != nil {
		return err
	}
	hosts, scans, checks := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, t := range append(before, after...) {
		hosts[t.HostID], scans[t.ScanID], checks[t.CheckID] = true, true, true
	}
	if len(hosts) == 0 {
		return nil
	}
	if err := s.refreshHosts(ctx, tx, setKeys(hosts), now); err != nil {
		return err
	}
	if err := s.refreshVulnStats(ctx, tx, orgID, setKeys(checks), now); err != nil {
		return err
	}
	if err := s.refreshLatestRuns(ctx, tx, setKeys(scans), now); err != nil {
		return err
	}
	return s.snapshotTrend(ctx, tx, orgID, now)
}

// refreshLatestRuns recomputes the counts, and the PCI verdict of a Done
// one, of the latest run and latest Done run of each scan from the
// findings they saw (older runs keep the verdict they had).
func (s *Store) refreshLatestRuns(ctx context.Context, tx bun.IDB, scanIDs []string, now time.Time) error {
	sort.Strings(scanIDs)
	for _, scanID := range scanIDs {
		var ids []string
		if err := tx.NewSelect().Model((*scanRow)(nil)).Column("last_run_id").Where("id = ? AND last_run_id IS NOT NULL", scanID).
			Scan(ctx, &ids); err != nil {
			return err
		}
		var done []string
		if err := tx.NewSelect().Model((*runRow)(nil)).Column("run.id").Where("run.scan_id = ? AND run.status = ?", scanID, vigil.StatusDone).
			OrderExpr("run.ended_at DESC").Limit(1).Scan(ctx, &done); err != nil {
			return err
		}
		for _, id := range dedupe(append(ids, done...)) {
			run := new(runRow)
			if err := tx.NewSelect().Model(run).Where("run.id = ?", id).Scan(ctx); err != nil {
				return err
			}
			cond := "f.host_id = rh.host_id AND f.last_run_id = rh.run_id"
			if _, err := tx.NewUpdate().Model((*runHostRow)(nil)).Set(fmt.Sprintf(severityCountsSQL, cond)).
				Where("rh.run_id = ?", run.ID).Exec(ctx); err != nil {
				return err
			}
			if err := s.runVerdict(ctx, tx, run); err != nil {
				return err
			}
			if err := s.setScanFromRun(ctx, tx, run); err != nil {
				return err
			}
		}
	}
	return nil
}
