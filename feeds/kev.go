package feeds

import (
	"encoding/json"
	"fmt"
	"strings"
)

// KEVCatalog is CISA's Known Exploited Vulnerabilities catalog.
type KEVCatalog struct {
	Title        string      `json:"title"`
	Version      string      `json:"catalogVersion"`
	DateReleased string      `json:"dateReleased"`
	Count        int         `json:"count"`
	Entries      []*KEVEntry `json:"vulnerabilities"`
}

// KEVEntry is one exploited vulnerability.
type KEVEntry struct {
	CVE            string   `json:"cveID"`
	Vendor         string   `json:"vendorProject"`
	Product        string   `json:"product"`
	Name           string   `json:"vulnerabilityName"`
	DateAdded      string   `json:"dateAdded"` // YYYY-MM-DD
	Description    string   `json:"shortDescription"`
	RequiredAction string   `json:"requiredAction"`
	DueDate        string   `json:"dueDate"`
	Ransomware     string   `json:"knownRansomwareCampaignUse"` // Known, Unknown
	Notes          string   `json:"notes"`
	CWEs           []string `json:"cwes"`
}

// ParseKEV reads the KEV JSON catalog. The catalog's own count must equal
// its entries: a truncated download is refused, not half-imported.
func ParseKEV(data []byte) (*KEVCatalog, error) {
	var c KEVCatalog
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("kev: %w", err)
	}
	if c.Version == "" || c.Entries == nil {
		return nil, fmt.Errorf("kev: not a KEV catalog (no catalogVersion or vulnerabilities)")
	}
	if c.Count != 0 && c.Count != len(c.Entries) {
		return nil, fmt.Errorf("kev: catalog says %d entries, has %d", c.Count, len(c.Entries))
	}
	for i, e := range c.Entries {
		if !strings.HasPrefix(e.CVE, "CVE-") {
			return nil, fmt.Errorf("kev: entry %d: cveID %q is not a CVE id", i, e.CVE)
		}
	}
	return &c, nil
}
