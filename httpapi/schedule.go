package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/schedule"
)

// Schedules (CG §3.7): when the scans linked to them run.

// ScheduleJSON is a schedule on the wire.
type ScheduleJSON struct {
	ID         string     `json:"id" format:"uuid"`
	Name       string     `json:"name" example:"Monthly PCI"`
	Comment    string     `json:"comment"`
	FirstTime  Timestamp  `json:"first_time" doc:"The first slot; later ones keep its wall-clock time in timezone"`
	TimeZone   string     `json:"timezone" example:"America/New_York"`
	Period     int        `json:"period" example:"1"`
	PeriodUnit string     `json:"period_unit" enum:"once,hour,day,week,month,quarter"`
	RRule      string     `json:"rrule" doc:"RFC 5545 RRULE; when set it decides the slots" example:"FREQ=WEEKLY;BYDAY=MO,TH"`
	Until      *Timestamp `json:"until" nullable:"true" doc:"No slot after this"`
	Count      int        `json:"count" doc:"Slots in all; 0: unbounded"`
	NextTime   *Timestamp `json:"next_time" nullable:"true" doc:"The next slot; null when none is left"`
	LastRunAt  *Timestamp `json:"last_run_at" nullable:"true" doc:"The last slot that fired"`
	Slots      int        `json:"slots" doc:"Slots fired so far"`
	Scans      int        `json:"scans_count" doc:"Scans it starts"`
	CreatedAt  Timestamp  `json:"created_at"`
	UpdatedAt  Timestamp  `json:"updated_at"`
}

func scheduleJSON(s *vigil.Schedule) ScheduleJSON {
	return ScheduleJSON{ID: s.ID, Name: s.Name, Comment: s.Comment, FirstTime: ts(s.FirstTime), TimeZone: s.TimeZone, Period: s.Period,
		PeriodUnit: s.PeriodUnit, RRule: s.RRule, Until: tsp(s.Until), Count: s.Count, NextTime: tsp(s.NextRunAt),
		LastRunAt: tsp(s.LastRunAt), Slots: s.Slots, Scans: s.Scans, CreatedAt: ts(s.CreatedAt), UpdatedAt: ts(s.UpdatedAt)}
}

// ScheduleFields are the writable fields; on update, fields left out keep
// their values.
type ScheduleFields struct {
	Name       *string `json:"name,omitempty" maxLength:"255"`
	Comment    *string `json:"comment,omitempty" maxLength:"4000"`
	FirstTime  *string `json:"first_time,omitempty" doc:"ISO-8601; a time without offset is read in timezone" example:"2026-12-01T02:00:00"`
	StartDate  *string `json:"start_date,omitempty" doc:"Alias of first_time"`
	TimeZone   *string `json:"timezone,omitempty" maxLength:"64" doc:"IANA zone (default UTC)" example:"Europe/Berlin"`
	Period     *int    `json:"period,omitempty" minimum:"1" maximum:"1000" doc:"Every period units (default 1)"`
	PeriodUnit *string `json:"period_unit,omitempty" doc:"once, hour, day, week, month, quarter (also one_time, hourly, daily, weekly, monthly, quarterly)"`
	Frequency  *string `json:"frequency,omitempty" doc:"Alias of period_unit"`
	RRule      *string `json:"rrule,omitempty" maxLength:"500" doc:"RFC 5545 RRULE without DTSTART; \"\" clears it"`
	Until      *string `json:"until,omitempty" doc:"ISO-8601; \"\" clears it"`
	Count      *int    `json:"count,omitempty" minimum:"0" maximum:"100000"`
}

