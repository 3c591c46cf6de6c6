package scan

import (
	"fmt"
	"net/netip"
	"strings"
)

// Scope is the scope guard: the only addresses a scan may send packets to.
// The zero Scope allows everything; the engine checks it before any probe.
type Scope struct {
	prefixes []netip.Prefix
}

// ParseScope parses a comma- or space-separated list of CIDRs and addresses
// (the VIGIL_SCAN_ALLOW format). An empty string allows everything.
func ParseScope(s string) (Scope, error) {
	var sc Scope
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if !strings.Contains(tok, "/") {
			a, err := netip.ParseAddr(tok)
			if err != nil {
				return Scope{}, fmt.Errorf("scope: invalid address %q", tok)
			}
			sc.prefixes = append(sc.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(tok)
		if err != nil {
			return Scope{}, fmt.Errorf("scope: invalid CIDR %q", tok)
		}
		sc.prefixes = append(sc.prefixes, p.Masked())
	}
	return sc, nil
}

// Restricted reports whether the scope limits anything.
func (s Scope) Restricted() bool { return len(s.prefixes) > 0 }

// Allows reports whether a may be probed.
func (s Scope) Allows(a netip.Addr) bool {
	if len(s.prefixes) == 0 {
		return true
	}
	a = a.Unmap()
	for _, p := range s.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s Scope) String() string {
	if len(s.prefixes) == 0 {
		return "any"
	}
	parts := make([]string, len(s.prefixes))
	for i, p := range s.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
