package vigil

import (
	"context"
	"slices"
	"time"
)

// ScanStatus is the status of a scan and of each of its runs. The wire
// values are the GVM-style capitalised strings the CG v1 API returned
// (spec: cg-product-behaviour.md §4).
type ScanStatus string

// Scan statuses.
const (
	StatusNew           ScanStatus = "New"            // never started
	StatusRequested     ScanStatus = "Requested"      // start accepted, not yet queued for a scanner
	StatusQueued        ScanStatus = "Queued"         // waiting for a scanner node to claim it
	StatusRunning       ScanStatus = "Running"        // a node holds the lease and reports progress
	StatusStopRequested ScanStatus = "Stop Requested" // stop asked while running; the node stops within 5 s
	StatusStopped       ScanStatus = "Stopped"        // stopped by a user; partial results kept
	StatusDone          ScanStatus = "Done"           // finished
	StatusInterrupted   ScanStatus = "Interrupted"    // the node died or lost its lease; partial results kept
	StatusFailed        ScanStatus = "Failed"         // could not run (Reason says why)
)

// ActiveStatuses are the statuses of a run in progress: it can be stopped
// and its scan cannot be started, edited or deleted.
var ActiveStatuses = []string{string(StatusRequested), string(StatusQueued), string(StatusRunning), string(StatusStopRequested)}

// Active reports whether s is one of ActiveStatuses.
func (s ScanStatus) Active() bool { return slices.Contains(ActiveStatuses, string(s)) }

// Final reports whether a run in this status has ended.
func (s ScanStatus) Final() bool {
	return s == StatusStopped || s == StatusDone || s == StatusInterrupted || s == StatusFailed
}

// Checks selects the vulnerability checks a profile runs.
type Checks string

// Check selections.
const (
	ChecksNone Checks = "none" // discovery, ports and services only
	ChecksSafe Checks = "safe" // every check that cannot harm the target
	ChecksPCI  Checks = "pci"  // the PCI ASV selection (safe checks plus PCI automatic-fail rules)
)

