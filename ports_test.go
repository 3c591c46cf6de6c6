package vigil

import (
	"reflect"
	"testing"
)

func TestParsePortRanges(t *testing.T) {
	got, err := ParsePortRanges("T:1-1024,8080, U:53,161-162,T:443")
	if err != nil {
		t.Fatal(err)
	}
	want := []PortRange{{Start: 1, End: 1024, Protocol: TCP}, {Start: 8080, End: 8080, Protocol: TCP},
		{Start: 53, End: 53, Protocol: UDP}, {Start: 161, End: 162, Protocol: UDP}, {Start: 443, End: 443, Protocol: TCP}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if s := FormatPortRanges(got); s != "T:1-1024,443,8080,U:53,161-162" {
		t.Errorf("FormatPortRanges = %q", s)
	}
	for _, bad := range []string{"0", "65536", "10-5", "x", "1-", "T:1-2-3", "U:-1"} {
		if _, err := ParsePortRanges(bad); err == nil {
			t.Errorf("ParsePortRanges(%q) accepted", bad)
		}
	}
}

func TestPortRangeOverlap(t *testing.T) {
	if err := CheckPortRangeOverlap(nil); err != nil {
		t.Fatal(err)
	}
	ok := []PortRange{{Start: 1, End: 100, Protocol: TCP}, {Start: 50, End: 60, Protocol: UDP}, {Start: 101, End: 200, Protocol: TCP}}
	if err := CheckPortRangeOverlap(ok); err != nil {
		t.Errorf("disjoint ranges rejected: %v", err)
	}
	bad := append(ok, PortRange{Start: 150, End: 150, Protocol: TCP})
	if err := CheckPortRangeOverlap(bad); err == nil {
		t.Error("overlap not detected")
	}
}

func TestBuiltinPortLists(t *testing.T) {
	names := map[string]bool{}
	for _, l := range BuiltinPortLists() {
		names[l.Name] = true
		if err := CheckPortRangeOverlap(l.Ranges); err != nil {
			t.Errorf("%s: %v", l.Name, err)
		}
		for _, r := range l.Ranges {
			if err := r.Validate(); err != nil {
				t.Errorf("%s: %v", l.Name, err)
			}
		}
	}
	for _, n := range []string{"All TCP", "All TCP and common UDP", "Common TCP", "Web services", "PCI external"} {
		if !names[n] {
			t.Errorf("built-in %q missing", n)
		}
	}
	common, _ := FindBuiltinPortList("common-tcp")
	if tcp, _ := CountPorts(common.Ranges); tcp < 300 {
		t.Errorf("Common TCP has %d ports, want several hundred", tcp)
	}
}
