// Package testbed starts real services from Debian packages, each on a
// loopback address of its own, plus Go listeners for protocols that are not
// installed, so scanner tests and benchmarks have hosts to find. It sends
// nothing itself and binds only 127.0.0.0/8.
package testbed

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Service is one expected service of the testbed.
type Service struct {
	Host    string
	Port    int
	Proto   string // tcp or udp
	Name    string // the service name Vigil reports
	Product string // the product Vigil reports ("" = not checked)
}

// Testbed is a set of running services.
type Testbed struct {
	Dir      string
	Services []Service
	Skipped  []string // daemons that could not start, and why
	mu       sync.Mutex
	cmds     []*exec.Cmd
	closers  []func()
}

// Hosts returns the distinct testbed addresses, in order.
func (tb *Testbed) Hosts() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range tb.Services {
		if !seen[s.Host] {
			seen[s.Host] = true
			out = append(out, s.Host)
		}
	}
	return out
}

// Addresses of the daemons.
const (
	SSHHost       = "127.0.1.1"
	NginxHost     = "127.0.1.2"
	FTPHost       = "127.0.1.3"
	RedisHost     = "127.0.1.4"
	MemcachedHost = "127.0.1.5"
	DNSHost       = "127.0.1.6"
	SNMPHost      = "127.0.1.7"
	SMTPHost      = "127.0.1.8"
	GoHost        = "127.0.1.9"
)

// daemon describes one packaged service.
type daemon struct {
	name     string
	binary   string
	services []Service
	setup    func(dir string) ([]string, error) // writes config, returns argv
	env      []string                           // added to the environment
	user     string                             // run as this user instead of root
	wait     time.Duration                      // for its services (0: 15 s)
}

// Missing returns the daemons whose binaries are not installed.
func Missing() []string {
	var out []string
	for _, d := range daemons() {
		if _, err := os.Stat(d.binary); err != nil {
			out = append(out, d.name+" ("+d.binary+")")
		}
	}
	return out
}

// Start runs every daemon that is installed (root is needed for most) and
// the Go listeners, and waits until each service answers. Daemons that do
// not come up are listed in Skipped; callers decide whether that is fatal.
func Start(ctx context.Context, dir string) (*Testbed, error) {
	tb := &Testbed{Dir: dir}
	if err := writeCert(dir); err != nil {
		return nil, err
	}
	for _, d := range daemons() {
		tb.startDaemon(ctx, dir, d)
	}
	goSvcs, closers, err := startGoListeners()
	if err != nil {
		tb.Stop()
		return nil, err
	}
	tb.Services = append(tb.Services, goSvcs...)
	tb.closers = append(tb.closers, closers...)
	return tb, nil
}

// startDaemon runs d and waits for its services; a daemon that cannot run
// is listed in Skipped with the reason and the end of its log.
func (tb *Testbed) startDaemon(ctx context.Context, dir string, d daemon) {
	if _, err := os.Stat(d.binary); err != nil {
		tb.Skipped = append(tb.Skipped, d.name+": not installed")
		return
	}
	argv, err := d.setup(dir)
	if err != nil {
		tb.Skipped = append(tb.Skipped, d.name+": "+err.Error())
		return
	}
	logPath := filepath.Join(dir, d.name+".log")
	log, _ := os.Create(logPath)
	cmd := exec.Command(d.binary, argv...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = log, log, dir
	if len(d.env) > 0 {
		cmd.Env = append(os.Environ(), d.env...)
	}
	if d.user != "" {
		cred, err := lookupUser(d.user)
		if err != nil {
			tb.Skipped = append(tb.Skipped, d.name+": "+err.Error())
			return
		}
		cmd.SysProcAttr = sysProcAs(cred)
		cmd.Dir = "/" // the testbed's directory may be root's alone
		_ = os.Chown(logPath, int(cred.Uid), int(cred.Gid))
	}
	// A process group of its own, so that Stop ends the daemon's workers
	// too (nginx's outlive a killed master and keep the port).
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		tb.Skipped = append(tb.Skipped, d.name+": "+err.Error())
		return
	}
	tb.mu.Lock()
	tb.cmds = append(tb.cmds, cmd)
	tb.mu.Unlock()
	wait := d.wait
	if wait == 0 {
		wait = 15 * time.Second
	}
	if err := waitReady(ctx, d.services, wait); err != nil {
		out, _ := os.ReadFile(logPath)
		tb.Skipped = append(tb.Skipped, fmt.Sprintf("%s: %v: %s", d.name, err, lastLines(string(out), 3)))
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return
	}
	tb.Services = append(tb.Services, d.services...)
}

