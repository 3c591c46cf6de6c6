package checks

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigilscan/vigil/scan"
)

const familyTLS = "SSL and TLS"

func init() {
	for _, v := range []struct {
		id, name string
		version  uint16
	}{{"vigil.tls-v1.0-enabled", "TLS 1.0", tls.VersionTLS10}, {"vigil.tls-v1.1-enabled", "TLS 1.1", tls.VersionTLS11}} {
		version := v.version
		register(&Check{ID: v.id, Name: v.name + " protocol enabled", Family: familyTLS,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
			PCIFail:     true,
			Description: "The server completes a handshake with " + v.name + ", which PCI DSS (since June 2018) and RFC 8996 no longer allow.",
			Impact:      "Clients that still speak it are exposed to attacks on the protocol's CBC and key-derivation weaknesses (BEAST, Lucky13).",
			Solution:    "Disable " + v.name + " (nginx: ssl_protocols TLSv1.2 TLSv1.3;).",
			References:  []string{"https://www.rfc-editor.org/rfc/rfc8996"},
			Evidence:    "the negotiated version and cipher suite",
			Applies:     isTLS,
			Run: func(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
				st, err := handshake(ctx, t, ps, &tls.Config{MinVersion: version, MaxVersion: version})
				if err != nil {
					return "", false, nil // refused: not enabled
				}
				return fmt.Sprintf("handshake with %s: %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)), st.Version == version, nil
			}})
	}
	register(
		&Check{ID: "vigil.sslv3-enabled", Name: "SSL 3.0 protocol enabled (POODLE)", Family: familyTLS,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:L/I:N/A:N",
			PCIFail:     true,
			Description: "The server answers an SSL 3.0 ClientHello with an SSL 3.0 ServerHello. SSL 3.0 is prohibited by RFC 7568 and PCI DSS.",
			Impact:      "An attacker in the path can decrypt CBC-protected traffic byte by byte (POODLE, CVE-2014-3566).",
			Solution:    "Disable SSL 3.0 (and SSL 2.0); allow TLS 1.2 and 1.3 only.",
			References:  []string{"https://www.rfc-editor.org/rfc/rfc7568", "https://nvd.nist.gov/vuln/detail/CVE-2014-3566"},
			Evidence:    "the ServerHello version and cipher suite",
			Applies:     isTLS, Run: runSSLv3},
		&Check{ID: "vigil.tls-weak-cipher", Name: "Weak TLS cipher suites (RC4, 3DES)", Family: familyTLS,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:N",
			PCIFail:     true,
			Description: "The server accepts RC4 or 3DES cipher suites.",
			Impact:      "RC4's biases and 3DES's 64-bit blocks (Sweet32) let an attacker who sees enough traffic recover plaintext.",
			Solution:    "Allow only AEAD suites (AES-GCM, ChaCha20-Poly1305) with forward secrecy.",
			References:  []string{"https://www.rfc-editor.org/rfc/rfc7465", "https://sweet32.info/"},
			Evidence:    "the weak suite the server chose",
			Applies:     isTLS, Run: runTLSWeakCipher},
		&Check{ID: "vigil.tls-cert-not-yet-valid", Name: "TLS certificate not yet valid", Family: familyTLS,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N",
			Description: "The certificate's validity starts in the future; clients reject it, and users learn to click through warnings.",
			Solution:    "Install a certificate that is valid now (check the server's clock and the issuing process).",
			Evidence:    "the certificate's subject and notBefore",
			Applies:     isTLS, Run: certCheck(func(t *Target, c *x509.Certificate) (string, bool) {
				return "not before " + c.NotBefore.UTC().Format(time.RFC3339), t.Now.Before(c.NotBefore)
			})},
		&Check{ID: "vigil.tls-cert-hostname-mismatch", Name: "TLS certificate does not match the host name", Family: familyTLS,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N",
			Description: "The certificate names other hosts than the one scanned, so clients cannot authenticate the server.",
			Impact:      "Users learn to accept certificate warnings, which makes interception easy.",
			Solution:    "Install a certificate whose subject alternative names include the host name clients use.",
			Evidence:    "the scanned name and the names in the certificate",
			Applies:     isTLS, Run: certCheck(func(t *Target, c *x509.Certificate) (string, bool) {
				if t.Hostname == "" {
					return "", false // scanned by address: no name to hold the certificate to
				}
				if err := c.VerifyHostname(t.Hostname); err == nil {
					return "", false
				}
				return fmt.Sprintf("scanned as %s; certificate names %s", t.Hostname, strings.Join(append([]string{c.Subject.CommonName}, c.DNSNames...), ", ")), true
			})},
		&Check{ID: "vigil.tls-rsa-key-short", Name: "TLS certificate RSA key shorter than 2048 bits", Family: familyTLS,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
			PCIFail:     true,
			Description: "The certificate's RSA key has fewer than 2048 bits, below what NIST SP 800-131A and the CA/Browser Forum allow.",
			Impact:      "Keys of 1024 bits and less are within reach of factoring by well-funded attackers.",
			Solution:    "Issue a new certificate with an RSA key of at least 2048 bits, or an ECDSA P-256 key.",
			Evidence:    "the key size",
			Applies:     isTLS, Run: certCheck(func(t *Target, c *x509.Certificate) (string, bool) {
				k, ok := c.PublicKey.(*rsa.PublicKey)
				if !ok {
					return "", false
				}
				return fmt.Sprintf("RSA key of %d bits", k.N.BitLen()), k.N.BitLen() < 2048
			})},
		&Check{ID: "vigil.tls-cert-sha1", Name: "TLS certificate signed with SHA-1", Family: familyTLS,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:L/A:N",
			Description: "The certificate's signature uses SHA-1 (or MD5), for which chosen-prefix collisions are practical.",
			Solution:    "Reissue the certificate with a SHA-256 signature.",
			References:  []string{"https://shattered.io/"},
			Evidence:    "the signature algorithm",
			Applies:     isTLS, Run: certCheck(func(t *Target, c *x509.Certificate) (string, bool) {
				switch c.SignatureAlgorithm {
				case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1, x509.MD5WithRSA, x509.MD2WithRSA:
					return "signature algorithm " + c.SignatureAlgorithm.String(), true
				}
				return "", false
			})},
	)
}

// handshake completes a TLS handshake with cfg (no verification: the
// checks judge the certificate themselves) and closes the connection.
func handshake(ctx context.Context, t *Target, ps scan.PortService, cfg *tls.Config) (tls.ConnectionState, error) {
	c, err := t.Dial(ctx, "tcp", ps.Port)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	cfg.InsecureSkipVerify = true //nolint:gosec // a scanner inspects any certificate
	if t.Hostname != "" {
		cfg.ServerName = t.Hostname
	}
	tc := tls.Client(c, cfg)
	hctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return tls.ConnectionState{}, err
	}
	return tc.ConnectionState(), nil
}

