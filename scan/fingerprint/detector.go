// Package fingerprint identifies the service on an open TCP port: it reads
// what the server says first, unwraps TLS, and sends its own probes to
// services that wait for the client. Rules are Vigil's own; Rapid7 Recog
// fingerprints loaded from a directory add products and versions. It never
// reads nmap's data files.
package fingerprint

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilscan/vigil/scan"
)

// Detector identifies services. It is safe for concurrent use.
type Detector struct {
	bannerWait time.Duration
	readWait   time.Duration
	recog      *RecogDB
}

// Option configures a Detector.
type Option func(*Detector)

// WithRecog adds Recog fingerprints.
func WithRecog(db *RecogDB) Option { return func(d *Detector) { d.recog = db } }

// WithBannerWait sets how long to wait for a server to speak first.
func WithBannerWait(t time.Duration) Option { return func(d *Detector) { d.bannerWait = t } }

// WithReadWait sets how long to wait for the answer to a probe.
func WithReadWait(t time.Duration) Option { return func(d *Detector) { d.readWait = t } }

// New returns a detector.
func New(opts ...Option) *Detector {
	d := &Detector{bannerWait: 2 * time.Second, readWait: 2 * time.Second}
	for _, o := range opts {
		o(d)
	}
	return d
}

// tlsPorts are ports where TLS comes first, so it is tried before any banner wait.
var tlsPorts = []int{443, 465, 636, 853, 989, 990, 992, 993, 994, 995, 3269, 5061, 5986, 6697, 8443, 8883, 9443}

// Detect identifies the service on addr:port. It returns nil without error
// when nothing answered in a way it knows.
func (d *Detector) Detect(ctx context.Context, dialer scan.Dialer, addr netip.Addr, port int) (*scan.Service, error) {
	target := net.JoinHostPort(addr.String(), strconv.Itoa(port))
	host := addr.String()
	hinted, others := orderProbes(port)
	var seen []byte // the first bytes anything answered, for the banner field

	try := func(useTLS bool, ps []probe) *scan.Service {
		for _, p := range ps {
			if ctx.Err() != nil {
				return nil
			}
			resp, tinfo, err := d.exchange(ctx, dialer, target, host, useTLS, p.payload(host))
			if err != nil && len(resp) == 0 {
				continue
			}
			if len(seen) == 0 {
				seen = resp
			}
			if s := p.match(resp); s != nil {
				s.TLS = tinfo
				s.Banner = scan.Printable(resp, 512)
				return d.finish(s, "probed")
			}
			// A server that spoke first although asked something: a banner.
			if s := d.matchBanner(resp); s != nil {
				s.TLS = tinfo
				return s
			}
		}
		return nil
	}

	// 1. TLS-first ports, then probes the port suggests (clients speak first).
	if slices.Contains(tlsPorts, port) {
		if tinfo := d.tlsInfo(ctx, dialer, target, host); tinfo != nil {
			return d.insideTLS(ctx, dialer, target, host, port, tinfo), nil
		}
	}
	if s := try(false, hinted); s != nil {
		return s, nil
	}
	// 2. Wait for a banner.
	if banner, _, _ := d.exchange(ctx, dialer, target, host, false, nil); len(banner) > 0 {
		if s := d.matchBanner(banner); s != nil {
			return s, nil
		}
		seen = banner
	}
	// 3. TLS on any port that said nothing.
	if len(seen) == 0 {
		if tinfo := d.tlsInfo(ctx, dialer, target, host); tinfo != nil {
			return d.insideTLS(ctx, dialer, target, host, port, tinfo), nil
		}
	}
	// 4. Every other probe.
	if s := try(false, others); s != nil {
		return s, nil
	}
	if len(seen) > 0 {
		return &scan.Service{Name: "unknown", Banner: scan.Printable(seen, 512), Method: "banner", Confidence: 1}, nil
	}
	return nil, nil
}

