package vigil

import (
	"context"
	"net/netip"
	"strconv"
	"time"
)

// Severity classes (GVM): High 7.0–10.0, Medium 4.0–6.9, Low 0.1–3.9, Log 0.0.
const (
	SeverityHigh   = "high"
	SeverityMedium = "medium"
	SeverityLow    = "low"
	SeverityLog    = "log"
	// SeverityFalsePositive is the class of a finding an active exception
	// marked a false positive (score -1): it is in no count.
	SeverityFalsePositive = "false_positive"
)

// SeverityClass names the class of a CVSS score.
func SeverityClass(score float64) string {
	switch {
	case score >= 7:
		return SeverityHigh
	case score >= 4:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	case score < 0:
		return SeverityFalsePositive
	}
	return SeverityLog
}

// SeverityRange is the half-open score range [lo, hi) of a class.
func SeverityRange(class string) (lo, hi float64, ok bool) {
	switch class {
	case SeverityHigh:
		return 7, 10.01, true
	case SeverityMedium:
		return 4, 7, true
	case SeverityLow:
		return 0.05, 4, true
	case SeverityLog:
		return -0.05, 0.05, true
	case SeverityFalsePositive:
		return -1.05, -0.5, true
	}
	return 0, 0, false
}

// PCIFailScore is the CVSS base score from which a finding fails PCI.
const PCIFailScore = 4.0

// Add counts one finding of score.
func (c *SeverityCounts) Add(score float64, n int) {
	switch SeverityClass(score) {
	case SeverityHigh:
		c.High += n
	case SeverityMedium:
		c.Medium += n
	case SeverityLow:
		c.Low += n
	case SeverityLog:
		c.Log += n
	}
}

// Total counts the findings that need fixing (every class but Log).
func (c SeverityCounts) Total() int { return c.High + c.Medium + c.Low }

// FindingStatus is where a finding stands across the runs of its scan.
type FindingStatus string

// Finding statuses.
const (
	FindingOpen     FindingStatus = "open"     // seen by the latest run that scanned its host
	FindingFixed    FindingStatus = "fixed"    // a completed run scanned the host and did not see it
	FindingReopened FindingStatus = "reopened" // seen again after it was fixed
)

// FindingChange is how a run changed a finding (the run's diff).
type FindingChange string

// Finding changes.
const (
	ChangeNew       FindingChange = "new"
	ChangeUnchanged FindingChange = "unchanged" // counted in a run's diff, not listed
	ChangeReopened  FindingChange = "reopened"
	ChangeFixed     FindingChange = "fixed"
)

