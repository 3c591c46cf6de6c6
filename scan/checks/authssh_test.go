package checks

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

const testOSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

// sshHost is an SSH server that signs in one user (password "s3cret" or
// the given key) and answers the inventory commands with canned output.
type sshHost struct {
	port     int
	commands atomic.Int32
	sessions atomic.Int32 // at once, at most
	open     atomic.Int32
}

func startSSHHost(t *testing.T, authorized ssh.PublicKey, dpkg string) *sshHost {
	t.Helper()
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(hk)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == "scan" && string(pw) == "s3cret" {
				return nil, nil
			}
			return nil, fmt.Errorf("denied")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if authorized != nil && c.User() == "scan" && string(k.Marshal()) == string(authorized.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("denied")
		},
	}
	cfg.AddHostKey(signer)
	h := &sshHost{}
	h.port = serveConns(t, tcpListen(t), func(c net.Conn) {
		c.SetDeadline(time.Time{})
		sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		defer sc.Close()
		go ssh.DiscardRequests(reqs)
		for nc := range chans {
			ch, creqs, err := nc.Accept()
			if err != nil {
				return
			}
			if n := h.open.Add(1); n > h.sessions.Load() {
				h.sessions.Store(n)
			}
			for req := range creqs {
				if req.Type != "exec" {
					req.Reply(false, nil)
					continue
				}
				req.Reply(true, nil)
				h.commands.Add(1)
				cmd := string(req.Payload[4:])
				switch {
				case strings.Contains(cmd, "os-release"):
					ch.Write([]byte(testOSRelease))
				case strings.Contains(cmd, "dpkg-query") && strings.Contains(cmd, "${source:Version}"):
					ch.Write([]byte(dpkg))
				}
				ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, 0))
				ch.Close()
				break
			}
			h.open.Add(-1)
		}
	})
	return h
}

