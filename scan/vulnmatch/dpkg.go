// Package vulnmatch decides whether a product version is affected by a
// vulnerability: CPE names matched against NVD configurations, and Debian
// package versions judged by the Debian Security Tracker, whose verdict wins
// where Debian fixed a flaw by backport. It is pure: no I/O, no clock.
package vulnmatch

import (
	"fmt"
	"strconv"
	"strings"
)

// DebVersion is a Debian package version: [epoch:]upstream[-revision].
type DebVersion struct {
	Epoch    int
	Upstream string
	Revision string
}

// ParseDebVersion parses a version as dpkg does: the epoch is the digits
// before the first colon, the revision follows the last hyphen. Like dpkg, it
// refuses only what cannot be compared (an empty part, a bad epoch, spaces).
func ParseDebVersion(s string) (DebVersion, error) {
	s = strings.TrimSpace(s)
	var v DebVersion
	if s == "" {
		return v, fmt.Errorf("empty version")
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		e, err := strconv.Atoi(s[:i])
		if err != nil || e < 0 {
			return v, fmt.Errorf("version %q: epoch is not a number", s)
		}
		v.Epoch, s = e, s[i+1:]
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.Revision, s = s[i+1:], s[:i]
		if v.Revision == "" {
			return v, fmt.Errorf("version %q: empty revision", s)
		}
	}
	if s == "" {
		return v, fmt.Errorf("version %q: empty upstream part", s)
	}
	// note: like dpkg, an upstream part that does not start with a digit or
	// holds odd characters is only suspicious: it still compares.
	if strings.ContainsAny(s, " \t\n") {
		return v, fmt.Errorf("version %q: embedded space", s)
	}
	v.Upstream = s
	return v, nil
}

func (v DebVersion) String() string {
	var b strings.Builder
	if v.Epoch > 0 {
		b.WriteString(strconv.Itoa(v.Epoch))
		b.WriteByte(':')
	}
	b.WriteString(v.Upstream)
	if v.Revision != "" {
		b.WriteByte('-')
		b.WriteString(v.Revision)
	}
	return b.String()
}

// Compare orders v and w as `dpkg --compare-versions`: -1, 0 or 1.
func (v DebVersion) Compare(w DebVersion) int {
	switch {
	case v.Epoch < w.Epoch:
		return -1
	case v.Epoch > w.Epoch:
		return 1
	}
	if c := verrevcmp(v.Upstream, w.Upstream); c != 0 {
		return c
	}
	return verrevcmp(v.Revision, w.Revision)
}

// CompareDebVersions compares two version strings; an unparsable one is an
// error rather than a guess.
func CompareDebVersions(a, b string) (int, error) {
	va, err := ParseDebVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := ParseDebVersion(b)
	if err != nil {
		return 0, err
	}
	return va.Compare(vb), nil
}

// verrevcmp is dpkg's comparison of upstream versions and revisions:
// alternating runs of non-digits (compared by order, where '~' sorts before
// everything, even the end) and digits (compared as numbers).
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isDigit(rune(a[i])) || j < len(b) && !isDigit(rune(b[j])) {
			ac, bc := order(a, i), order(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i, j = i+1, j+1
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(rune(a[i])) && j < len(b) && isDigit(rune(b[j])) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i, j = i+1, j+1
		}
		if i < len(a) && isDigit(rune(a[i])) {
			return 1
		}
		if j < len(b) && isDigit(rune(b[j])) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

// order is the weight of s[i] in a non-digit run; past the end it is 0.
func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := rune(s[i])
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

func isDigit(c rune) bool { return c >= '0' && c <= '9' }
func isAlpha(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
