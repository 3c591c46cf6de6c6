package checks

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/vigilscan/vigil/scan"
)

const familyDNS = "DNS"

func init() {
	register(
		&Check{ID: "vigil.dns-open-recursion", Name: "DNS server allows recursive queries from the scanner", Family: familyDNS,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:L/A:L",
			Description: "The DNS server offers recursion (the RA flag) to the scanner and answers a recursive query for a name outside its zones.",
			Impact:      "An open resolver is used to amplify denial-of-service attacks against third parties and exposes its cache to poisoning and snooping.",
			Solution:    "Restrict recursion to the networks it serves (BIND: allow-recursion { trusted; };) or disable it on authoritative servers (recursion no;).",
			References:  []string{"https://www.cisa.gov/news-events/alerts/2013/03/29/dns-amplification-attacks", "https://www.rfc-editor.org/rfc/rfc5358"},
			Evidence:    "the query, the response code and flags",
			Applies:     named("domain"), Run: runDNSRecursion},
		&Check{ID: "vigil.dns-zone-transfer", Name: "DNS zone transfer (AXFR) allowed", Family: familyDNS,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
			Description: "The DNS server sends a full copy of a zone to any client that asks with AXFR.",
			Impact:      "The zone lists every host name and address, giving an attacker a map of the network, internal names included.",
			Solution:    "Allow transfers only to the secondary servers (BIND: allow-transfer { secondaries; };), ideally with TSIG keys.",
			References:  []string{"https://nvd.nist.gov/vuln/detail/CVE-1999-0532"},
			Evidence:    "the zone and the records of the first transfer message (the transfer is not read to its end)",
			QoD:         99,
			Applies:     func(ps scan.PortService) bool { return ps.Protocol == "tcp" && named("domain")(ps) },
			Run:         runDNSZoneTransfer},
	)
}

// recursionProbe is a name under a TLD reserved for documentation: no
// server is authoritative for it but the root, so only a resolver that
// recurses answers it.
const recursionProbe = "vigil-recursion-check.example.com."

// dnsExchange sends one query over the service's protocol and returns the
// answer's header and records.
func dnsExchange(ctx context.Context, t *Target, ps scan.PortService, name string, qtype dnsmessage.Type, rd bool) (*dnsmessage.Message, error) {
	q, err := dnsQuery(name, qtype, rd)
	if err != nil {
		return nil, err
	}
	c, err := t.Dial(ctx, ps.Protocol, ps.Port)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var raw []byte
	if ps.Protocol == "udp" {
		if _, err := c.Write(q); err != nil {
			return nil, err
		}
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		raw = buf[:n]
	} else {
		if err := writeTCPDNS(c, q); err != nil {
			return nil, err
		}
		if raw, err = readTCPDNS(c); err != nil {
			return nil, err
		}
	}
	var m dnsmessage.Message
	if err := m.Unpack(raw); err != nil {
		return nil, fmt.Errorf("answer: %w", err)
	}
	if m.ID != binary.BigEndian.Uint16(q) {
		return nil, fmt.Errorf("answer to another query (id %d)", m.ID)
	}
	return &m, nil
}

func dnsQuery(name string, qtype dnsmessage.Type, rd bool) ([]byte, error) {
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, err
	}
	m := dnsmessage.Message{Header: dnsmessage.Header{ID: uint16(rand.Uint32()), RecursionDesired: rd},
		Questions: []dnsmessage.Question{{Name: n, Type: qtype, Class: dnsmessage.ClassINET}}}
	return m.Pack()
}

func writeTCPDNS(c net.Conn, msg []byte) error {
	_, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
	return err
}

func readTCPDNS(c net.Conn) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(c, b)
	return b, err
}

func runDNSRecursion(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	m, err := dnsExchange(ctx, t, ps, recursionProbe, dnsmessage.TypeA, true)
	if err != nil {
		return "", false, err
	}
	rc := m.RCode
	if !m.RecursionAvailable || (rc != dnsmessage.RCodeSuccess && rc != dnsmessage.RCodeNameError) {
		return "", false, nil // REFUSED, or a referral without recursion
	}
	return fmt.Sprintf("A %s with RD: %s, recursion available, %d answers", recursionProbe, rcodeName(rc), len(m.Answers)), true, nil
}

func rcodeName(rc dnsmessage.RCode) string {
	return strings.TrimPrefix(rc.String(), "RCode")
}

// zoneCandidates are the zones a server may hold for the target: the
// parent domains of the name it was scanned under and of the name the
// server itself gives for its address (PTR). Top-level domains are left out.
func zoneCandidates(ctx context.Context, t *Target, ps scan.PortService) []string {
	var names []string
	if t.Hostname != "" {
		names = append(names, t.Hostname)
	}
	if arpa, err := reverseName(t.Addr); err == nil {
		if m, err := dnsExchange(ctx, t, ps, arpa, dnsmessage.TypePTR, false); err == nil {
			for _, a := range m.Answers {
				if p, ok := a.Body.(*dnsmessage.PTRResource); ok {
					names = append(names, p.PTR.String())
				}
			}
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		labels := strings.Split(strings.TrimSuffix(strings.ToLower(n), "."), ".")
		for i := 0; i+2 <= len(labels) && len(out) < 4; i++ {
			z := strings.Join(labels[i:], ".") + "."
			if !seen[z] {
				seen[z] = true
				out = append(out, z)
			}
		}
	}
	return out
}

func reverseName(a netip.Addr) (string, error) {
	if !a.Is4() {
		return "", fmt.Errorf("IPv6 reverse names are not tried")
	}
	b := a.As4()
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", b[3], b[2], b[1], b[0]), nil
}

func runDNSZoneTransfer(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	for _, zone := range zoneCandidates(ctx, t, ps) {
		m, err := dnsExchange(ctx, t, ps, zone, dnsmessage.TypeAXFR, false)
		if err != nil {
			continue // closed or reset: refused
		}
		if m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) == 0 || m.Answers[0].Header.Type != dnsmessage.TypeSOA {
			continue
		}
		var sample []string
		for _, a := range m.Answers[:min(len(m.Answers), 5)] {
			sample = append(sample, strings.TrimSuffix(a.Header.Name.String(), ".")+" "+strings.TrimPrefix(a.Header.Type.String(), "Type"))
		}
		return fmt.Sprintf("AXFR %s: %d records in the first message (%s)", zone, len(m.Answers), strings.Join(sample, ", ")), true, nil
	}
	return "", false, nil
}
