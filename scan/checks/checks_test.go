package checks

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// lineServer answers each line it reads with reply(line); greeting is sent first.
func lineServer(t *testing.T, greeting string, reply func(line string) string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveConns(t, ln, func(c net.Conn) {
		if greeting != "" {
			c.Write([]byte(greeting + "\r\n"))
		}
		r := bufio.NewReader(c)
		for i := 0; i < 20; i++ {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			c.Write([]byte(reply(strings.TrimRight(l, "\r\n"))))
		}
	})
}

// serveConns hands each connection of ln to handle (with a deadline, closed
// after) until the test ends, and returns ln's port.
func serveConns(t *testing.T, ln net.Listener, handle func(net.Conn)) int {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func httpServer(t *testing.T, h http.HandlerFunc) int {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	return p
}

// run runs the runner on one host with the given services and returns the
// check ids it reported (CVE findings as id|CVE).
func run(t *testing.T, r *Runner, services ...scan.PortService) []string {
	t.Helper()
	var got []string
	h := scan.HostServices{Addr: netip.MustParseAddr("127.0.0.1"), Services: services}
	r.OnError = func(addr netip.Addr, port int, id string, err error) { t.Logf("%s on %d: %v", id, port, err) }
	r.Timeout = 2 * time.Second
	r.Run(context.Background(), &net.Dialer{}, h, func(f vigil.FindingResult) {
		if f.Name == "" || f.Evidence == "" || f.CVSSVector == "" {
			t.Errorf("incomplete finding %+v", f)
		}
		id := f.CheckID
		if f.CVE != "" {
			id += "|" + f.CVE
		}
		got = append(got, id)
	})
	sort.Strings(got)
	return got
}

func svc(port int, name string) scan.PortService {
	return scan.PortService{Port: port, Protocol: "tcp", Service: &scan.Service{Name: name}}
}

func TestChecksFireOnVulnerableAndStaySilentOnSafe(t *testing.T) {
	var gets atomic.Int32
	vulnHTTP := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		}
		w.Header().Set("Server", "nginx/1.22.1")
		if r.Method == "TRACE" {
			w.Write([]byte("TRACE " + r.URL.Path + " HTTP/1.1\r\nHost: x\r\n"))
			return
		}
		w.Write([]byte("<html><head><title>Index of /</title></head><body><h1>Index of /</h1></body></html>"))
	})
	safeHTTP := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == "TRACE" {
			http.Error(w, "not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Write([]byte("<html><head><title>Shop</title></head></html>"))
	})
	defaultHTTP := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write([]byte("<html><head><title>Welcome to nginx!</title></head></html>"))
	})
	ftp := func(anonymous, tls bool) int {
		return lineServer(t, "220 (vsFTPd 3.0.3)", func(l string) string {
			switch {
			case strings.HasPrefix(l, "USER"):
				return "331 Please specify the password.\r\n"
			case strings.HasPrefix(l, "PASS") && anonymous:
				return "230 Login successful.\r\n"
			case strings.HasPrefix(l, "PASS"):
				return "530 Login incorrect.\r\n"
			case l == "AUTH TLS" && tls:
				return "234 Proceed with negotiation.\r\n"
			case l == "AUTH TLS":
				return "530 Please login with USER and PASS.\r\n"
			}
			return "221 Goodbye.\r\n"
		})
	}
	redis := func(open bool) int {
		return lineServer(t, "", func(l string) string {
			if !open {
				return "-NOAUTH Authentication required.\r\n"
			}
			if l == "PING" {
				return "+PONG\r\n"
			}
			return "$40\r\n# Server\r\nredis_version:7.0.15\r\n\r\n"
		})
	}
	memcached := func(open bool) int {
		return lineServer(t, "", func(l string) string {
			if open {
				return "VERSION 1.6.18\r\n"
			}
			return "ERROR\r\n"
		})
	}
	r := &Runner{}
	got := run(t, r, svc(vulnHTTP, "http"), svc(defaultHTTP, "http"), svc(ftp(true, false), "ftp"), svc(redis(true), "redis"),
		svc(memcached(true), "memcached"))
	want := []string{"vigil.ftp-anonymous", "vigil.ftp-cleartext", "vigil.http-default-page", "vigil.http-directory-listing",
		"vigil.http-security-headers", "vigil.http-trace", "vigil.http-version-disclosure", "vigil.memcached-noauth", "vigil.redis-noauth"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("vulnerable services:\n got %v\nwant %v", got, want)
	}
	if n := gets.Load(); n != 1 {
		t.Errorf("%d GET requests to one web server; the checks that judge GET / share one", n)
	}
	if got := run(t, r, svc(safeHTTP, "http"), svc(ftp(false, true), "ftp"), svc(redis(false), "redis"), svc(memcached(false), "memcached")); len(got) != 0 {
		t.Errorf("safe services reported %v", got)
	}
}

