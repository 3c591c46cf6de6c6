package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type scheduleRow struct {
	bun.BaseModel  `bun:"table:schedules,alias:sch"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	OwnerID        string     `bun:"owner_id,nullzero"`
	Name           string     `bun:"name"`
	Comment        string     `bun:"comment"`
	FirstTime      time.Time  `bun:"first_time"`
	TimeZone       string     `bun:"timezone"`
	Period         int        `bun:"period"`
	PeriodUnit     string     `bun:"period_unit"`
	RRule          string     `bun:"rrule"`
	Until          *time.Time `bun:"until"`
	Count          int        `bun:"count"`
	NextRunAt      *time.Time `bun:"next_run_at"`
	LastRunAt      *time.Time `bun:"last_run_at"`
	Slots          int        `bun:"slots"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`

	Scans int `bun:"scans_count,scanonly"`
}

func (r *scheduleRow) domain() *vigil.Schedule {
	return &vigil.Schedule{ID: r.ID, OrganizationID: r.OrganizationID, OwnerID: r.OwnerID, Name: r.Name, Comment: r.Comment,
		FirstTime: r.FirstTime, TimeZone: r.TimeZone, Period: r.Period, PeriodUnit: r.PeriodUnit, RRule: r.RRule, Until: r.Until,
		Count: r.Count, NextRunAt: r.NextRunAt, LastRunAt: r.LastRunAt, Slots: r.Slots, Scans: r.Scans,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func scheduleToRow(s *vigil.Schedule) *scheduleRow {
	return &scheduleRow{ID: s.ID, OrganizationID: s.OrganizationID, OwnerID: s.OwnerID, Name: s.Name, Comment: s.Comment,
		FirstTime: s.FirstTime.UTC(), TimeZone: s.TimeZone, Period: s.Period, PeriodUnit: s.PeriodUnit, RRule: s.RRule, Until: s.Until,
		Count: s.Count, NextRunAt: s.NextRunAt, LastRunAt: s.LastRunAt, Slots: s.Slots, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type scheduleRunRow struct {
	bun.BaseModel `bun:"table:schedule_runs,alias:sr"`
	ScheduleID    string    `bun:"schedule_id,pk"`
	ScanID        string    `bun:"scan_id,pk"`
	SlotAt        time.Time `bun:"slot_at,pk"`
	RunID         string    `bun:"run_id,nullzero"`
	Skipped       bool      `bun:"skipped"`
	Reason        string    `bun:"reason"`
	Missed        int       `bun:"missed"`
	CreatedAt     time.Time `bun:"created_at"`
}

func (r *scheduleRunRow) domain() *vigil.ScheduleRun {
	return &vigil.ScheduleRun{ScheduleID: r.ScheduleID, ScanID: r.ScanID, SlotAt: r.SlotAt, RunID: r.RunID, Skipped: r.Skipped,
		Reason: r.Reason, Missed: r.Missed, CreatedAt: r.CreatedAt}
}

var scheduleColumns = map[string]column{
	"name": {expr: "name", text: true}, "comment": {expr: "comment", text: true}, "period_unit": {expr: "period_unit"},
	"timezone": {expr: "timezone"}, "id": {expr: "id", uuid: true}, "first_time": {expr: "first_time"},
	"next_run_at": {expr: "next_run_at"}, "created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"},
}

func withScanCount(q *bun.SelectQuery) *bun.SelectQuery {
	return q.ColumnExpr("sch.*").ColumnExpr("(SELECT count(*) FROM scans AS sc WHERE sc.schedule_id = sch.id) AS scans_count")
}

// FindSchedules lists an organization's schedules.
func (s *Store) FindSchedules(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.Schedule, int, error) {
	var rows []*scheduleRow
	q := withScanCount(s.db.NewSelect().Model(&rows)).Where("sch.organization_id = ?", orgID)
	return listPage(ctx, s, q, &rows, "sch", scheduleColumns, vigil.ScheduleList, opts)
}

// FindScheduleByID returns one schedule of orgID.
func (s *Store) FindScheduleByID(ctx context.Context, orgID, id string) (*vigil.Schedule, error) {
	row, err := s.findSchedule(ctx, s.db, orgID, id)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (s *Store) findSchedule(ctx context.Context, db bun.IDB, orgID, id string) (*scheduleRow, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("schedule")
	}
	row := new(scheduleRow)
	if err := withScanCount(db.NewSelect().Model(row)).Where("sch.id = ? AND sch.organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "schedule")
	}
	return row, nil
}

// CreateSchedule stores sc (validated, its NextRunAt computed by the caller).
func (s *Store) CreateSchedule(ctx context.Context, sc *vigil.Schedule) error {
	now := s.now()
	sc.ID, sc.CreatedAt, sc.UpdatedAt = vigil.NewID(), now, now
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(scheduleToRow(sc)).Exec(ctx)
		return err
	})
}

// UpdateSchedule writes sc's fields (its NextRunAt recomputed by the caller).
func (s *Store) UpdateSchedule(ctx context.Context, sc *vigil.Schedule) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := s.findSchedule(ctx, tx, sc.OrganizationID, sc.ID); err != nil {
			return err
		}
		sc.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(scheduleToRow(sc)).WherePK().
			Column("name", "comment", "first_time", "timezone", "period", "period_unit", "rrule", "until", "count", "next_run_at",
				"updated_at").Exec(ctx); err != nil {
			return err
		}
		return s.setScansNextRun(ctx, tx, sc.ID, sc.NextRunAt)
	})
}

// DeleteSchedules deletes all of ids or none; their scans lose the schedule.
func (s *Store) DeleteSchedules(ctx context.Context, orgID string, ids []string) error {
	if len(ids) == 0 {
		return vigil.FieldError("ids", "can't be blank")
	}
	for _, id := range ids {
		if !vigil.IsUUID(id) {
			return vigil.NotFound("schedule")
		}
	}
	ids = dedupe(ids)
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*scheduleRow)(nil)).Where("id IN (?) AND organization_id = ?", bun.In(ids), orgID).Count(ctx)
		if err != nil {
			return err
		}
		if int(n) != len(ids) {
			return vigil.NotFound("schedule")
		}
		if _, err := tx.NewUpdate().Model((*scanRow)(nil)).Set("schedule_id = NULL").Set("next_run_at = NULL").Set("updated_at = ?", s.now()).
			Where("organization_id = ? AND schedule_id IN (?)", orgID, bun.In(ids)).Exec(ctx); err != nil {
			return err
		}
		_, err = tx.NewDelete().Model((*scheduleRow)(nil)).Where("id IN (?) AND organization_id = ?", bun.In(ids), orgID).Exec(ctx)
		return err
	})
}

// FindScheduleRuns lists what the latest slots of a schedule did.
func (s *Store) FindScheduleRuns(ctx context.Context, orgID, id string, limit int) ([]*vigil.ScheduleRun, error) {
	if _, err := s.findSchedule(ctx, s.db, orgID, id); err != nil {
		return nil, err
	}
	var rows []*scheduleRunRow
	if err := s.db.NewSelect().Model(&rows).Where("sr.schedule_id = ?", id).OrderExpr("sr.slot_at DESC, sr.scan_id").
		Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	return domains(rows), nil
}

// DueSchedules lists the schedules whose next slot is due, oldest first.
func (s *Store) DueSchedules(ctx context.Context, now time.Time, limit int) ([]*vigil.Schedule, error) {
	var rows []*scheduleRow
	if err := s.db.NewSelect().Model(&rows).Where("sch.next_run_at IS NOT NULL AND sch.next_run_at <= ?", now.UTC()).
		OrderExpr("sch.next_run_at, sch.id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	return domains(rows), nil
}

// FireSchedule runs one slot: it moves the schedule from slot to next only
// if slot is still its next (a conditional update only one replica wins),
// and in the same transaction starts each linked scan or, when the scan's
// previous run is still going or it cannot start, records it skipped.
func (s *Store) FireSchedule(ctx context.Context, id string, slot time.Time, next *time.Time, missed int) ([]*vigil.ScheduleRun, bool, error) {
	var out []*vigil.ScheduleRun
	fired := false
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		out, fired = nil, false
		now := s.now()
		slot = slot.UTC()
		res, err := tx.NewUpdate().Model((*scheduleRow)(nil)).Set("next_run_at = ?", next).Set("last_run_at = ?", slot).
			Set("slots = slots + 1").Set("updated_at = ?", now).
			Where("id = ? AND next_run_at = ?", id, slot).Exec(ctx)
		if err != nil {
			return err
		}
		if rowsAffected(res) == 0 {
			return nil
		}
		fired = true
		if err := s.setScansNextRun(ctx, tx, id, next); err != nil {
			return err
		}
		sch := new(scheduleRow)
		if err := tx.NewSelect().Model(sch).Where("sch.id = ?", id).Scan(ctx); err != nil {
			return err
		}
		var scans []*scanRow
		if err := tx.NewSelect().Model(&scans).Column("id", "organization_id", "name", "status", "target_id").
			Where("organization_id = ? AND schedule_id = ?", sch.OrganizationID, id).OrderExpr("id").Scan(ctx); err != nil {
			return err
		}
		var rows []*scheduleRunRow
		for _, sc := range scans {
			r := &scheduleRunRow{ScheduleID: id, ScanID: sc.ID, SlotAt: slot, Missed: missed, CreatedAt: now}
			if vigil.ScanStatus(sc.Status).Active() {
				r.Skipped, r.Reason = true, "the previous run is still "+sc.Status
			} else {
				run, err := s.startScan(ctx, tx, sch.OrganizationID, sc.ID)
				switch {
				case err == nil:
					r.RunID = run.ID
				case vigil.ErrorCode(err) == vigil.EINVALID:
					r.Skipped, r.Reason = true, err.Error()
				default:
					return err
				}
			}
			if r.Skipped {
				e := &vigil.Event{OrganizationID: sch.OrganizationID, Type: vigil.EventScheduleSkipped, ResourceType: vigil.ResourceScan,
					ResourceID: sc.ID, Title: "Scheduled run of " + sc.Name + " skipped",
					Message: "The " + slot.Format(time.RFC3339) + " run of scan \"" + sc.Name + "\" (schedule \"" + sch.Name + "\") was skipped: " + r.Reason + ".",
					Data: map[string]any{"schedule": map[string]any{"id": sch.ID, "name": sch.Name}, "scan": map[string]any{"id": sc.ID, "name": sc.Name},
						"slot_at": stamp(&slot), "reason": r.Reason}}
				if err := s.emit(ctx, tx, e); err != nil {
					return err
				}
			}
			rows = append(rows, r)
		}
		if len(rows) > 0 {
			if _, err := tx.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
				return err
			}
		}
		out = domains(rows)
		return nil
	})
	return out, fired, err
}

// setScansNextRun copies a schedule's next run onto its scans.
func (s *Store) setScansNextRun(ctx context.Context, tx bun.IDB, scheduleID string, next *time.Time) error {
	_, err := tx.NewUpdate().Model((*scanRow)(nil)).Set("next_run_at = ?", next).Where("schedule_id = ?", scheduleID).Exec(ctx)
	return err
}

var _ vigil.ScheduleService = (*Store)(nil)