// ScanProfile (a "scan config") says how a scan runs: which ports (its own
// port list, or the target's when empty), whether services are detected and
// which checks run. Built-in profiles exist in every organization; PCI's is
// fixed: its scans always use its own port list and checks.
type ScanProfile struct {
	ID               string
	OrganizationID   string
	BuiltinKey       string // "" for profiles users made (not yet possible)
	GVMID            string // the stock GVM config id the profile stands for, accepted as config_id
	Name             string
	Comment          string
	PortListID       string // "" = the target's port list
	ServiceDetection bool
	Checks           Checks
	Fixed            bool // scans cannot override its port list
	Active           bool
	AppType          string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// BuiltinScanProfile is the definition of a built-in profile.
type BuiltinScanProfile struct {
	Key, GVMID, Name, Comment string
	PortListKey               string // built-in port list key, "" = the target's
	ServiceDetection          bool
	Checks                    Checks
	Fixed                     bool
	AppType                   string
}

// BuiltinScanProfiles are copied into every organization. The GVM ids are
// those of the stock configs with the same purpose, so clients written for a
// GVM-backed server can keep sending them.
var BuiltinScanProfiles = []BuiltinScanProfile{
	{Key: "discovery", GVMID: "8715c877-47a0-438d-98a3-27c7a6ab2196", Name: "Discovery",
		Comment: "Finds live hosts and their open ports; no service detection, no checks.", Checks: ChecksNone},
	{Key: "full-and-fast", GVMID: "daba56c8-73ec-11df-a475-002264764cea", Name: "Full and fast",
		Comment: "Ports of the target's port list, service and version detection, every safe check.", ServiceDetection: true, Checks: ChecksSafe},
	{Key: "pci-external", Name: "PCI external",
		Comment: "PCI ASV external scan: the PCI external port list, service detection and the PCI checks. Fixed.", PortListKey: "pci-external",
		ServiceDetection: true, Checks: ChecksPCI, Fixed: true, AppType: "pci"},
}

// ScanProfileList is the allow-list of GET /v2/scan_profiles.
var ScanProfileList = ListSpec{
	Filters:     map[string]FilterKind{"name": FilterText, "app_type": FilterExact, "active": FilterBool, "id": FilterExact},
	Sorts:       []string{"name", "created_at"},
	DefaultSort: []Sort{{Column: "name"}},
	DateColumn:  "created_at",
}

// Scan ties a target, a profile and a scanner (and later a schedule).
type Scan struct {
	ID             string
	OrganizationID string
	Name           string
	Comment        string
	TargetID       string
	ProfileID      string
	ScannerID      string
	ScheduleID     string     // when set, the schedule starts it
	NextRunAt      *time.Time // the schedule's next slot
	Status         ScanStatus
	Progress       int
	LastRunID      string
	LastRunAt      *time.Time // when the last run started
	Counts         SeverityCounts
	CreatedAt      time.Time
	UpdatedAt      time.Time

	Target  *Target      // filled by finders
	Profile *ScanProfile // filled by finders
}

// ScanInput is a create or partial update.
type ScanInput struct {
	Name       *string
	Comment    *string
	TargetID   *string
	ProfileID  *string
	ScannerID  *string
	ScheduleID *string
}

// ScanList is the allow-list of GET /v2/scans and its sub-lists.
var ScanList = ListSpec{
	Filters: map[string]FilterKind{"name": FilterText, "comment": FilterText, "status": FilterExact,
		"target_id": FilterExact, "config_id": FilterExact, "scanner_id": FilterExact, "id": FilterExact},
	Sorts:       []string{"name", "status", "progress", "last_run_at", "next_run_at", "created_at", "updated_at"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}

// SeverityCounts counts findings by GVM severity class.
type SeverityCounts struct {
	High, Medium, Low, Log int
}

// Run is one execution of a scan (a "scan history" entry).
type Run struct {
	ID             string
	OrganizationID string
	ScanID         string
	Status         ScanStatus
	Reason         string // why it failed or was interrupted
	Progress       int
	HostsTotal     int
	HostsDone      int
	HostsUp        int
	Counts         SeverityCounts
	Compliant      *bool // PCI verdict once done
	ScannerID      string
	NodeID         string     // the node holding the lease
	LeaseUntil     *time.Time // the node must heartbeat before this
	RequestedAt    time.Time
	StartedAt      *time.Time
	EndedAt        *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RunList is the allow-list of GET /v2/scans/{id}/histories.
var RunList = ListSpec{
	Filters:     map[string]FilterKind{"status": FilterExact, "id": FilterExact},
	Sorts:       []string{"requested_at", "started_at", "ended_at", "status"},
	DefaultSort: []Sort{{Column: "requested_at", Desc: true}},
	DateColumn:  "requested_at",
}

// WizardInput is a one-shot scan: its target's fields and its own. The
// target is named after the scan.
type WizardInput struct {
	Target   TargetInput
	Scan     ScanInput // TargetID is set by the wizard
	StartNow bool
}

// ApplyScanInput validates in and applies it to s.
func ApplyScanInput(s *Scan, in ScanInput) error {
	v := NewValidation("scan")
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&s.Name, in.Name)
	set(&s.Comment, in.Comment)
	set(&s.TargetID, in.TargetID)
	set(&s.ProfileID, in.ProfileID)
	set(&s.ScannerID, in.ScannerID)
	set(&s.ScheduleID, in.ScheduleID)
	checkText(v, "name", s.Name, MaxNameLen, true)
	checkText(v, "comment", s.Comment, MaxCommentLen, false)
	switch {
	case s.TargetID == "":
		v.Add("target_id", "can't be blank")
	case !IsUUID(s.TargetID):
		v.Addf("target_id", "must be a UUID, got %q", s.TargetID)
	}
	for field, id := range map[string]string{"config_id": s.ProfileID, "scanner_id": s.ScannerID} {
		if id != "" && !IsUUID(id) {
			v.Addf(field, "must be a UUID, got %q", id)
		}
	}
	if s.ScheduleID != "" && !IsUUID(s.ScheduleID) {
		v.Addf("schedule_id", "must be a UUID, got %q", s.ScheduleID)
	}
	return v.Err()
}

// ScanService manages scans and their runs, scoped to orgID.
type ScanService interface {
	FindScanProfiles(ctx context.Context, orgID string, opts ListOptions) ([]*ScanProfile, int, error)
	FindScans(ctx context.Context, orgID string, opts ListOptions) ([]*Scan, int, error)
	FindScanByID(ctx context.Context, orgID, id string) (*Scan, error)
	CreateScan(ctx context.Context, orgID string, in ScanInput) (*Scan, error)
	// UpdateScan returns EINVALID while a run is active.
	UpdateScan(ctx context.Context, orgID, id string, in ScanInput) (*Scan, error)
	// DeleteScans deletes all or none: EINVALID if one is running.
	DeleteScans(ctx context.Context, orgID string, ids []string) error
	// StartScan creates a run in Requested; EINVALID (with the reason) if
	// one is already active.
	StartScan(ctx context.Context, orgID, id string) (*Run, error)
	// StopScan asks the active run to stop; EINVALID if none is active.
	StopScan(ctx context.Context, orgID, id string) (*Run, error)
	// CreateScanWizard creates a target and a scan on it, and starts it when
	// asked, all in one transaction.
	CreateScanWizard(ctx context.Context, orgID string, in WizardInput) (*Scan, *Run, error)
	FindRuns(ctx context.Context, orgID, scanID string, opts ListOptions) ([]*Run, int, error)
	FindRunByID(ctx context.Context, orgID, scanID, runID string) (*Run, error)
}

// RunConfig is what a run scans, fixed when it is requested: later edits of
// the scan, its target or profile do not change a run, and a node (remote
// ones too) needs nothing else to execute it.
type RunConfig struct {
	Hosts            string `json:"hosts"`
	ExcludeHosts     string `json:"exclude_hosts,omitempty"`
	Ports            string `json:"ports"`
	AliveTest        string `json:"alive_test"`
	ServiceDetection bool   `json:"service_detection"`
	Checks           string `json:"checks"`
	Profile          string `json:"profile"`
	// SSHCredentialID is the target's ssh credential, stored with the run;
	// SSH is that credential decrypted, filled in when a node claims the
	// run and never stored.
	SSHCredentialID string    `json:"ssh_credential_id,omitempty"`
	SSH             *SSHLogin `json:"ssh,omitempty"`
}

// RunProgress is what a node reports while it runs a run.
type RunProgress struct {
	Progress   int
	HostsTotal int
	HostsDone  int
	HostsUp    int
}

// RunQueue is the path every scanner node, in-process or remote, takes to
// work: claim the oldest requested run of a scanner it serves under a lease,
// renew the lease with each heartbeat (which also says whether a stop was
// asked), and finish the run. Runs whose lease runs out are expired by the
// server: a node that died cannot leave a run Running.
type RunQueue interface {
	// ClaimRun moves the oldest Requested or Queued run of a scanner of
	// kind to Running under nodeID, or returns nil when there is none.
	// Replicas may claim at once: each run goes to one node.
	ClaimRun(ctx context.Context, kind, nodeID string, lease time.Duration) (*Run, *RunConfig, error)
	// HeartbeatRun renews the lease and records progress; stop reports a
	// stop request. ECONFLICT when the node no longer holds the run.
	HeartbeatRun(ctx context.Context, runID, nodeID string, p RunProgress, lease time.Duration) (stop bool, err error)
	// FinishRun ends a held run as Done, Stopped, Failed or Interrupted
	// (the node shut down).
	FinishRun(ctx context.Context, runID, nodeID string, status ScanStatus, reason string) error
	// ExpireRuns ends the runs whose lease has run out: Interrupted, or
	// Stopped when a stop had been asked; partial results stay.
	ExpireRuns(ctx context.Context) (int, error)
}
