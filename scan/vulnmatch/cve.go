package vulnmatch

import "time"

// CVE is what the matcher knows of one vulnerability: NVD's record (score,
// applicability), whether CISA lists it as exploited, and its EPSS score.
type CVE struct {
	ID             string          `json:"id"`
	Status         string          `json:"status"` // NVD vulnStatus: Analyzed, Modified, Awaiting Analysis, ...
	Published      time.Time       `json:"published"`
	LastModified   time.Time       `json:"last_modified"`
	Description    string          `json:"description"`
	Score          float64         `json:"score"` // CVSS base score of Vector
	Vector         string          `json:"vector"`
	CVSSVersion    string          `json:"cvss_version"`
	Configurations []Configuration `json:"configurations,omitempty"`
	References     []string        `json:"references,omitempty"`
	KEV            bool            `json:"kev"`
	EPSS           float64         `json:"epss"`
	EPSSPercentile float64         `json:"epss_percentile"`
}

// Assessed reports whether NVD has said which products the CVE affects.
// A record without configurations is "not assessed", never "safe".
func (c *CVE) Assessed() bool { return len(c.Configurations) > 0 }

// VulnerableProducts lists the vendor:product pairs the CVE's vulnerable
// criteria name: the keys an index finds the CVE by.
func (c *CVE) VulnerableProducts() []string {
	seen := map[string]bool{}
	var out []string
	for _, cfg := range c.Configurations {
		for _, n := range cfg.Nodes {
			for _, m := range n.CPEMatch {
				if !m.Vulnerable {
					continue
				}
				p, err := ParseCPE(m.Criteria)
				if err != nil {
					continue
				}
				k := p.Vendor + ":" + p.Product
				if !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
	}
	return out
}
