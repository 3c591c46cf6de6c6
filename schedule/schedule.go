// Package schedule computes when schedules fire (RFC 5545 recurrence with
// rrule-go, in the schedule's IANA time zone, so wall-clock times survive
// DST changes) and runs the scheduler: every replica ticks, and the store's
// conditional update lets exactly one of them fire a slot.
package schedule

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones even where the host has no zoneinfo (containers)

	"github.com/teambition/rrule-go"
	"golang.org/x/sync/errgroup"

	"github.com/vigilscan/vigil"
)

// MaxCatchUp bounds how many missed slots are counted after downtime (they
// are never run: one run catches up).
const MaxCatchUp = 100000

// Rule builds the recurrence of s. A "once" schedule has one slot.
func Rule(s *vigil.Schedule) (*rrule.RRule, error) {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return nil, vigil.FieldError("schedule.timezone", "unknown IANA time zone %q", s.TimeZone)
	}
	start := s.FirstTime.In(loc)
	var opt *rrule.ROption
	if s.RRule != "" {
		raw := strings.TrimPrefix(strings.TrimSpace(s.RRule), "RRULE:")
		if strings.Contains(strings.ToUpper(raw), "DTSTART") {
			return nil, vigil.FieldError("schedule.rrule", "give the start as first_time, not DTSTART")
		}
		opt, err = rrule.StrToROption(raw)
		if err != nil {
			return nil, vigil.FieldError("schedule.rrule", "not an RFC 5545 RRULE: %v", err)
		}
		if opt.Freq == rrule.SECONDLY || opt.Freq == rrule.MINUTELY {
			return nil, vigil.FieldError("schedule.rrule", "FREQ must be HOURLY or slower")
		}
	} else {
		opt = &rrule.ROption{Interval: max(s.Period, 1)}
		switch s.PeriodUnit {
		case vigil.UnitOnce:
			opt.Freq, opt.Count = rrule.DAILY, 1
		case vigil.UnitHour:
			opt.Freq = rrule.HOURLY
		case vigil.UnitDay:
			opt.Freq = rrule.DAILY
		case vigil.UnitWeek:
			opt.Freq = rrule.WEEKLY
		case vigil.UnitMonth:
			opt.Freq = rrule.MONTHLY
		case vigil.UnitQuarter:
			opt.Freq, opt.Interval = rrule.MONTHLY, 3*max(s.Period, 1)
		default:
			return nil, vigil.FieldError("schedule.period_unit", "must be one of %s, got %q", strings.Join(vigil.ScheduleUnits, ", "), s.PeriodUnit)
		}
	}
	opt.Dtstart = start
	if s.Until != nil {
		opt.Until = s.Until.In(loc)
	}
	if s.Count > 0 && (opt.Count == 0 || s.Count < opt.Count) {
		opt.Count = s.Count
	}
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, vigil.FieldError("schedule.rrule", "%v", err)
	}
	return r, nil
}

// Validate checks s's fields and its recurrence.
func Validate(s *vigil.Schedule) error {
	v := vigil.NewValidation("schedule")
	if strings.TrimSpace(s.Name) == "" {
		v.Add("name", "can't be blank")
	} else if len(s.Name) > vigil.MaxNameLen {
		v.Addf("name", "is too long (at most %d characters)", vigil.MaxNameLen)
	}
	if len(s.Comment) > vigil.MaxCommentLen {
		v.Addf("comment", "is too long (at most %d characters)", vigil.MaxCommentLen)
	}
	if s.FirstTime.IsZero() {
		v.Add("first_time", "can't be blank")
	}
	if s.Period < 1 || s.Period > 1000 {
		v.Addf("period", "must be 1-1000, got %d", s.Period)
	}
	if s.Count < 0 {
		v.Addf("count", "must be 0 (unbounded) or more, got %d", s.Count)
	}
	if s.Until != nil && !s.FirstTime.IsZero() && s.Until.Before(s.FirstTime) {
		v.Add("until", "must not be before first_time")
	}
	if err := v.Err(); err != nil {
		return err
	}
	_, err := Rule(s)
	return err
}

// Next is the first slot of s strictly after t, or nil when none is left.
func Next(s *vigil.Schedule, t time.Time) (*time.Time, error) {
	r, err := Rule(s)
	if err != nil {
		return nil, err
	}
	n := r.After(t, false)
	if n.IsZero() {
		return nil, nil
	}
	n = n.UTC()
	return &n, nil
}

