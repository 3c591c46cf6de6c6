package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// CheckCVE is the check id of CVE findings; the CVE id completes their
// dedup key.
const (
	CheckCVE        = "vigil.cve"
	CheckPackageCVE = "vigil.package-cve"
	familyCVE       = "CVE matching"
)

// matchService matches a detected product version against the CVE data.
func (r *Runner) matchService(ctx context.Context, addr netip.Addr, ps scan.PortService) []vigil.FindingResult {
	svc := ps.Service
	if svc == nil || svc.Product == "" || svc.Version == "" {
		return nil
	}
	ms, err := vulnmatch.MatchBanner(ctx, r.Intel, svc.Product, svc.Version, svc.Banner+" "+svc.ExtraInfo)
	if err != nil {
		if r.OnError != nil {
			r.OnError(addr, ps.Port, CheckCVE, err)
		}
		return nil
	}
	out := make([]vigil.FindingResult, 0, len(ms))
	for _, m := range ms {
		f := MatchFinding(m, CheckCVE)
		f.Port, f.Protocol = ps.Port, ps.Protocol
		f.Evidence = fmt.Sprintf("%d/%s: %s %s (%s)", ps.Port, ps.Protocol, svc.Product, svc.Version, strings.TrimSpace(svc.Banner))
		out = append(out, f)
	}
	return out
}

// MatchFinding turns a CVE match into a finding. A match below the display
// threshold is a possible backport false positive: it is reported at Log
// severity, so it counts towards no severity class or PCI result, with the
// CVE's own score in its description.
func MatchFinding(m vulnmatch.Match, checkID string) vigil.FindingResult {
	c := m.CVE
	what := m.Product
	if m.Package != "" {
		what = m.Package
	}
	f := vigil.FindingResult{CheckID: checkID, CVE: c.ID, Family: familyCVE, Severity: c.Score, CVSSVector: c.Vector,
		QoD: m.Confidence, KEV: c.KEV, EPSS: c.EPSS}
	f.Name = fmt.Sprintf("%s: %s", what, c.ID)
	var desc strings.Builder
	desc.WriteString(firstNonEmpty(c.Description, "No description in the imported data."))
	fmt.Fprintf(&desc, "\n\nVerdict: %s, for %s %s. Basis: %s.", m.Verdict, what, m.Installed, m.Basis)
	if c.Score > 0 {
		fmt.Fprintf(&desc, " CVSS %s %.1f (%s).", c.CVSSVersion, c.Score, c.Vector)
	} else {
		desc.WriteString(" NVD has not scored it yet.")
	}
	if c.KEV {
		desc.WriteString(" Listed in CISA's Known Exploited Vulnerabilities catalog.")
	}
	if c.EPSS > 0 {
		fmt.Fprintf(&desc, " EPSS %.5f (percentile %.3f).", c.EPSS, c.EPSSPercentile)
	}
	if m.Confidence < vulnmatch.DisplayThreshold {
		f.Name = "Possible " + f.Name + " (unconfirmed: distribution backports)"
		f.Severity = 0
		desc.WriteString("\n\nThe version seen is a distribution build without tracker data: its maintainers may have fixed this by backport. " +
			"Reported at Log severity below the display threshold; an authenticated scan decides.")
	}
	f.Description = desc.String()
	switch {
	case m.Verdict.FixedIn != "":
		f.Solution = fmt.Sprintf("Upgrade %s to %s or later.", what, m.Verdict.FixedIn)
	case m.Verdict.State == vulnmatch.Vulnerable && m.Package != "":
		f.Solution = fmt.Sprintf("No fixed %s package in %s yet (%s); apply the vendor's mitigation or watch the tracker.", m.Package,
			m.Verdict.Release, m.Verdict.Note)
	default:
		f.Solution = fmt.Sprintf("Upgrade %s to a version outside the affected ranges.", what)
	}
	return f
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
