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

func runSNMPDefaultCommunity(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	for _, try := range []struct {
		community string
		version   gosnmp.SnmpVersion
	}{{"public", gosnmp.Version2c}, {"public", gosnmp.Version1}, {"private", gosnmp.Version2c}} {
		descr, ok, err := snmpGet(ctx, t, ps.Port, try.community, try.version)
		if err != nil {
			return "", false, err
		}
		if ok {
			return fmt.Sprintf("community %q (SNMP %s): sysDescr.0 %q", try.community, try.version, descr), true, nil
		}
	}
	return "", false, nil
}

// snmpGet asks for sysDescr.0 with community (a read-only GetRequest, sent
// twice at most) and reports whether the agent answered without error.
// Agents drop requests with a wrong community silently, so silence is a
// "no", not an error.
func snmpGet(ctx context.Context, t *Target, port int, community string, version gosnmp.SnmpVersion) (string, bool, error) {
	reqID := rand.Uint32() & 0x7fffffff
	pkt := &gosnmp.SnmpPacket{Version: version, Community: community, PDUType: gosnmp.GetRequest, RequestID: reqID,
		Variables: []gosnmp.SnmpPDU{{Name: sysDescr, Type: gosnmp.Null}}}
	msg, err := pkt.MarshalMsg()
	if err != nil {
		return "", false, err
	}
	c, err := t.Dial(ctx, "udp", port)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	wait := min(t.Timeout, 2*time.Second)
	dec := &gosnmp.GoSNMP{Version: version, Community: community}
	buf := make([]byte, 65535)
	for attempt := 0; attempt < 2 && ctx.Err() == nil; attempt++ {
		if _, err := c.Write(msg); err != nil {
			return "", false, nil // ICMP unreachable from an earlier send: closed
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := c.Read(buf)
			if err != nil {
				break // timeout: retransmit once
			}
			resp, err := dec.SnmpDecodePacket(buf[:n])
			if err != nil || resp.RequestID != reqID || resp.PDUType != gosnmp.GetResponse {
				continue
			}
			if resp.Error != gosnmp.NoError || len(resp.Variables) == 0 {
				return "", false, nil
			}
			v := resp.Variables[0]
			descr := ""
			if b, ok := v.Value.([]byte); ok {
				descr = strings.TrimSpace(string(b))
			}
			return descr, true, nil
		}
	}
	return "", false, nil
}
