package checks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// Check ids of the authenticated scan's own findings.
const (
	CheckAuthInventory = "vigil.auth-inventory"
	CheckAuthFailed    = "vigil.auth-failed"
	familyLocal        = "Local security checks (authenticated)"
)

// Commands of the authenticated scan. They only read; LC_ALL=C keeps their
// output parseable whatever the host's locale.
const (
	cmdOSRelease = "LC_ALL=C cat /etc/os-release 2>/dev/null || LC_ALL=C cat /usr/lib/os-release"
	cmdDpkg      = `LC_ALL=C dpkg-query -W -f='${Package}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Abbrev}\n'`
)

// Limits that keep an authenticated scan light on the host.
const (
	authCommandTimeout = 60 * time.Second
	authOutputLimit    = 16 << 20
)

// OSRelease is what /etc/os-release says.
type OSRelease struct {
	ID, VersionID, Codename, PrettyName string
	IDLike                              []string
}

// ParseOSRelease reads os-release(5) key=value lines.
func ParseOSRelease(s string) OSRelease {
	var o OSRelease
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		switch k {
		case "ID":
			o.ID = v
		case "VERSION_ID":
			o.VersionID = v
		case "VERSION_CODENAME":
			o.Codename = v
		case "PRETTY_NAME":
			o.PrettyName = v
		case "ID_LIKE":
			o.IDLike = strings.Fields(v)
		}
	}
	return o
}

// debianCodenames names Debian releases whose os-release lacks
// VERSION_CODENAME (before Debian 9's updates).
var debianCodenames = map[string]string{"8": "jessie", "9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie"}

// DebianRelease is the tracker release of a Debian host, or "".
func (o OSRelease) DebianRelease() string {
	if o.ID != "debian" {
		return ""
	}
	if o.Codename != "" {
		return o.Codename
	}
	return debianCodenames[o.VersionID]
}

// ParseDpkgQuery reads the output of cmdDpkg: one line per binary package
// with its source package. Only installed packages ("ii") count; the
// result has one entry per source package and version, sorted. binaries
// counts the installed binary packages.
func ParseDpkgQuery(r io.Reader) (pkgs []vulnmatch.Package, binaries int, err error) {
	seen := map[vulnmatch.Package]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 5 || !strings.HasPrefix(f[4], "ii") {
			continue
		}
		binaries++
		src, ver := f[2], f[3]
		if src == "" {
			src = f[0]
		}
		if ver == "" {
			ver = f[1]
		}
		p := vulnmatch.Package{Source: src, Version: ver}
		if !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Source != pkgs[j].Source {
			return pkgs[i].Source < pkgs[j].Source
		}
		return pkgs[i].Version < pkgs[j].Version
	})
	return pkgs, binaries, sc.Err()
}

// sshClientConfig builds the client side of an authenticated scan's login.
// The host key is accepted and recorded: a scanner meets hosts it has never
// seen, and the key's fingerprint goes into the inventory finding.
func sshClientConfig(l *vigil.SSHLogin, timeout time.Duration, hostKey *string) (*ssh.ClientConfig, error) {
	var auth []ssh.AuthMethod
	if l.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if l.Passphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(l.PrivateKey), []byte(l.Passphrase))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(l.PrivateKey))
		}
		if err != nil {
			return nil, errors.New("the credential's private key cannot be read (wrong passphrase or format)") // never the key itself
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if l.Password != "" {
		pw := l.Password
		auth = append(auth, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range answers {
				answers[i] = pw
			}
			return answers, nil
		}))
	}
	if len(auth) == 0 {
		return nil, errors.New("the credential has neither a password nor a private key")
	}
	return &ssh.ClientConfig{User: l.Username, Auth: auth, Timeout: timeout, ClientVersion: "SSH-2.0-Vigil_Scanner",
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			*hostKey = ssh.FingerprintSHA256(key)
			return nil
		}}, nil
}

// runCommand runs one command in its own session, with a time limit and a
// cap on what is read of its output.
func runCommand(ctx context.Context, c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out limitedBuffer
	out.limit = authOutputLimit
	s.Stdout = &out
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	timer := time.NewTimer(authCommandTimeout)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		err = fmt.Errorf("timed out after %s", authCommandTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if out.over {
		return "", fmt.Errorf("output larger than %d bytes", authOutputLimit)
	}
	return out.String(), err
}

type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		b.over = true
		return 0, errors.New("output limit")
	}
	return b.Buffer.Write(p)
}