// insideTLS identifies the service behind a TLS handshake.
func (d *Detector) insideTLS(ctx context.Context, dialer scan.Dialer, target, host string, port int, tinfo *scan.TLSInfo) *scan.Service {
	// Services that greet after the handshake (imaps, pop3s, smtps, ftps).
	if resp, _, err := d.exchangeOnce(ctx, dialer, target, host, true, nil, d.bannerWait/2); err == nil || len(resp) > 0 {
		if s := d.matchBanner(resp); s != nil {
			s.Name = scan.TLSName(s.Name)
			s.TLS = tinfo
			return s
		}
	}
	hinted, others := orderProbes(port)
	for _, p := range append(hinted, others...) {
		resp, _, err := d.exchangeOnce(ctx, dialer, target, host, true, p.payload(host), d.readWait)
		if err != nil && len(resp) == 0 {
			continue
		}
		if s := p.match(resp); s != nil {
			s.Name, s.TLS, s.Banner = scan.TLSName(s.Name), tinfo, scan.Printable(resp, 512)
			return d.finish(s, "probed")
		}
	}
	return &scan.Service{Name: "ssl/unknown", TLS: tinfo, Method: "probed", Confidence: 5}
}

// orderProbes puts the probes whose ports include port first.
func orderProbes(port int) (hinted, others []probe) {
	for _, p := range probes {
		if slices.Contains(p.ports, port) {
			hinted = append(hinted, p)
		} else {
			others = append(others, p)
		}
	}
	return hinted, others
}

// matchBanner tries the banner rules, then enriches with Recog.
func (d *Detector) matchBanner(b []byte) *scan.Service {
	if len(b) == 0 {
		return nil
	}
	for _, r := range bannerRules {
		if s := r.match(b); s != nil {
			s.Banner = scan.Printable(b, 512)
			return d.finish(s, "banner")
		}
	}
	return nil
}

// finish adds Recog detail, the CPE and the confidence.
func (d *Detector) finish(s *scan.Service, method string) *scan.Service {
	s.Method, s.Confidence = method, 10
	if s.Product == "" {
		s.Confidence = 8
	}
	d.enrichRecog(s)
	if cpe := productCPE(s.Product, s.Version); cpe != "" && len(s.CPE) == 0 {
		s.CPE = []string{cpe}
	}
	return s
}