// apply sets the fields on sc (a new schedule or a copy of a stored one).
func (f *ScheduleFields) apply(sc *vigil.Schedule) error {
	v := vigil.NewValidation("schedule")
	if f.Name != nil {
		sc.Name = strings.TrimSpace(*f.Name)
	}
	if f.Comment != nil {
		sc.Comment = *f.Comment
	}
	if f.TimeZone != nil {
		sc.TimeZone = strings.TrimSpace(*f.TimeZone)
	}
	if sc.TimeZone == "" {
		sc.TimeZone = "UTC"
	}
	loc, err := time.LoadLocation(sc.TimeZone)
	if err != nil {
		v.Addf("timezone", "unknown IANA time zone %q", sc.TimeZone)
		loc = time.UTC
	}
	first := f.FirstTime
	if first == nil {
		first = f.StartDate
	}
	if first != nil {
		t, err := parseLocalTime(*first, loc)
		if err != nil {
			v.Add("first_time", err.Error())
		}
		sc.FirstTime = t
	}
	if f.Period != nil {
		sc.Period = *f.Period
	}
	if sc.Period == 0 {
		sc.Period = 1
	}
	unit := f.PeriodUnit
	if unit == nil {
		unit = f.Frequency
	}
	if unit != nil {
		u, ok := vigil.ParseScheduleUnit(*unit)
		if !ok {
			v.Addf("period_unit", "must be one of %s, got %q", strings.Join(vigil.ScheduleUnits, ", "), *unit)
		}
		sc.PeriodUnit = u
	}
	if f.RRule != nil {
		sc.RRule = strings.TrimSpace(*f.RRule)
	}
	if sc.PeriodUnit == "" {
		if sc.RRule == "" {
			v.Add("period_unit", "can't be blank (or give an rrule)")
		}
		sc.PeriodUnit = vigil.UnitOnce
	}
	if f.Until != nil {
		sc.Until = nil
		if *f.Until != "" {
			t, err := parseLocalTime(*f.Until, loc)
			if err != nil {
				v.Add("until", err.Error())
			}
			sc.Until = &t
		}
	}
	if f.Count != nil {
		sc.Count = *f.Count
	}
	if err := v.Err(); err != nil {
		return err
	}
	return schedule.Validate(sc)
}

// parseLocalTime reads ISO-8601; without an offset, the time is in loc.
func parseLocalTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, vigil.Errorf(vigil.EINVALID, "must be an ISO-8601 time, got %q", s)
}

func (s *Server) handleScheduleList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[ScheduleJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.ScheduleList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ss, total, err := s.Schedules.FindSchedules(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(ss, scheduleJSON, opts, total), nil
}

func (s *Server) handleScheduleShow(ctx context.Context, in *IDPath) (*DataOutput[ScheduleJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sc, err := s.Schedules.FindScheduleByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(scheduleJSON(sc)), nil
}

// ScheduleBodyInput is a body wrapped in "schedule".
type ScheduleBodyInput struct {
	Body struct {
		Schedule ScheduleFields `json:"schedule"`
	}
}

func (s *Server) handleScheduleCreate(ctx context.Context, in *ScheduleBodyInput) (*DataOutput[ScheduleJSON], error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sc := &vigil.Schedule{OrganizationID: p.OrganizationID, OwnerID: p.UserID}
	if in.Body.Schedule.FirstTime == nil && in.Body.Schedule.StartDate == nil {
		return nil, fail(ctx, s.log, vigil.FieldError("schedule.first_time", "can't be blank"))
	}
	if err := in.Body.Schedule.apply(sc); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if sc.NextRunAt, err = schedule.First(sc, s.now()); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Schedules.CreateSchedule(ctx, sc); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "schedule.create", "schedule", sc.ID, scheduleChanges(sc))
	return dataOutput(scheduleJSON(sc)), nil
}

func scheduleChanges(sc *vigil.Schedule) map[string]any {
	return map[string]any{"name": sc.Name, "first_time": ts(sc.FirstTime), "timezone": sc.TimeZone, "period": sc.Period,
		"period_unit": sc.PeriodUnit, "rrule": sc.RRule, "until": tsp(sc.Until), "count": sc.Count, "next_time": tsp(sc.NextRunAt)}
}

// ScheduleUpdateInput is PUT /v2/schedules/{id}.
type ScheduleUpdateInput struct {
	IDPath
	Body struct {
		Schedule ScheduleFields `json:"schedule"`
	}
}

func (s *Server) handleScheduleUpdate(ctx context.Context, in *ScheduleUpdateInput) (*DataOutput[ScheduleJSON], error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sc, err := s.Schedules.FindScheduleByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := in.Body.Schedule.apply(sc); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	// A changed recurrence starts over from now: slots already fired
	// are not fired again.
	if sc.NextRunAt, err = schedule.First(sc, s.now()); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if sc.LastRunAt != nil && sc.NextRunAt != nil && !sc.NextRunAt.After(*sc.LastRunAt) {
		if sc.NextRunAt, err = schedule.Next(sc, *sc.LastRunAt); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	if err := s.Schedules.UpdateSchedule(ctx, sc); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "schedule.update", "schedule", sc.ID, scheduleChanges(sc))
	return dataOutput(scheduleJSON(sc)), nil
}

func (s *Server) handleScheduleDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	return s.deleteRecords(ctx, "schedule.delete", "", []string{in.ID}, nil, s.Schedules.DeleteSchedules)
}

