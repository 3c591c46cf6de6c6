package checks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
)

func tlsServer(t *testing.T, key crypto.Signer, sigAlg x509.SignatureAlgorithm, notBefore time.Time, names []string, cfg *tls.Config) int {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notBefore, NotAfter: notBefore.Add(365 * 24 * time.Hour), SignatureAlgorithm: sigAlg}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveConns(t, ln, func(c net.Conn) { c.(*tls.Conn).Handshake() })
}

func runTLS(t *testing.T, port int) []string {
	var got []string
	var tlsChecks []*Check
	for _, c := range All() {
		if strings.HasPrefix(c.ID, "vigil.tls-") {
			tlsChecks = append(tlsChecks, c)
		}
	}
	r := &Runner{Checks: tlsChecks, Timeout: 2 * time.Second, Now: func() time.Time { return time.Now() }}
	ps := scan.PortService{Port: port, Protocol: "tcp", Service: &scan.Service{Name: "https", TLS: &scan.TLSInfo{}}}
	r.Run(context.Background(), &net.Dialer{}, scan.HostServices{Addr: netip.MustParseAddr("127.0.0.1"), Hostname: "vigil.test",
		Services: []scan.PortService{ps}}, func(f vigil.FindingResult) { got = append(got, f.CheckID) })
	sort.Strings(got)
	return got
}

func TestTLSChecks(t *testing.T) {
	weakKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	var weakSuites []uint16
	for _, cs := range tls.InsecureCipherSuites() {
		if strings.Contains(cs.Name, "3DES") {
			weakSuites = append(weakSuites, cs.ID)
		}
	}
	weakSuites = append(weakSuites, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA)
	vuln := tlsServer(t, weakKey, x509.SHA1WithRSA, time.Now().Add(48*time.Hour), []string{"other.example"},
		&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12, CipherSuites: weakSuites})
	got := runTLS(t, vuln)
	want := []string{"vigil.tls-cert-hostname-mismatch", "vigil.tls-cert-not-yet-valid", "vigil.tls-cert-sha1", "vigil.tls-rsa-key-short",
		"vigil.tls-v1.0-enabled", "vigil.tls-v1.1-enabled", "vigil.tls-weak-cipher"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("vulnerable TLS server:\n got %v\nwant %v", got, want)
	}

	goodKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	safe := tlsServer(t, goodKey, x509.ECDSAWithSHA256, time.Now().Add(-time.Hour), []string{"vigil.test"}, &tls.Config{MinVersion: tls.VersionTLS12})
	if got := runTLS(t, safe); len(got) != 0 {
		t.Errorf("safe TLS server reported %v", got)
	}
}