// First is the first slot of s at or after now: where a new or changed
// schedule starts.
func First(s *vigil.Schedule, now time.Time) (*time.Time, error) {
	r, err := Rule(s)
	if err != nil {
		return nil, err
	}
	n := r.After(now.Truncate(time.Second), true)
	if n.IsZero() {
		return nil, nil
	}
	n = n.UTC()
	return &n, nil
}

// Upcoming lists up to n slots of s after now (n ≤ 1000).
func Upcoming(s *vigil.Schedule, now time.Time, n int) ([]time.Time, error) {
	r, err := Rule(s)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	it := r.Iterator()
	for len(out) < n {
		t, ok := it()
		if !ok {
			break
		}
		if t.Before(now) {
			continue
		}
		out = append(out, t.UTC())
	}
	return out, nil
}

// Scheduler fires due slots.
type Scheduler struct {
	Store vigil.ScheduleService
	Now   func() time.Time
	// Concurrency bounds the slots fired at once (0: Concurrency). Each is a
	// transaction of its own; on PostgreSQL they overlap their round trips.
	Concurrency int
	// Started is told of runs a tick started (the node's wake-up).
	Started func()
	Log     *slog.Logger
}

// Tick fires every due slot once and returns what the slots did. A slot
// missed while no server ran is not run again: the one due slot runs, and
// the schedule moves to its first slot after now (no burst on catch-up).
func (sc *Scheduler) Tick(ctx context.Context) ([]*vigil.ScheduleRun, error) {
	now := sc.Now().UTC()
	var out []*vigil.ScheduleRun
	started := false
	defer func() {
		if started && sc.Started != nil {
			sc.Started()
		}
	}()
	// Slots due together (every schedule at 09:00) all fire in this tick, a
	// batch at a time; a batch that moved nothing ends the tick.
	for range maxBatches {
		due, err := sc.Store.DueSchedules(ctx, now, batchSize)
		if err != nil {
			return out, err
		}
		runs, moved, err := sc.fire(ctx, due, now)
		out = append(out, runs...)
		for _, r := range runs {
			started = started || r.RunID != ""
		}
		if err != nil || len(due) < batchSize || moved == 0 {
			return out, err
		}
	}
	return out, nil
}

// Concurrency is the default of Scheduler.Concurrency.
const Concurrency = 8

const (
	batchSize  = 500
	maxBatches = 200 // 100,000 slots a tick; the next tick takes the rest
)

// fire fires the due schedules' slots; moved counts the schedules that left
// the due list (fired here or by another replica).
func (sc *Scheduler) fire(ctx context.Context, due []*vigil.Schedule, now time.Time) (out []*vigil.ScheduleRun, moved int, err error) {
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(sc.Concurrency, Concurrency))
	for _, s := range due {
		r, err := Rule(s)
		if err != nil {
			// Validated on save; only a zone gone from tzdata gets here.
			sc.log().Warn("schedule skipped: its recurrence does not compute", "schedule", s.ID, "err", err)
			continue
		}
		slot := *s.NextRunAt
		g.Go(func() error {
			missed, next := catchUp(r, slot, now)
			runs, fired, err := sc.Store.FireSchedule(ctx, s.ID, slot, next, missed)
			if err != nil {
				return fmt.Errorf("schedule %s: %w", s.ID, err)
			}
			mu.Lock()
			defer mu.Unlock()
			moved++
			if fired { // else another replica took the slot
				out = append(out, runs...)
			}
			return nil
		})
	}
	err = g.Wait()
	return out, moved, err
}

// catchUp walks the recurrence once past slot: the slots missed up to now
// (counted, never run) and the first slot after now (nil: none left).
// rrule's After starts from the first slot on every call, so one iterator
// pass keeps a long-running hourly schedule linear.
func catchUp(r *rrule.RRule, slot, now time.Time) (missed int, next *time.Time) {
	it := r.Iterator()
	for range maxSteps {
		t, ok := it()
		if !ok {
			return missed, nil
		}
		switch {
		case !t.After(slot):
		case !t.After(now):
			if missed < MaxCatchUp {
				missed++
			}
		default:
			t = t.UTC()
			return missed, &t
		}
	}
	// Past the bound (an hourly schedule over decades): ask rrule directly.
	if t := r.After(now, false); !t.IsZero() {
		t = t.UTC()
		return missed, &t
	}
	return missed, nil
}

// maxSteps bounds the catch-up walk: over a century of hourly slots.
const maxSteps = 1_000_000

func (sc *Scheduler) log() *slog.Logger {
	if sc.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return sc.Log
}

// Run ticks every interval until ctx ends.
func (sc *Scheduler) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := sc.Tick(ctx); err != nil && ctx.Err() == nil {
			sc.log().Warn("scheduler tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