// enrichRecog asks Recog about the banner text it knows how to read.
func (d *Detector) enrichRecog(s *scan.Service) {
	if d.recog == nil {
		return
	}
	raw := unprintable(s.Banner)
	var kind, text string
	switch strings.TrimPrefix(s.Name, "ssl/") {
	case "ssh":
		// Recog matches what follows "SSH-2.0-".
		if parts := strings.SplitN(strings.TrimSpace(firstLine(raw)), "-", 3); len(parts) == 3 {
			kind, text = "ssh.banner", parts[2]
		}
	case "ftp", "ftps":
		kind, text = "ftp.banner", strings.TrimSpace(strings.TrimPrefix(firstLine(raw), "220"))
	case "smtp", "smtps":
		kind, text = "smtp.banner", strings.TrimSpace(strings.TrimPrefix(firstLine(raw), "220"))
	case "pop3", "pop3s":
		kind, text = "pop3.banner", strings.TrimSpace(strings.TrimPrefix(firstLine(raw), "+OK"))
	case "imap", "imaps":
		kind, text = "imap4.banner", strings.TrimSpace(strings.TrimPrefix(firstLine(raw), "* OK"))
	case "http", "https":
		kind, text = "http_header.server", s.ExtraInfo
	case "mysql":
		kind, text = "mysql.banners", s.ExtraInfo
		if text == "" {
			kind, text = "mysql.banners", s.Version
		}
	default:
		return
	}
	m := d.recog.Match(kind, strings.TrimRight(text, "\r"))
	if m == nil {
		return
	}
	if v := m["service.product"]; v != "" && s.Product == "" {
		s.Product = v
	}
	if v := m["service.version"]; v != "" && s.Version == "" {
		s.Version = v
	}
	if os := strings.TrimSpace(m["os.vendor"] + " " + m["os.product"] + " " + m["os.version"]); os != "" && !strings.Contains(s.ExtraInfo, os) {
		s.ExtraInfo = strings.TrimSpace(s.ExtraInfo + " (" + os + ")")
	}
	if c := m["service.cpe23"]; c != "" {
		s.CPE = []string{cpe22to23(c)}
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// unprintable reverses scan.Printable's \r and \n escapes.
func unprintable(s string) string {
	return strings.NewReplacer(`\r`, "\r", `\n`, "\n").Replace(s)
}

// exchange dials (plain or TLS), sends payload (nil: just listen) and reads
// the answer.
func (d *Detector) exchange(ctx context.Context, dialer scan.Dialer, target, host string, useTLS bool, payload []byte) ([]byte, *scan.TLSInfo, error) {
	wait := d.readWait
	if payload == nil {
		wait = d.bannerWait
	}
	return d.exchangeOnce(ctx, dialer, target, host, useTLS, payload, wait)
}

func (d *Detector) exchangeOnce(ctx context.Context, dialer scan.Dialer, target, host string, useTLS bool, payload []byte, wait time.Duration) ([]byte, *scan.TLSInfo, error) {
	conn, err := dialer.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var tinfo *scan.TLSInfo
	if useTLS {
		tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: sniName(host)}) // #nosec: we inspect, not trust
		_ = conn.SetDeadline(time.Now().Add(d.readWait))
		if err := tc.Handshake(); err != nil {
			return nil, nil, err
		}
		tinfo = summarizeTLS(tc.ConnectionState())
		conn = tc
	}
	if payload != nil {
		_ = conn.SetWriteDeadline(time.Now().Add(d.readWait))
		if _, err := conn.Write(payload); err != nil {
			return nil, tinfo, err
		}
	}
	return readResponse(conn, wait), tinfo, nil
}

// readResponse reads until wait passes without the first byte, or until the
// answer pauses for 150 ms, or 16 KiB.
func readResponse(conn net.Conn, wait time.Duration) []byte {
	buf := make([]byte, 16384)
	n := 0
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	for n < len(buf) {
		m, err := conn.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
		_ = conn.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	}
	return buf[:n]
}

// tlsInfo completes a TLS handshake, or returns nil.
func (d *Detector) tlsInfo(ctx context.Context, dialer scan.Dialer, target, host string) *scan.TLSInfo {
	conn, err := dialer.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(d.readWait))
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: sniName(host), NextProtos: []string{"h2", "http/1.1"}})
	if err := tc.Handshake(); err != nil {
		return nil
	}
	return summarizeTLS(tc.ConnectionState())
}

func sniName(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return "" // no SNI for addresses
	}
	return host
}

func summarizeTLS(st tls.ConnectionState) *scan.TLSInfo {
	info := &scan.TLSInfo{Version: tls.VersionName(st.Version), CipherSuite: tls.CipherSuiteName(st.CipherSuite), ALPN: st.NegotiatedProtocol}
	if len(st.PeerCertificates) > 0 {
		c := st.PeerCertificates[0]
		sum := sha256.Sum256(c.Raw)
		info.Subject, info.Issuer, info.DNSNames = c.Subject.String(), c.Issuer.String(), c.DNSNames
		info.NotBefore, info.NotAfter, info.SHA256 = c.NotBefore.UTC(), c.NotAfter.UTC(), hex.EncodeToString(sum[:])
		// Signed by its own key; a SHA-1 or MD5 signature, which Go no
		// longer verifies, still counts when the names match.
		err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
		var insecure x509.InsecureAlgorithmError
		info.SelfSigned = c.Subject.String() == c.Issuer.String() && (err == nil || errors.As(err, &insecure))
	}
	return info
}
