package checks

import (
	"context"
	"strings"

	"github.com/vigilscan/vigil/scan"
)

func init() {
	register(&Check{ID: "vigil.smtp-open-relay", Name: "SMTP server is an open relay", Family: "SMTP",
		Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:L",
		PCIFail:     true,
		Description: "The mail server accepts, from an unauthenticated client, a message from one outside domain to another.",
		Impact:      "Spammers and phishers send mail through the server under its reputation; its address ends up on block lists.",
		Solution:    "Accept mail only for the server's own domains, and relay only for authenticated users or listed networks (Exim: relay_from_hosts, Postfix: smtpd_relay_restrictions).",
		References:  []string{"https://www.rfc-editor.org/rfc/rfc5321#section-7.1", "https://nvd.nist.gov/vuln/detail/CVE-1999-0512"},
		Evidence:    "the MAIL FROM and RCPT TO the server accepted (no message is sent: the check ends with RSET)",
		Applies:     func(ps scan.PortService) bool { return named("smtp")(ps) && ps.Service.TLS == nil },
		Run:         runSMTPOpenRelay})
}

// The relay test's addresses are in domains reserved for documentation, so
// they are neither the target's domain nor anyone's mailbox.
const (
	relayFrom = "vigil-relay-check@example.com"
	relayTo   = "vigil-relay-check@example.net"
)

func runSMTPOpenRelay(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	replies, err := textExchange(ctx, t, ps.Port, true, "EHLO vigil-scanner.example.org", "MAIL FROM:<"+relayFrom+">",
		"RCPT TO:<"+relayTo+">", "RSET", "QUIT")
	if len(replies) < 4 {
		return "", false, err
	}
	if !strings.HasPrefix(replies[0], "220") || !strings.HasPrefix(replies[2], "250") {
		return "", false, nil // no service, or MAIL refused: undecided, nothing relayed
	}
	if rcpt := replies[3]; strings.HasPrefix(rcpt, "250") || strings.HasPrefix(rcpt, "251") {
		return "MAIL FROM:<" + relayFrom + "> then RCPT TO:<" + relayTo + ">: " + rcpt, true, nil
	}
	return "", false, nil
}