func runTLSWeakCipher(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	var weak []uint16
	for _, cs := range tls.InsecureCipherSuites() {
		if strings.Contains(cs.Name, "RC4") || strings.Contains(cs.Name, "3DES") {
			weak = append(weak, cs.ID)
		}
	}
	st, err := handshake(ctx, t, ps, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12, CipherSuites: weak})
	if err != nil {
		return "", false, nil // no weak suite accepted
	}
	return fmt.Sprintf("%s accepted with %s", tls.CipherSuiteName(st.CipherSuite), tls.VersionName(st.Version)), true, nil
}

// certCheck judges the leaf certificate the server presents (one handshake
// for all the certificate checks of a port).
func certCheck(judge func(t *Target, c *x509.Certificate) (string, bool)) func(context.Context, *Target, scan.PortService) (string, bool, error) {
	return func(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
		st, err := shared(t, fmt.Sprintf("tls-leaf/%d", ps.Port), func() (tls.ConnectionState, error) {
			return handshake(ctx, t, ps, &tls.Config{MinVersion: tls.VersionTLS10})
		})
		if err != nil {
			return "", false, err
		}
		if len(st.PeerCertificates) == 0 {
			return "", false, nil
		}
		leaf := st.PeerCertificates[0]
		ev, found := judge(t, leaf)
		if !found {
			return "", false, nil
		}
		return fmt.Sprintf("subject %q: %s", leaf.Subject.String(), ev), true, nil
	}
}

// sslv3Suites are the suites an SSL 3.0 client offers (RSA, DHE, RC4, 3DES, AES-CBC).
var sslv3Suites = []uint16{0x0035, 0x002f, 0x0039, 0x0033, 0x000a, 0x0016, 0x0005, 0x0004}

// sslv3ClientHello is an SSL 3.0 ClientHello without extensions. Go's
// crypto/tls no longer speaks SSL 3.0, so the record is built by hand.
func sslv3ClientHello() []byte {
	body := []byte{3, 0}
	body = append(body, make([]byte, 32)...) // client random: zeros prove nothing less
	body = append(body, 0)                   // no session id
	body = append(body, byte(len(sslv3Suites)*2>>8), byte(len(sslv3Suites)*2))
	for _, s := range sslv3Suites {
		body = append(body, byte(s>>8), byte(s))
	}
	body = append(body, 1, 0) // null compression
	hs := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{22, 3, 0, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

func runSSLv3(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	c, err := t.Dial(ctx, "tcp", ps.Port)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	if _, err := c.Write(sslv3ClientHello()); err != nil {
		return "", false, err
	}
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return "", false, nil // closed or reset: SSL 3.0 refused
	}
	if hdr[0] != 22 { // an alert (21): refused
		return "", false, nil
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if n < 40 || n > 1<<14 {
		return "", false, nil
	}
	rec := make([]byte, n)
	if _, err := io.ReadFull(c, rec); err != nil {
		return "", false, nil
	}
	// ServerHello: type 2, length (3), version (2), random (32), session id.
	if rec[0] != 2 || rec[4] != 3 || rec[5] != 0 {
		return "", false, nil
	}
	i := 38 + int(rec[38]) + 1
	if i+2 > len(rec) {
		return "", false, nil
	}
	suite := uint16(rec[i])<<8 | uint16(rec[i+1])
	return fmt.Sprintf("ServerHello version SSL 3.0, cipher suite %s", tls.CipherSuiteName(suite)), true, nil
}
