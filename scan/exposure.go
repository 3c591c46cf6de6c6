package scan

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
)

// Findings the engine can state from discovery and service detection alone
// (the network checks come with scan/checks). Check ids are stable: findings
// are tracked across runs by them.
const (
	CheckOpenPort         = "vigil.open-port"
	CheckTelnet           = "vigil.telnet-exposed"
	CheckDatabaseExposed  = "vigil.database-exposed"
	CheckTLSSelfSigned    = "vigil.tls-self-signed"
	CheckTLSExpired       = "vigil.tls-expired"
	CheckTLSOldProtocol   = "vigil.tls-old-protocol"
	familyServices        = "Service detection"
	familyExposure        = "Exposed services"
	familyTLS             = "SSL and TLS"
	vectorLowConfInteg    = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N" // 6.5
	vectorLowConf         = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N" // 5.3
	vectorLowInteg        = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:N" // 5.3
	qodProbed, qodGuessed = 80, 30
)

// databases are services PCI treats as an automatic failure when reachable.
var databases = map[string]bool{"mysql": true, "postgresql": true, "mongodb": true, "redis": true, "memcached": true,
	"elasticsearch": true, "ms-sql-s": true, "oracle": true, "couchdb": true, "cassandra": true}

// OpenPortFinding is the Log finding every open port gets; svc, when known,
// goes into its evidence.
func OpenPortFinding(addr netip.Addr, port int, proto string, state PortState, reason string, svc *Service) vigil.FindingResult {
	ev := fmt.Sprintf("%d/%s %s", port, proto, state)
	if reason != "" {
		ev += " (" + reason + ")"
	}
	if svc != nil {
		ev += ": " + strings.TrimSpace(strings.Join([]string{svc.Name, svc.Product, svc.Version, svc.ExtraInfo}, " "))
	}
	return vigil.FindingResult{Address: addr, Port: port, Protocol: proto, CheckID: CheckOpenPort, Name: "Open port",
		Family: familyServices, QoD: 95, Evidence: ev,
		Description: "The port accepts connections. Every service reachable from the network is attack surface.",
		Solution:    "Close the port or restrict it with a firewall unless the service must be reachable from here."}
}

// ServiceFindings are the findings a detected service implies by itself.
func ServiceFindings(addr netip.Addr, port int, proto string, svc *Service, now time.Time) []vigil.FindingResult {
	if svc == nil {
		return nil
	}
	qod := qodProbed
	if svc.Method == "port-guess" {
		qod = qodGuessed
	}
	base := vigil.FindingResult{Address: addr, Port: port, Protocol: proto, QoD: qod}
	what := strings.TrimSpace(svc.Product + " " + svc.Version)
	if what == "" {
		what = svc.Name
	}
	var out []vigil.FindingResult
	name := PlainName(svc.Name)
	switch {
	case name == "telnet":
		f := base
		f.CheckID, f.Name, f.Family, f.Severity, f.CVSSVector = CheckTelnet, "Telnet service exposed", familyExposure, 6.5, vectorLowConfInteg
		f.Description = "A Telnet server is reachable. Telnet sends credentials and sessions in clear text."
		f.Solution = "Disable Telnet and use SSH instead."
		f.Evidence = fmt.Sprintf("%d/%s: %s", port, proto, what)
		out = append(out, f)
	case databases[name]:
		f := base
		f.CheckID, f.Name, f.Family, f.Severity, f.CVSSVector = CheckDatabaseExposed, "Database service reachable", familyExposure, 5.3, vectorLowConf
		f.PCIFail = true
		f.Description = "A database service answers on the network. PCI DSS scans fail automatically on databases reachable from the scanned network."
		f.Solution = "Bind the database to a private interface or restrict it with a firewall to the application hosts."
		f.Evidence = fmt.Sprintf("%d/%s: %s", port, proto, what)
		out = append(out, f)
	}
	if t := svc.TLS; t != nil {
		subject := fmt.Sprintf("subject %q, issuer %q", t.Subject, t.Issuer)
		if t.SelfSigned {
			f := base
			f.CheckID, f.Name, f.Family, f.Severity, f.CVSSVector = CheckTLSSelfSigned, "Self-signed TLS certificate", familyTLS, 6.5, vectorLowConfInteg
			f.Description = "The certificate is signed by itself, so clients cannot tell the server from an impostor."
			f.Solution = "Install a certificate issued by a trusted certificate authority."
			f.Evidence = subject
			out = append(out, f)
		}
		if !t.NotAfter.IsZero() && now.After(t.NotAfter) {
			f := base
			f.CheckID, f.Name, f.Family, f.Severity, f.CVSSVector = CheckTLSExpired, "Expired TLS certificate", familyTLS, 5.3, vectorLowInteg
			f.Description = "The certificate's validity period has ended."
			f.Solution = "Renew the certificate."
			f.Evidence = subject + ", not after " + t.NotAfter.UTC().Format(time.RFC3339)
			out = append(out, f)
		}
		switch t.Version {
		case "SSLv3", "SSL 3.0", "TLS 1.0", "TLS 1.1":
			f := base
			f.CheckID, f.Name, f.Family, f.Severity, f.CVSSVector = CheckTLSOldProtocol, "Obsolete TLS protocol version", familyTLS, 6.5, vectorLowConfInteg
			f.PCIFail = true
			f.Description = "The server's best protocol version is one PCI DSS and RFC 8996 no longer allow (SSL and early TLS)."
			f.Solution = "Enable TLS 1.2 and 1.3 and disable older versions."
			f.Evidence = "negotiated " + t.Version + " with " + t.CipherSuite
			out = append(out, f)
		}
	}
	return out
}

// OSHint guesses the operating system from what a service says of it
// ("OpenSSH 9.2p1 Debian 2+deb12u3"), or "".
func OSHint(svc *Service) string {
	if svc == nil {
		return ""
	}
	s := strings.ToLower(svc.Product + " " + svc.Version + " " + svc.ExtraInfo + " " + svc.Banner + " " + strings.Join(svc.CPE, " "))
	for _, os := range []struct{ key, name string }{{"ubuntu", "Ubuntu Linux"}, {"debian", "Debian GNU/Linux"},
		{"freebsd", "FreeBSD"}, {"windows", "Microsoft Windows"}, {"centos", "CentOS Linux"}, {"red hat", "Red Hat Enterprise Linux"}} {
		if strings.Contains(s, os.key) {
			return os.name
		}
	}
	return ""
}