// lookupUser returns the credential of a system user (daemons that refuse
// to run as root, such as postgres).
func lookupUser(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func sysProcAs(c *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: c}
}

// addLoopbackAddr assigns addr to lo (root) unless it is there; Stop does
// not remove it, as other testbeds may share it.
func addLoopbackAddr(addr string) error {
	out, err := exec.Command("ip", "-o", "addr", "show", "dev", "lo").Output()
	if err == nil && strings.Contains(string(out), " "+addr+"/") {
		return nil
	}
	if out, err := exec.Command("ip", "addr", "add", addr+"/32", "dev", "lo").CombinedOutput(); err != nil && !strings.Contains(string(out), "File exists") {
		return fmt.Errorf("ip addr add %s dev lo: %v %s", addr, err, out)
	}
	return nil
}

// Stop ends every daemon and listener.
func (tb *Testbed) Stop() {
	for _, c := range tb.cmds {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		_ = c.Wait()
	}
	for _, c := range tb.closers {
		c()
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// waitReady polls until every TCP service accepts and every UDP service is bound.
func waitReady(ctx context.Context, svcs []Service, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, s := range svcs {
		for {
			var ok bool
			if s.Proto == "udp" {
				ok = udpBound(s.Host, s.Port)
			} else if c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), 200*time.Millisecond); err == nil {
				c.Close()
				ok = true
			}
			if ok {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("%s:%d/%s did not come up", s.Host, s.Port, s.Proto)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// udpBound reports whether a UDP socket is bound to host:port (/proc/net/udp).
func udpBound(host string, port int) bool {
	socks, err := ListeningSockets("udp")
	if err != nil {
		return false
	}
	for _, s := range socks {
		if s.Port == port && (s.Addr == host || s.Addr == "0.0.0.0") {
			return true
		}
	}
	return false
}

// writeCert writes a self-signed certificate (cert.pem, key.pem) to dir.
func writeCert(dir string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testbed.vigil.test", Organization: []string{"Vigil testbed"}},
		DNSNames: []string{"testbed.vigil.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644),
		os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
}

func write(dir, name, content string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(content), 0o644)
}

func daemons() []daemon {
	return []daemon{
		{name: "sshd", binary: "/usr/sbin/sshd", services: []Service{{SSHHost, 22, "tcp", "ssh", "OpenSSH"}},
			setup: func(dir string) ([]string, error) {
				key := filepath.Join(dir, "ssh_host_ed25519_key")
				if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
					return nil, fmt.Errorf("ssh-keygen: %v %s", err, out)
				}
				if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
					return nil, err
				}
				cfg, err := write(dir, "sshd_config", fmt.Sprintf("ListenAddress %s:22\nHostKey %s\nPidFile %s/sshd.pid\nUsePAM no\nPasswordAuthentication no\n", SSHHost, key, dir))
				return []string{"-D", "-e", "-f", cfg}, err
			}},
		{name: "nginx", binary: "/usr/sbin/nginx", services: []Service{{NginxHost, 80, "tcp", "http", "nginx"}, {NginxHost, 443, "tcp", "https", "nginx"}},
			setup: func(dir string) ([]string, error) {
				tmp := filepath.Join(dir, "nginx-tmp")
				if err := os.MkdirAll(tmp, 0o777); err != nil {
					return nil, err
				}
				cfg, err := write(dir, "nginx.conf", fmt.Sprintf(`daemon off; pid %[1]s/nginx.pid; error_log %[1]s/nginx-error.log; worker_processes 1;
events { worker_connections 256; }
http { access_log off; client_body_temp_path %[2]s; proxy_temp_path %[2]s; fastcgi_temp_path %[2]s; uwsgi_temp_path %[2]s; scgi_temp_path %[2]s;
  server { listen %[3]s:80; location / { return 200 "vigil testbed\n"; } }
  server { listen %[3]s:443 ssl; ssl_certificate %[1]s/cert.pem; ssl_certificate_key %[1]s/key.pem; location / { return 200 "vigil testbed tls\n"; } }
}
`, dir, tmp, NginxHost))
				return []string{"-c", cfg, "-p", dir}, err
			}},
		{name: "vsftpd", binary: "/usr/sbin/vsftpd", services: []Service{{FTPHost, 21, "tcp", "ftp", "vsftpd"}},
			setup: func(dir string) ([]string, error) {
				empty := filepath.Join(dir, "vsftpd-empty")
				if err := os.MkdirAll(empty, 0o755); err != nil {
					return nil, err
				}
				// vsftpd refuses to run with every login disabled: allow read-only
				// anonymous access to an empty directory.
				cfg, err := write(dir, "vsftpd.conf", fmt.Sprintf("listen=YES\nlisten_ipv6=NO\nlisten_address=%s\nlisten_port=21\nbackground=NO\nanonymous_enable=YES\nanon_root=%s\nno_anon_password=YES\nwrite_enable=NO\nlocal_enable=NO\npasv_enable=NO\nxferlog_enable=NO\nsecure_chroot_dir=%s\n", FTPHost, empty, empty))
				return []string{cfg}, err
			}},
		{name: "redis", binary: "/usr/bin/redis-server", services: []Service{{RedisHost, 6379, "tcp", "redis", "Redis key-value store"}},
			setup: func(dir string) ([]string, error) {
				return []string{"--bind", RedisHost, "--port", "6379", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--protected-mode", "no"}, nil
			}},
		{name: "memcached", binary: "/usr/bin/memcached", services: []Service{{MemcachedHost, 11211, "tcp", "memcached", "Memcached"}, {MemcachedHost, 11211, "udp", "memcached", "Memcached"}},
			setup: func(dir string) ([]string, error) {
				return []string{"-l", MemcachedHost, "-p", "11211", "-U", "11211", "-u", "root", "-m", "16"}, nil
			}},
		{name: "named", binary: "/usr/sbin/named", services: []Service{{DNSHost, 53, "tcp", "domain", "ISC BIND"}, {DNSHost, 53, "udp", "domain", "ISC BIND"}},
			setup: func(dir string) ([]string, error) {
				// named listens only on addresses configured on an interface.
				if err := addLoopbackAddr(DNSHost); err != nil {
					return nil, err
				}
				cfg, err := write(dir, "named.conf", fmt.Sprintf("options { directory \"%[1]s\"; pid-file \"%[1]s/named.pid\"; listen-on port 53 { %[2]s; }; listen-on-v6 { none; }; recursion no; dnssec-validation no; };\n", dir, DNSHost))
				return []string{"-g", "-c", cfg}, err
			}},
		{name: "snmpd", binary: "/usr/sbin/snmpd", services: []Service{{SNMPHost, 161, "udp", "snmp", ""}},
			setup: func(dir string) ([]string, error) {
				cfg, err := write(dir, "snmpd.conf", "rocommunity public 127.0.0.0/8\nsysLocation Vigil testbed\n")
				return []string{"-f", "-Lo", "-C", "-c", cfg, "-p", filepath.Join(dir, "snmpd.pid"), "udp:" + SNMPHost + ":161"}, err
			}},
		{name: "exim4", binary: "/usr/sbin/exim4", services: []Service{{SMTPHost, 25, "tcp", "smtp", "Exim smtpd"}},
			setup: func(dir string) ([]string, error) {
				spool := filepath.Join(dir, "exim-spool")
				if err := os.MkdirAll(spool, 0o777); err != nil {
					return nil, err
				}
				_ = os.Chmod(spool, 0o777)
				cfg, err := write(dir, "exim.conf", fmt.Sprintf(`primary_hostname = testbed.vigil.test
daemon_smtp_ports = 25
local_interfaces = %s
spool_directory = %s
log_file_path = syslog
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  deny
begin routers
begin transports
`, SMTPHost, spool))
				return []string{"-C", cfg, "-bdf", "-oP", filepath.Join(dir, "exim.pid")}, err
			}},
	}
}
