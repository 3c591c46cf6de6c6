package fingerprint

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil/internal/testenv"
)

// serve starts a loopback TCP server running handle for each connection.
func serve(t *testing.T, handle func(c net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); c.SetDeadline(time.Now().Add(5 * time.Second)); handle(c) }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func greet(banner string) func(net.Conn) {
	return func(c net.Conn) { c.Write([]byte(banner)); bufio.NewReader(c).ReadString('\n') }
}

// answer waits for the client to speak, then sends resp.
func answer(resp []byte) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		if n, _ := c.Read(buf); n > 0 {
			c.Write(resp)
		}
	}
}

func detect(t *testing.T, d *Detector, port int) map[string]string {
	t.Helper()
	s, err := d.Detect(context.Background(), &net.Dialer{}, netip.MustParseAddr("127.0.0.1"), port)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		return nil
	}
	out := map[string]string{"name": s.Name, "product": s.Product, "version": s.Version, "method": s.Method}
	if len(s.CPE) > 0 {
		out["cpe"] = s.CPE[0]
	}
	if s.TLS != nil {
		out["tls"] = s.TLS.Version
	}
	return out
}

func TestDetect(t *testing.T) {
	d := New(WithBannerWait(500*time.Millisecond), WithReadWait(500*time.Millisecond))
	mysqlGreeting := append([]byte{0x5b, 0, 0, 0, 10}, []byte("5.5.5-10.11.6-MariaDB-0+deb12u1\x00rest-of-greeting")...)
	httpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		w.Write([]byte("hello"))
	}))
	defer httpSrv.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.62 (Debian)")
	}))
	defer tlsSrv.Close()
	portOf := func(u string) int {
		_, p, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"))
		return atoi(p)
	}

	tests := []struct {
		port int
		want map[string]string
	}{
		{serve(t, greet("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")), map[string]string{"name": "ssh", "product": "OpenSSH", "version": "9.2p1", "cpe": "cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*"}},
		{serve(t, greet("220 (vsFTPd 3.0.3)\r\n")), map[string]string{"name": "ftp", "product": "vsftpd", "version": "3.0.3"}},
		{serve(t, greet("220 mail.example.com ESMTP Exim 4.96 Sat, 21 Nov 2026 10:00:00 +0000\r\n")), map[string]string{"name": "smtp", "product": "Exim smtpd", "version": "4.96"}},
		{serve(t, greet("+OK Dovecot (Debian) ready.\r\n")), map[string]string{"name": "pop3", "product": "Dovecot pop3d"}},
		{serve(t, greet("* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.\r\n")), map[string]string{"name": "imap", "product": "Dovecot imapd"}},
		{serve(t, greet("RFB 003.008\n")), map[string]string{"name": "vnc"}},
		{serve(t, greet("\xff\xfd\x18\xff\xfd\x20")), map[string]string{"name": "telnet"}},
		{serve(t, func(c net.Conn) { c.Write(mysqlGreeting); c.Read(make([]byte, 10)) }), map[string]string{"name": "mysql", "product": "MariaDB", "version": "10.11.6"}},
		{portOf(httpSrv.URL), map[string]string{"name": "http", "product": "nginx", "version": "1.22.1", "cpe": "cpe:2.3:a:f5:nginx:1.22.1:*:*:*:*:*:*:*"}},
		{portOf(tlsSrv.URL), map[string]string{"name": "https", "product": "Apache httpd", "version": "2.4.62", "tls": "TLS 1.3"}},
		{serve(t, answer([]byte("+PONG\r\n$20\r\n# Server\r\nredis_version:7.0.15\r\n"))), map[string]string{"name": "redis", "version": "7.0.15"}},
		{serve(t, answer([]byte("VERSION 1.6.18\r\n"))), map[string]string{"name": "memcached", "product": "Memcached", "version": "1.6.18"}},
		{serve(t, answer([]byte("N"))), map[string]string{"name": "postgresql", "product": "PostgreSQL DB"}},
		{serve(t, answer([]byte{0x20, 0x02, 0x00, 0x05})), map[string]string{"name": "mqtt"}},
		{serve(t, greet(`INFO {"server_id":"NCVK","server_name":"n1","version":"2.9.10","proto":1,"go":"go1.19.8","host":"127.0.0.1","port":4222}`+"\r\n")),
			map[string]string{"name": "nats", "product": "NATS Server", "version": "2.9.10"}},
	}
	for _, tt := range tests {
		got := detect(t, d, tt.port)
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("port %d: %s = %q, want %q (got %v)", tt.port, k, got[k], v, got)
			}
		}
	}
	// A silent port yields nothing rather than a guess.
	silent := serve(t, func(c net.Conn) { time.Sleep(3 * time.Second) })
	if got := detect(t, d, silent); got != nil {
		t.Errorf("silent port: %v", got)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func recogDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VIGIL_TESTDATA")
	if dir == "" {
		testenv.Unavailable(t, "set VIGIL_TESTDATA=../shared/testdata to test the Recog loader")
	}
	return filepath.Join(dir, "vulndb", "recog")
}

func TestRecogLoaderAndExamples(t *testing.T) {
	dir := recogDir(t)
	db, err := LoadRecog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if db.Count() < 1700 || db.Skipped != 0 {
		t.Errorf("loaded %d fingerprints, skipped %d", db.Count(), db.Skipped)
	}
	// Each file's own examples must produce the params they claim.
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	var checked, failed int
	for _, f := range files {
		kind, examples, err := LoadRecogExamples(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range examples {
			got := db.Match(kind, ex.Text)
			if got == nil {
				failed++
				continue
			}
			for k, v := range ex.Want {
				checked++
				if got[k] != v {
					failed++
				}
			}
		}
	}
	// First match wins, so an example can be claimed by an earlier, broader
	// pattern; Recog's own runner allows that too. Demand a high rate.
	if checked < 1000 || float64(failed) > 0.05*float64(checked) {
		t.Errorf("recog examples: %d checked, %d failed", checked, failed)
	}
	m := db.Match("ssh.banner", "OpenSSH_9.2p1 Debian-2+deb12u10")
	if m == nil || m["service.version"] != "9.2p1" || !strings.Contains(m["os.version"]+m["os.product"], "12") && m["os.version"] == "" {
		t.Errorf("OpenSSH on Debian 12: %v", m)
	}
	d := New(WithRecog(db), WithBannerWait(500*time.Millisecond))
	port := serve(t, greet("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"))
	s, _ := d.Detect(context.Background(), &net.Dialer{}, netip.MustParseAddr("127.0.0.1"), port)
	if s == nil || s.Product != "OpenSSH" || len(s.CPE) == 0 || !strings.Contains(s.ExtraInfo, "Debian") {
		t.Errorf("detect with recog: %+v", s)
	}
}
