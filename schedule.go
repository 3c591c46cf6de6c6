package vigil

import (
	"context"
	"strings"
	"time"
)

// Schedule units (v1's period_unit, plus hour and quarter); "once" runs a
// single time.
const (
	UnitOnce    = "once"
	UnitHour    = "hour"
	UnitDay     = "day"
	UnitWeek    = "week"
	UnitMonth   = "month"
	UnitQuarter = "quarter"
)

// ScheduleUnits lists the period units.
var ScheduleUnits = []string{UnitOnce, UnitHour, UnitDay, UnitWeek, UnitMonth, UnitQuarter}

// scheduleUnitAliases are the frequency names clients send for the units.
var scheduleUnitAliases = map[string]string{
	"one_time": UnitOnce, "onetime": UnitOnce, "hourly": UnitHour, "hours": UnitHour, "daily": UnitDay, "days": UnitDay,
	"weekly": UnitWeek, "weeks": UnitWeek, "monthly": UnitMonth, "months": UnitMonth, "quarterly": UnitQuarter,
	"quarters": UnitQuarter,
}

// ParseScheduleUnit accepts a unit or one of its aliases ("weekly").
func ParseScheduleUnit(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, u := range ScheduleUnits {
		if u == s {
			return u, true
		}
	}
	u, ok := scheduleUnitAliases[s]
	return u, ok
}

// Schedule says when the scans linked to it run: from FirstTime, every
// Period PeriodUnit in TimeZone (wall-clock, so a daily 02:30 stays 02:30
// across DST), or by a raw RFC 5545 RRULE; bounded by Until and/or Count.
type Schedule struct {
	ID             string
	OrganizationID string
	OwnerID        string
	Name           string
	Comment        string
	FirstTime      time.Time
	TimeZone       string
	Period         int
	PeriodUnit     string
	RRule          string // e.g. FREQ=WEEKLY;BYDAY=MO,TH; overrides Period and PeriodUnit
	Until          *time.Time
	Count          int        // slots in all; 0: unbounded
	NextRunAt      *time.Time // nil: no slot left
	LastRunAt      *time.Time // the last slot that fired
	Slots          int        // slots fired so far (Count bounds it)
	Scans          int        // scans linked
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ScheduleInput is a create or partial update. UntilSet tells a null
// until (clear) from an absent one.
type ScheduleInput struct {
	Name       *string
	Comment    *string
	FirstTime  *time.Time
	TimeZone   *string
	Period     *int
	PeriodUnit *string
	RRule      *string
	Until      *time.Time
	UntilSet   bool
	Count      *int
}

// ScheduleRun records what a slot did for one linked scan.
type ScheduleRun struct {
	ScheduleID string
	ScanID     string
	SlotAt     time.Time
	RunID      string // the run started, "" when skipped
	Skipped    bool
	Reason     string
	Missed     int // slots passed over while the server was down (not run)
	CreatedAt  time.Time
}

// ScheduleList is the allow-list of GET /v2/schedules.
var ScheduleList = ListSpec{
	Filters: map[string]FilterKind{"name": FilterText, "comment": FilterText, "period_unit": FilterExact,
		"timezone": FilterExact, "id": FilterExact},
	Sorts:       []string{"name", "first_time", "next_run_at", "created_at", "updated_at"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}

// ScheduleService stores schedules and fires their slots, scoped to orgID.
// The recurrence itself (next slots) is computed by package schedule and
// handed in as NextRunAt.
type ScheduleService interface {
	FindSchedules(ctx context.Context, orgID string, opts ListOptions) ([]*Schedule, int, error)
	FindScheduleByID(ctx context.Context, orgID, id string) (*Schedule, error)
	CreateSchedule(ctx context.Context, s *Schedule) error
	UpdateSchedule(ctx context.Context, s *Schedule) error
	DeleteSchedules(ctx context.Context, orgID string, ids []string) error
	FindScheduleRuns(ctx context.Context, orgID, id string, limit int) ([]*ScheduleRun, error)

	// DueSchedules lists schedules (of every organization) whose next slot
	// is at or before now.
	DueSchedules(ctx context.Context, now time.Time, limit int) ([]*Schedule, error)
	// FireSchedule runs slot of the schedule and moves it to next (nil: no
	// slot left), in one transaction that only one replica can win: it
	// returns fired=false when the slot was already taken. Linked scans
	// still running are skipped and recorded.
	FireSchedule(ctx context.Context, id string, slot time.Time, next *time.Time, missed int) (runs []*ScheduleRun, fired bool, err error)
}
