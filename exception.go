package vigil

import (
	"context"
	"net/netip"
	"strings"
	"time"
)

// ExceptionStatus is where an exception (a GVM override: a false-positive or
// accepted-risk request) stands. Only an active one changes findings.
type ExceptionStatus string

// Exception states: pending → active → expired, or pending → rejected.
// Reset returns an active, expired or rejected exception to pending.
const (
	ExceptionPending  ExceptionStatus = "pending"
	ExceptionActive   ExceptionStatus = "active"
	ExceptionExpired  ExceptionStatus = "expired"
	ExceptionRejected ExceptionStatus = "rejected"
)

// FalsePositive is the new_severity of a false positive (GVM's -1). Such a
// finding leaves every count and never fails PCI.
const FalsePositive = -1.0

// Exception overrides the severity of one check's findings: on the listed
// hosts (any when empty), on one port (any when nil), in one scan (any when
// empty). While active, matching findings show NewSeverity; their original
// score is kept.
type Exception struct {
	ID             string
	OrganizationID string
	OwnerID        string
	Text           string
	NVT            string // the check id (GVM "nvt"), or a CVE id a finding carries
	Hosts          string // comma-separated addresses or CIDRs
	Port           *int
	ScanID         string
	NewSeverity    float64
	Reason         string
	Status         ExceptionStatus
	EndDate        *time.Time // an active exception expires then
	ReviewerID     string     // who activated or rejected it
	ReviewedAt     *time.Time
	Findings       int // findings it currently applies to
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Active reports whether e is in force.
func (e *Exception) Active() bool { return e.Status == ExceptionActive }

// Prefixes parses Hosts (already validated) into address ranges.
func (e *Exception) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, h := range strings.Split(e.Hosts, ",") {
		if p, ok := parseHostPrefix(strings.TrimSpace(h)); ok {
			out = append(out, p)
		}
	}
	return out
}

// Matches reports whether e applies to f (status aside).
func (e *Exception) Matches(f *FindingResult, scanID string) bool {
	if e.NVT != f.CheckID && (f.CVE == "" || e.NVT != f.CVE) {
		return false
	}
	if e.ScanID != "" && e.ScanID != scanID {
		return false
	}
	if e.Port != nil && *e.Port != f.Port {
		return false
	}
	if strings.TrimSpace(e.Hosts) == "" {
		return true
	}
	for _, p := range e.Prefixes() {
		if p.Contains(f.Address.Unmap()) {
			return true
		}
	}
	return false
}

