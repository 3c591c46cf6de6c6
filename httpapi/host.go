package httpapi

import (
	"context"
	"encoding/json"

	"github.com/vigilscan/vigil"
)

// DataOutput is one object under data.
type DataOutput[T any] struct {
	Body struct {
		Data T `json:"data"`
	}
}

func dataOutput[T any](v T) *DataOutput[T] {
	out := &DataOutput[T]{}
	out.Body.Data = v
	return out
}

// HostJSON is a host (asset) on the wire.
type HostJSON struct {
	ID                   string             `json:"id" format:"uuid"`
	IP                   string             `json:"ip" example:"192.0.2.10"`
	Hostname             string             `json:"hostname" example:"www.example.com"`
	OS                   string             `json:"os" doc:"Operating system guess; empty when unknown" example:"Debian GNU/Linux"`
	Severity             float64            `json:"severity" doc:"Highest CVSS score of its open findings" example:"6.5"`
	SeverityClass        string             `json:"severity_class" enum:"high,medium,low,log,false_positive"`
	VulnerabilitiesCount int                `json:"vulnerabilities_count" doc:"Open findings above Log"`
	SeverityCounts       SeverityCountsJSON `json:"severity_counts" doc:"Open findings by severity class"`
	PCIFailures          int                `json:"pci_failures" doc:"Open findings that fail PCI (CVSS ≥ 4.0 or automatic failure)"`
	FirstSeenAt          Timestamp          `json:"first_seen_at"`
	LastSeenAt           Timestamp          `json:"last_seen_at"`
	LastScanAt           Timestamp          `json:"last_scan_at" doc:"When a scan last saw it up"`
	LastScanID           *string            `json:"last_scan_id" format:"uuid"`
}

func hostJSON(h *vigil.Host) HostJSON {
	return HostJSON{ID: h.ID, IP: h.IP, Hostname: h.Hostname, OS: h.OS, Severity: h.MaxSeverity,
		SeverityClass: vigil.SeverityClass(h.MaxSeverity), VulnerabilitiesCount: h.Counts.Total(),
		SeverityCounts: countsJSON(h.Counts), PCIFailures: h.PCIFailures, FirstSeenAt: ts(h.FirstSeenAt),
		LastSeenAt: ts(h.LastSeenAt), LastScanAt: ts(h.LastSeenAt), LastScanID: orNil(h.LastScanID)}
}

// TLSJSON summarizes a TLS endpoint and its certificate.
type TLSJSON struct {
	Version     string    `json:"version" example:"TLS 1.3"`
	CipherSuite string    `json:"cipher_suite"`
	ALPN        string    `json:"alpn,omitempty"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	NotBefore   Timestamp `json:"not_before"`
	NotAfter    Timestamp `json:"not_after"`
	SelfSigned  bool      `json:"self_signed"`
	SHA256      string    `json:"sha256"`
}

// ServiceJSON is an open port and what runs on it.
type ServiceJSON struct {
	Port       int      `json:"port" example:"22"`
	Protocol   string   `json:"protocol" enum:"tcp,udp"`
	State      string   `json:"state" example:"open"`
	Reason     string   `json:"reason" example:"syn-ack"`
	Service    string   `json:"service" example:"ssh"`
	Product    string   `json:"product" example:"OpenSSH"`
	Version    string   `json:"version" example:"9.2p1"`
	ExtraInfo  string   `json:"extra_info"`
	CPE        []string `json:"cpe"`
	Banner     string   `json:"banner"`
	TLS        *TLSJSON `json:"tls,omitempty" doc:"Present when the port speaks TLS"`
	Method     string   `json:"method" doc:"How the service was identified: probed, banner, port-guess"`
	Confidence int      `json:"confidence" minimum:"0" maximum:"10"`
}

func serviceJSON(p *vigil.HostPort) ServiceJSON {
	out := ServiceJSON{Port: p.Port, Protocol: p.Protocol, State: p.State, Reason: p.Reason, Service: p.Service,
		Product: p.Product, Version: p.Version, ExtraInfo: p.ExtraInfo, CPE: p.CPE, Banner: p.Banner, Method: p.Method,
		Confidence: p.Confidence}
	if out.CPE == nil {
		out.CPE = []string{}
	}
	if p.TLS != "" {
		// The node stores the engine's TLS summary as JSON with these same keys.
		var t TLSJSON
		if json.Unmarshal([]byte(p.TLS), &t) == nil {
			out.TLS = &t
		}
	}
	return out
}

// RunHostJSON is a host as one run saw it.
type RunHostJSON struct {
	HostID         string             `json:"id" format:"uuid" doc:"The host (asset) id"`
	HistoryID      string             `json:"history_id" format:"uuid" doc:"The run"`
	IP             string             `json:"ip"`
	Hostname       string             `json:"hostname"`
	OS             string             `json:"os"`
	Status         string             `json:"status" enum:"up,unreliable" doc:"unreliable: every port answered, so ports were not reported"`
	Reason         string             `json:"reason" doc:"How the host was found alive"`
	Done           bool               `json:"done" doc:"The run finished this host"`
	PortsOpen      int                `json:"ports_open"`
	Severity       float64            `json:"severity"`
	SeverityCounts SeverityCountsJSON `json:"severity_counts"`
	StartedAt      Timestamp          `json:"started_at"`
	EndedAt        *Timestamp         `json:"ended_at" nullable:"true"`
}

func runHostJSON(h *vigil.RunHost) RunHostJSON {
	return RunHostJSON{HostID: h.HostID, HistoryID: h.RunID, IP: h.IP, Hostname: h.Hostname, OS: h.OS, Status: h.Status,
		Reason: h.Reason, Done: h.Done, PortsOpen: h.PortsOpen, Severity: h.MaxSeverity, SeverityCounts: countsJSON(h.Counts),
		StartedAt: ts(h.StartedAt), EndedAt: tsp(h.EndedAt)}
}

// HostDetailJSON is a host with its services, open findings and runs.
type HostDetailJSON struct {
	HostJSON
	Services        []ServiceJSON       `json:"services" doc:"Open ports as the latest run saw them"`
	Vulnerabilities []VulnerabilityJSON `json:"vulnerabilities" doc:"Open findings, most severe first (at most 200)"`
	History         []RunHostJSON       `json:"history" doc:"Its latest runs, newest first (at most 20)"`
}

func (s *Server) handleHostList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[HostJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.HostList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	hosts, total, err := s.Results.FindHosts(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(hosts, hostJSON, opts, total), nil
}

func (s *Server) handleHostShow(ctx context.Context, in *IDPath) (*DataOutput[HostDetailJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	d, err := s.Results.FindHostDetail(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := HostDetailJSON{HostJSON: hostJSON(d.Host), Services: convert(d.Ports, serviceJSON),
		Vulnerabilities: convert(d.Findings, vulnerabilityJSON), History: convert(d.History, runHostJSON)}
	return dataOutput(out), nil
}

// LimitInput bounds a widget's rows.
type LimitInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"100" default:"10" doc:"Rows to return"`
}

func (s *Server) handleHostMostVulnerable(ctx context.Context, in *LimitInput) (*DataOutput[[]HostJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	hosts, err := s.Results.MostVulnerableHosts(ctx, p.OrganizationID, max(in.Limit, 1))
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(hosts, hostJSON)), nil
}

func convert[D any, T any](items []D, conv func(D) T) []T {
	out := make([]T, len(items))
	for i, it := range items {
		out[i] = conv(it)
	}
	return out
}
