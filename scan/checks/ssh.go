package checks

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/vigilscan/vigil/scan"
)

const familySSH = "SSH"

// weakSSH lists algorithms by KEXINIT name-list: SHA-1 key exchange and
// host-key signatures, CBC and RC4 ciphers, MD5 and truncated MACs.
var weakSSH = []struct {
	id, name, what, solution string
	list                     int // index in KEXINIT's name-lists: kex, host key, ciphers (then s2c), MACs (then s2c)
	weak                     func(string) bool
}{
	{"vigil.ssh-weak-kex", "SSH weak key exchange algorithms", "key exchange methods with SHA-1 or 1024-bit groups",
		"Remove diffie-hellman-group1-sha1, diffie-hellman-group14-sha1 and diffie-hellman-group-exchange-sha1 from KexAlgorithms.", 0,
		func(a string) bool {
			return strings.HasSuffix(a, "-sha1") || strings.Contains(a, "group1-") || strings.HasPrefix(a, "rsa1024") ||
				strings.HasPrefix(a, "gss-group1") || (strings.HasPrefix(a, "gss-") && strings.Contains(a, "sha1"))
		}},
	{"vigil.ssh-weak-hostkey", "SSH weak host key algorithms", "host key algorithms with DSA keys or SHA-1 signatures",
		"Remove ssh-dss and ssh-rsa (SHA-1) from HostKeyAlgorithms; offer rsa-sha2-256/512, ecdsa or ed25519 keys.", 1,
		func(a string) bool {
			return a == "ssh-dss" || a == "ssh-rsa" || strings.HasPrefix(a, "ssh-dss-cert") || a == "ssh-rsa-cert-v01@openssh.com"
		}},
	{"vigil.ssh-weak-cipher", "SSH weak encryption algorithms", "CBC-mode, RC4 or no encryption",
		"Offer only chacha20-poly1305@openssh.com, aes*-gcm@openssh.com and aes*-ctr in Ciphers.", 2,
		func(a string) bool {
			return strings.HasSuffix(a, "-cbc") || strings.HasPrefix(a, "arcfour") || a == "none" || strings.HasPrefix(a, "rijndael-cbc")
		}},
	{"vigil.ssh-weak-mac", "SSH weak MAC algorithms", "MD5-based or 96-bit truncated MACs",
		"Remove hmac-md5*, hmac-sha1-96 and hmac-md5-96 from MACs.", 4,
		func(a string) bool { return strings.Contains(a, "md5") || strings.Contains(a, "-96") || a == "none" }},
}

func init() {
	for _, w := range weakSSH {
		register(&Check{ID: w.id, Name: w.name, Family: familySSH,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N",
			PCIFail:     true,
			Description: "The SSH server offers " + w.what + ".",
			Impact:      "A client that agrees to them gets weaker confidentiality or integrity than modern algorithms give; downgrade attacks become possible.",
			Solution:    w.solution,
			References:  []string{"https://www.rfc-editor.org/rfc/rfc9142", "https://www.ssh-audit.com/hardening_guides.html"},
			Evidence:    "the weak algorithms from the server's KEXINIT",
			Applies:     named("ssh"), Run: sshAlgorithmCheck(w.list, w.weak)})
	}
	register(&Check{ID: "vigil.ssh-password-auth", Name: "SSH password authentication enabled", Family: familySSH,
		Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N",
		Description: "The SSH server accepts passwords (password or keyboard-interactive authentication).",
		Impact:      "Accounts can be attacked by password guessing from the network; keys are not required.",
		Solution:    "Set PasswordAuthentication no and KbdInteractiveAuthentication no; use keys or certificates.",
		Evidence:    "the methods the server offered to an unknown user (no password was sent)",
		Applies:     named("ssh"), Run: runSSHPasswordAuth})
}

// sshKexInit exchanges banners and returns the server's KEXINIT
// name-lists (the connection is closed before any key exchange).
func sshKexInit(ctx context.Context, t *Target, port int) ([][]string, error) {
	c, err := t.Dial(ctx, "tcp", port)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Write([]byte("SSH-2.0-Vigil_Scanner\r\n")); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	for n := 0; ; n++ { // lines before the version line are allowed (RFC 4253 4.2)
		l, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(l, "SSH-") {
			break
		}
		if n > 20 {
			return nil, errors.New("no SSH version line")
		}
	}
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:4])
	if size < 17 || size > 64<<10 {
		return nil, fmt.Errorf("packet length %d", size)
	}
	body := make([]byte, size-1)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	payload := body[:len(body)-int(hdr[4])]
	if len(payload) < 17 || payload[0] != 20 { // SSH_MSG_KEXINIT
		return nil, errors.New("first packet is not KEXINIT")
	}
	p := payload[17:]
	var lists [][]string
	for i := 0; i < 10; i++ {
		if len(p) < 4 {
			return nil, errors.New("short KEXINIT")
		}
		n := binary.BigEndian.Uint32(p[:4])
		if int(n) > len(p)-4 {
			return nil, errors.New("bad name-list")
		}
		var names []string
		if n > 0 {
			names = strings.Split(string(p[4:4+n]), ",")
		}
		lists = append(lists, names)
		p = p[4+n:]
	}
	return lists, nil
}

func sshAlgorithmCheck(list int, weak func(string) bool) func(context.Context, *Target, scan.PortService) (string, bool, error) {
	return func(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
		lists, err := shared(t, fmt.Sprintf("ssh-kexinit/%d", ps.Port), func() ([][]string, error) { return sshKexInit(ctx, t, ps.Port) })
		if err != nil {
			return "", false, err
		}
		seen := map[string]bool{}
		var bad []string
		for _, l := range []int{list, list + 1} { // client-to-server and server-to-client lists
			if list < 2 && l != list {
				continue // kex and host key have one list each
			}
			for _, a := range lists[l] {
				if weak(a) && !seen[a] {
					seen[a] = true
					bad = append(bad, a)
				}
			}
		}
		if len(bad) == 0 {
			return "", false, nil
		}
		return "offered: " + strings.Join(bad, ", "), true, nil
	}
}

var errStopAuth = errors.New("stop: password method seen")

func runSSHPasswordAuth(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	c, err := t.Dial(ctx, "tcp", ps.Port)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	var offered []string
	cfg := &ssh.ClientConfig{User: "vigil-scanner-probe", HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // no session is opened
		Auth: []ssh.AuthMethod{
			ssh.PasswordCallback(func() (string, error) { offered = append(offered, "password"); return "", errStopAuth }),
			ssh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
				offered = append(offered, "keyboard-interactive")
				return nil, errStopAuth
			}),
		}, Timeout: t.Timeout}
	conn, _, _, err := ssh.NewClientConn(c, net.JoinHostPort(t.Addr.String(), fmt.Sprint(ps.Port)), cfg)
	if err == nil {
		conn.Close()
		return "", false, errors.New("the server let an unknown user in without credentials")
	}
	if len(offered) == 0 {
		if strings.Contains(err.Error(), "unable to authenticate") || errors.Is(err, errStopAuth) {
			return "", false, nil // only other methods (publickey) were offered
		}
		return "", false, err
	}
	return "methods offered: " + strings.Join(offered, ", "), true, nil
}
