package vigil

import (
	"math"
	"strings"
	"testing"
)

func TestParseHostSpecCount(t *testing.T) {
	tests := []struct {
		hosts, exclude string
		want           int64
	}{
		{"192.0.2.1", "", 1},
		{"192.0.2.0/24", "", 256},
		{"192.0.2.0/24", "192.0.2.5", 255},
		{"192.0.2.0/24", "192.0.2.0/25", 128},
		{"192.0.2.1-192.0.2.20", "", 20},
		{"192.0.2.1-20", "192.0.2.10-20", 9},
		{"192.0.2.1, 192.0.2.1 192.0.2.1", "", 1}, // duplicates count once
		{"192.0.2.0/30\n198.51.100.7;203.0.113.9", "", 6},
		{"2001:db8::/120", "", 256},
		{"2001:db8::1-2001:db8::a", "2001:db8::5", 9},
		{"::1", "", 1},
		{"www.example.com, mail.example.com", "mail.example.com", 1},
		{"WWW.Example.com www.example.com.", "", 1},
		{"web-1.example.com", "", 1},
		{"192.0.2.0/24", "192.0.2.0/24", 0},
		{"2001:db8::/32", "", math.MaxInt64},
	}
	for _, tt := range tests {
		hosts, err := ParseHostSpec(tt.hosts)
		if err != nil {
			t.Fatalf("ParseHostSpec(%q): %v", tt.hosts, err)
		}
		exclude, err := ParseHostSpec(tt.exclude)
		if err != nil {
			t.Fatalf("ParseHostSpec(%q): %v", tt.exclude, err)
		}
		if got := hosts.Count(exclude); got != tt.want {
			t.Errorf("Count(%q - %q) = %d, want %d", tt.hosts, tt.exclude, got, tt.want)
		}
	}
}

func TestParseHostSpecErrors(t *testing.T) {
	for _, tok := range []string{"300.1.1.1", "192.0.2.0/33", "192.0.2.9-192.0.2.1", "192.0.2.1-300", "a_b!", "-bad.example.com",
		"fe80::1%eth0", "192.0.2.1-2001:db8::1", strings.Repeat("a", 64) + ".com", "1.2.3", "exa mple"} {
		_, err := ParseHostSpec("192.0.2.1, " + tok)
		if err == nil {
			// "exa mple" splits into two valid names: that one must pass.
			if tok == "exa mple" {
				continue
			}
			t.Errorf("ParseHostSpec(%q) = nil error", tok)
			continue
		}
		if !strings.Contains(err.Error(), strings.Fields(tok)[0]) {
			t.Errorf("error %q does not name the token %q", err, tok)
		}
	}
}
