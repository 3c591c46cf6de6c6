package vigil

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Protocol is a transport protocol of a port range.
type Protocol string

// Protocols.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// PortRange is an inclusive range of ports of one protocol.
type PortRange struct {
	ID       string   `json:"id,omitempty" format:"uuid" doc:"Range id (set on ranges stored in a port list)"`
	Start    int      `json:"start" minimum:"1" maximum:"65535" example:"1"`
	End      int      `json:"end" minimum:"1" maximum:"65535" example:"1024"`
	Protocol Protocol `json:"protocol" enum:"tcp,udp" example:"tcp"`
}

// Count is the number of ports in r.
func (r PortRange) Count() int { return r.End - r.Start + 1 }

// String is the nmap-style form: "T:1-1024", "U:53".
func (r PortRange) String() string {
	p := "T"
	if r.Protocol == UDP {
		p = "U"
	}
	if r.Start == r.End {
		return fmt.Sprintf("%s:%d", p, r.Start)
	}
	return fmt.Sprintf("%s:%d-%d", p, r.Start, r.End)
}

// ParsePortRanges parses a port selection: comma-separated ports and ranges,
// each optionally prefixed "T:" or "U:"; a prefix applies to the entries that
// follow it until the next prefix ("T:1-1024,8080,U:53,161"). Entries without
// a prefix are TCP.
func ParsePortRanges(s string) ([]PortRange, error) {
	var out []PortRange
	proto := TCP
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		switch {
		case strings.HasPrefix(tok, "T:") || strings.HasPrefix(tok, "t:"):
			proto, tok = TCP, tok[2:]
		case strings.HasPrefix(tok, "U:") || strings.HasPrefix(tok, "u:"):
			proto, tok = UDP, tok[2:]
		}
		lo, hi, isRange := strings.Cut(tok, "-")
		start, err1 := strconv.Atoi(lo)
		end, err2 := start, error(nil)
		if isRange {
			end, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("invalid port or range %q", tok)
		}
		r := PortRange{Start: start, End: end, Protocol: proto}
		if err := r.Validate(); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Validate checks 1 <= start <= end <= 65535 and the protocol.
func (r PortRange) Validate() error {
	if r.Protocol != TCP && r.Protocol != UDP {
		return fmt.Errorf("protocol must be tcp or udp, got %q", r.Protocol)
	}
	if r.Start < 1 || r.Start > 65535 || r.End < 1 || r.End > 65535 {
		return fmt.Errorf("ports must be between 1 and 65535, got %d-%d", r.Start, r.End)
	}
	if r.Start > r.End {
		return fmt.Errorf("range start %d is after end %d", r.Start, r.End)
	}
	return nil
}

// SortPortRanges orders ranges TCP first, then by start port.
func SortPortRanges(rs []PortRange) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Protocol != rs[j].Protocol {
			return rs[i].Protocol == TCP
		}
		return rs[i].Start < rs[j].Start
	})
}

// CheckPortRangeOverlap returns an error naming the first pair of ranges of the
// same protocol that share a port. A port list must not count a port twice.
func CheckPortRangeOverlap(rs []PortRange) error {
	sorted := append([]PortRange(nil), rs...)
	SortPortRanges(sorted)
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if a.Protocol == b.Protocol && b.Start <= a.End {
			return fmt.Errorf("range %s overlaps %s", b, a)
		}
	}
	return nil
}

// FormatPortRanges renders ranges in the compact "T:1-1024,8080,U:53" form, the
// prefix written only when the protocol changes.
func FormatPortRanges(rs []PortRange) string {
	sorted := append([]PortRange(nil), rs...)
	SortPortRanges(sorted)
	var b strings.Builder
	var last Protocol
	for i, r := range sorted {
		if i > 0 {
			b.WriteByte(',')
		}
		if r.Protocol != last {
			if r.Protocol == UDP {
				b.WriteString("U:")
			} else {
				b.WriteString("T:")
			}
			last = r.Protocol
		}
		if r.Start == r.End {
			b.WriteString(strconv.Itoa(r.Start))
		} else {
			fmt.Fprintf(&b, "%d-%d", r.Start, r.End)
		}
	}
	return b.String()
}

// CountPorts returns the number of TCP and UDP ports in rs (ranges must not overlap).
func CountPorts(rs []PortRange) (tcp, udp int) {
	for _, r := range rs {
		if r.Protocol == UDP {
			udp += r.Count()
		} else {
			tcp += r.Count()
		}
	}
	return tcp, udp
}

// MergePorts turns a list of single ports into the fewest ranges.
func MergePorts(proto Protocol, ports []int) []PortRange {
	ps := append([]int(nil), ports...)
	sort.Ints(ps)
	var out []PortRange
	for _, p := range ps {
		if n := len(out); n > 0 && p <= out[n-1].End+1 {
			if p > out[n-1].End {
				out[n-1].End = p
			}
			continue
		}
		out = append(out, PortRange{Start: p, End: p, Protocol: proto})
	}
	return out
}
