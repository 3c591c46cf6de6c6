package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/testbed"
)

// TestScanOutputs runs `vigil scan` against one listener and one closed
// port and reads each output format back: the table, JSON lines that
// decode into events, and XML in nmap's shape.
func TestScanOutputs(t *testing.T) {
	const host = "127.0.3.50"
	ln, err := testbed.AcceptAndClose(host, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	open := ln.Addr().(*net.TCPAddr).Port
	closed := open + 1
	t.Setenv("VIGIL_SCAN_ALLOW", "127.0.3.0/24")
	base := []string{"scan", "--mode", "connect", "--alive", "consider_alive", "--no-progress", "-p", fmt.Sprintf("%d-%d", open, closed), host}

	out, err := runCLI(t, base...)
	if err != nil {
		t.Fatalf("table: %v\n%s", err, out)
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^%d/tcp +open`, open)).MatchString(out) ||
		!strings.Contains(out, host+" is up (user-set), 1 closed and 0 filtered ports not shown") {
		t.Errorf("table:\n%s", out)
	}

	out, err = runCLI(t, append(base, "-o", "json")...)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	var types []scan.EventType
	ports := map[int]scan.PortState{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var ev scan.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("json line %q: %v", sc.Text(), err)
		}
		types = append(types, ev.Type)
		if ev.Type == scan.EventPort {
			ports[ev.Port] = ev.State
		}
	}
	if len(types) == 0 || types[0] != scan.EventScanStart || types[len(types)-1] != scan.EventScanDone ||
		len(ports) != 1 || ports[open] != scan.StateOpen {
		t.Errorf("json events %v, ports %v", types, ports)
	}

	out, err = runCLI(t, append(base, "-o", "xml")...)
	if err != nil {
		t.Fatalf("xml: %v", err)
	}
	var run struct {
		XMLName xml.Name `xml:"nmaprun"`
		Hosts   []struct {
			Status struct {
				State string `xml:"state,attr"`
			} `xml:"status"`
			Address struct {
				Addr string `xml:"addr,attr"`
			} `xml:"address"`
			Ports []struct {
				PortID int `xml:"portid,attr"`
				State  struct {
					State string `xml:"state,attr"`
				} `xml:"state"`
			} `xml:"ports>port"`
			Extra struct {
				Count int `xml:"count,attr"`
			} `xml:"ports>extraports"`
		} `xml:"host"`
	}
	if err := xml.Unmarshal([]byte(out), &run); err != nil {
		t.Fatalf("xml: %v\n%s", err, out)
	}
	if len(run.Hosts) != 1 || run.Hosts[0].Address.Addr != host || run.Hosts[0].Status.State != "up" ||
		len(run.Hosts[0].Ports) != 1 || run.Hosts[0].Ports[0].PortID != open || run.Hosts[0].Ports[0].State.State != "open" {
		t.Errorf("xml:\n%s", out)
	}

	// Out of scope: refused, nothing scanned, and the command says so.
	out, err = runCLI(t, "scan", "--no-progress", "-p", "80", "127.0.4.1")
	if err == nil || !strings.Contains(err.Error(), "1 target address(es) refused") || !strings.Contains(out, "0 probes") {
		t.Errorf("an out-of-scope target was not refused: %v\n%s", err, out)
	}
}