// Host is an asset: an address (and the name it was scanned under) of an
// organization, deduplicated across scans, with maintained counts of its open
// findings.
type Host struct {
	ID             string
	OrganizationID string
	IP             string
	Hostname       string
	OS             string
	FirstSeenAt    time.Time
	LastSeenAt     time.Time
	LastScanID     string
	LastRunID      string
	Counts         SeverityCounts // open findings by class
	MaxSeverity    float64        // of its open findings
	PCIFailures    int            // open findings that fail PCI
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// HostPort is an open port of a host as one run saw it, with its service.
type HostPort struct {
	RunID      string
	HostID     string
	Port       int
	Protocol   string
	State      string
	Reason     string
	Service    string
	Product    string
	Version    string
	ExtraInfo  string
	CPE        []string
	Banner     string
	TLS        string // JSON summary of the TLS endpoint, "" without TLS
	Method     string
	Confidence int
	SeenAt     time.Time
}

// RunHost is a host as one run saw it.
type RunHost struct {
	RunID       string
	ScanID      string
	HostID      string
	IP          string
	Hostname    string
	OS          string
	Status      string // up, unreliable
	Reason      string
	Done        bool // the engine finished the host
	PortsOpen   int
	Counts      SeverityCounts
	MaxSeverity float64
	StartedAt   time.Time
	EndedAt     *time.Time
}

// Finding is one issue on one host (and port) of one scan, tracked across its
// runs by a stable dedup key: host, port/protocol and check id (or CVE),
// never volatile text.
type Finding struct {
	ID             string
	OrganizationID string
	ScanID         string
	HostID         string
	IP             string
	Hostname       string
	Port           int // 0 = the host itself
	Protocol       string
	CheckID        string // the check (GVM "nvt") that found it
	CVE            string // primary CVE id, when the finding is one
	Name           string
	Family         string
	Severity       float64 // effective: an active exception's new severity, else the CVSS base score
	CVSSVector     string
	QoD            int // quality of detection (confidence), 0-100
	PCIFail        bool
	KEV            bool    // the CVE is in CISA's Known Exploited Vulnerabilities
	EPSS           float64 // the CVE's EPSS probability of exploitation, 0-1
	Description    string
	Solution       string
	Evidence       string
	Status         FindingStatus
	FirstSeenAt    time.Time
	LastSeenAt     time.Time
	FixedAt        *time.Time
	FirstRunID     string
	LastRunID      string
	FixedRunID     string
	Change         FindingChange // in a run's diff only
	// OriginalSeverity and OriginalPCIFail are the engine's verdict while an
	// active exception (ExceptionID) overrides it.
	OriginalSeverity *float64
	OriginalPCIFail  *bool
	ExceptionID      string
}

// SeverityClass of the finding.
func (f *Finding) SeverityClass() string { return SeverityClass(f.Severity) }

// ResultBatch is what a node reports of a run at once: hosts first, then
// their ports and findings. Sinks write a batch in one transaction.
type ResultBatch struct {
	Hosts    []HostResult
	Ports    []PortResult
	Findings []FindingResult
}

// Len counts the items of b.
func (b *ResultBatch) Len() int { return len(b.Hosts) + len(b.Ports) + len(b.Findings) }

// HostResult reports a live host, and later that it is done.
type HostResult struct {
	Address  netip.Addr
	Hostname string
	Status   string // up, unreliable
	Reason   string
	OS       string
	Done     bool
	Open     int // open ports, with Done
}

// PortResult reports an open port and, once detected, its service.
type PortResult struct {
	Address    netip.Addr
	Port       int
	Protocol   string
	State      string
	Reason     string
	Service    string
	Product    string
	Version    string
	ExtraInfo  string
	CPE        []string
	Banner     string
	TLS        string
	Method     string
	Confidence int
}

// FindingResult reports a finding on Address.
type FindingResult struct {
	Address     netip.Addr
	Port        int
	Protocol    string
	CheckID     string
	CVE         string
	Name        string
	Family      string
	Severity    float64
	CVSSVector  string
	QoD         int // confidence 0-100
	PCIFail     bool
	KEV         bool
	EPSS        float64
	Description string
	Solution    string
	Evidence    string
}

// DedupKey identifies the finding on its host within a scan.
func (f *FindingResult) DedupKey() string {
	k := f.Protocol + "/" + strconv.Itoa(f.Port) + "|" + f.CheckID
	if f.CVE != "" {
		k += "|" + f.CVE
	}
	return k
}

// ResultSink is where nodes write what a run found, as it is found.
// ECONFLICT when nodeID no longer holds the run.
type ResultSink interface {
	RecordResults(ctx context.Context, runID, nodeID string, b *ResultBatch) error
}

// HostList is the allow-list of GET /v2/hosts.
var HostList = ListSpec{
	Filters: map[string]FilterKind{"ip": FilterText, "hostname": FilterText, "os": FilterText, "id": FilterExact,
		"severity": FilterSeverity},
	Sorts:       []string{"ip", "hostname", "os", "first_seen_at", "last_seen_at", "severity", "vulnerabilities_count"},
	DefaultSort: []Sort{{Column: "ip"}},
	DateColumn:  "last_seen_at",
}

// RunHostList is the allow-list of GET /v2/scans/{id}/hosts.
var RunHostList = ListSpec{
	Filters:     map[string]FilterKind{"ip": FilterText, "hostname": FilterText, "status": FilterExact, "host_id": FilterExact},
	Sorts:       []string{"ip", "hostname", "severity", "ports_open", "started_at"},
	DefaultSort: []Sort{{Column: "ip"}},
	DateColumn:  "started_at",
}

// FindingList is the allow-list of GET /v2/vulnerabilities and its per-scan
// and per-host variants.
var FindingList = ListSpec{
	Filters: map[string]FilterKind{
		"severity": FilterSeverity, "cvss_min": FilterMin, "cvss_max": FilterMax,
		"status": FilterExact, "host_id": FilterExact, "ip": FilterExact, "port": FilterExact, "protocol": FilterExact,
		"cve": FilterExact, "nvt": FilterExact, "scan_id": FilterExact, "kev": FilterBool, "pci_fail": FilterBool,
		"name": FilterText, "id": FilterExact, "epss_min": FilterMin, "confidence_min": FilterMin,
		"first_seen_after": FilterAfter, "first_seen_before": FilterBefore,
		"last_seen_after": FilterAfter, "last_seen_before": FilterBefore,
	},
	Sorts:       []string{"severity", "name", "ip", "port", "first_seen_at", "last_seen_at", "status", "epss"},
	DefaultSort: []Sort{{Column: "severity", Desc: true}},
	DateColumn:  "last_seen_at",
}

// DiffList is the allow-list of a run's diff.
var DiffList = ListSpec{
	Filters:     map[string]FilterKind{"change": FilterExact, "severity": FilterSeverity},
	Sorts:       []string{"severity", "name"},
	DefaultSort: []Sort{{Column: "severity", Desc: true}},
}

// RunDiff counts how a run changed its scan's findings.
type RunDiff struct {
	New, Reopened, Unchanged, Fixed int
}

// HostDetail is a host with what is known of it.
type HostDetail struct {
	Host     *Host
	Ports    []*HostPort // as its latest run saw them
	Findings []*Finding  // open findings, most severe first (capped)
	History  []*RunHost  // its latest runs, newest first (capped)
}

// ScanStatistics summarizes a scan's current findings.
type ScanStatistics struct {
	Counts     SeverityCounts
	Fixed      int
	HostsTotal int
	HostsUp    int
	ByHost     []HostCount
	ByPort     []PortCount
	Compliant  bool
	PCIFails   int
	LastRunID  string
}

// HostCount counts a host's open findings.
type HostCount struct {
	HostID, IP, Hostname string
	Counts               SeverityCounts
	MaxSeverity          float64
}

// PortCount counts open findings on a port.
type PortCount struct {
	Port     int
	Protocol string
	Count    int
	Hosts    int
}

// VulnTotals is the Total Vulnerabilities widget.
type VulnTotals struct {
	Counts SeverityCounts
	Hosts  int // hosts with an open finding above Log
	Trend  []VulnTrendPoint
}

// VulnTrendPoint is one day's open counts.
type VulnTrendPoint struct {
	Day    string // YYYY-MM-DD
	Counts SeverityCounts
}

// TopVuln is one row of the Top Vulnerabilities widget: a check with the
// number of hosts and findings it is open on.
type TopVuln struct {
	CheckID  string
	Name     string
	Severity float64
	Hosts    int
	Findings int
}

// PCISummary is the PCI Compliant widget: PCI fails when any open finding
// has CVSS ≥ 4.0 or is an automatic failure.
type PCISummary struct {
	Compliant     bool
	HostsPassing  int
	HostsFailing  int
	FailingChecks int // findings that fail
}

// ResultService reads what scans found, scoped to orgID.
type ResultService interface {
	FindHosts(ctx context.Context, orgID string, opts ListOptions) ([]*Host, int, error)
	FindHostDetail(ctx context.Context, orgID, id string) (*HostDetail, error)
	MostVulnerableHosts(ctx context.Context, orgID string, limit int) ([]*Host, error)

	// FindFindings lists findings; scanID/hostID narrow it ("" = all).
	FindFindings(ctx context.Context, orgID, scanID string, opts ListOptions) ([]*Finding, int, error)
	FindFindingByID(ctx context.Context, orgID, scanID, id string) (*Finding, error)
	VulnTotals(ctx context.Context, orgID string, days int) (*VulnTotals, error)
	TopVulns(ctx context.Context, orgID, by string, limit int) ([]*TopVuln, error)
	PCISummary(ctx context.Context, orgID string) (*PCISummary, error)

	// FindRunHosts lists the hosts of a run (runID "" = the scan's latest).
	FindRunHosts(ctx context.Context, orgID, scanID, runID string, opts ListOptions) ([]*RunHost, int, error)
	FindRunHostDetail(ctx context.Context, orgID, scanID, hostID string) (*RunHost, []*HostPort, []*Finding, error)
	ScanStatistics(ctx context.Context, orgID, scanID string) (*ScanStatistics, error)
	RunDiff(ctx context.Context, orgID, scanID, runID string) (*RunDiff, error)
	FindRunDiff(ctx context.Context, orgID, scanID, runID string, opts ListOptions) ([]*Finding, int, error)
}
