package vulnmatch

import (
	"strings"
)

// Configuration is an NVD applicability statement (CVE API 2.0
// "configurations"): its nodes joined by Operator (OR unless "AND").
type Configuration struct {
	Operator string `json:"operator,omitempty"`
	Negate   bool   `json:"negate,omitempty"`
	Nodes    []Node `json:"nodes"`
}

// Node is a set of CPE match criteria joined by Operator.
type Node struct {
	Operator string     `json:"operator"`
	Negate   bool       `json:"negate,omitempty"`
	CPEMatch []CPEMatch `json:"cpeMatch"`
}

// CPEMatch is one criterion: a CPE pattern and an optional version range.
// Vulnerable false marks a platform condition ("running on"), not a flaw.
type CPEMatch struct {
	Vulnerable            bool   `json:"vulnerable"`
	Criteria              string `json:"criteria"`
	MatchCriteriaID       string `json:"matchCriteriaId,omitempty"`
	VersionStartIncluding string `json:"versionStartIncluding,omitempty"`
	VersionStartExcluding string `json:"versionStartExcluding,omitempty"`
	VersionEndIncluding   string `json:"versionEndIncluding,omitempty"`
	VersionEndExcluding   string `json:"versionEndExcluding,omitempty"`
}

func (m CPEMatch) hasRange() bool {
	return m.VersionStartIncluding != "" || m.VersionStartExcluding != "" || m.VersionEndIncluding != "" || m.VersionEndExcluding != ""
}

// matches reports whether the criterion covers the instance x.
func (m CPEMatch) matches(x CPE) bool {
	p, err := ParseCPE(m.Criteria)
	if err != nil {
		return false
	}
	pa, xa := p.attrs(), x.attrs()
	for i := range pa {
		if i == 3 && m.hasRange() && pa[i] == "*" {
			continue // the range decides on the version
		}
		if !matchAttr(pa[i], xa[i]) {
			return false
		}
	}
	if !m.hasRange() {
		return true
	}
	if x.Version == "*" || x.Version == "-" {
		return false
	}
	v := x.Version
	if x.Update != "*" && x.Update != "-" {
		v += x.Update // OpenSSH 9.2 update p1 compares as 9.2p1
	}
	switch {
	case m.VersionStartIncluding != "" && CompareVersions(v, m.VersionStartIncluding) < 0,
		m.VersionStartExcluding != "" && CompareVersions(v, m.VersionStartExcluding) <= 0,
		m.VersionEndIncluding != "" && CompareVersions(v, m.VersionEndIncluding) > 0,
		m.VersionEndExcluding != "" && CompareVersions(v, m.VersionEndExcluding) >= 0:
		return false
	}
	return true
}

// NVDVerdict applies a CVE's configurations to an application (app) running
// on platforms (e.g. cpe:2.3:o:debian:debian_linux:12). It is Vulnerable when
// a configuration holds and one of its vulnerable criteria covers app;
// NotAssessed without configurations (NVD has not analysed the CVE, which is
// not the same as safe); NotListed when no criterion names app's product.
func NVDVerdict(configs []Configuration, app CPE, platforms ...CPE) Verdict {
	if len(configs) == 0 {
		return Verdict{State: NotAssessed}
	}
	instance := append([]CPE{app}, platforms...)
	listed := false
	for _, c := range configs {
		for _, n := range c.Nodes {
			for _, m := range n.CPEMatch {
				if p, err := ParseCPE(m.Criteria); err == nil && p.Vendor == app.Vendor && p.Product == app.Product {
					listed = true
				}
			}
		}
		if c.holds(instance) && c.flags(app) {
			return Verdict{State: Vulnerable}
		}
	}
	if !listed {
		return Verdict{State: NotListed}
	}
	return Verdict{State: NotVulnerable}
}

// holds evaluates the configuration's nodes against the instance's CPEs.
func (c Configuration) holds(instance []CPE) bool {
	and := strings.EqualFold(c.Operator, "AND")
	result := and
	for _, n := range c.Nodes {
		h := n.holds(instance)
		if and && !h {
			result = false
			break
		}
		if !and && h {
			result = true
			break
		}
	}
	return result != c.Negate
}

func (n Node) holds(instance []CPE) bool {
	and := strings.EqualFold(n.Operator, "AND")
	result := and
	for _, m := range n.CPEMatch {
		h := false
		for _, x := range instance {
			if m.matches(x) {
				h = true
				break
			}
		}
		if and && !h {
			result = false
			break
		}
		if !and && h {
			result = true
			break
		}
	}
	return result != n.Negate
}

// flags reports whether a vulnerable criterion of c covers app (a
// configuration can hold through its platform criteria alone).
func (c Configuration) flags(app CPE) bool {
	for _, n := range c.Nodes {
		for _, m := range n.CPEMatch {
			if m.Vulnerable && m.matches(app) {
				return true
			}
		}
	}
	return false
}

// CompareVersions orders upstream version strings as NVD ranges need:
// runs of digits compare as numbers, runs of letters as text, separators
// (. - _ +) only split; a version that is a prefix of another sorts first
// ("9.3" < "9.3p2").
func CompareVersions(a, b string) int {
	ta, tb := versionTokens(a), versionTokens(b)
	for i := 0; i < len(ta) && i < len(tb); i++ {
		x, y := ta[i], tb[i]
		xd, yd := isDigit(rune(x[0])), isDigit(rune(y[0]))
		switch {
		case xd && yd:
			x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
			if len(x) != len(y) {
				return sign(len(x) - len(y))
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		case xd != yd:
			// A number sorts after letters: 1.0 > 1.rc
			if xd {
				return 1
			}
			return -1
		default:
			if c := strings.Compare(strings.ToLower(x), strings.ToLower(y)); c != 0 {
				return c
			}
		}
	}
	return sign(len(ta) - len(tb))
}

func versionTokens(s string) []string {
	var out []string
	start := -1
	kind := 0 // 1 digits, 2 letters
	flush := func(i int) {
		if start >= 0 {
			out = append(out, s[start:i])
		}
		start, kind = -1, 0
	}
	for i := 0; i < len(s); i++ {
		c := rune(s[i])
		k := 0
		switch {
		case isDigit(c):
			k = 1
		case isAlpha(c):
			k = 2
		}
		if k != kind {
			flush(i)
			if k != 0 {
				start, kind = i, k
			}
		}
	}
	flush(len(s))
	return out
}
