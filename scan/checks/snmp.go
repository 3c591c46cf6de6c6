package checks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/vigilscan/vigil/scan"
)

func init() {
	register(&Check{ID: "vigil.snmp-default-community", Name: "SNMP agent accepts a default community string", Family: "SNMP",
		Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
		PCIFail:     true,
		Description: "The SNMP agent answers requests made with the community string \"public\" or \"private\", which every SNMP tool tries first.",
		Impact:      "Anyone who reaches the port reads the system description, interfaces, routes, ARP table and often running processes with their arguments; a writable community lets them change configuration.",
		Solution:    "Remove the default communities (net-snmp: rocommunity/rwcommunity lines), use SNMPv3 with authentication and privacy, and filter UDP 161.",
		References:  []string{"https://nvd.nist.gov/vuln/detail/CVE-1999-0517", "https://nvd.nist.gov/vuln/detail/CVE-1999-0516"},
		Evidence:    "the community, the SNMP version and the sysDescr.0 the agent returned",
		Applies: func(ps scan.PortService) bool {
			return ps.Protocol == "udp" && (scan.PlainName(ps.Service.Name) == "snmp" || ps.Port == 161)
		},
		Run: runSNMPDefaultCommunity})
}

// sysDescr is 1.3.6.1.2.1.1.1.0, the object every agent serves.
const sysDescr = ".1.3.6.1.2.1.1.1.0"

// snmpDefaults are the communities and versions tried, all at once.
var snmpDefaults = []snmpLogin{{"public", gosnmp.Version2c}, {"public", gosnmp.Version1}, {"private", gosnmp.Version2c}}

type snmpLogin struct {
	community string
	version   gosnmp.SnmpVersion
}

func runSNMPDefaultCommunity(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	login, descr, ok, err := snmpGet(ctx, t, ps.Port, snmpDefaults)
	if err != nil || !ok {
		return "", false, err
	}
	return fmt.Sprintf("community %q (SNMP %s): sysDescr.0 %q", login.community, login.version, descr), true, nil
}

// snmpGet asks for sysDescr.0 with each login (read-only GetRequests, all
// sent at once and once more after a silence) and returns the first that
// the agent answered without error. Agents drop requests with a wrong
// community silently, so silence is a "no", not an error.
func snmpGet(ctx context.Context, t *Target, port int, logins []snmpLogin) (snmpLogin, string, bool, error) {
	msgs := make([][]byte, len(logins))
	byID := map[uint32]snmpLogin{}
	for i, l := range logins {
		reqID := rand.Uint32() & 0x7fffffff
		pkt := &gosnmp.SnmpPacket{Version: l.version, Community: l.community, PDUType: gosnmp.GetRequest, RequestID: reqID,
			Variables: []gosnmp.SnmpPDU{{Name: sysDescr, Type: gosnmp.Null}}}
		msg, err := pkt.MarshalMsg()
		if err != nil {
			return snmpLogin{}, "", false, err
		}
		msgs[i], byID[reqID] = msg, l
	}
	c, err := t.Dial(ctx, "udp", port)
	if err != nil {
		return snmpLogin{}, "", false, err
	}
	defer c.Close()
	wait := min(t.Timeout, 2*time.Second)
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	buf := make([]byte, 65535)
	for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
		for _, m := range msgs {
			if _, err := c.Write(m); err != nil {
				return snmpLogin{}, "", false, nil // ICMP unreachable from an earlier send: closed
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break // timeout: send once more
			}
			resp, err := dec.SnmpDecodePacket(buf[:n])
			if err != nil || resp.PDUType != gosnmp.GetResponse {
				continue
			}
			l, ours := byID[resp.RequestID]
			if !ours || resp.Error != gosnmp.NoError || len(resp.Variables) == 0 {
				continue
			}
			descr := ""
			if b, ok := resp.Variables[0].Value.([]byte); ok {
				descr = strings.TrimSpace(string(b))
			}
			return l, descr, true, nil
		}
	}
	return snmpLogin{}, "", false, nil
}
