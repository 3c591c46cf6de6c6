package vulnmatch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilscan/vigil/internal/testenv"
)

var debian12 = CPE{Part: "o", Vendor: "debian", Product: "debian_linux", Version: "12.0", Update: "-", Edition: "-",
	Language: "-", SWEdition: "-", TargetSW: "-", TargetHW: "-", Other: "-"}

// TestNVDVerdictsOfSample reproduces the NVD column of expected-verdicts.tsv:
// plain CPE matching of the upstream version on Debian 12.
func TestNVDVerdictsOfSample(t *testing.T) {
	dir := testenv.VulnDB(t)
	words := map[VerdictState]string{Vulnerable: "vulnerable", NotVulnerable: "not-vulnerable", NotAssessed: "no-cpe-config",
		NotListed: "product-not-listed"}
	for _, r := range readTSV(t, filepath.Join(dir, "expected-verdicts.tsv")) {
		raw, err := os.ReadFile(filepath.Join(dir, "nvd", r["cve"]+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Configurations []Configuration `json:"configurations"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		p, ok := ProductByDebianSource(r["source_package"])
		if !ok {
			t.Errorf("no product for source package %s", r["source_package"])
			continue
		}
		v := NVDVerdictForProduct(rec.Configurations, p, r["upstream_version"], debian12)
		if words[v.State] != r["nvd_cpe_verdict"] {
			t.Errorf("%s %s %s: %s, want %s", r["cve"], r["source_package"], r["upstream_version"], words[v.State], r["nvd_cpe_verdict"])
		}
	}
}
