package storetest

import (
	"testing"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/store"
)

// testScanLifecycle: built-in profiles and the local scanner exist, a scan
// defaults to Full and fast, starts into a Requested run, cannot start twice,
// stops, and refuses edits and deletes while active.
func testScanLifecycle(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	tg := mustTarget(t, s, org.ID, "web", "192.0.2.1-5")
	profiles, total, err := s.FindScanProfiles(ctx, org.ID, page(10))
	if err != nil || total != len(vigil.BuiltinScanProfiles) {
		t.Fatalf("profiles: %d %v", total, err)
	}
	byName := map[string]*vigil.ScanProfile{}
	for _, p := range profiles {
		byName[p.Name] = p
	}
	if pci := byName["PCI external"]; pci == nil || !pci.Fixed || pci.PortListID == "" || pci.Checks != vigil.ChecksPCI {
		t.Fatalf("PCI profile: %+v", pci)
	}

	sc, err := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr("weekly"), TargetID: &tg.ID})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != vigil.StatusNew || sc.Profile == nil || sc.Profile.Name != "Full and fast" || sc.ScannerID == "" || sc.Target.Name != "web" {
		t.Fatalf("created: %+v", sc)
	}
	// The stock GVM id of a built-in profile is accepted as config_id.
	sc2, err := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr("disc"), TargetID: &tg.ID, ProfileID: ptr("8715c877-47a0-438d-98a3-27c7a6ab2196")})
	if err != nil || sc2.Profile.Name != "Discovery" {
		t.Fatalf("gvm id: %+v %v", sc2, err)
	}
	_, err = s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr("x"), TargetID: ptr(vigil.NewID())})
	wantCode(t, err, vigil.EINVALID)

	run, err := s.StartScan(ctx, org.ID, sc.ID)
	if err != nil || run.Status != vigil.StatusRequested || run.ScanID != sc.ID {
		t.Fatalf("start: %+v %v", run, err)
	}
	_, err = s.StartScan(ctx, org.ID, sc.ID)
	wantCode(t, err, vigil.EINVALID)
	_, err = s.UpdateScan(ctx, org.ID, sc.ID, vigil.ScanInput{Name: ptr("renamed")})
	wantCode(t, err, vigil.EINVALID)
	wantCode(t, s.DeleteScans(ctx, org.ID, []string{sc.ID}), vigil.EINVALID)
	// The target is in use by the scan.
	wantCode(t, s.DeleteTargets(ctx, org.ID, []string{tg.ID}), vigil.ECONFLICT)

	got, _ := s.FindScanByID(ctx, org.ID, sc.ID)
	if got.Status != vigil.StatusRequested || got.LastRunID != run.ID {
		t.Fatalf("scan after start: %+v", got)
	}
	stopped, err := s.StopScan(ctx, org.ID, sc.ID)
	if err != nil || stopped.Status != vigil.StatusStopped || stopped.EndedAt == nil {
		t.Fatalf("stop: %+v %v", stopped, err)
	}
	_, err = s.StopScan(ctx, org.ID, sc.ID)
	wantCode(t, err, vigil.EINVALID)
	if _, err := s.StartScan(ctx, org.ID, sc.ID); err != nil {
		t.Fatalf("restart after stop: %v", err)
	}
	runs, total, err := s.FindRuns(ctx, org.ID, sc.ID, page(10))
	if err != nil || total != 2 || runs[0].Status != vigil.StatusRequested || runs[1].ID != run.ID {
		t.Fatalf("runs: %d %v", total, err)
	}
	if r, err := s.FindRunByID(ctx, org.ID, sc.ID, run.ID); err != nil || r.Status != vigil.StatusStopped {
		t.Fatalf("run: %+v %v", r, err)
	}
	s.StopScan(ctx, org.ID, sc.ID)
	if err := s.DeleteScans(ctx, org.ID, []string{sc.ID, sc2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTargets(ctx, org.ID, []string{tg.ID}); err != nil {
		t.Fatalf("target still in use after its scans went: %v", err)
	}
}

// testScanIsolation: another organization's scans, runs, targets and
// profiles are invisible and cannot be referenced.
func testScanIsolation(t *testing.T, s *store.Store) {
	a, b := mustOrg(t, s, "A"), mustOrg(t, s, "B")
	tg := mustTarget(t, s, a.ID, "web", "192.0.2.1")
	sc, err := s.CreateScan(ctx, a.ID, vigil.ScanInput{Name: ptr("a"), TargetID: &tg.ID})
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.StartScan(ctx, a.ID, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FindScanByID(ctx, b.ID, sc.ID)
	wantCode(t, err, vigil.ENOTFOUND)
	_, err = s.StartScan(ctx, b.ID, sc.ID)
	wantCode(t, err, vigil.ENOTFOUND)
	_, err = s.StopScan(ctx, b.ID, sc.ID)
	wantCode(t, err, vigil.ENOTFOUND)
	_, _, err = s.FindRuns(ctx, b.ID, sc.ID, page(10))
	wantCode(t, err, vigil.ENOTFOUND)
	_, err = s.FindRunByID(ctx, b.ID, sc.ID, run.ID)
	wantCode(t, err, vigil.ENOTFOUND)
	wantCode(t, s.DeleteScans(ctx, b.ID, []string{sc.ID}), vigil.ENOTFOUND)
	// B cannot point a scan at A's target or profile.
	_, err = s.CreateScan(ctx, b.ID, vigil.ScanInput{Name: ptr("b"), TargetID: &tg.ID})
	wantCode(t, err, vigil.EINVALID)
	tb := mustTarget(t, s, b.ID, "b", "192.0.2.9")
	_, err = s.CreateScan(ctx, b.ID, vigil.ScanInput{Name: ptr("b"), TargetID: &tb.ID, ProfileID: &sc.ProfileID})
	wantCode(t, err, vigil.EINVALID)
	if _, total, _ := s.FindScans(ctx, b.ID, page(10)); total != 0 {
		t.Errorf("B sees %d scans", total)
	}
}
