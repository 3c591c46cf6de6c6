// Package scan is Vigil's scan engine: host discovery, port scanning and
// service detection as a pure library. It imports no database and no HTTP
// server, so a server node, a remote scanner node and `vigil scan` all link it
// alone. A scan is a stream of typed events that callers persist or render as
// they come.
package scan

import (
	"net/netip"
	"time"

	"github.com/vigilscan/vigil"
)

// EventType names what an Event reports.
type EventType string

// Event types.
const (
	EventScanStart      EventType = "scan_start"      // the scan begins: Progress.HostsTotal is known
	EventHostUp         EventType = "host_up"         // discovery found the host (Reason says how)
	EventHostDown       EventType = "host_down"       // nothing answered (Reason says what was tried)
	EventPort           EventType = "port"            // an open (or open|filtered UDP) port
	EventService        EventType = "service"         // what runs on an open port
	EventFinding        EventType = "finding"         // a check or CVE match found something (Finding)
	EventHostUnreliable EventType = "host_unreliable" // every port answers: a SYN proxy or similar; ports not reported
	EventHostDone       EventType = "host_done"       // the host is finished; Summary counts its ports
	EventRefused        EventType = "refused"         // an address outside the scope guard: nothing was sent
	EventWarning        EventType = "warning"         // a degraded mode (no ICMP, fallback to connect scan)
	EventError          EventType = "error"           // a failure that did not stop the scan
	EventProgress       EventType = "progress"        // periodic progress
	EventScanDone       EventType = "scan_done"       // the last event
)

// PortState is the state of a port.
type PortState string

// Port states.
const (
	StateOpen         PortState = "open"
	StateClosed       PortState = "closed"
	StateFiltered     PortState = "filtered"
	StateOpenFiltered PortState = "open|filtered" // UDP without an answer
)

// Event is one thing the engine reports. Which fields are set depends on Type.
type Event struct {
	Type     EventType            `json:"type"`
	Time     time.Time            `json:"time"`
	Host     netip.Addr           `json:"host,omitzero"`
	Hostname string               `json:"hostname,omitempty"`
	Port     int                  `json:"port,omitempty"`
	Protocol string               `json:"protocol,omitempty"` // tcp or udp
	State    PortState            `json:"state,omitempty"`
	Reason   string               `json:"reason,omitempty"` // syn-ack, conn-refused, echo-reply, no-response, ...
	RTT      time.Duration        `json:"rtt_ns,omitempty"`
	Service  *Service             `json:"service,omitempty"`
	Summary  *HostSummary         `json:"summary,omitempty"`
	Progress *Progress            `json:"progress,omitempty"`
	Finding  *vigil.FindingResult `json:"finding,omitempty"`
	Message  string               `json:"message,omitempty"`
}

// Service is what service detection found on a port.
type Service struct {
	Name       string   `json:"name"`              // ssh, http, ...
	Product    string   `json:"product,omitempty"` // OpenSSH, nginx, ...
	Version    string   `json:"version,omitempty"`
	ExtraInfo  string   `json:"extra_info,omitempty"` // protocol version, OS hints
	CPE        []string `json:"cpe,omitempty"`        // CPE 2.3 names
	TLS        *TLSInfo `json:"tls,omitempty"`
	Banner     string   `json:"banner,omitempty"` // the raw first bytes, printable-escaped
	Method     string   `json:"method"`           // probed, banner, port-guess
	Confidence int      `json:"confidence"`       // 0-10, like nmap's conf
}

// TLSInfo summarizes a TLS endpoint and its leaf certificate.
type TLSInfo struct {
	Version     string    `json:"version"`
	CipherSuite string    `json:"cipher_suite"`
	ALPN        string    `json:"alpn,omitempty"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	SelfSigned  bool      `json:"self_signed"`
	SHA256      string    `json:"sha256"`
}

// HostSummary counts a finished host's ports.
type HostSummary struct {
	Open         int           `json:"open"`
	Closed       int           `json:"closed"`
	Filtered     int           `json:"filtered"`
	OpenFiltered int           `json:"open_filtered,omitempty"`
	Duration     time.Duration `json:"duration_ns"`
}

// Progress is the scan's progress.
type Progress struct {
	HostsTotal int64   `json:"hosts_total"`
	HostsDone  int64   `json:"hosts_done"`
	HostsUp    int64   `json:"hosts_up"`
	ProbesSent int64   `json:"probes_sent"`
	Percent    float64 `json:"percent"`
}
