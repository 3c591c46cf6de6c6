package vulnmatch

import (
	"fmt"
	"strings"
)

// CPE is a CPE 2.3 name. Attributes hold their bound values: "*" is ANY,
// "-" is NA (not applicable); escapes are removed and values are lower case.
type CPE struct {
	Part, Vendor, Product, Version, Update, Edition, Language string
	SWEdition, TargetSW, TargetHW, Other                      string
}

// ParseCPE parses a CPE 2.3 formatted string ("cpe:2.3:a:openbsd:openssh:9.2:p1:*:*:*:*:*:*").
// Missing trailing attributes are ANY.
func ParseCPE(s string) (CPE, error) {
	rest, ok := strings.CutPrefix(s, "cpe:2.3:")
	if !ok {
		return CPE{}, fmt.Errorf("CPE %q: not a CPE 2.3 formatted string", s)
	}
	var fields []string
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; c {
		case '\\':
			if i+1 < len(rest) {
				i++
				b.WriteByte(rest[i])
			}
		case ':':
			fields = append(fields, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	fields = append(fields, b.String())
	if len(fields) > 11 || len(fields) < 3 {
		return CPE{}, fmt.Errorf("CPE %q: %d attributes, want 11", s, len(fields))
	}
	for len(fields) < 11 {
		fields = append(fields, "*")
	}
	for i, f := range fields {
		if f == "" {
			f = "*"
		}
		fields[i] = strings.ToLower(f)
	}
	c := CPE{fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], fields[8], fields[9], fields[10]}
	if c.Part != "a" && c.Part != "o" && c.Part != "h" && c.Part != "*" {
		return CPE{}, fmt.Errorf("CPE %q: part must be a, o or h", s)
	}
	return c, nil
}

func (c CPE) attrs() [11]string {
	return [11]string{c.Part, c.Vendor, c.Product, c.Version, c.Update, c.Edition, c.Language, c.SWEdition, c.TargetSW, c.TargetHW, c.Other}
}

// matchAttr: ANY in the pattern matches every value, NA only NA; otherwise
// the values are equal, or the pattern's '*' and '?' wildcards match.
func matchAttr(pattern, value string) bool {
	switch pattern {
	case "*":
		return true
	case "-":
		return value == "-"
	}
	if value == "*" {
		// The instance does not know this attribute: only ANY can be sure.
		return false
	}
	return wildcardMatch(pattern, value)
}

// wildcardMatch matches CPE wildcards: '*' any run, '?' one character.
func wildcardMatch(p, v string) bool {
	if !strings.ContainsAny(p, "*?") {
		return p == v
	}
	if p == "" {
		return v == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(v); i++ {
			if wildcardMatch(p[1:], v[i:]) {
				return true
			}
		}
		return false
	case '?':
		return v != "" && wildcardMatch(p[1:], v[1:])
	}
	return v != "" && p[0] == v[0] && wildcardMatch(p[1:], v[1:])
}
