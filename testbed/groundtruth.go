package testbed

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The ground-truth testbed runs each packaged service twice: configured
// vulnerable on 127.0.12.x and configured safely on 127.0.13.x, the same
// last octet for the same daemon (these constants). A check must fire on
// the first and stay silent on the second. No other test binds these
// ranges, so package tests can run at the same time.
const (
	GTSSH, GTWeb, GTFTP, GTRedis, GTMemcached, GTDNS, GTSNMP, GTSMTP, GTSMB, GTPostgres, GTMariaDB = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
)

// VulnHost and SafeHost are the two addresses of a daemon's pair.
func VulnHost(octet int) string { return fmt.Sprintf("127.0.12.%d", octet) }
func SafeHost(octet int) string { return fmt.Sprintf("127.0.13.%d", octet) }

// GroundTruthPorts are the ports the ground-truth daemons listen on.
const GroundTruthPorts = "T:21,22,25,53,80,443,445,3306,5432,6379,8080,11211,U:53,161"

// Expected is the ground truth: the findings each daemon's
// vulnerable configuration must produce, by port. The safe configuration
// of the same daemon must produce none of them; the only findings it may
// have are those in ExpectedOnSafe.
var Expected = map[int]map[string][]string{
	GTSSH: {"22/tcp": {"vigil.ssh-weak-kex", "vigil.ssh-weak-hostkey", "vigil.ssh-weak-cipher", "vigil.ssh-weak-mac", "vigil.ssh-password-auth"}},
	GTWeb: {
		"80/tcp":   {"vigil.http-directory-listing", "vigil.http-security-headers", "vigil.http-version-disclosure"},
		"8080/tcp": {"vigil.http-default-page", "vigil.http-security-headers", "vigil.http-version-disclosure"},
		// Debian's OpenSSL has no RC4 or 3DES at any security level, so
		// vigil.tls-weak-cipher is proved against Go servers (scan/checks).
		"443/tcp": {"vigil.tls-v1.0-enabled", "vigil.tls-v1.1-enabled", "vigil.tls-cert-not-yet-valid",
			"vigil.tls-rsa-key-short", "vigil.tls-cert-sha1", "vigil.tls-self-signed", "vigil.http-security-headers", "vigil.http-version-disclosure"},
	},
	GTFTP:       {"21/tcp": {"vigil.ftp-anonymous", "vigil.ftp-cleartext"}},
	GTRedis:     {"6379/tcp": {"vigil.redis-noauth", "vigil.database-exposed"}},
	GTMemcached: {"11211/tcp": {"vigil.memcached-noauth", "vigil.database-exposed"}},
	GTDNS:       {"53/tcp": {"vigil.dns-open-recursion", "vigil.dns-zone-transfer"}, "53/udp": {"vigil.dns-open-recursion"}},
	GTSNMP:      {"161/udp": {"vigil.snmp-default-community"}},
	GTSMTP:      {"25/tcp": {"vigil.smtp-open-relay"}},
	GTSMB:       {"445/tcp": {"vigil.smb-v1-enabled", "vigil.smb-signing-not-required"}},
	GTPostgres:  {"5432/tcp": {"vigil.postgresql-default-credentials", "vigil.database-exposed"}},
	GTMariaDB:   {"3306/tcp": {"vigil.mysql-default-credentials", "vigil.database-exposed"}},
}

// ExpectedOnSafe: a database that answers on the network is itself a
// finding (PCI DSS fails it), however well it is configured.
var ExpectedOnSafe = map[int]map[string][]string{
	GTRedis:     {"6379/tcp": {"vigil.database-exposed"}},
	GTMemcached: {"11211/tcp": {"vigil.database-exposed"}},
	GTPostgres:  {"5432/tcp": {"vigil.database-exposed"}},
	GTMariaDB:   {"3306/tcp": {"vigil.database-exposed"}},
}

// GroundTruth is a running ground-truth testbed.
type GroundTruth struct {
	*Testbed
	// RootKey is a private key (OpenSSH PEM) that signs in as root to the
	// safe sshd, for authenticated scans.
	RootKey string
}

