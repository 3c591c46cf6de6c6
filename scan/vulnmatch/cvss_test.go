package vulnmatch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilscan/vigil/internal/testenv"
)

func TestCVSSBase(t *testing.T) {
	for _, c := range []struct {
		vector, version string
		score           float64
	}{
		{"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.1", 8.1}, // CVE-2024-6387
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "3.0", 9.8},
		{"AV:N/AC:L/Au:N/C:P/I:P/A:P", "2.0", 7.5},
		{"(AV:N/AC:M/Au:N/C:N/I:P/A:N)", "2.0", 4.3},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "4.0", 9.3},
	} {
		score, version, err := CVSSBase(c.vector)
		if err != nil || score != c.score || version != c.version {
			t.Errorf("%s: %v %s %v; want %v %s", c.vector, score, version, err, c.score, c.version)
		}
	}
	for _, bad := range []string{"", "CVSS:3.1/AV:X", "CVSS:9.9/AV:N", "AV:N/AC:L"} {
		if _, _, err := CVSSBase(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestCVSSOfSample recomputes every CVSS block (v2, v3.0, v3.1, v4.0) of the
// sample's NVD records from its vector and compares with NVD's base score.
func TestCVSSOfSample(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.VulnDB(t), "nvd", "CVE-*.json"))
	if err != nil || len(files) < 50 {
		t.Fatalf("%d NVD records, %v", len(files), err)
	}
	seen := map[string]int{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			ID      string                       `json:"id"`
			Metrics map[string][]json.RawMessage `json:"metrics"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for kind, blocks := range rec.Metrics {
			if !strings.HasPrefix(kind, "cvssMetric") {
				continue // e.g. ssvcV203: a decision tree, not a score
			}
			for _, b := range blocks {
				var m struct {
					CVSSData struct {
						Version      string  `json:"version"`
						VectorString string  `json:"vectorString"`
						BaseScore    float64 `json:"baseScore"`
					} `json:"cvssData"`
				}
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatalf("%s %s: %v", rec.ID, kind, err)
				}
				d := m.CVSSData
				score, version, err := CVSSBase(d.VectorString)
				if err != nil || score != d.BaseScore || version != d.Version {
					t.Errorf("%s %s %s: %v (%s), %v; NVD says %v (%s)", rec.ID, kind, d.VectorString, score, version, err, d.BaseScore, d.Version)
				}
				seen[version]++
			}
		}
	}
	for _, v := range []string{"2.0", "3.0", "3.1", "4.0"} {
		if seen[v] == 0 {
			t.Errorf("no CVSS %s block in the sample", v)
		}
	}
	t.Logf("CVSS blocks recomputed: %v", seen)
}
