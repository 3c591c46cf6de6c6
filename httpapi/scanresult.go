package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// ScanHostListInput is GET /v2/scans/{id}/hosts.
type ScanHostListInput struct {
	IDPath
	ListParams
	HistoryID string `query:"history_id" doc:"A run of the scan; default: its latest"`
}

func (s *Server) handleScanHostList(ctx context.Context, in *ScanHostListInput) (*ListOutput[RunHostJSON], error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.RunHostList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	hosts, total, err := s.Results.FindRunHosts(ctx, p.OrganizationID, in.ID, in.HistoryID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(hosts, runHostJSON, opts, total), nil
}

// ScanHostPath is /v2/scans/{id}/hosts/{host_id}.
type ScanHostPath struct {
	IDPath
	HostID string `path:"host_id" doc:"Host id (UUID)"`
}

// ScanHostDetailJSON is a host as the scan's latest run that saw it did.
type ScanHostDetailJSON struct {
	RunHostJSON
	Services        []ServiceJSON       `json:"services"`
	Vulnerabilities []VulnerabilityJSON `json:"vulnerabilities" doc:"The scan's findings on the host, open and fixed, most severe first (at most 200)"`
}

func (s *Server) handleScanHostShow(ctx context.Context, in *ScanHostPath) (*DataOutput[ScanHostDetailJSON], error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	h, ports, fs, err := s.Results.FindRunHostDetail(ctx, p.OrganizationID, in.ID, in.HostID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(ScanHostDetailJSON{RunHostJSON: runHostJSON(h), Services: convert(ports, serviceJSON),
		Vulnerabilities: convert(fs, vulnerabilityJSON)}), nil
}

// ScanVulnListInput is GET /v2/scans/{id}/vulnerabilities.
type ScanVulnListInput struct {
	IDPath
	ListParams
}

func (s *Server) handleScanVulnerabilityList(ctx context.Context, in *ScanVulnListInput) (*ListOutput[VulnerabilityJSON], error) {
	return s.findingList(ctx, in.ID, &in.ListParams)
}

// ScanVulnPath is /v2/scans/{id}/vulnerabilities/{vulnerability_id}.
type ScanVulnPath struct {
	IDPath
	VulnerabilityID string `path:"vulnerability_id" doc:"Vulnerability (finding) id (UUID)"`
}

func (s *Server) handleScanVulnerabilityShow(ctx context.Context, in *ScanVulnPath) (*DataOutput[VulnerabilityJSON], error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	f, err := s.Results.FindFindingByID(ctx, p.OrganizationID, in.ID, in.VulnerabilityID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(vulnerabilityJSON(f)), nil
}

// StatisticsJSON summarizes a scan's current findings.
type StatisticsJSON struct {
	SeverityCountsJSON
	Total       int                 `json:"total" doc:"Open findings above Log"`
	Fixed       int                 `json:"fixed" doc:"Findings fixed by a later run"`
	HostsTotal  int                 `json:"hosts_total" doc:"Addresses the latest run scanned"`
	HostsUp     int                 `json:"hosts_up"`
	ByHost      []ScanHostCountJSON `json:"by_host" doc:"Hosts of the latest run, most severe first (at most 20)"`
	ByPort      []PortCountJSON     `json:"by_port" doc:"Ports with the most open findings (at most 20)"`
	Compliance  bool                `json:"compliance" doc:"PCI: no open finding with CVSS ≥ 4.0 and no automatic failure"`
	PCIFailures int                 `json:"pci_failures"`
	HistoryID   *string             `json:"history_id" format:"uuid" doc:"The latest run"`
}

// ScanHostCountJSON counts a host's findings.
type ScanHostCountJSON struct {
	HostID         string             `json:"host_id" format:"uuid"`
	IP             string             `json:"ip"`
	Hostname       string             `json:"hostname"`
	Severity       float64            `json:"severity"`
	SeverityCounts SeverityCountsJSON `json:"severity_counts"`
}

// PortCountJSON counts findings on a port.
type PortCountJSON struct {
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Count    int    `json:"count"`
	Hosts    int    `json:"hosts"`
}

func (s *Server) handleScanStatistics(ctx context.Context, in *IDPath) (*DataOutput[StatisticsJSON], error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	st, err := s.Results.ScanStatistics(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := StatisticsJSON{SeverityCountsJSON: countsJSON(st.Counts), Total: st.Counts.Total(), Fixed: st.Fixed,
		HostsTotal: st.HostsTotal, HostsUp: st.HostsUp, Compliance: st.Compliant, PCIFailures: st.PCIFails,
		HistoryID: orNil(st.LastRunID)}
	out.ByHost = convert(st.ByHost, func(h vigil.HostCount) ScanHostCountJSON {
		return ScanHostCountJSON{HostID: h.HostID, IP: h.IP, Hostname: h.Hostname, Severity: h.MaxSeverity, SeverityCounts: countsJSON(h.Counts)}
	})
	out.ByPort = convert(st.ByPort, func(p vigil.PortCount) PortCountJSON {
		return PortCountJSON{Port: p.Port, Protocol: p.Protocol, Count: p.Count, Hosts: p.Hosts}
	})
	return dataOutput(out), nil
}

// RunDiffJSON counts how a run changed its scan's findings.
type RunDiffJSON struct {
	New       int `json:"new"`
	Reopened  int `json:"reopened"`
	Unchanged int `json:"unchanged"`
	Fixed     int `json:"fixed"`
}

// RunDetailJSON is a run with its diff against the scan's earlier runs.
type RunDetailJSON struct {
	RunJSON
	Diff RunDiffJSON `json:"diff"`
}

func (s *Server) handleRunShow(ctx context.Context, in *RunPath) (*DataOutput[RunDetailJSON], error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	r, err := s.Scans.FindRunByID(ctx, p.OrganizationID, in.ID, in.HistoryID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	d, err := s.Results.RunDiff(ctx, p.OrganizationID, in.ID, in.HistoryID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(RunDetailJSON{RunJSON: runJSON(r),
		Diff: RunDiffJSON{New: d.New, Reopened: d.Reopened, Unchanged: d.Unchanged, Fixed: d.Fixed}}), nil
}

// RunDiffInput is GET /v2/scans/{id}/histories/{history_id}/diff.
type RunDiffInput struct {
	RunPath
	ListParams
}

func (s *Server) handleRunDiff(ctx context.Context, in *RunDiffInput) (*ListOutput[VulnerabilityJSON], error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.DiffList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	fs, total, err := s.Results.FindRunDiff(ctx, p.OrganizationID, in.ID, in.HistoryID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(fs, vulnerabilityJSON, opts, total), nil
}

// WizardInput is POST /v2/scans/wizard.
type WizardInput struct {
	Body struct {
		Wizard struct {
			Name         string  `json:"name" minLength:"1" maxLength:"255" example:"Quick scan"`
			Hosts        string  `json:"hosts" maxLength:"65536" doc:"Same syntax as a target's hosts" example:"192.0.2.0/28"`
			ExcludeHosts *string `json:"exclude_hosts,omitempty" maxLength:"65536"`
			PortListID   *string `json:"port_list_id,omitempty" doc:"Port list id; default: the built-in Common TCP list"`
			AliveTest    *string `json:"alive_test,omitempty" enum:"scan_config_default,icmp,tcp_syn,consider_alive"`
			ConfigID     *string `json:"config_id,omitempty" doc:"Scan profile id; default: Full and fast"`
			ScannerID    *string `json:"scanner_id,omitempty"`
			Comment      *string `json:"comment,omitempty" maxLength:"4000"`
			StartNow     *bool   `json:"start_now,omitempty" doc:"Start the scan at once (default true)"`
		} `json:"wizard"`
	}
}

// WizardJSON is what the wizard created.
type WizardJSON struct {
	ScanJSON
	TargetID string   `json:"target_id" format:"uuid"`
	Run      *RunJSON `json:"history,omitempty" doc:"The run started; absent when start_now was false"`
}

func (s *Server) handleScanWizard(ctx context.Context, in *WizardInput) (*DataOutput[WizardJSON], error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w := in.Body.Wizard
	start := w.StartNow == nil || *w.StartNow
	sc, run, err := s.Scans.CreateScanWizard(ctx, p.OrganizationID, vigil.WizardInput{
		Target:   vigil.TargetInput{Hosts: &w.Hosts, ExcludeHosts: w.ExcludeHosts, PortListID: w.PortListID, AliveTest: w.AliveTest},
		Scan:     vigil.ScanInput{Name: &w.Name, Comment: w.Comment, ProfileID: w.ConfigID, ScannerID: w.ScannerID},
		StartNow: start})
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "scan.wizard", sc.ID, sc.TargetID)
	out := WizardJSON{ScanJSON: scanJSON(sc), TargetID: sc.TargetID}
	if run != nil {
		r := runJSON(run)
		out.Run = &r
		s.scanStarted()
	}
	return dataOutput(out), nil
}

// scanStarted wakes the in-process scanner node, if there is one.
func (s *Server) scanStarted() {
	if s.OnScanStart != nil {
		s.OnScanStart()
	}
}
