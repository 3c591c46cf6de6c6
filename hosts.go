package vigil

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"go4.org/netipx"
)

// HostSpec is a parsed target host list: addresses and address ranges (CIDRs and
// dash ranges become ranges) plus hostnames, which are resolved at scan time.
type HostSpec struct {
	Ranges    []netipx.IPRange
	Hostnames []string
}

// ParseHostSpec parses a hosts or exclude_hosts string: entries separated by
// commas and/or whitespace, each an IPv4 or IPv6 address, a CIDR
// ("192.0.2.0/24"), a range ("192.0.2.1-192.0.2.20", or "192.0.2.1-20" for the
// last octet), or a hostname. The error names the first bad token.
func ParseHostSpec(s string) (HostSpec, error) {
	var spec HostSpec
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	}) {
		r, isAddr, err := parseHostToken(tok)
		if err != nil {
			return HostSpec{}, err
		}
		if isAddr {
			spec.Ranges = append(spec.Ranges, r)
		} else {
			spec.Hostnames = append(spec.Hostnames, strings.ToLower(strings.TrimSuffix(tok, ".")))
		}
	}
	return spec, nil
}

func parseHostToken(tok string) (netipx.IPRange, bool, error) {
	if strings.Contains(tok, "/") {
		p, err := netip.ParsePrefix(tok)
		if err != nil {
			return netipx.IPRange{}, false, fmt.Errorf("invalid CIDR %q", tok)
		}
		return netipx.RangeOfPrefix(p.Masked()), true, nil
	}
	if a, err := netip.ParseAddr(tok); err == nil {
		if a.Zone() != "" {
			return netipx.IPRange{}, false, fmt.Errorf("invalid address %q: zones are not allowed", tok)
		}
		return netipx.IPRangeFrom(a, a), true, nil
	}
	if lo, hi, ok := strings.Cut(tok, "-"); ok && looksLikeAddr(lo) {
		from, err := netip.ParseAddr(lo)
		if err != nil {
			return netipx.IPRange{}, false, fmt.Errorf("invalid range %q", tok)
		}
		to, err := netip.ParseAddr(hi)
		if err != nil && from.Is4() {
			// "192.0.2.1-20": the end replaces the last octet.
			n, nerr := strconv.Atoi(hi)
			if nerr != nil || n < 0 || n > 255 {
				return netipx.IPRange{}, false, fmt.Errorf("invalid range %q", tok)
			}
			b := from.As4()
			b[3] = byte(n)
			to, err = netip.AddrFrom4(b), nil
		}
		if err != nil || from.Is4() != to.Is4() {
			return netipx.IPRange{}, false, fmt.Errorf("invalid range %q", tok)
		}
		r := netipx.IPRangeFrom(from, to)
		if !r.IsValid() {
			return netipx.IPRange{}, false, fmt.Errorf("invalid range %q: start is after end", tok)
		}
		return r, true, nil
	}
	if !validHostname(tok) {
		return netipx.IPRange{}, false, fmt.Errorf("invalid host %q", tok)
	}
	return netipx.IPRange{}, false, nil
}

// looksLikeAddr tells a range ("192.0.2.1-20", "2001:db8::1-2001:db8::9") from a
// hostname with a dash ("web-1.example.com").
func looksLikeAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// validHostname checks RFC 1123 host names: dot-separated labels of letters,
// digits and inner hyphens, 1-63 characters each, 253 in all, not all-numeric
// (so a mistyped address like 300.1.1.1 is not taken for a name).
func validHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	allDigits := true
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
				allDigits = false
			case c >= '0' && c <= '9':
			default:
				return false
			}
		}
	}
	return !allDigits
}

// AddressSet is the spec's addresses minus exclude's, merged (an address
// listed twice is in it once).
func (spec HostSpec) AddressSet(exclude HostSpec) *netipx.IPSet {
	var b netipx.IPSetBuilder
	for _, r := range spec.Ranges {
		b.AddRange(r)
	}
	for _, r := range exclude.Ranges {
		b.RemoveRange(r)
	}
	set, _ := b.IPSet()
	return set
}

// Count returns the number of distinct hosts in spec after removing exclude:
// addresses in the ranges plus hostnames not excluded by name. It saturates at
// math.MaxInt64 (a /64 of IPv6 would overflow).
func (spec HostSpec) Count(exclude HostSpec) int64 {
	var n int64
	for _, r := range spec.AddressSet(exclude).Ranges() {
		n = addSat(n, rangeSize(r))
	}
	excluded := map[string]bool{}
	for _, h := range exclude.Hostnames {
		excluded[h] = true
	}
	seen := map[string]bool{}
	for _, h := range spec.Hostnames {
		if !excluded[h] && !seen[h] {
			seen[h] = true
			n = addSat(n, 1)
		}
	}
	return n
}

func rangeSize(r netipx.IPRange) int64 {
	from, to := r.From().As16(), r.To().As16()
	// Any difference above the low 8 bytes is far beyond int64.
	for i := 0; i < 8; i++ {
		if from[i] != to[i] {
			return math.MaxInt64
		}
	}
	var lo, hi uint64
	for i := 8; i < 16; i++ {
		lo = lo<<8 | uint64(from[i])
		hi = hi<<8 | uint64(to[i])
	}
	d := hi - lo
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(d) + 1
}

func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
