package vulnmatch

import (
	"fmt"
)

// TrackerRelease is the Debian Security Tracker's view of one (source
// package, CVE) pair in one release, as its JSON dump spells it.
type TrackerRelease struct {
	Status       string            `json:"status"` // resolved, open, undetermined
	FixedVersion string            `json:"fixed_version,omitempty"`
	Urgency      string            `json:"urgency,omitempty"`
	NoDSA        string            `json:"nodsa,omitempty"`
	NoDSAReason  string            `json:"nodsa_reason,omitempty"` // postponed, ignored
	Repositories map[string]string `json:"repositories,omitempty"`
}

// VerdictState is the outcome of a match.
type VerdictState string

const (
	Vulnerable    VerdictState = "vulnerable"
	Fixed         VerdictState = "fixed"          // a fix is installed (upstream or backported)
	NotAffected   VerdictState = "not-affected"   // the distribution's build never had the flaw
	NotVulnerable VerdictState = "not-vulnerable" // outside every affected version range
	NotAssessed   VerdictState = "not-assessed"   // no data to decide on (no NVD configuration yet)
	NotListed     VerdictState = "not-listed"     // the data does not name this product
)

// Verdict says whether a version is affected, and why.
type Verdict struct {
	State   VerdictState
	FixedIn string // the version that fixes it, when one exists
	Release string // Debian release of a tracker verdict
	Note    string // for an unfixed flaw: the tracker's urgency or no-DSA reason
}

// String is the verdict in the words of the sample's expected-verdicts.tsv:
// "fixed", "not-affected", "vulnerable(fixed in V)", "vulnerable(no fix in
// bookworm: postponed)".
func (v Verdict) String() string {
	if v.State != Vulnerable {
		return string(v.State)
	}
	if v.FixedIn != "" {
		return fmt.Sprintf("vulnerable(fixed in %s)", v.FixedIn)
	}
	return fmt.Sprintf("vulnerable(no fix in %s: %s)", v.Release, v.Note)
}

// DebianVerdict judges an installed source-package version by the tracker:
// resolved with fixed version "0" means Debian's package never had the flaw;
// resolved means vulnerable only below the fixed version (which may be a
// backport, lower than the upstream fix); open or undetermined means no fix
// in the release yet.
func DebianVerdict(release string, r TrackerRelease, installed string) (Verdict, error) {
	v := Verdict{Release: release}
	switch r.Status {
	case "resolved":
		if r.FixedVersion == "0" {
			v.State = NotAffected
			return v, nil
		}
		c, err := CompareDebVersions(installed, r.FixedVersion)
		if err != nil {
			return v, err
		}
		if c < 0 {
			v.State, v.FixedIn = Vulnerable, r.FixedVersion
		} else {
			v.State = Fixed
		}
		return v, nil
	case "open", "undetermined":
		if _, err := ParseDebVersion(installed); err != nil {
			return v, err
		}
		v.State, v.Note = Vulnerable, r.NoDSAReason
		if v.Note == "" {
			v.Note = r.Urgency
		}
		if v.Note == "" {
			v.Note = r.Status
		}
		return v, nil
	}
	return v, fmt.Errorf("tracker status %q is not resolved, open or undetermined", r.Status)
}

// TrackerEntry is one (source package, CVE, release) row of the tracker.
type TrackerEntry struct {
	Source      string `json:"source"` // Debian source package
	CVE         string `json:"cve"`    // CVE id (or the tracker's TEMP- id)
	Release     string `json:"release"`
	Description string `json:"description,omitempty"`
	DebianBug   int    `json:"debianbug,omitempty"`
	TrackerRelease
}