func TestParseDpkgQuery(t *testing.T) {
	dir := os.Getenv("VIGIL_TESTDATA")
	if dir == "" {
		t.Skip("VIGIL_TESTDATA not set: the real dpkg-query output of the vulndb sample is not available")
	}
	f, err := os.Open(filepath.Join(dir, "vulndb", "debian", "dpkg-query-W-source.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkgs, bins, err := ParseDpkgQuery(f)
	if err != nil {
		t.Fatal(err)
	}
	if bins != 703 {
		t.Errorf("%d installed binary packages, want the sample's 703", bins)
	}
	want := map[string]string{"openssh": "1:9.2p1-2+deb12u6", "glibc": "", "adduser": "3.134"}
	found := map[string]string{}
	for _, p := range pkgs {
		found[p.Source] = p.Version
	}
	for src, v := range want {
		got, ok := found[src]
		if !ok || (v != "" && got != v) {
			t.Errorf("source %s: got %q (present %t), want %q", src, got, ok, v)
		}
	}
	if len(pkgs) >= bins {
		t.Errorf("%d source packages from %d binaries: binaries of one source were not merged", len(pkgs), bins)
	}
}

func TestParseOSRelease(t *testing.T) {
	o := ParseOSRelease(testOSRelease)
	if o.ID != "debian" || o.VersionID != "12" || o.DebianRelease() != "bookworm" || o.PrettyName != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("%+v", o)
	}
	if r := ParseOSRelease("ID=debian\nVERSION_ID=\"10\"\n").DebianRelease(); r != "buster" {
		t.Errorf("release without codename: %q", r)
	}
	if r := ParseOSRelease("ID=ubuntu\nVERSION_CODENAME=noble\n").DebianRelease(); r != "" {
		t.Errorf("Ubuntu judged by the Debian tracker as %q", r)
	}
}

// TestAuthenticatedScan: packages are judged by the tracker at confidence
// 97 with the fixed version as the solution; a fixed package gives nothing
// and its banner's NVD match is dropped; a wrong password is a finding that
// says so and never shows the password.
func TestAuthenticatedScan(t *testing.T) {
	regre := &vulnmatch.CVE{ID: "CVE-2024-6387", Score: 8.1, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", CVSSVersion: "3.1",
		Configurations: []vulnmatch.Configuration{{Nodes: []vulnmatch.Node{{Operator: "OR", CPEMatch: []vulnmatch.CPEMatch{
			{Vulnerable: true, Criteria: "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*", VersionStartIncluding: "8.6", VersionEndExcluding: "9.8"}}}}}}}
	glibcCVE := &vulnmatch.CVE{ID: "CVE-2023-4911", Score: 7.8, Vector: "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", CVSSVersion: "3.1", KEV: true}
	intel := &memIntel{cves: []*vulnmatch.CVE{regre, glibcCVE}, tracker: map[string][]*vulnmatch.TrackerEntry{
		"openssh": {{Source: "openssh", CVE: "CVE-2024-6387", Release: "bookworm",
			TrackerRelease: vulnmatch.TrackerRelease{Status: "resolved", FixedVersion: "1:9.2p1-2+deb12u3"}}},
		"glibc": {{Source: "glibc", CVE: "CVE-2023-4911", Release: "bookworm",
			TrackerRelease: vulnmatch.TrackerRelease{Status: "resolved", FixedVersion: "2.36-9+deb12u3"}}},
		"tiff": {{Source: "tiff", CVE: "CVE-2023-52356", Release: "bookworm",
			TrackerRelease: vulnmatch.TrackerRelease{Status: "open", Urgency: "low"}}},
	}}
	dpkg := "openssh-server\t1:9.2p1-2+deb12u10\topenssh\t1:9.2p1-2+deb12u10\tii \n" +
		"openssh-client\t1:9.2p1-2+deb12u10\topenssh\t1:9.2p1-2+deb12u10\tii \n" +
		"libc6\t2.36-9+deb12u1\tglibc\t2.36-9+deb12u1\tii \n" +
		"libc-bin\t2.36-9+deb12u1\tglibc\t2.36-9+deb12u1\tii \n" +
		"libtiff6\t4.5.0-6+deb12u1\ttiff\t4.5.0-6+deb12u1\tii \n" +
		"oldpkg\t1.0\toldpkg\t1.0\trc \n"
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(key)
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	host := startSSHHost(t, signer.PublicKey(), dpkg)
	sshd := scan.PortService{Port: host.port, Protocol: "tcp", Service: &scan.Service{Name: "ssh", Product: "OpenSSH", Version: "9.2p1",
		Banner: "SSH-2.0-OpenSSH_9.2p1"}} // an upstream banner: NVD alone would flag CVE-2024-6387
	scanWith := func(l *vigil.SSHLogin) []vigil.FindingResult {
		var fs []vigil.FindingResult
		r := &Runner{Checks: []*Check{}, Intel: intel, SSH: l, Timeout: 2 * time.Second}
		r.Run(context.Background(), &net.Dialer{}, scan.HostServices{Addr: netip.MustParseAddr("127.0.0.1"), Services: []scan.PortService{sshd}},
			func(f vigil.FindingResult) { fs = append(fs, f) })
		return fs
	}
	ids := func(fs []vigil.FindingResult) []string {
		var out []string
		for _, f := range fs {
			out = append(out, strings.TrimSuffix(f.CheckID+"|"+f.CVE, "|"))
		}
		return out
	}

	for name, login := range map[string]*vigil.SSHLogin{
		"key":      {Username: "scan", Port: host.port, PrivateKey: string(pem.EncodeToMemory(block))},
		"password": {Username: "scan", Port: host.port, Password: "s3cret"},
	} {
		intel.cveCalls = 0
		fs := scanWith(login)
		expect(t, name+" login", ids(fs), CheckAuthInventory, CheckPackageCVE+"|CVE-2023-4911", CheckPackageCVE+"|CVE-2023-52356")
		if intel.cveCalls != 1 {
			t.Errorf("%d CVE lookups for two vulnerable packages, want one", intel.cveCalls)
		}
		if len(fs) == 3 {
			if inv := fs[0]; !strings.Contains(inv.Evidence, "Debian GNU/Linux 12 (bookworm)") || !strings.Contains(inv.Evidence, "5 installed binary packages from 3 source packages") {
				t.Errorf("inventory evidence %q", inv.Evidence)
			}
			g := fs[1]
			if g.QoD != vulnmatch.ConfidencePackage || g.Severity != 7.8 || !g.KEV || g.Port != 0 ||
				!strings.Contains(g.Solution, "2.36-9+deb12u3") || !strings.Contains(g.Evidence, "glibc 2.36-9+deb12u1") {
				t.Errorf("package finding %+v", g)
			}
		}
	}
	if n := host.sessions.Load(); n != 1 {
		t.Errorf("%d sessions at once on the host, want 1", n)
	}

	// Without a login, the same upstream banner is matched by NVD.
	expect(t, "banner only", ids(scanWith(nil)), CheckCVE+"|CVE-2024-6387")

	wrong := &vigil.SSHLogin{Username: "scan", Port: host.port, Password: "hunter2-wrong"}
	fs := scanWith(wrong)
	expect(t, "wrong password", ids(fs), CheckAuthFailed, CheckCVE+"|CVE-2024-6387")
	for _, f := range fs {
		if strings.Contains(f.Evidence+f.Description, "hunter2") {
			t.Errorf("the password leaked into a finding: %+v", f)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v", wrong, *wrong, wrong); strings.Contains(s, "hunter2") {
		t.Errorf("the login prints its password: %s", s)
	}
}