func parseHostPrefix(s string) (netip.Prefix, bool) {
	if s == "" {
		return netip.Prefix{}, false
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// ExceptionInput is a create or partial update; EndDate's Set says whether
// it was given (a null end date clears it).
type ExceptionInput struct {
	Text        *string
	NVT         *string
	Hosts       *string
	Port        *int // -1 clears
	ScanID      *string
	NewSeverity *float64
	Reason      *string
	EndDate     *time.Time
	EndDateSet  bool
}

// Exception field limits.
const (
	MaxExceptionText  = 1000
	MaxExceptionHosts = 100 // addresses or CIDRs in hosts
)

// ApplyExceptionInput validates in and applies it to e; now bounds the end
// date (it must lie ahead).
func ApplyExceptionInput(e *Exception, in ExceptionInput, now time.Time) error {
	v := NewValidation("exception")
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&e.Text, in.Text)
	set(&e.NVT, in.NVT)
	set(&e.Hosts, in.Hosts)
	set(&e.ScanID, in.ScanID)
	set(&e.Reason, in.Reason)
	if in.Port != nil {
		if *in.Port < 0 {
			e.Port = nil
		} else {
			p := *in.Port
			e.Port = &p
		}
	}
	if in.NewSeverity != nil {
		e.NewSeverity = *in.NewSeverity
	}
	if in.EndDateSet {
		e.EndDate = in.EndDate
	}
	checkText(v, "text", e.Text, MaxExceptionText, true)
	checkText(v, "nvt", e.NVT, 255, true)
	checkText(v, "reason", e.Reason, MaxExceptionText, false)
	if e.Hosts != "" {
		parts := strings.Split(e.Hosts, ",")
		if len(parts) > MaxExceptionHosts {
			v.Addf("hosts", "at most %d addresses or CIDRs", MaxExceptionHosts)
		}
		clean := make([]string, 0, len(parts))
		for _, h := range parts {
			h = strings.TrimSpace(h)
			if h == "" {
				continue
			}
			if _, ok := parseHostPrefix(h); !ok {
				v.Addf("hosts", "must be comma-separated IP addresses or CIDRs; %q is neither", h)
				break
			}
			clean = append(clean, h)
		}
		e.Hosts = strings.Join(clean, ",")
	}
	if e.Port != nil && *e.Port > 65535 {
		v.Addf("port", "must be 0-65535 (0: the host itself), got %d", *e.Port)
	}
	if e.ScanID != "" && !IsUUID(e.ScanID) {
		v.Addf("scan", "must be a UUID, got %q", e.ScanID)
	}
	if e.NewSeverity != FalsePositive && (e.NewSeverity < 0 || e.NewSeverity > 10) {
		v.Addf("new_severity", "must be -1 (false positive) or 0-10, got %g", e.NewSeverity)
	}
	if in.EndDateSet && e.EndDate != nil && !e.EndDate.After(now) {
		v.Add("end_date", "must lie in the future")
	}
	return v.Err()
}

// ExceptionReview is a reviewer's decision on exceptions. Activation gives
// EndDate to those without one, or to all when ReplaceEnd.
type ExceptionReview struct {
	Status     ExceptionStatus
	ReviewerID string
	EndDate    *time.Time
	ReplaceEnd bool
}

// ExceptionStats counts an organization's exceptions.
type ExceptionStats struct {
	ByStatus   map[ExceptionStatus]int
	BySeverity map[string]int // active exceptions by new severity class (false_positive, log, low, medium, high)
	Findings   int            // findings active exceptions apply to
}

// ExceptionList is the allow-list of GET /v2/exceptions.
var ExceptionList = ListSpec{
	Filters: map[string]FilterKind{"text": FilterText, "nvt": FilterExact, "status": FilterExact, "scan_id": FilterExact,
		"hosts": FilterText, "id": FilterExact, "owner_id": FilterExact},
	Sorts:       []string{"created_at", "updated_at", "end_date", "status", "new_severity", "text"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}

// ExceptionService stores exceptions and applies the active ones to
// findings, scoped to orgID.
type ExceptionService interface {
	FindExceptions(ctx context.Context, orgID string, opts ListOptions) ([]*Exception, int, error)
	FindExceptionByID(ctx context.Context, orgID, id string) (*Exception, error)
	CreateException(ctx context.Context, orgID, ownerID string, in ExceptionInput) (*Exception, error)
	// UpdateException changes e; an active exception whose scope or severity
	// changes goes back to pending unless keepActive (an approver edits it).
	UpdateException(ctx context.Context, orgID, id string, in ExceptionInput, keepActive bool) (*Exception, error)
	DeleteExceptions(ctx context.Context, orgID string, ids []string) error
	// ReviewExceptions activates, rejects or resets ids (all or none); the
	// findings they touch are recomputed in the same transaction.
	ReviewExceptions(ctx context.Context, orgID string, ids []string, r ExceptionReview) ([]*Exception, error)
	// ExceptionFindings lists the findings e applies to (or would, pending).
	ExceptionFindings(ctx context.Context, orgID, id string, opts ListOptions) ([]*Finding, int, error)
	ExceptionStatistics(ctx context.Context, orgID string) (*ExceptionStats, error)
	// ExpireExceptions ends the active exceptions whose end date passed
	// and returns how many.
	ExpireExceptions(ctx context.Context) (int, error)
}
