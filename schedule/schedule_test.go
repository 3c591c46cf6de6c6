package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/schedule"
	"github.com/vigilscan/vigil/store"
	"github.com/vigilscan/vigil/storetest"
)

func mustTime(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// The slots of a daily 09:00 New York schedule keep 09:00 local across the
// spring-forward change: 14:00 UTC before it, 13:00 UTC after.
func TestSlotsAcrossDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	s := &vigil.Schedule{Name: "d", FirstTime: mustTime(t, "2026-03-06 09:00", ny), TimeZone: "America/New_York", Period: 1, PeriodUnit: vigil.UnitDay}
	if err := schedule.Validate(s); err != nil {
		t.Fatal(err)
	}
	got, err := schedule.Upcoming(s, mustTime(t, "2026-03-06 00:00", ny), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}
	for i, w := range want {
		if got[i].Format(time.RFC3339) != w {
			t.Errorf("slot %d = %s, want %s", i, got[i].Format(time.RFC3339), w)
		}
	}
	// A quarterly schedule is every three months.
	q := &vigil.Schedule{Name: "q", FirstTime: mustTime(t, "2026-01-15 02:00", time.UTC), TimeZone: "UTC", Period: 1, PeriodUnit: vigil.UnitQuarter}
	got, _ = schedule.Upcoming(q, q.FirstTime, 3)
	if got[1].Month() != time.April || got[2].Month() != time.July {
		t.Errorf("quarterly: %v", got)
	}
	// A raw RRULE and a count bound the slots.
	r := &vigil.Schedule{Name: "r", FirstTime: mustTime(t, "2026-06-01 08:00", time.UTC), TimeZone: "UTC", Period: 1,
		PeriodUnit: vigil.UnitOnce, RRule: "FREQ=WEEKLY;BYDAY=MO,TH", Count: 3}
	got, _ = schedule.Upcoming(r, r.FirstTime, 10)
	if len(got) != 3 || got[1].Weekday() != time.Thursday {
		t.Errorf("rrule with count: %v", got)
	}
	for _, bad := range []*vigil.Schedule{
		{Name: "x", FirstTime: s.FirstTime, TimeZone: "Nowhere/Land", Period: 1, PeriodUnit: vigil.UnitDay},
		{Name: "x", FirstTime: s.FirstTime, TimeZone: "UTC", Period: 1, RRule: "FREQ=MINUTELY"},
		{Name: "x", FirstTime: s.FirstTime, TimeZone: "UTC", Period: 0, PeriodUnit: vigil.UnitDay},
		{Name: "", FirstTime: s.FirstTime, TimeZone: "UTC", Period: 1, PeriodUnit: vigil.UnitDay},
	} {
		if schedule.Validate(bad) == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// The scheduler on an injected clock: a slot fires once however often it
// ticks, slots across a DST change fire at their local time, and after a
// week of downtime one run catches up (no burst) and the next slot is the
// first one after now.
func TestSchedulerDSTAndDowntime(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	now := time.Date(2026, 3, 6, 13, 0, 0, 0, time.UTC)
	sc := &schedule.Scheduler{Store: st, Now: func() time.Time { return now }}
	scan, sched := seedScheduledScan(t, st, mustTime(t, "2026-03-06 09:00", mustZone(t, "America/New_York")), now)

	tick := func() []*vigil.ScheduleRun {
		t.Helper()
		runs, err := sc.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return runs
	}
	finish := func() {
		t.Helper()
		run, _, err := st.ClaimRun(ctx, "local", "n", time.Minute)
		if err != nil || run == nil {
			t.Fatalf("claim: %v %v", run, err)
		}
		if err := st.FinishRun(ctx, run.ID, "n", vigil.StatusDone, ""); err != nil {
			t.Fatal(err)
		}
	}
	if runs := tick(); len(runs) != 0 {
		t.Fatalf("fired before its time: %v", runs)
	}
	var slots []string
	// Tick every 10 minutes for four days (until just before the fifth
	// slot): each slot fires once.
	for i := 0; i < 4*6*24-1; i++ {
		now = now.Add(10 * time.Minute)
		for _, r := range tick() {
			if r.Skipped || r.RunID == "" || r.ScanID != scan {
				t.Fatalf("slot: %+v", r)
			}
			slots = append(slots, r.SlotAt.UTC().Format(time.RFC3339))
			finish()
		}
	}
	want := []string{"2026-03-06T14:00:00Z", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}
	if len(slots) != len(want) {
		t.Fatalf("slots fired: %v, want %v", slots, want)
	}
	for i := range want {
		if slots[i] != want[i] {
			t.Errorf("slot %d at %s, want %s", i, slots[i], want[i])
		}
	}

	// A week of downtime: the due slot runs once, six missed ones are
	// counted, and the schedule moves on to the next day.
	now = time.Date(2026, 3, 16, 18, 0, 0, 0, time.UTC)
	runs := tick()
	if len(runs) != 1 || runs[0].Missed != 6 || runs[0].SlotAt.Format(time.RFC3339) != "2026-03-10T13:00:00Z" {
		t.Fatalf("catch-up: %+v", runs)
	}
	if again := tick(); len(again) != 0 {
		t.Fatalf("a burst after downtime: %+v", again)
	}
	s, err := st.FindScheduleByID(ctx, sched.OrganizationID, sched.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.NextRunAt.Format(time.RFC3339) != "2026-03-17T13:00:00Z" {
		t.Errorf("next slot after catch-up: %v", s.NextRunAt)
	}
	// The run from the catch-up is still waiting: the next slot is skipped.
	now = time.Date(2026, 3, 17, 13, 5, 0, 0, time.UTC)
	runs = tick()
	if len(runs) != 1 || !runs[0].Skipped || runs[0].Reason == "" {
		t.Fatalf("slot while the previous run waits: %+v", runs)
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func seedScheduledScan(t *testing.T, st *store.Store, first, now time.Time) (string, *vigil.Schedule) {
	t.Helper()
	ctx := context.Background()
	org, err := st.CreateOrganization(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	name, hosts := "web", "192.0.2.1"
	tg, err := st.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: &name, Hosts: &hosts})
	if err != nil {
		t.Fatal(err)
	}
	sched := &vigil.Schedule{OrganizationID: org.ID, Name: "daily", FirstTime: first, TimeZone: "America/New_York", Period: 1, PeriodUnit: vigil.UnitDay}
	if sched.NextRunAt, err = schedule.First(sched, now); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSchedule(ctx, sched); err != nil {
		t.Fatal(err)
	}
	sc, err := st.CreateScan(ctx, org.ID, vigil.ScanInput{Name: &name, TargetID: &tg.ID, ScheduleID: &sched.ID})
	if err != nil {
		t.Fatal(err)
	}
	if sc.NextRunAt == nil || !sc.NextRunAt.Equal(*sched.NextRunAt) {
		t.Fatalf("the scan does not show its schedule's next run: %v", sc.NextRunAt)
	}
	return sc.ID, sched
}

// A thousand schedules due in the same minute all fire in one tick (the
// store hands them out 500 at a time), and an hourly schedule a year
// behind counts its missed slots in one pass over its recurrence.
func TestTickFiresEveryDueSlot(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	now := time.Date(2026, 3, 16, 18, 30, 0, 0, time.UTC)
	sc := &schedule.Scheduler{Store: st, Now: func() time.Time { return now }}
	scan, daily := seedScheduledScan(t, st, now.Add(24*time.Hour), now)
	org := daily.OrganizationID
	owner, err := st.FindScanByID(ctx, org, scan)
	if err != nil {
		t.Fatal(err)
	}
	yearAgo := now.Add(-365*24*time.Hour - 30*time.Minute) // 2025-03-16 18:00
	hourly := &vigil.Schedule{OrganizationID: org, Name: "hourly", FirstTime: yearAgo, TimeZone: "UTC", Period: 1, PeriodUnit: vigil.UnitHour}
	slot := yearAgo.Add(time.Hour)
	hourly.NextRunAt = &slot // the server stopped a year ago
	if err := st.CreateSchedule(ctx, hourly); err != nil {
		t.Fatal(err)
	}
	name, target := "hourly scan", owner.TargetID
	if _, err := st.CreateScan(ctx, org, vigil.ScanInput{Name: &name, TargetID: &target, ScheduleID: &hourly.ID}); err != nil {
		t.Fatal(err)
	}
	const many = 1100
	due := now.Add(-time.Minute)
	for i := range many {
		s := &vigil.Schedule{OrganizationID: org, Name: "due", FirstTime: due.Add(-7 * 24 * time.Hour), TimeZone: "UTC", Period: 1,
			PeriodUnit: vigil.UnitDay, NextRunAt: &due}
		if i%2 == 1 {
			s.TimeZone, s.PeriodUnit = "Europe/Berlin", vigil.UnitWeek
		}
		if err := st.CreateSchedule(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	runs, err := sc.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Missed != 8759 || !runs[0].SlotAt.Equal(slot) {
		t.Fatalf("the hourly schedule's catch-up: %+v", runs)
	}
	if left, err := st.DueSchedules(ctx, now, 10*many); err != nil || len(left) != 0 {
		t.Fatalf("%d schedules still due after one tick (%v)", len(left), err)
	}
	all, _, err := st.FindSchedules(ctx, org, vigil.ListOptions{Page: 1, PerPage: 2000})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Name != "due" {
			continue
		}
		if s.Slots != 1 || s.NextRunAt == nil || !s.NextRunAt.After(now) {
			t.Fatalf("schedule %s: %d slots, next %v", s.ID, s.Slots, s.NextRunAt)
		}
	}
}
