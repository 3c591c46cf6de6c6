package vulnmatch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilscan/vigil/internal/testenv"
)

// tracker is the Debian Security Tracker JSON dump's shape.
type tracker map[string]map[string]struct {
	Releases map[string]TrackerRelease `json:"releases"`
}

// TestDebianVerdictsOfSample reproduces the tracker column of the sample's
// expected-verdicts.tsv for every (CVE, package, version) row.
func TestDebianVerdictsOfSample(t *testing.T) {
	dir := testenv.VulnDB(t)
	raw, err := os.ReadFile(filepath.Join(dir, "debian", "tracker-bookworm-subset.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr tracker
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	rows := readTSV(t, filepath.Join(dir, "expected-verdicts.tsv"))
	if len(rows) < 100 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		e, ok := tr[r["source_package"]][r["cve"]]
		if !ok {
			t.Errorf("%s/%s: not in the tracker sample", r["source_package"], r["cve"])
			continue
		}
		v, err := DebianVerdict("bookworm", e.Releases["bookworm"], r["debian_version"])
		if err != nil || v.String() != r["debian_tracker_verdict"] {
			t.Errorf("%s %s %s: %s, %v; want %s", r["cve"], r["source_package"], r["debian_version"], v, err, r["debian_tracker_verdict"])
		}
	}
}

// readTSV reads a TSV file with a header line into one map per row.
func readTSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	head := strings.Split(lines[0], "\t")
	var out []map[string]string
	for _, l := range lines[1:] {
		cols := strings.Split(l, "\t")
		m := map[string]string{}
		for i, h := range head {
			if i < len(cols) {
				m[h] = cols[i]
			}
		}
		out = append(out, m)
	}
	return out
}
