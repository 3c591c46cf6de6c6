package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
)

// renderer turns scan events into output as they arrive.
type renderer interface {
	event(ev scan.Event) error
}

// hostResult gathers one host's open ports until it is done; only open
// ports are kept, so memory follows the results, not the ports scanned.
type hostResult struct {
	up, unreliable bool
	reason, name   string
	addr           string
	ports          map[string]*portResult
}

type portResult struct {
	port     int
	protocol string
	state    scan.PortState
	reason   string
	service  *scan.Service
}

func (h *hostResult) port(ev scan.Event) *portResult {
	key := ev.Protocol + "/" + strconv.Itoa(ev.Port)
	p := h.ports[key]
	if p == nil {
		p = &portResult{port: ev.Port, protocol: ev.Protocol, state: scan.StateOpen}
		h.ports[key] = p
	}
	return p
}

func (h *hostResult) sorted() []*portResult {
	out := make([]*portResult, 0, len(h.ports))
	for _, p := range h.ports {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].protocol != out[j].protocol {
			return out[i].protocol == "tcp"
		}
		return out[i].port < out[j].port
	})
	return out
}

// collect updates the per-host results; it returns the host on host_done.
func collect(hosts map[string]*hostResult, ev scan.Event) (*hostResult, bool) {
	if !ev.Host.IsValid() {
		return nil, false
	}
	key := ev.Host.String()
	h := hosts[key]
	if h == nil {
		h = &hostResult{addr: key, name: ev.Hostname, ports: map[string]*portResult{}}
		hosts[key] = h
	}
	switch ev.Type {
	case scan.EventHostUp:
		h.up, h.reason = true, ev.Reason
	case scan.EventHostDown:
		h.reason = ev.Reason
		delete(hosts, key)
		return h, true
	case scan.EventHostUnreliable:
		h.unreliable, h.reason = true, ev.Message
	case scan.EventPort:
		p := h.port(ev)
		p.state, p.reason = ev.State, ev.Reason
	case scan.EventService:
		h.port(ev).service = ev.Service
	case scan.EventHostDone:
		delete(hosts, key)
		return h, true
	}
	return nil, false
}

type tableRenderer struct {
	w     io.Writer
	hosts map[string]*hostResult
	down  int
}

