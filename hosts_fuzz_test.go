package vigil

import (
	"strings"
	"testing"
)

// FuzzParseHostSpec checks that any input either fails with an error naming
// a token or parses into a spec whose count is stable and non-negative.
func FuzzParseHostSpec(f *testing.F) {
	for _, seed := range []string{"192.0.2.1", "192.0.2.0/24", "192.0.2.1-20", "192.0.2.1-192.0.2.9", "2001:db8::/126",
		"2001:db8::1-2001:db8::5", "www.example.com, mail.example.com", "192.0.2.1\n198.51.100.0/30;203.0.113.7",
		"300.1.1.1", "::ffff:192.0.2.1", "a-b-c", "1.2.3.4-", "-", "fe80::1%eth0", "0.0.0.0/0", "::/0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseHostSpec(s)
		if err != nil {
			if !strings.Contains(err.Error(), "\"") {
				t.Errorf("error does not quote the bad token: %v", err)
			}
			return
		}
		n := spec.Count(HostSpec{})
		if n < 0 || n != spec.Count(HostSpec{}) {
			t.Errorf("count %d unstable or negative", n)
		}
		if spec.Count(spec) != 0 {
			t.Errorf("excluding a spec from itself leaves %d", spec.Count(spec))
		}
	})
}
