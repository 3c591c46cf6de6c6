package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/store"
)

// RunAll runs the conformance suite against stores from open.
func RunAll(t *testing.T, open Opener) {
	tests := map[string]func(*testing.T, *store.Store){
		"Accounts":           testAccounts,
		"PartnerWebhooks":    testPartnerWebhooks,
		"Tokens":             testTokens,
		"AuthFailures":       testAuthFailures,
		"TargetCRUD":         testTargetCRUD,
		"TargetIsolation":    testTargetIsolation,
		"TargetList":         testTargetList,
		"TargetRefs":         testTargetRefs,
		"CredentialSecrets":  testCredentialSecrets,
		"CredentialInUse":    testCredentialInUse,
		"PortListBuiltins":   testPortListBuiltins,
		"PortListRanges":     testPortListRanges,
		"PortListSync":       testPortListSync,
		"DeleteAllOrNone":    testDeleteAllOrNone,
		"ScanLifecycle":      testScanLifecycle,
		"ScanIsolation":      testScanIsolation,
		"RunQueue":           testRunQueue,
		"RunSSHLogin":        testRunSSHLogin,
		"ConcurrentClaims":   testConcurrentClaims,
		"ResultsAcrossRuns":  testResultsAcrossRuns,
		"ResultsStaleNode":   testResultsRejectStaleNode,
		"TopVulnsMaintained": testTopVulnsMaintained,
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

var ctx = context.Background()

func ptr[T any](v T) *T { return &v }

func mustOrg(t *testing.T, s *store.Store, name string) *vigil.Organization {
	t.Helper()
	org, err := s.CreateOrganization(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return org
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if vigil.ErrorCode(err) != code {
		t.Fatalf("error = %v, want code %q", err, code)
	}
}

func mustTarget(t *testing.T, s *store.Store, orgID, name, hosts string) *vigil.Target {
	t.Helper()
	tg, err := s.CreateTarget(ctx, orgID, vigil.TargetInput{Name: &name, Hosts: &hosts})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func page(perPage int) vigil.ListOptions { return vigil.ListOptions{Page: 1, PerPage: perPage} }

func testAccounts(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	got, err := s.FindOrganizationByID(ctx, org.ID)
	if err != nil || got.Name != "Acme" {
		t.Fatalf("FindOrganizationByID: %+v %v", got, err)
	}
	_, err = s.FindOrganizationByID(ctx, vigil.NewID())
	wantCode(t, err, vigil.ENOTFOUND)

	in := vigil.UserInput{Email: "alice@example.com", Name: "Alice", Role: vigil.RoleManager, Password: "0123456789", Locale: "de", Timezone: "Europe/Berlin"}
	u, err := s.CreateUser(ctx, org.ID, in, "hash")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateUser(ctx, org.ID, in, "hash")
	wantCode(t, err, vigil.EINVALID)
	byEmail, err := s.FindUserByEmail(ctx, "alice@example.com")
	if err != nil || byEmail.ID != u.ID || byEmail.Role != vigil.RoleManager || byEmail.Timezone != "Europe/Berlin" {
		t.Fatalf("FindUserByEmail: %+v %v", byEmail, err)
	}
	other := mustOrg(t, s, "Other")
	_, err = s.FindUserByID(ctx, other.ID, u.ID)
	wantCode(t, err, vigil.ENOTFOUND)
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.RecordSignIn(ctx, u.ID, "127.0.0.1", at); err != nil {
		t.Fatal(err)
	}
	u2, _ := s.FindUserByID(ctx, org.ID, u.ID)
	if u2.SignInCount != 1 || u2.LastSignInIP != "127.0.0.1" || u2.LastSignInAt == nil || !u2.LastSignInAt.Equal(at) {
		t.Errorf("after sign-in: %+v", u2)
	}
	if n, err := s.CountOrganizations(ctx); err != nil || n != 2 {
		t.Errorf("CountOrganizations = %d, %v", n, err)
	}
	_, err = s.OnlyOrganizationID(ctx)
	wantCode(t, err, vigil.EINVALID)

	k := &vigil.APIKey{OrganizationID: org.ID, Name: "ci", Prefix: "vgk_abc", KeyHash: "h1"}
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	fk, err := s.FindAPIKeyByHash(ctx, "h1")
	if err != nil || fk.OrganizationID != org.ID {
		t.Fatalf("FindAPIKeyByHash: %+v %v", fk, err)
	}
	_, err = s.FindAPIKeyByHash(ctx, "nope")
	wantCode(t, err, vigil.ENOTFOUND)
}

func testTokens(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	u, err := s.CreateUser(ctx, org.ID, vigil.UserInput{Email: "bob@example.com", Role: vigil.RoleUser, Locale: "en", Timezone: "UTC"}, "hash")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	tok := &vigil.Token{OrganizationID: org.ID, UserID: u.ID, Kind: vigil.TokenSession, TokenHash: "th", ExpiresAt: &exp}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindTokenByHash(ctx, "th", now); err != nil || got.UserID != u.ID {
		t.Fatalf("FindTokenByHash: %+v %v", got, err)
	}
	_, err = s.FindTokenByHash(ctx, "th", now.Add(2*time.Hour))
	wantCode(t, err, vigil.ENOTFOUND) // expired
	if err := s.RevokeToken(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindTokenByHash(ctx, "th", now)
	wantCode(t, err, vigil.ENOTFOUND) // revoked
	if n, err := s.DeleteExpiredTokens(ctx, now.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("DeleteExpiredTokens = %d, %v", n, err)
	}
}

func testAuthFailures(t *testing.T, s *store.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := 1; i <= 3; i++ {
		until, err := s.RecordAuthFailure(ctx, "acct:x", now, time.Minute, 3, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if (i < 3) != until.IsZero() {
			t.Fatalf("failure %d: blocked until %v", i, until)
		}
	}
	if until, _ := s.AuthBlockedUntil(ctx, "acct:x", now.Add(time.Minute)); !until.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("blocked until %v", until)
	}
	if until, _ := s.AuthBlockedUntil(ctx, "acct:x", now.Add(11*time.Minute)); !until.IsZero() {
		t.Errorf("still blocked after the lockout: %v", until)
	}
	// Failures outside the window start a new count.
	if _, err := s.RecordAuthFailure(ctx, "ip:1", now, time.Minute, 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	if until, _ := s.RecordAuthFailure(ctx, "ip:1", now.Add(2*time.Minute), time.Minute, 2, time.Minute); !until.IsZero() {
		t.Error("a failure outside the window counted toward the lockout")
	}
	if err := s.ResetAuthFailures(ctx, "acct:x"); err != nil {
		t.Fatal(err)
	}
	if until, _ := s.AuthBlockedUntil(ctx, "acct:x", now); !until.IsZero() {
		t.Error("reset did not clear the block")
	}
}

func testTargetCRUD(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	tg, err := s.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: ptr("Web"), Hosts: ptr("192.0.2.0/28, www.example.com"),
		ExcludeHosts: ptr("192.0.2.1"), Comment: ptr("dmz"), AliveTest: ptr("icmp")})
	if err != nil {
		t.Fatal(err)
	}
	if tg.HostCount != 16 || tg.PortListID == "" || tg.AliveTest != vigil.AliveICMP {
		t.Fatalf("created: %+v", tg)
	}
	got, err := s.FindTargetByID(ctx, org.ID, tg.ID)
	if err != nil || got.Name != "Web" || got.Comment != "dmz" || !got.CreatedAt.Equal(tg.CreatedAt) {
		t.Fatalf("FindTargetByID: %+v %v", got, err)
	}
	// Partial update: only the comment changes.
	up, err := s.UpdateTarget(ctx, org.ID, tg.ID, vigil.TargetInput{Comment: ptr("moved")})
	if err != nil {
		t.Fatal(err)
	}
	if up.Comment != "moved" || up.Name != "Web" || up.Hosts != tg.Hosts || up.AliveTest != vigil.AliveICMP || up.HostCount != 16 {
		t.Errorf("partial update changed other fields: %+v", up)
	}
	// A bad update changes nothing.
	_, err = s.UpdateTarget(ctx, org.ID, tg.ID, vigil.TargetInput{Name: ptr("x"), Hosts: ptr("not a host!")})
	wantCode(t, err, vigil.EINVALID)
	again, _ := s.FindTargetByID(ctx, org.ID, tg.ID)
	if again.Name != "Web" || again.Comment != "moved" {
		t.Errorf("failed update left changes: %+v", again)
	}
	_, err = s.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: ptr("big"), Hosts: ptr("192.0.2.0/16")})
	wantCode(t, err, vigil.EINVALID)
	if err := s.DeleteTargets(ctx, org.ID, []string{tg.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindTargetByID(ctx, org.ID, tg.ID)
	wantCode(t, err, vigil.ENOTFOUND)
	_, err = s.FindTargetByID(ctx, org.ID, "not-a-uuid")
	wantCode(t, err, vigil.ENOTFOUND)
}

func testTargetIsolation(t *testing.T, s *store.Store) {
	a, b := mustOrg(t, s, "A"), mustOrg(t, s, "B")
	ta := mustTarget(t, s, a.ID, "a-target", "192.0.2.1")
	mustTarget(t, s, b.ID, "b-target", "192.0.2.2")
	_, err := s.FindTargetByID(ctx, b.ID, ta.ID)
	wantCode(t, err, vigil.ENOTFOUND)
	_, err = s.UpdateTarget(ctx, b.ID, ta.ID, vigil.TargetInput{Name: ptr("stolen")})
	wantCode(t, err, vigil.ENOTFOUND)
	wantCode(t, s.DeleteTargets(ctx, b.ID, []string{ta.ID}), vigil.ENOTFOUND)
	list, total, err := s.FindTargets(ctx, b.ID, page(100))
	if err != nil || total != 1 || len(list) != 1 || list[0].Name != "b-target" {
		t.Fatalf("B sees %d targets (%v), %v", total, list, err)
	}
	// A's port list cannot be used by B.
	plA, _, _ := s.FindPortLists(ctx, a.ID, page(1))
	_, err = s.CreateTarget(ctx, b.ID, vigil.TargetInput{Name: ptr("x"), Hosts: ptr("192.0.2.3"), PortListID: &plA[0].ID})
	wantCode(t, err, vigil.EINVALID)
	if _, err := s.FindTargetByID(ctx, a.ID, ta.ID); err != nil {
		t.Fatal("A lost its target")
	}
}

func testTargetList(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	names := []string{"web-1", "Web-2", "db-1", "mail", "web_special", "50%off"}
	for i, n := range names {
		mustTarget(t, s, org.ID, n, fmt.Sprintf("192.0.2.%d", i+1))
	}
	other := mustOrg(t, s, "Other")
	mustTarget(t, s, other.ID, "web-other", "192.0.2.99")

	filter := func(col, val string) []string {
		t.Helper()
		opts := page(100)
		opts.Filters = []vigil.Filter{{Column: col, Kind: vigil.TargetList.Filters[col], Value: val}}
		opts.Sort = []vigil.Sort{{Column: "name"}}
		list, total, err := s.FindTargets(ctx, org.ID, opts)
		if err != nil {
			t.Fatal(err)
		}
		if total != len(list) {
			t.Errorf("total %d != %d rows", total, len(list))
		}
		var out []string
		for _, tg := range list {
			out = append(out, tg.Name)
		}
		return out
	}
	eq := func(got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	eq(filter("name", "web*"), "web-1", "Web-2", "web_special") // case-insensitive, never another org's
	eq(filter("name", "WEB-1"), "web-1")                        // exact, case-insensitive
	eq(filter("name", "web"))                                   // no wildcard: exact
	eq(filter("name", "*special"), "web_special")
	eq(filter("name", "web_*"), "web_special") // _ is literal, not a LIKE wildcard
	eq(filter("name", "50%*"), "50%off")       // % is literal
	eq(filter("name", "*'; DROP TABLE targets; --"))
	eq(filter("hosts", "192.0.2.1"), "web-1")
	eq(filter("alive_test", "scan_config_default"), "50%off", "db-1", "mail", "web-1", "Web-2", "web_special")

	// Sorting and paging.
	opts := vigil.ListOptions{Page: 2, PerPage: 2, Sort: []vigil.Sort{{Column: "name", Desc: true}}}
	list, total, err := s.FindTargets(ctx, org.ID, opts)
	if err != nil || total != 6 || len(list) != 2 || list[0].Name != "web-1" || list[1].Name != "mail" {
		var got []string
		for _, l := range list {
			got = append(got, l.Name)
		}
		t.Errorf("page 2 desc: %v total %d %v", got, total, err)
	}
	// Date window: everything was created just now.
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	opts = page(100)
	opts.From, opts.To = &past, &future
	if _, total, _ := s.FindTargets(ctx, org.ID, opts); total != 6 {
		t.Errorf("date window: %d", total)
	}
	opts.From, opts.To = &future, nil
	if _, total, _ := s.FindTargets(ctx, org.ID, opts); total != 0 {
		t.Errorf("future window: %d", total)
	}
	opts = page(10)
	opts.Filters = []vigil.Filter{{Column: "port_list_id", Kind: vigil.FilterExact, Value: "nope"}}
	_, _, err = s.FindTargets(ctx, org.ID, opts)
	wantCode(t, err, vigil.EINVALID)
}

func testTargetRefs(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	ssh, err := s.CreateCredential(ctx, org.ID, vigil.CredentialInput{Name: ptr("ssh"), Type: ptr("ssh"), Username: ptr("root"), Password: ptr("pw")})
	if err != nil {
		t.Fatal(err)
	}
	smb, err := s.CreateCredential(ctx, org.ID, vigil.CredentialInput{Name: ptr("smb"), Type: ptr("smb"), Username: ptr("adm"), Password: ptr("pw")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := s.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: ptr("t"), Hosts: ptr("192.0.2.1"),
		Credentials: &vigil.CredentialRefsInput{SSH: &ssh.ID, SMB: &smb.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Credentials.SSH != ssh.ID || tg.Credentials.SMB != smb.ID {
		t.Fatalf("refs: %+v", tg.Credentials)
	}
	// An smb credential in the ssh slot is refused.
	_, err = s.UpdateTarget(ctx, org.ID, tg.ID, vigil.TargetInput{Credentials: &vigil.CredentialRefsInput{SSH: &smb.ID}})
	wantCode(t, err, vigil.EINVALID)
	// "" empties a slot and leaves the others.
	up, err := s.UpdateTarget(ctx, org.ID, tg.ID, vigil.TargetInput{Credentials: &vigil.CredentialRefsInput{SSH: ptr("")}})
	if err != nil || up.Credentials.SSH != "" || up.Credentials.SMB != smb.ID {
		t.Fatalf("clear ssh: %+v %v", up, err)
	}
	_, err = s.UpdateTarget(ctx, org.ID, tg.ID, vigil.TargetInput{PortListID: ptr(vigil.NewID())})
	wantCode(t, err, vigil.EINVALID)
	// A credential of another organization is unknown here.
	other := mustOrg(t, s, "Other")
	foreign, _ := s.CreateCredential(ctx, other.ID, vigil.CredentialInput{Name: ptr("f"), Type: ptr("ssh"), Username: ptr("r"), Password: ptr("p")})
	_, err = s.UpdateTarget(ctx, org.ID, tg.ID, vigil.TargetInput{Credentials: &vigil.CredentialRefsInput{SSH: &foreign.ID}})
	wantCode(t, err, vigil.EINVALID)
}

func testCredentialSecrets(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	c, err := s.CreateCredential(ctx, org.ID, vigil.CredentialInput{Name: ptr("snmp"), Type: ptr("snmp"), SNMPVersion: ptr("v3"),
		Username: ptr("mon"), AuthProtocol: ptr("sha"), AuthPassword: ptr("auth-secret-123"), PrivProtocol: ptr("aes"), PrivPassword: ptr("priv-secret-456")})
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := s.DB().NewSelect().Table("credentials").Column("secrets").Where("id = ?", c.ID).Scan(ctx, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || bytes.Contains(raw, []byte("auth-secret-123")) || bytes.Contains(raw, []byte("priv-secret-456")) {
		t.Fatalf("secrets stored in clear: %q", raw)
	}
	got, err := s.FindCredentialByID(ctx, org.ID, c.ID)
	if err != nil || got.Secrets.AuthPassword != "auth-secret-123" || got.Secrets.PrivPassword != "priv-secret-456" {
		t.Fatalf("decrypt: %+v %v", got, err)
	}
	list, _, err := s.FindCredentials(ctx, org.ID, page(10))
	if err != nil || len(list) != 1 || list[0].Secrets != (vigil.CredentialSecrets{}) || fmt.Sprint(list[0].SecretsSet) != "[auth_password priv_password]" {
		t.Fatalf("list: %+v %v", list, err)
	}
	// Update keeps secrets not given; "" clears.
	up, err := s.UpdateCredential(ctx, org.ID, c.ID, vigil.CredentialInput{Name: ptr("renamed")})
	if err != nil || up.Secrets.AuthPassword != "auth-secret-123" {
		t.Fatalf("update kept secret: %+v %v", up, err)
	}
	_, err = s.UpdateCredential(ctx, org.ID, c.ID, vigil.CredentialInput{AuthPassword: ptr("")})
	wantCode(t, err, vigil.EINVALID) // v3 needs an auth password
	// A sealed value copied into another row does not open there.
	c2, _ := s.CreateCredential(ctx, org.ID, vigil.CredentialInput{Name: ptr("c2"), Type: ptr("esxi"), Username: ptr("root"), Password: ptr("x")})
	if _, err := s.DB().NewUpdate().Table("credentials").Set("secrets = ?", raw).Where("id = ?", c2.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindCredentialByID(ctx, org.ID, c2.ID); err == nil {
		t.Error("a sealed value opened in another row")
	}
}

func testCredentialInUse(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	c, _ := s.CreateCredential(ctx, org.ID, vigil.CredentialInput{Name: ptr("ssh"), Type: ptr("ssh"), Username: ptr("root"), Password: ptr("pw")})
	tg, err := s.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: ptr("uses-it"), Hosts: ptr("192.0.2.1"), Credentials: &vigil.CredentialRefsInput{SSH: &c.ID}})
	if err != nil {
		t.Fatal(err)
	}
	err = s.DeleteCredentials(ctx, org.ID, []string{c.ID})
	wantCode(t, err, vigil.ECONFLICT)
	if _, err := s.FindCredentialByID(ctx, org.ID, c.ID); err != nil {
		t.Fatal("credential deleted although in use")
	}
	if err := s.DeleteTargets(ctx, org.ID, []string{tg.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCredentials(ctx, org.ID, []string{c.ID}); err != nil {
		t.Fatal(err)
	}
}

func testPortListBuiltins(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	lists, total, err := s.FindPortLists(ctx, org.ID, page(100))
	if err != nil || total != len(vigil.BuiltinPortLists()) {
		t.Fatalf("built-ins: %d %v", total, err)
	}
	var common *vigil.PortList
	for _, l := range lists {
		if !l.Builtin() || !l.Active {
			t.Errorf("%s: builtin %v active %v", l.Name, l.Builtin(), l.Active)
		}
		if l.Name == "Common TCP" {
			common = l
		}
	}
	if common == nil || common.TCPCount < 300 || len(common.Ranges) == 0 {
		t.Fatalf("Common TCP: %+v", common)
	}
	_, err = s.UpdatePortList(ctx, org.ID, common.ID, vigil.PortListInput{Name: ptr("mine")})
	wantCode(t, err, vigil.EINVALID)
	_, err = s.AddPortRange(ctx, org.ID, common.ID, vigil.PortRange{Start: 1, End: 1, Protocol: vigil.UDP})
	wantCode(t, err, vigil.EINVALID)
	wantCode(t, s.DeletePortLists(ctx, org.ID, []string{common.ID}), vigil.EINVALID)
	off, err := s.SetPortListActive(ctx, org.ID, common.ID, false)
	if err != nil || off.Active {
		t.Fatalf("deactivate built-in: %+v %v", off, err)
	}
	pci, err := s.SetPortListAppType(ctx, org.ID, common.ID, "pci")
	if err != nil || pci.AppType != "pci" {
		t.Fatalf("app_type: %+v %v", pci, err)
	}
	_, err = s.SetPortListAppType(ctx, org.ID, common.ID, "gaming")
	wantCode(t, err, vigil.EINVALID)
	opts := page(100)
	opts.Filters = []vigil.Filter{{Column: "active", Kind: vigil.FilterBool, Value: "true"}}
	if _, n, _ := s.FindPortLists(ctx, org.ID, opts); n != total-1 {
		t.Errorf("active lists: %d, want %d", n, total-1)
	}
	// The default port list of a target is the organization's Common TCP.
	tg := mustTarget(t, s, org.ID, "t", "192.0.2.1")
	if tg.PortListID != common.ID {
		t.Errorf("default port list %s, want %s", tg.PortListID, common.ID)
	}
}

func testPortListRanges(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	l, err := s.CreatePortList(ctx, org.ID, vigil.PortListInput{Name: ptr("mine"), PortRange: ptr("T:80,443,8000-8100,U:53")})
	if err != nil {
		t.Fatal(err)
	}
	if l.TCPCount != 103 || l.UDPCount != 1 || len(l.Ranges) != 4 || l.PortRangeString() != "T:80,443,8000-8100,U:53" {
		t.Fatalf("created: %+v", l)
	}
	_, err = s.AddPortRange(ctx, org.ID, l.ID, vigil.PortRange{Start: 8050, End: 9000, Protocol: vigil.TCP})
	wantCode(t, err, vigil.EINVALID) // overlaps 8000-8100
	l2, err := s.AddPortRange(ctx, org.ID, l.ID, vigil.PortRange{Start: 8050, End: 9000, Protocol: vigil.UDP})
	if err != nil || l2.UDPCount != 952 {
		t.Fatalf("add udp range: %+v %v", l2, err)
	}
	var udpRange string
	for _, r := range l2.Ranges {
		if r.Protocol == vigil.UDP && r.Start == 8050 {
			udpRange = r.ID
		}
		if r.ID == "" {
			t.Error("range without id")
		}
	}
	l3, err := s.DeletePortRange(ctx, org.ID, l.ID, udpRange)
	if err != nil || l3.UDPCount != 1 {
		t.Fatalf("delete range: %+v %v", l3, err)
	}
	_, err = s.DeletePortRange(ctx, org.ID, l.ID, vigil.NewID())
	wantCode(t, err, vigil.ENOTFOUND)
	up, err := s.UpdatePortList(ctx, org.ID, l.ID, vigil.PortListInput{Ranges: &[]vigil.PortRange{{Start: 22, End: 22, Protocol: vigil.TCP}}})
	if err != nil || up.PortRangeString() != "T:22" || up.Name != "mine" {
		t.Fatalf("replace ranges: %+v %v", up, err)
	}
	for _, bad := range []string{"0-10", "10-5", "70000", "1-10,5-6", "x"} {
		_, err := s.CreatePortList(ctx, org.ID, vigil.PortListInput{Name: ptr("bad"), PortRange: ptr(bad)})
		wantCode(t, err, vigil.EINVALID)
	}
	// In use by a target: cannot be deleted.
	tg, _ := s.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: ptr("t"), Hosts: ptr("192.0.2.1"), PortListID: &l.ID})
	wantCode(t, s.DeletePortLists(ctx, org.ID, []string{l.ID}), vigil.ECONFLICT)
	if err := s.DeleteTargets(ctx, org.ID, []string{tg.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePortLists(ctx, org.ID, []string{l.ID}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().NewSelect().Table("port_list_ranges").ColumnExpr("count(*)").Where("port_list_id = ?", l.ID).Scan(ctx, &n); err != nil || n != 0 {
		t.Errorf("ranges left after delete: %d %v", n, err)
	}
}

func testPortListSync(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	res, err := s.SyncBuiltinPortLists(ctx, org.ID)
	if err != nil || len(res.Created)+len(res.Updated) != 0 || len(res.Unchanged) != len(vigil.BuiltinPortLists()) {
		t.Fatalf("sync of a current org: %+v %v", res, err)
	}
	// Simulate an older release: one list lost, one with stale ranges.
	if _, err := s.DB().NewDelete().Table("port_lists").Where("organization_id = ? AND builtin_key = ?", org.ID, "web").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().NewUpdate().Table("port_lists").Set("port_range = ?", "T:1").Set("active = ?", false).
		Where("organization_id = ? AND builtin_key = ?", org.ID, "all-tcp").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	res, err = s.SyncBuiltinPortLists(ctx, org.ID)
	if err != nil || fmt.Sprint(res.Created) != "[Web services]" || fmt.Sprint(res.Updated) != "[All TCP]" {
		t.Fatalf("sync: %+v %v", res, err)
	}
	opts := page(10)
	opts.Filters = []vigil.Filter{{Column: "name", Kind: vigil.FilterText, Value: "All TCP"}}
	lists, _, _ := s.FindPortLists(ctx, org.ID, opts)
	if len(lists) != 1 || lists[0].Active {
		t.Errorf("sync must keep the organization's activation choice: %+v", lists)
	}
}

func testDeleteAllOrNone(t *testing.T, s *store.Store) {
	org := mustOrg(t, s, "Acme")
	a := mustTarget(t, s, org.ID, "a", "192.0.2.1")
	b := mustTarget(t, s, org.ID, "b", "192.0.2.2")
	wantCode(t, s.DeleteTargets(ctx, org.ID, []string{a.ID, vigil.NewID()}), vigil.ENOTFOUND)
	if _, total, _ := s.FindTargets(ctx, org.ID, page(10)); total != 2 {
		t.Fatalf("a failed bulk delete removed rows: %d left", total)
	}
	if err := s.DeleteTargets(ctx, org.ID, []string{a.ID, b.ID}); err != nil {
		t.Fatal(err)
	}
	if _, total, _ := s.FindTargets(ctx, org.ID, page(10)); total != 0 {
		t.Fatalf("%d left after bulk delete", total)
	}
}