// memIntel is vulnmatch.Data over fixed records.
type memIntel struct {
	cves     []*vulnmatch.CVE
	tracker  map[string][]*vulnmatch.TrackerEntry
	cveCalls int // CVEs lookups, to catch one query per package
}

func (m *memIntel) ProductCVEs(ctx context.Context, vps []string) ([]*vulnmatch.CVE, error) {
	var out []*vulnmatch.CVE
	for _, c := range m.cves {
		for _, p := range c.VulnerableProducts() {
			for _, vp := range vps {
				if p == vp {
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

func (m *memIntel) TrackerEntries(ctx context.Context, release string, sources []string) (map[string][]*vulnmatch.TrackerEntry, error) {
	out := map[string][]*vulnmatch.TrackerEntry{}
	for _, s := range sources {
		out[s] = m.tracker[s]
	}
	return out, nil
}

func (m *memIntel) CVEs(ctx context.Context, ids []string) (map[string]*vulnmatch.CVE, error) {
	m.cveCalls++
	out := map[string]*vulnmatch.CVE{}
	for _, c := range m.cves {
		out[c.ID] = c
	}
	return out, nil
}

// TestCVEFindings: a version banner becomes CVE findings with score, KEV
// and EPSS; a Debian banner the tracker says is fixed gives none; a Debian
// banner without a release gives a Log finding below the display threshold.
func TestCVEFindings(t *testing.T) {
	regre := &vulnmatch.CVE{ID: "CVE-2024-6387", Score: 8.1, Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", CVSSVersion: "3.1",
		KEV: true, EPSS: 0.5, Configurations: []vulnmatch.Configuration{{Nodes: []vulnmatch.Node{{Operator: "OR", CPEMatch: []vulnmatch.CPEMatch{
			{Vulnerable: true, Criteria: "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*", VersionStartIncluding: "8.6", VersionEndExcluding: "9.8"}}}}}}}
	intel := &memIntel{cves: []*vulnmatch.CVE{regre}, tracker: map[string][]*vulnmatch.TrackerEntry{"openssh": {{Source: "openssh",
		CVE: "CVE-2024-6387", Release: "bookworm", TrackerRelease: vulnmatch.TrackerRelease{Status: "resolved", FixedVersion: "1:9.2p1-2+deb12u3"}}}}}
	ssh := func(banner string) scan.PortService {
		return scan.PortService{Port: 22, Protocol: "tcp", Service: &scan.Service{Name: "ssh", Product: "OpenSSH", Version: "9.2p1", Banner: banner}}
	}
	var fs []vigil.FindingResult
	r := &Runner{Checks: []*Check{}, Intel: intel}
	for _, b := range []string{"SSH-2.0-OpenSSH_9.2p1", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10", "SSH-2.0-OpenSSH_9.2p1 Debian-2"} {
		r.Run(context.Background(), &net.Dialer{}, scan.HostServices{Addr: netip.MustParseAddr("127.0.0.1"), Services: []scan.PortService{ssh(b)}},
			func(f vigil.FindingResult) { fs = append(fs, f) })
	}
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2 (upstream banner, Debian-2): %+v", len(fs), fs)
	}
	up, deb := fs[0], fs[1]
	if up.CVE != "CVE-2024-6387" || up.Severity != 8.1 || !up.KEV || up.EPSS != 0.5 || up.QoD != vulnmatch.ConfidenceBanner {
		t.Errorf("upstream banner finding: %+v", up)
	}
	if deb.Severity != 0 || deb.QoD >= vulnmatch.DisplayThreshold || !strings.HasPrefix(deb.Name, "Possible ") {
		t.Errorf("Debian banner without release: %+v", deb)
	}
}

func TestRegistry(t *testing.T) {
	if n := len(All()); n < 30 {
		t.Errorf("%d checks registered; the catalogue promises at least 30", n)
	}
	for _, c := range All() {
		if c.Score <= 0 || c.Description == "" || c.Solution == "" || c.Evidence == "" || c.Family == "" || !strings.HasPrefix(c.ID, "vigil.") {
			t.Errorf("%s: incomplete registration %+v", c.ID, c)
		}
	}
}
