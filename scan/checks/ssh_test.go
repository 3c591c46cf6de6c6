package checks

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
)

func sshServer(t *testing.T, cfg *ssh.ServerConfig) int {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveConns(t, ln, func(c net.Conn) { ssh.NewServerConn(c, cfg) })
}

func runSSH(t *testing.T, port int) []string {
	var cs []*Check
	for _, c := range All() {
		if strings.HasPrefix(c.ID, "vigil.ssh-") {
			cs = append(cs, c)
		}
	}
	var got []string
	r := &Runner{Checks: cs, Timeout: 2 * time.Second,
		OnError: func(_ netip.Addr, _ int, id string, err error) { t.Errorf("%s: %v", id, err) }}
	r.Run(context.Background(), &net.Dialer{}, scan.HostServices{Addr: netip.MustParseAddr("127.0.0.1"),
		Services: []scan.PortService{{Port: port, Protocol: "tcp", Service: &scan.Service{Name: "ssh"}}}},
		func(f vigil.FindingResult) { got = append(got, f.CheckID) })
	sort.Strings(got)
	return got
}

func TestSSHChecks(t *testing.T) {
	weak := &ssh.ServerConfig{
		Config: ssh.Config{KeyExchanges: []string{"diffie-hellman-group14-sha1", "curve25519-sha256"},
			Ciphers: []string{"aes128-ctr", "aes128-cbc"}, MACs: []string{"hmac-sha2-256", "hmac-sha1-96"}},
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) { return nil, ssh.ErrNoAuth },
	}
	got := runSSH(t, sshServer(t, weak))
	want := []string{"vigil.ssh-password-auth", "vigil.ssh-weak-cipher", "vigil.ssh-weak-kex", "vigil.ssh-weak-mac"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("weak SSH server:\n got %v\nwant %v", got, want)
	}
	// crypto/ssh's own defaults still offer group14-sha1 and hmac-sha1-96:
	// the safe server names its algorithms as a hardened sshd does.
	safe := &ssh.ServerConfig{
		Config: ssh.Config{KeyExchanges: []string{"curve25519-sha256", "diffie-hellman-group16-sha512"},
			Ciphers: []string{"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"}, MACs: []string{"hmac-sha2-256-etm@openssh.com"}},
		PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, ssh.ErrNoAuth },
	}
	if got := runSSH(t, sshServer(t, safe)); len(got) != 0 {
		t.Errorf("safe SSH server reported %v", got)
	}
}
