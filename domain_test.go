package vigil

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func ptr[T any](v T) *T { return &v }

func TestApplyTargetInput(t *testing.T) {
	tg := &Target{}
	err := ApplyTargetInput(tg, TargetInput{Name: ptr("web"), Hosts: ptr("192.0.2.0/28")}, true, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if tg.AliveTest != AliveScanConfigDefault || tg.HostCount != 16 {
		t.Fatalf("defaults: %+v", tg)
	}
	// A partial update re-validates the merged target: excluding everything fails.
	err = ApplyTargetInput(tg, TargetInput{ExcludeHosts: ptr("192.0.2.0/28")}, false, 4096)
	if e, ok := err.(*Error); !ok || len(e.Fields["target.hosts"]) == 0 {
		t.Fatalf("exclude all: %v", err)
	}
	tests := []struct {
		in    TargetInput
		field string
	}{
		{TargetInput{Name: ptr(""), Hosts: ptr("192.0.2.1")}, "target.name"},
		{TargetInput{Name: ptr(strings.Repeat("n", 256)), Hosts: ptr("192.0.2.1")}, "target.name"},
		{TargetInput{Name: ptr("x"), Hosts: ptr("")}, "target.hosts"},
		{TargetInput{Name: ptr("x"), Hosts: ptr("192.0.2.0/16")}, "target.hosts"},
		{TargetInput{Name: ptr("x"), Hosts: ptr("192.0.2.1"), AliveTest: ptr("ping")}, "target.alive_test"},
		{TargetInput{Name: ptr("x"), Hosts: ptr("192.0.2.1"), PortListID: ptr("nope")}, "target.port_list_id"},
		{TargetInput{Name: ptr("x"), Hosts: ptr("192.0.2.1"), Credentials: &CredentialRefsInput{SSH: ptr("nope")}}, "target.credentials.ssh"},
		{TargetInput{Name: ptr("x"), Hosts: ptr("192.0.2.1"), ExcludeHosts: ptr("bad host!")}, "target.exclude_hosts"},
	}
	for _, tt := range tests {
		err := ApplyTargetInput(&Target{}, tt.in, true, 4096)
		if e, ok := err.(*Error); !ok || e.Code != EINVALID || len(e.Fields[tt.field]) == 0 {
			t.Errorf("%+v: got %v, want an error on %s", tt.in, err, tt.field)
		}
	}
}

func testKey(t *testing.T, passphrase string) string {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

func TestApplyCredentialInput(t *testing.T) {
	plain, enc := testKey(t, ""), testKey(t, "s3cret")
	ok := []CredentialInput{
		{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), Password: ptr("pw")},
		{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), PrivateKey: ptr(plain)},
		{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), PrivateKey: ptr(enc), Passphrase: ptr("s3cret"), Port: ptr(2222)},
		{Name: ptr("a"), Type: ptr("smb"), Username: ptr("adm"), Password: ptr("pw"), Domain: ptr("CORP")},
		{Name: ptr("a"), Type: ptr("esxi"), Username: ptr("root"), Password: ptr("pw")},
		{Name: ptr("a"), Type: ptr("snmp"), Community: ptr("public")},
		{Name: ptr("a"), Type: ptr("snmp"), SNMPVersion: ptr("v3"), Username: ptr("u"), AuthProtocol: ptr("sha256"),
			AuthPassword: ptr("authpass1"), PrivProtocol: ptr("aes"), PrivPassword: ptr("privpass1")},
	}
	for i, in := range ok {
		if err := ApplyCredentialInput(&Credential{}, in, true); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := []struct {
		in    CredentialInput
		field string
	}{
		{CredentialInput{Name: ptr("a"), Type: ptr("telnet")}, "credential.type"},
		{CredentialInput{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root")}, "credential.password"},
		{CredentialInput{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), PrivateKey: ptr("not a key")}, "credential.private_key"},
		{CredentialInput{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), PrivateKey: ptr(enc)}, "credential.private_key"},
		{CredentialInput{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), PrivateKey: ptr(enc), Passphrase: ptr("wrong")}, "credential.private_key"},
		{CredentialInput{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), Password: ptr("pw"), Port: ptr(70000)}, "credential.port"},
		{CredentialInput{Name: ptr("a"), Type: ptr("ssh"), Username: ptr("root"), Password: ptr("pw"), Domain: ptr("X")}, "credential.domain"},
		{CredentialInput{Name: ptr("a"), Type: ptr("smb"), Username: ptr("adm")}, "credential.password"},
		{CredentialInput{Name: ptr("a"), Type: ptr("snmp")}, "credential.community"},
		{CredentialInput{Name: ptr("a"), Type: ptr("snmp"), SNMPVersion: ptr("v1"), Community: ptr("c")}, "credential.snmp_version"},
		{CredentialInput{Name: ptr("a"), Type: ptr("snmp"), SNMPVersion: ptr("v3"), Username: ptr("u"), AuthProtocol: ptr("sha"), AuthPassword: ptr("short")}, "credential.auth_password"},
		{CredentialInput{Name: ptr(""), Type: ptr("esxi"), Username: ptr("root"), Password: ptr("pw")}, "credential.name"},
	}
	for _, tt := range bad {
		err := ApplyCredentialInput(&Credential{}, tt.in, true)
		if e, ok := err.(*Error); !ok || len(e.Fields[tt.field]) == 0 {
			t.Errorf("%s: got %v", tt.field, err)
		}
	}
	// The type is fixed once created.
	c := &Credential{}
	if err := ApplyCredentialInput(c, ok[0], true); err != nil {
		t.Fatal(err)
	}
	if err := ApplyCredentialInput(c, CredentialInput{Type: ptr("smb")}, false); err == nil {
		t.Error("type change accepted")
	}
}

func TestRoles(t *testing.T) {
	if RoleViewer.Can(ActionWrite) || !RoleViewer.Can(ActionRead) {
		t.Error("viewer must read and not write")
	}
	if RoleUser.Can(ActionManage) || !RoleManager.Can(ActionManage) || RoleManager.Can(ActionAdminister) || !RoleAdmin.Can(ActionAdminister) {
		t.Error("role ladder broken")
	}
	if r, ok := ParseRole("Admin"); !ok || r != RoleAdmin || r.Display() != "Admin" {
		t.Errorf("ParseRole(Admin) = %q, %v", r, ok)
	}
	var nobody *Principal
	if nobody.Can(ActionRead) {
		t.Error("nil principal may read")
	}
}