// GroundTruthMissing lists the binaries the ground truth needs that are not
// installed.
func GroundTruthMissing() []string {
	var out []string
	for _, d := range groundTruthDaemons(nil, "", true) {
		if _, err := os.Stat(d.binary); err != nil {
			out = append(out, d.name+" ("+d.binary+")")
		}
	}
	return out
}

// StartGroundTruth starts both configurations of every daemon.
func StartGroundTruth(ctx context.Context, dir string) (*GroundTruth, error) {
	tb := &Testbed{Dir: dir}
	gt := &GroundTruth{Testbed: tb}
	if err := writeGroundTruthCerts(dir); err != nil {
		return nil, err
	}
	key, err := rootKey(dir)
	if err != nil {
		return nil, err
	}
	gt.RootKey = key
	for _, vulnerable := range []bool{true, false} {
		for _, d := range groundTruthDaemons(tb, dir, vulnerable) {
			sub := filepath.Join(dir, d.name)
			if err := os.MkdirAll(sub, 0o755); err != nil {
				tb.Stop()
				return nil, err
			}
			tb.startDaemon(ctx, sub, d)
		}
	}
	return gt, nil
}

// writeGroundTruthCerts writes the vulnerable server's certificate (RSA
// 1024, SHA-1, self-signed, valid only from tomorrow) and the safe one's
// (ECDSA P-256 issued by a test CA, valid now), each with its key.
func writeGroundTruthCerts(dir string) error {
	now := time.Now()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		return err
	}
	vt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "weak.testbed.vigil.test"},
		DNSNames: []string{"weak.testbed.vigil.test"}, NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		SignatureAlgorithm: x509.SHA1WithRSA, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	vder, err := x509.CreateCertificate(rand.Reader, vt, vt, &weak.PublicKey, weak)
	if err != nil {
		return fmt.Errorf("vulnerable certificate: %w", err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Vigil testbed CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	lt := &x509.Certificate{SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "safe.testbed.vigil.test"},
		DNSNames: []string{"safe.testbed.vigil.test"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, lt, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	leafKB, err := x509.MarshalECPrivateKey(leafKey)
	if err != nil {
		return err
	}
	cert := func(der ...[]byte) []byte {
		var out []byte
		for _, d := range der {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		return out
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, "weak-cert.pem"), cert(vder), 0o644),
		os.WriteFile(filepath.Join(dir, "weak-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)}), 0o600),
		os.WriteFile(filepath.Join(dir, "safe-chain.pem"), cert(leafDER, caDER), 0o644),
		os.WriteFile(filepath.Join(dir, "safe-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: leafKB}), 0o600))
}

// pick returns vuln or safe.
func pick[T any](vulnerable bool, vuln, safe T) T {
	if vulnerable {
		return vuln
	}
	return safe
}

// groundTruthDaemons are the daemons of one configuration; dir is the
// testbed's directory (certificates, keys), each daemon runs in its own
// subdirectory.
func groundTruthDaemons(tb *Testbed, dir string, vulnerable bool) []daemon {
	kind := pick(vulnerable, "vuln", "safe")
	host := func(octet int) string { return pick(vulnerable, VulnHost(octet), SafeHost(octet)) }
	name := func(n string) string { return n + "-" + kind }
	return []daemon{
		sshDaemon(dir, host(GTSSH), vulnerable),
		{name: name("nginx"), binary: "/usr/sbin/nginx", services: []Service{{host(GTWeb), 80, "tcp", "http", "nginx"}, {host(GTWeb), 443, "tcp", "https", "nginx"}, {host(GTWeb), 8080, "tcp", "http", "nginx"}},
			// OpenSSL's security level 0 lets the vulnerable server load a
			// 1024-bit key and speak TLS 1.0 with 3DES.
			env: pick(vulnerable, []string{"OPENSSL_CONF=" + filepath.Join(dir, "nginx-vuln", "openssl.cnf")}, nil),
			setup: func(sub string) ([]string, error) {
				tmp := filepath.Join(sub, "tmp")
				www := filepath.Join(sub, "www")
				for _, d := range []string{tmp, www} {
					if err := os.MkdirAll(d, 0o777); err != nil {
						return nil, err
					}
				}
				common := fmt.Sprintf(`daemon off; user root; pid %[1]s/nginx.pid; error_log %[1]s/error.log; worker_processes 1;
events { worker_connections 256; }
http { access_log off; client_body_temp_path %[2]s; proxy_temp_path %[2]s; fastcgi_temp_path %[2]s; uwsgi_temp_path %[2]s; scgi_temp_path %[2]s;
`, sub, tmp)
				var conf string
				if vulnerable {
					if _, err := write(sub, "openssl.cnf", "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\n[sys]\nCipherString = ALL:@SECLEVEL=0\nMinProtocol = TLSv1\n"); err != nil {
						return nil, err
					}
					for _, f := range []string{"backup.sql", "notes.txt"} {
						if _, err := write(www, f, "testbed file\n"); err != nil {
							return nil, err
						}
					}
					conf = common + fmt.Sprintf(`  server_tokens on;
  server { listen %[1]s:80; root %[2]s; autoindex on; }
  server { listen %[1]s:8080; root /usr/share/nginx/html; index index.html; }
  server { listen %[1]s:443 ssl; ssl_certificate %[3]s/weak-cert.pem; ssl_certificate_key %[3]s/weak-key.pem;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2; ssl_ciphers "ALL:@SECLEVEL=0"; location / { return 200 "weak tls\n"; } }
}
`, host(GTWeb), www, dir)
				} else {
					if _, err := write(www, "index.html", "<html><head><title>Vigil testbed shop</title></head><body>shop</body></html>\n"); err != nil {
						return nil, err
					}
					headers := `add_header X-Frame-Options DENY always; add_header X-Content-Type-Options nosniff always;`
					conf = common + fmt.Sprintf(`  server_tokens off;
  server { listen %[1]s:80; root %[2]s; %[4]s }
  server { listen %[1]s:8080; root %[2]s; %[4]s }
  server { listen %[1]s:443 ssl; ssl_certificate %[3]s/safe-chain.pem; ssl_certificate_key %[3]s/safe-key.pem;
    ssl_protocols TLSv1.2 TLSv1.3; root %[2]s; %[4]s add_header Strict-Transport-Security "max-age=31536000" always; }
}
`, host(GTWeb), www, dir, headers)
				}
				cfg, err := write(sub, "nginx.conf", conf)
				return []string{"-c", cfg, "-p", sub}, err
			}},
		{name: name("vsftpd"), binary: "/usr/sbin/vsftpd", services: []Service{{host(GTFTP), 21, "tcp", "ftp", "vsftpd"}},
			setup: func(sub string) ([]string, error) {
				empty := filepath.Join(sub, "empty")
				if err := os.MkdirAll(empty, 0o755); err != nil {
					return nil, err
				}
				conf := fmt.Sprintf("listen=YES\nlisten_ipv6=NO\nlisten_address=%s\nlisten_port=21\nbackground=NO\nwrite_enable=NO\npasv_enable=NO\nxferlog_enable=NO\nsecure_chroot_dir=%s\n", host(GTFTP), empty)
				if vulnerable {
					conf += fmt.Sprintf("anonymous_enable=YES\nanon_root=%s\nno_anon_password=YES\nlocal_enable=NO\n", empty)
				} else {
					conf += fmt.Sprintf("anonymous_enable=NO\nlocal_enable=YES\npam_service_name=vsftpd\nssl_enable=YES\nrsa_cert_file=%[1]s/safe-chain.pem\nrsa_private_key_file=%[1]s/safe-key.pem\nssl_ciphers=HIGH\nforce_local_logins_ssl=YES\nforce_local_data_ssl=YES\n", dir)
				}
				cfg, err := write(sub, "vsftpd.conf", conf)
				return []string{cfg}, err
			}},
		{name: name("redis"), binary: "/usr/bin/redis-server", services: []Service{{host(GTRedis), 6379, "tcp", "redis", "Redis key-value store"}},
			setup: func(sub string) ([]string, error) {
				argv := []string{"--bind", host(GTRedis), "--port", "6379", "--save", "", "--appendonly", "no", "--dir", sub, "--daemonize", "no", "--protected-mode", "no"}
				if !vulnerable {
					argv = append(argv, "--requirepass", randomSecret())
				}
				return argv, nil
			}},
		{name: name("memcached"), binary: "/usr/bin/memcached", services: []Service{{host(GTMemcached), 11211, "tcp", "memcached", ""}},
			setup: func(sub string) ([]string, error) {
				argv := []string{"-l", host(GTMemcached), "-p", "11211", "-U", "0", "-u", "root", "-m", "16"}
				if !vulnerable {
					auth, err := write(sub, "auth", "vigil:"+randomSecret()+"\n")
					if err != nil {
						return nil, err
					}
					argv = append(argv, "-Y", auth)
				}
				return argv, nil
			}},
		{name: name("named"), binary: "/usr/sbin/named", services: []Service{{host(GTDNS), 53, "tcp", "domain", "ISC BIND"}, {host(GTDNS), 53, "udp", "domain", "ISC BIND"}},
			setup: func(sub string) ([]string, error) {
				if err := addLoopbackAddr(host(GTDNS)); err != nil {
					return nil, err
				}
				return namedConfig(sub, host(GTDNS), vulnerable)
			}},
		{name: name("snmpd"), binary: "/usr/sbin/snmpd", services: []Service{{host(GTSNMP), 161, "udp", "snmp", ""}},
			setup: func(sub string) ([]string, error) {
				community := pick(vulnerable, "public", "vigil-"+randomSecret())
				cfg, err := write(sub, "snmpd.conf", "rocommunity "+community+" 127.0.0.0/8\nsysLocation Vigil testbed\n")
				return []string{"-f", "-Lo", "-C", "-c", cfg, "-p", filepath.Join(sub, "snmpd.pid"), "udp:" + host(GTSNMP) + ":161"}, err
			}},
		{name: name("exim4"), binary: "/usr/sbin/exim4", services: []Service{{host(GTSMTP), 25, "tcp", "smtp", "Exim smtpd"}},
			setup: func(sub string) ([]string, error) {
				// Exim drops to its own user, which must reach the spool.
				spool, err := publicTempDir(tb, "vigil-testbed-exim-")
				if err != nil {
					return nil, err
				}
				// The open relay accepts any recipient; the safe server only
				// its own domain. Neither has a router: nothing is ever sent.
				rcpt := pick(vulnerable, "  accept\n", "  accept domains = testbed.vigil.test\n  deny message = relay not permitted\n")
				cfg, err := write(sub, "exim.conf", fmt.Sprintf("primary_hostname = testbed.vigil.test\ndaemon_smtp_ports = 25\nlocal_interfaces = %s\nspool_directory = %s\nlog_file_path = syslog\nacl_smtp_rcpt = acl_check_rcpt\nbegin acl\nacl_check_rcpt:\n%sbegin routers\nbegin transports\n",
					host(GTSMTP), spool, rcpt))
				return []string{"-C", cfg, "-bdf", "-oP", filepath.Join(sub, "exim.pid")}, err
			}},
		{name: name("smbd"), binary: "/usr/sbin/smbd", services: []Service{{host(GTSMB), 445, "tcp", "microsoft-ds", ""}},
			setup: func(sub string) ([]string, error) {
				// smbd binds only addresses configured on an interface.
				if err := addLoopbackAddr(host(GTSMB)); err != nil {
					return nil, err
				}
				return smbdConfig(sub, host(GTSMB), vulnerable)
			}},
		{name: name("postgres"), binary: postgresBin("postgres"), user: "postgres", wait: 60 * time.Second,
			services: []Service{{host(GTPostgres), 5432, "tcp", "postgresql", "PostgreSQL"}},
			setup: func(sub string) ([]string, error) {
				return postgresSetup(tb, host(GTPostgres), vulnerable)
			}},
		{name: name("mariadb"), binary: "/usr/sbin/mariadbd", wait: 60 * time.Second,
			services: []Service{{host(GTMariaDB), 3306, "tcp", "mysql", "MariaDB"}},
			setup: func(sub string) ([]string, error) {
				return mariadbSetup(sub, host(GTMariaDB), vulnerable)
			}},
	}
}

// sshDaemon is an sshd on addr:22 that lets root sign in with the key in
// dir/root_ed25519 (see rootKey). The vulnerable one offers SHA-1 key
// exchange, CBC ciphers, MD5 and truncated MACs, ssh-rsa signatures and
// passwords; the safe one OpenSSH's defaults and keys only.
func sshDaemon(dir, addr string, vulnerable bool) daemon {
	return daemon{name: "sshd-" + pick(vulnerable, "vuln", "safe"), binary: "/usr/sbin/sshd", services: []Service{{addr, 22, "tcp", "ssh", "OpenSSH"}},
		setup: func(sub string) ([]string, error) {
			conf := fmt.Sprintf("ListenAddress %s:22\nPidFile %s/sshd.pid\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nAuthorizedKeysFile %s/root_ed25519.pub\n", addr, sub, dir)
			keyType := "ed25519"
			if vulnerable {
				keyType = "rsa"
				conf += "PasswordAuthentication yes\nKexAlgorithms +diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1\n" +
					"Ciphers +aes128-cbc,aes256-cbc\nMACs +hmac-md5,hmac-sha1-96\nHostKeyAlgorithms +ssh-rsa\n"
			} else {
				conf += "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
			}
			key := filepath.Join(sub, "ssh_host_"+keyType+"_key")
			if out, err := exec.Command("ssh-keygen", "-q", "-t", keyType, "-N", "", "-f", key).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("ssh-keygen: %v %s", err, out)
			}
			if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
				return nil, err
			}
			cfg, err := write(sub, "sshd_config", conf+"HostKey "+key+"\n")
			return []string{"-D", "-e", "-f", cfg}, err
		}}
}

// rootKey creates dir/root_ed25519 (and .pub) and returns the private key.
func rootKey(dir string) (string, error) {
	key := filepath.Join(dir, "root_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vigil-testbed", "-f", key).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ssh-keygen: %v %s", err, out)
	}
	b, err := os.ReadFile(key)
	return string(b), err
}

// StartSSHD runs one safe sshd on addr that root signs in to with the
// returned key, for authenticated scans.
func StartSSHD(ctx context.Context, dir, addr string) (*GroundTruth, error) {
	key, err := rootKey(dir)
	if err != nil {
		return nil, err
	}
	gt := &GroundTruth{Testbed: &Testbed{Dir: dir}, RootKey: key}
	sub := filepath.Join(dir, "sshd")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return nil, err
	}
	gt.startDaemon(ctx, sub, sshDaemon(dir, addr, false))
	if len(gt.Skipped) > 0 {
		gt.Stop()
		return nil, errors.New(strings.Join(gt.Skipped, "; "))
	}
	return gt, nil
}

// publicTempDir makes a directory under the system's temporary directory
// that daemons running as their own users can reach (the testbed's is
// root's alone), removed when the testbed stops.
func publicTempDir(tb *Testbed, prefix string) (string, error) {
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	tb.closers = append(tb.closers, func() { os.RemoveAll(d) })
	return d, os.Chmod(d, 0o777)
}

func randomSecret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// namedConfig serves a root zone of its own (so a recursive query can
// never leave the machine), the testbed's zone and the reverse name of its
// own address. The vulnerable server recurses for anyone and transfers
// zones to anyone; the safe one does neither.
func namedConfig(sub, addr string, vulnerable bool) ([]string, error) {
	o := strings.Split(addr, ".")
	rev := fmt.Sprintf("%s.%s.%s.%s.in-addr.arpa", o[3], o[2], o[1], o[0])
	soa := "$TTL 300\n@ IN SOA ns1.testbed.vigil.test. hostmaster.testbed.vigil.test. 1 3600 600 86400 300\n@ IN NS ns1.testbed.vigil.test.\n"
	zones := map[string]string{
		"root.zone":    soa + "ns1.testbed.vigil.test. IN A " + addr + "\n",
		"testbed.zone": soa + "ns1 IN A " + addr + "\ndb IN A 127.0.12.250\nvpn IN A 127.0.12.251\n", // names only: nothing listens there
		"reverse.zone": soa + "@ IN PTR ns1.testbed.vigil.test.\n",
	}
	for f, z := range zones {
		if _, err := write(sub, f, z); err != nil {
			return nil, err
		}
	}
	policy := "recursion no; allow-transfer { none; };"
	if vulnerable {
		policy = "recursion yes; allow-recursion { any; }; allow-query-cache { any; }; allow-transfer { any; };"
	}
	cfg, err := write(sub, "named.conf", fmt.Sprintf(`options { directory "%[1]s"; pid-file "%[1]s/named.pid"; listen-on port 53 { %[2]s; }; listen-on-v6 { none; };
  dnssec-validation no; %[3]s };
zone "." { type primary; file "%[1]s/root.zone"; };
zone "testbed.vigil.test" { type primary; file "%[1]s/testbed.zone"; };
zone "%[4]s" { type primary; file "%[1]s/reverse.zone"; };
`, sub, addr, policy, rev))
	return []string{"-g", "-c", cfg}, err
}

// smbdConfig: the vulnerable server still speaks SMB 1 and signs only when
// a client asks; the safe one speaks SMB 2.1 and later and requires signing.
func smbdConfig(sub, addr string, vulnerable bool) ([]string, error) {
	for _, d := range []string{"lock", "state", "cache", "private", "ncalrpc", "share"} {
		if err := os.MkdirAll(filepath.Join(sub, d), 0o755); err != nil {
			return nil, err
		}
	}
	policy := pick(vulnerable, "server min protocol = NT1\n  server signing = auto\n", "server min protocol = SMB2_10\n  server signing = mandatory\n")
	cfg, err := write(sub, "smb.conf", fmt.Sprintf(`[global]
  interfaces = %[2]s
  bind interfaces only = yes
  smb ports = 445
  disable netbios = yes
  server role = standalone server
  pid directory = %[1]s
  lock directory = %[1]s/lock
  state directory = %[1]s/state
  cache directory = %[1]s/cache
  private dir = %[1]s/private
  ncalrpc dir = %[1]s/ncalrpc
  log file = %[1]s/smbd.log
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  %[3]s
[share]
  path = %[1]s/share
  read only = yes
`, sub, addr, policy))
	return []string{"--foreground", "--no-process-group", "--debug-stdout", "-s", cfg}, err
}

// postgresBin finds a PostgreSQL server binary of the installed major version.
func postgresBin(name string) string {
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) == 0 {
		return "/usr/lib/postgresql/bin/" + name
	}
	return m[len(m)-1]
}

// postgresSetup creates a cluster owned by postgres, in a directory of its
// own under the system's temporary directory (the testbed's may not be
// reachable by the postgres user). The vulnerable one trusts every loopback
// client; the safe one asks for a SCRAM password that no role has.
func postgresSetup(tb *Testbed, addr string, vulnerable bool) ([]string, error) {
	sub, err := publicTempDir(tb, "vigil-testbed-pg-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(sub, "data")
	cred, err := lookupUser("postgres")
	if err != nil {
		return nil, err
	}
	for _, d := range []string{sub, data} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	initdb := exec.Command(postgresBin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = sysProcAs(cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v %s", err, lastLines(string(out), 3))
	}
	method := pick(vulnerable, "trust", "scram-sha-256")
	hba := "local all all trust\nhost all all 127.0.0.0/8 " + method + "\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return nil, err
	}
	return []string{"-D", data, "-k", sub, "-c", "listen_addresses=" + addr, "-p", "5432", "-c", "fsync=off"}, nil
}

// mariadbSetup installs a data directory whose network root account has an
// empty password (vulnerable) or a random one (safe).
func mariadbSetup(sub, addr string, vulnerable bool) ([]string, error) {
	data := filepath.Join(sub, "data")
	// The vulnerable install keeps root's empty password; the safe one
	// signs root in by unix socket only (Debian's default).
	install := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--user=root",
		"--auth-root-authentication-method="+pick(vulnerable, "normal", "socket"), "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v %s", err, lastLines(string(out), 3))
	}
	pw := pick(vulnerable, "", randomSecret())
	initSQL, err := write(sub, "init.sql", fmt.Sprintf("CREATE USER IF NOT EXISTS 'root'@'%%' IDENTIFIED BY '%s';\nGRANT ALL ON *.* TO 'root'@'%%';\n", pw))
	if err != nil {
		return nil, err
	}
	return []string{"--no-defaults", "--datadir=" + data, "--user=root", "--bind-address=" + addr, "--port=3306",
		"--socket=" + filepath.Join(sub, "mysqld.sock"), "--pid-file=" + filepath.Join(sub, "mysqld.pid"), "--skip-name-resolve",
		"--init-file=" + initSQL, "--skip-log-bin", "--innodb-buffer-pool-size=16M"}, nil
}
