package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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

// testRunQueue walks the node path: claim in request order, one node per
// run, heartbeat with progress and stop requests, finish, lease expiry.
func testRunQueue(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	tg := mustTarget(t, s, org.ID, "web", "192.0.2.1-5")
	var scans []*vigil.Scan
	for _, name := range []string{"first", "second", "third"} {
		sc, err := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr(name), TargetID: &tg.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartScan(ctx, org.ID, sc.ID); err != nil {
			t.Fatal(err)
		}
		scans = append(scans, sc)
	}
	run, cfg, err := s.ClaimRun(ctx, "local", "node-a", time.Minute)
	if err != nil || run == nil || run.ScanID != scans[0].ID || run.Status != vigil.StatusRunning || run.StartedAt == nil {
		t.Fatalf("claim: %+v %v", run, err)
	}
	if cfg == nil || cfg.Hosts != "192.0.2.1-5" || !cfg.ServiceDetection || cfg.Checks != "safe" || !strings.HasPrefix(cfg.Ports, "T:1,7,9") {
		t.Errorf("run config: %+v", cfg)
	}
	second, _, err := s.ClaimRun(ctx, "local", "node-b", time.Minute)
	if err != nil || second == nil || second.ScanID != scans[1].ID {
		t.Fatalf("second claim: %+v %v", second, err)
	}
	// Another kind of scanner gets nothing.
	if r, _, err := s.ClaimRun(ctx, "remote", "node-c", time.Minute); err != nil || r != nil {
		t.Fatalf("claim by another kind: %+v %v", r, err)
	}

	stop, err := s.HeartbeatRun(ctx, run.ID, "node-a", vigil.RunProgress{Progress: 40, HostsTotal: 5, HostsDone: 2, HostsUp: 2}, time.Minute)
	if err != nil || stop {
		t.Fatalf("heartbeat: %v %v", stop, err)
	}
	if sc, _ := s.FindScanByID(ctx, org.ID, scans[0].ID); sc.Status != vigil.StatusRunning || sc.Progress != 40 {
		t.Errorf("scan mirrors its run: %s %d", sc.Status, sc.Progress)
	}
	_, err = s.HeartbeatRun(ctx, run.ID, "node-b", vigil.RunProgress{}, time.Minute)
	wantCode(t, err, vigil.ECONFLICT)
	if r, err := s.StopScan(ctx, org.ID, scans[0].ID); err != nil || r.Status != vigil.StatusStopRequested {
		t.Fatalf("stop a running scan: %+v %v", r, err)
	}
	if stop, err := s.HeartbeatRun(ctx, run.ID, "node-a", vigil.RunProgress{Progress: 50}, time.Minute); err != nil || !stop {
		t.Fatalf("heartbeat after stop: %v %v", stop, err)
	}
	if err := s.FinishRun(ctx, run.ID, "node-a", vigil.StatusStopped, ""); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.FinishRun(ctx, run.ID, "node-a", vigil.StatusDone, ""), vigil.ECONFLICT)

	if err := s.FinishRun(ctx, second.ID, "node-b", vigil.StatusDone, ""); err != nil {
		t.Fatal(err)
	}
	sc, _ := s.FindScanByID(ctx, org.ID, scans[1].ID)
	r, _ := s.FindRunByID(ctx, org.ID, scans[1].ID, second.ID)
	if sc.Status != vigil.StatusDone || sc.Progress != 100 || r.Progress != 100 || r.EndedAt == nil {
		t.Errorf("done: scan %s %d, run %+v", sc.Status, sc.Progress, r)
	}
	recent, total, _ := s.FindScans(ctx, org.ID, vigil.ListOptions{Page: 1, PerPage: 10,
		Filters: []vigil.Filter{{Column: "last_done_at", Kind: vigil.FilterNotNull}}})
	if total != 1 || recent[0].ID != scans[1].ID {
		t.Errorf("recent: %d", total)
	}

	// A node that dies: its lease runs out and the run is interrupted.
	third, _, err := s.ClaimRun(ctx, "local", "node-c", -time.Second)
	if err != nil || third == nil {
		t.Fatalf("third claim: %v", err)
	}
	if n, err := s.ExpireRuns(ctx); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	r, _ = s.FindRunByID(ctx, org.ID, scans[2].ID, third.ID)
	sc, _ = s.FindScanByID(ctx, org.ID, scans[2].ID)
	if r.Status != vigil.StatusInterrupted || r.Reason == "" || sc.Status != vigil.StatusInterrupted {
		t.Errorf("expired: run %s (%s), scan %s", r.Status, r.Reason, sc.Status)
	}
	_, err = s.HeartbeatRun(ctx, third.ID, "node-c", vigil.RunProgress{}, time.Minute)
	wantCode(t, err, vigil.ECONFLICT)
	if n, _ := s.ExpireRuns(ctx); n != 0 {
		t.Errorf("expired twice: %d", n)
	}
	// An interrupted scan can start again.
	if _, err := s.StartScan(ctx, org.ID, scans[2].ID); err != nil {
		t.Errorf("restart after interruption: %v", err)
	}
}

// testRunSSHLogin: the node that claims a run gets the target's ssh
// credential decrypted; the stored run names the credential only.
func testRunSSHLogin(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	cred, err := s.CreateCredential(ctx, org.ID, vigil.CredentialInput{Name: ptr("inventory"), Type: ptr("ssh"), Username: ptr("scan"),
		Password: ptr("ssh-secret-789"), Port: ptr(2222)})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := s.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: ptr("hosts"), Hosts: ptr("192.0.2.7"),
		Credentials: &vigil.CredentialRefsInput{SSH: &cred.ID}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr("authenticated"), TargetID: &tg.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartScan(ctx, org.ID, sc.ID); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := s.DB().NewSelect().Table("scan_runs").Column("config").Where("scan_id = ?", sc.ID).Scan(ctx, &stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, "ssh-secret-789") || !strings.Contains(stored, cred.ID) {
		t.Errorf("stored run config %s", stored)
	}
	_, cfg, err := s.ClaimRun(ctx, "local", "node-a", time.Minute)
	if err != nil || cfg == nil || cfg.SSH == nil {
		t.Fatalf("claim: %+v %v", cfg, err)
	}
	if l := cfg.SSH; l.Username != "scan" || l.Port != 2222 || l.Password != "ssh-secret-789" {
		t.Errorf("login %+v", l) // prints redacted
	}
}

// testConcurrentClaims: nodes claiming at the same moment never get the
// same run, and every waiting run is claimed once.
func testConcurrentClaims(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	tg := mustTarget(t, s, org.ID, "web", "192.0.2.1")
	const n = 8
	for i := range n {
		sc, err := s.CreateScan(ctx, org.ID, vigil.ScanInput{Name: ptr(fmt.Sprint("s", i)), TargetID: &tg.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.StartScan(ctx, org.ID, sc.ID); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	for i := range n + 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprint("node-", i)
			r, _, err := s.ClaimRun(ctx, "local", node, time.Minute)
			if err != nil {
				t.Errorf("%s: %v", node, err)
				return
			}
			if r == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, ok := claimed[r.ID]; ok {
				t.Errorf("run %s claimed by %s and %s", r.ID, prev, node)
			}
			claimed[r.ID] = node
		}()
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("%d runs claimed, want %d", len(claimed), n)
	}
}
