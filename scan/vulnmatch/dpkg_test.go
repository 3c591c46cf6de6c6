package vulnmatch

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilscan/vigil/internal/testenv"
)

func TestCompareDebVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.0-0", 0}, // a missing revision is "0"
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0+b1", -1},
		{"1.0-1", "1.0-1~bpo1", 1},
		{"1:1.0", "2.0", 1},
		{"1.10", "1.9", 1},
		{"1.01", "1.1", 0},
		{"1.0a", "1.0", 1},
		{"1.0.", "1.0a", 1}, // punctuation sorts after letters
		{"2.38.1-5+deb12u3", "2.38.1-5+deb12u10", -1},
		{"0", "0~", 1},
	} {
		got, err := CompareDebVersions(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("%s vs %s: %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
		if back, _ := CompareDebVersions(c.b, c.a); back != -c.want {
			t.Errorf("%s vs %s not antisymmetric: %d", c.b, c.a, back)
		}
	}
	for _, bad := range []string{"", "a:1.0", "1.0-", "1.0 2", "1:", "-1"} {
		if _, err := ParseDebVersion(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if v, _ := ParseDebVersion("1:9.2p1-2+deb12u10"); v.String() != "1:9.2p1-2+deb12u10" || v.Epoch != 1 || v.Revision != "2+deb12u10" {
		t.Errorf("round trip: %+v", v)
	}
}

// TestDpkgVectors: every pair of the shared sample, as dpkg 1.21 ordered it.
func TestDpkgVectors(t *testing.T) {
	f, err := os.Open(filepath.Join(testenv.VulnDB(t), "debian", "dpkg-version-compare-vectors.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]int{"<": -1, "=": 0, ">": 1}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 3 || cols[0] == "version_a" {
			continue
		}
		w, ok := want[cols[2]]
		if !ok {
			t.Fatalf("bad vector line %q", sc.Text())
		}
		got, err := CompareDebVersions(cols[0], cols[1])
		if err != nil || got != w {
			t.Errorf("%s %s %s: got %d, %v", cols[0], cols[2], cols[1], got, err)
		}
		n++
	}
	if n != 49 {
		t.Errorf("%d vectors, want 49", n)
	}
}