func (t *tableRenderer) event(ev scan.Event) error {
	switch ev.Type {
	case scan.EventScanStart:
		fmt.Fprintf(t.w, "Vigil %s scan: %s\n\n", vigil.Version, ev.Message)
	case scan.EventScanDone:
		fmt.Fprintf(t.w, "Done: %s\n", ev.Message)
		return nil
	}
	h, done := collect(t.hosts, ev)
	if !done {
		return nil
	}
	label := h.addr
	if h.name != "" {
		label = h.name + " (" + h.addr + ")"
	}
	if !h.up {
		t.down++
		fmt.Fprintf(t.w, "%s is down (%s)\n\n", label, h.reason)
		return nil
	}
	fmt.Fprintf(t.w, "%s is up (%s)", label, h.reason)
	if ev.Summary != nil {
		fmt.Fprintf(t.w, ", %d closed and %d filtered ports not shown, %s", ev.Summary.Closed, ev.Summary.Filtered, ev.Summary.Duration.Round(time.Millisecond))
	}
	fmt.Fprintln(t.w)
	if h.unreliable {
		fmt.Fprintf(t.w, "  unreliable: %s\n\n", h.reason)
		return nil
	}
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tSTATE\tSERVICE\tVERSION")
	for _, p := range h.sorted() {
		// Without detection, the port's registered service, marked as a
		// guess with "?" (nmap prints the same guess unmarked).
		name, version := scan.WellKnownService(p.port), ""
		if name != "" {
			name += "?"
		}
		if s := p.service; s != nil {
			name = s.Name
			version = strings.TrimSpace(strings.Join([]string{s.Product, s.Version, paren(s.ExtraInfo)}, " "))
		}
		fmt.Fprintf(tw, "%d/%s\t%s\t%s\t%s\n", p.port, p.protocol, p.state, name, version)
	}
	tw.Flush()
	fmt.Fprintln(t.w)
	return nil
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

type jsonRenderer struct{ w io.Writer }

func (j *jsonRenderer) event(ev scan.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = j.w.Write(append(b, '\n'))
	return err
}

// xmlRenderer writes nmap's XML output format so existing tools can read it.
type xmlRenderer struct {
	w          io.Writer
	enc        *xml.Encoder
	hosts      map[string]*hostResult
	start      time.Time
	up, down   int
	headerDone bool
	args       string
}

func newXMLRenderer(w io.Writer, args string) *xmlRenderer {
	return &xmlRenderer{w: w, enc: xml.NewEncoder(w), hosts: map[string]*hostResult{}, args: args}
}

type xmlHost struct {
	XMLName   xml.Name `xml:"host"`
	StartTime int64    `xml:"starttime,attr,omitempty"`
	EndTime   int64    `xml:"endtime,attr,omitempty"`
	Status    struct {
		State  string `xml:"state,attr"`
		Reason string `xml:"reason,attr"`
	} `xml:"status"`
	Address struct {
		Addr     string `xml:"addr,attr"`
		AddrType string `xml:"addrtype,attr"`
	} `xml:"address"`
	Hostnames struct {
		Hostname []struct {
			Name string `xml:"name,attr"`
			Type string `xml:"type,attr"`
		} `xml:"hostname"`
	} `xml:"hostnames"`
	Ports *xmlPorts `xml:"ports,omitempty"`
}

type xmlPorts struct {
	Extra []xmlExtra `xml:"extraports"`
	Port  []xmlPort  `xml:"port"`
}

type xmlExtra struct {
	State string `xml:"state,attr"`
	Count int    `xml:"count,attr"`
}

type xmlPort struct {
	Protocol string `xml:"protocol,attr"`
	PortID   int    `xml:"portid,attr"`
	State    struct {
		State  string `xml:"state,attr"`
		Reason string `xml:"reason,attr"`
	} `xml:"state"`
	Service *xmlService `xml:"service,omitempty"`
}

type xmlService struct {
	Name      string   `xml:"name,attr"`
	Product   string   `xml:"product,attr,omitempty"`
	Version   string   `xml:"version,attr,omitempty"`
	ExtraInfo string   `xml:"extrainfo,attr,omitempty"`
	Tunnel    string   `xml:"tunnel,attr,omitempty"`
	Method    string   `xml:"method,attr"`
	Conf      int      `xml:"conf,attr"`
	CPE       []string `xml:"cpe"`
}

func (x *xmlRenderer) event(ev scan.Event) error {
	switch ev.Type {
	case scan.EventScanStart:
		x.start = ev.Time
		_, err := fmt.Fprintf(x.w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"vigil\" args=%q start=\"%d\" startstr=%q version=%q xmloutputversion=\"1.05\">\n",
			x.args, ev.Time.Unix(), ev.Time.Format(time.ANSIC), vigil.Version)
		return err
	case scan.EventScanDone:
		_, err := fmt.Fprintf(x.w, "<runstats><finished time=\"%d\" timestr=%q elapsed=\"%.2f\" summary=%q exit=\"success\"/><hosts up=\"%d\" down=\"%d\" total=\"%d\"/></runstats>\n</nmaprun>\n",
			ev.Time.Unix(), ev.Time.Format(time.ANSIC), ev.Time.Sub(x.start).Seconds(), ev.Message, x.up, x.down, x.up+x.down)
		return err
	}
	h, done := collect(x.hosts, ev)
	if !done {
		return nil
	}
	var xh xmlHost
	xh.EndTime = ev.Time.Unix()
	xh.Status.State, xh.Status.Reason = "down", "no-response"
	if h.up {
		xh.Status.State, xh.Status.Reason = "up", h.reason
		x.up++
	} else {
		x.down++
	}
	xh.Address.Addr, xh.Address.AddrType = h.addr, "ipv4"
	if strings.Contains(h.addr, ":") {
		xh.Address.AddrType = "ipv6"
	}
	if h.name != "" {
		xh.Hostnames.Hostname = append(xh.Hostnames.Hostname, struct {
			Name string `xml:"name,attr"`
			Type string `xml:"type,attr"`
		}{h.name, "user"})
	}
	if h.up && !h.unreliable {
		ports := &xmlPorts{}
		if s := ev.Summary; s != nil {
			if s.Closed > 0 {
				ports.Extra = append(ports.Extra, xmlExtra{"closed", s.Closed})
			}
			if s.Filtered > 0 {
				ports.Extra = append(ports.Extra, xmlExtra{"filtered", s.Filtered})
			}
		}
		for _, p := range h.sorted() {
			xp := xmlPort{Protocol: p.protocol, PortID: p.port}
			xp.State.State, xp.State.Reason = string(p.state), p.reason
			if s := p.service; s != nil {
				xs := &xmlService{Name: scan.PlainName(s.Name), Product: s.Product, Version: s.Version, ExtraInfo: s.ExtraInfo, Method: s.Method, Conf: s.Confidence}
				if s.Method == "port-guess" {
					xs.Method = "table"
				}
				if s.TLS != nil {
					xs.Tunnel = "ssl" // nmap writes https as http over an ssl tunnel
				}
				for _, c := range s.CPE {
					xs.CPE = append(xs.CPE, cpe23to22(c))
				}
				xp.Service = xs
			}
			ports.Port = append(ports.Port, xp)
		}
		xh.Ports = ports
	}
	if err := x.enc.Encode(xh); err != nil {
		return err
	}
	_, err := io.WriteString(x.w, "\n")
	return err
}

// cpe23to22 writes nmap's CPE URI form: cpe:/a:vendor:product:version.
func cpe23to22(c string) string {
	parts := strings.Split(c, ":")
	if len(parts) < 6 || parts[0] != "cpe" || parts[1] != "2.3" {
		return c
	}
	var keep []string
	for _, p := range parts[2:7] {
		if p == "*" || p == "-" {
			break
		}
		keep = append(keep, strings.ReplaceAll(p, `\`, ""))
	}
	return "cpe:/" + strings.Join(keep, ":")
}