func (s *Server) handleScheduleBulkDelete(ctx context.Context, in *BulkDeleteInput) (*DeleteOutput, error) {
	ids, err := in.ids()
	return s.deleteRecords(ctx, "schedule.delete", "", ids, err, s.Schedules.DeleteSchedules)
}

// ScheduleCalcInput computes dates of an unsaved schedule, or of a saved
// one (id).
type ScheduleCalcInput struct {
	N    int `query:"n" minimum:"1" maximum:"1000" default:"5" doc:"How many next dates"`
	Body struct {
		ID       string         `json:"id,omitempty" doc:"A saved schedule; its fields are the base the others change"`
		Schedule ScheduleFields `json:"schedule,omitempty" required:"false"`
	}
}

// ScheduleDatesJSON are computed dates.
type ScheduleDatesJSON struct {
	FirstDate *Timestamp  `json:"first_date" nullable:"true" doc:"The first slot at or after now"`
	NextDate  *Timestamp  `json:"next_date" nullable:"true" doc:"The next slot after now"`
	NextDates []Timestamp `json:"next_dates" doc:"The next n slots"`
}

func (s *Server) scheduleDates(ctx context.Context, in *ScheduleCalcInput) (*DataOutput[ScheduleDatesJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sc := &vigil.Schedule{}
	if in.Body.ID != "" {
		if sc, err = s.Schedules.FindScheduleByID(ctx, p.OrganizationID, in.Body.ID); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	} else if in.Body.Schedule.Name == nil {
		in.Body.Schedule.Name = new(string)
		*in.Body.Schedule.Name = "unsaved"
	}
	if sc.FirstTime.IsZero() && in.Body.Schedule.FirstTime == nil && in.Body.Schedule.StartDate == nil {
		return nil, fail(ctx, s.log, vigil.FieldError("schedule.first_time", "can't be blank"))
	}
	if err := in.Body.Schedule.apply(sc); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	now := s.now()
	n := max(in.N, 1)
	dates, err := schedule.Upcoming(sc, now, n)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := ScheduleDatesJSON{NextDates: make([]Timestamp, len(dates))}
	for i, d := range dates {
		out.NextDates[i] = ts(d)
	}
	if len(dates) > 0 {
		out.FirstDate = &out.NextDates[0]
		for i := range dates {
			if dates[i].After(now) {
				out.NextDate = &out.NextDates[i]
				break
			}
		}
	}
	return dataOutput(out), nil
}

func (s *Server) handleScheduleFirstDate(ctx context.Context, in *ScheduleCalcInput) (*DataOutput[ScheduleDatesJSON], error) {
	return s.scheduleDates(ctx, in)
}

func (s *Server) handleScheduleNextDates(ctx context.Context, in *ScheduleCalcInput) (*DataOutput[ScheduleDatesJSON], error) {
	return s.scheduleDates(ctx, in)
}

// ScheduleRunJSON is what one slot did for one scan.
type ScheduleRunJSON struct {
	ScanID    string    `json:"scan_id" format:"uuid"`
	SlotAt    Timestamp `json:"slot_at"`
	RunID     *string   `json:"history_id" nullable:"true" format:"uuid" doc:"The run it started; null when skipped"`
	Skipped   bool      `json:"skipped"`
	Reason    string    `json:"reason" doc:"Why it was skipped"`
	Missed    int       `json:"missed" doc:"Slots that passed while no server ran (caught up by this one run)"`
	CreatedAt Timestamp `json:"created_at"`
}

func (s *Server) handleScheduleRuns(ctx context.Context, in *IDPath) (*DataOutput[[]ScheduleRunJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	runs, err := s.Schedules.FindScheduleRuns(ctx, p.OrganizationID, in.ID, 100)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := make([]ScheduleRunJSON, len(runs))
	for i, r := range runs {
		out[i] = ScheduleRunJSON{ScanID: r.ScanID, SlotAt: ts(r.SlotAt), RunID: orNil(r.RunID), Skipped: r.Skipped, Reason: r.Reason,
			Missed: r.Missed, CreatedAt: ts(r.CreatedAt)}
	}
	return dataOutput(out), nil
}