// Inventory is what an authenticated scan read from a host.
type Inventory struct {
	OS       OSRelease
	Packages []vulnmatch.Package
	Binaries int
	HostKey  string
}

// TakeInventory signs in with l and reads the OS release and the installed
// packages. Commands run one after the other over one connection, so a
// host never carries more than one session of Vigil's at a time.
func TakeInventory(ctx context.Context, d scan.Dialer, addr netip.Addr, l *vigil.SSHLogin, timeout time.Duration) (*Inventory, error) {
	inv := &Inventory{}
	cfg, err := sshClientConfig(l, timeout, &inv.HostKey)
	if err != nil {
		return nil, err
	}
	port := l.Port
	if port == 0 {
		port = 22
	}
	target := net.JoinHostPort(addr.String(), strconv.Itoa(port))
	dctx, cancel := context.WithTimeout(ctx, timeout)
	conn, err := d.DialContext(dctx, "tcp", target)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", target, err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	cc, chans, reqs, err := ssh.NewClientConn(conn, target, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh login as %q: %w", l.Username, err)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(cc, chans, reqs)
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()

	osr, err := runCommand(ctx, client, cmdOSRelease)
	if err != nil {
		return nil, fmt.Errorf("read /etc/os-release: %w", err)
	}
	inv.OS = ParseOSRelease(osr)
	if inv.OS.ID != "debian" && inv.OS.ID != "ubuntu" && !slices.Contains(inv.OS.IDLike, "debian") {
		return inv, nil // no dpkg to ask
	}
	out, err := runCommand(ctx, client, cmdDpkg)
	if err != nil {
		return nil, fmt.Errorf("dpkg-query: %w", err)
	}
	inv.Packages, inv.Binaries, err = ParseDpkgQuery(strings.NewReader(out))
	return inv, err
}

// authenticatedScan takes the host's inventory with the run's ssh login and
// reports the tracker's verdicts on its packages. It returns the source
// packages it judged, whose banner matches are then left out: the
// installed version decides, not the version a banner shows.
func (r *Runner) authenticatedScan(ctx context.Context, d scan.Dialer, h scan.HostServices, emit func(vigil.FindingResult)) map[string]bool {
	l := r.SSH
	inv, err := TakeInventory(ctx, d, h.Addr, l, r.timeout())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		emit(vigil.FindingResult{Port: l.Port, Protocol: "tcp", CheckID: CheckAuthFailed, Name: "Authenticated scan failed", Family: familyLocal,
			QoD: 100, Evidence: err.Error(),
			Description: "The scan could not sign in over SSH or read the host's packages, so its package vulnerabilities were not assessed.",
			Solution:    "Check the target's ssh credential (user, key or password, port) and that the user may run dpkg-query."})
		return nil
	}
	release := inv.OS.DebianRelease()
	ev := fmt.Sprintf("%s (ID %s, VERSION_ID %s); %d installed binary packages from %d source packages; host key %s",
		firstNonEmpty(inv.OS.PrettyName, inv.OS.ID), inv.OS.ID, inv.OS.VersionID, inv.Binaries, len(inv.Packages), inv.HostKey)
	inventory := vigil.FindingResult{Port: 0, Protocol: "tcp", CheckID: CheckAuthInventory, Name: "Authenticated scan: installed packages",
		Family: familyLocal, QoD: 100, Evidence: ev,
		Description: "The scan signed in over SSH and read the operating system release and the installed Debian packages; their vulnerabilities are judged by the Debian Security Tracker.",
		Solution:    "No action: informational."}
	if release == "" {
		inventory.Description = "The scan signed in over SSH, but the host is not a Debian release the imported tracker covers, so its packages were not judged."
		emit(inventory)
		return nil
	}
	if r.Intel == nil {
		inventory.Description = "The scan signed in over SSH and read the packages, but no vulnerability data is loaded (vigil feeds import)."
		emit(inventory)
		return nil
	}
	ms, err := vulnmatch.MatchPackages(ctx, r.Intel, release, inv.Packages)
	if err != nil {
		if r.OnError != nil {
			r.OnError(h.Addr, 0, CheckPackageCVE, err)
		}
		return nil
	}
	emit(inventory)
	for _, m := range ms {
		f := MatchFinding(m, CheckPackageCVE)
		f.Port, f.Protocol = 0, "tcp"
		f.Evidence = fmt.Sprintf("installed %s %s on Debian %s (%s)", m.Package, m.Installed, inv.OS.VersionID, release)
		emit(f)
	}
	judged := map[string]bool{}
	for _, p := range inv.Packages {
		judged[p.Source] = true
	}
	return judged
}
