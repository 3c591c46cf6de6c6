package feeds

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// nvdRecord is the "cve" object of an NVD CVE API 2.0 response.
type nvdRecord struct {
	ID           string  `json:"id"`
	Published    nvdTime `json:"published"`
	LastModified nvdTime `json:"lastModified"`
	VulnStatus   string  `json:"vulnStatus"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	// Metrics holds cvssMetricV2, V30, V31 and V40 (and non-CVSS blocks
	// such as ssvcV203, which are ignored).
	Metrics        map[string][]json.RawMessage `json:"metrics"`
	Configurations []vulnmatch.Configuration    `json:"configurations"`
	References     []struct {
		URL string `json:"url"`
	} `json:"references"`
	CISAExploitAdd string `json:"cisaExploitAdd"`
}

// NVDPage is a CVE API 2.0 response page.
type NVDPage struct {
	ResultsPerPage int              `json:"resultsPerPage"`
	StartIndex     int              `json:"startIndex"`
	TotalResults   int              `json:"totalResults"`
	Timestamp      nvdTime          `json:"timestamp"`
	Records        []*vulnmatch.CVE `json:"-"`
}

// nvdTime is NVD's timestamp: ISO 8601 without a zone, in UTC.
type nvdTime struct{ time.Time }

func (t *nvdTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", time.RFC3339Nano, "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("time %q: not an NVD timestamp", s)
}

// ParseNVD reads an NVD CVE API 2.0 document: either one record (the "cve"
// object, as the per-CVE mirrors store it) or a response page with
// "vulnerabilities".
func ParseNVD(data []byte) (*NVDPage, error) {
	var probe struct {
		ID              string            `json:"id"`
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("nvd: %w", err)
	}
	if probe.ID != "" {
		c, err := parseNVDRecord(data)
		if err != nil {
			return nil, err
		}
		return &NVDPage{ResultsPerPage: 1, TotalResults: 1, Records: []*vulnmatch.CVE{c}}, nil
	}
	var page struct {
		NVDPage
		Format          string `json:"format"`
		Vulnerabilities []struct {
			CVE json.RawMessage `json:"cve"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, fmt.Errorf("nvd page: %w", err)
	}
	if page.Format != "" && page.Format != "NVD_CVE" {
		return nil, fmt.Errorf("nvd page: format %q is not NVD_CVE", page.Format)
	}
	if page.Vulnerabilities == nil {
		return nil, fmt.Errorf("nvd: neither a CVE record (no \"id\") nor an API page (no \"vulnerabilities\")")
	}
	p := page.NVDPage
	for i, v := range page.Vulnerabilities {
		c, err := parseNVDRecord(v.CVE)
		if err != nil {
			return nil, fmt.Errorf("nvd page record %d: %w", p.StartIndex+i, err)
		}
		p.Records = append(p.Records, c)
	}
	return &p, nil
}

func parseNVDRecord(data []byte) (*vulnmatch.CVE, error) {
	var r nvdRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("nvd record: %w", err)
	}
	if !strings.HasPrefix(r.ID, "CVE-") {
		return nil, fmt.Errorf("nvd record: id %q is not a CVE id", r.ID)
	}
	c := &vulnmatch.CVE{ID: r.ID, Status: r.VulnStatus, Published: r.Published.Time, LastModified: r.LastModified.Time,
		Configurations: r.Configurations, KEV: r.CISAExploitAdd != ""}
	for _, d := range r.Descriptions {
		if d.Lang == "en" {
			c.Description = d.Value
			break
		}
	}
	for _, ref := range r.References {
		c.References = append(c.References, ref.URL)
	}
	m, err := bestCVSS(r.Metrics)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.ID, err)
	}
	c.Score, c.Vector, c.CVSSVersion = m.score, m.vector, m.version
	return c, nil
}

type cvssChoice struct {
	score   float64
	vector  string
	version string
	rank    int
}

// cvssRank orders the metric kinds a finding's score comes from: v3.1 (what
// PCI ASV scoring and most tools use), then v3.0, v4.0, v2. NVD's own
// ("Primary") score beats a CNA's within a kind.
var cvssRank = map[string]int{"cvssMetricV31": 40, "cvssMetricV30": 30, "cvssMetricV40": 20, "cvssMetricV2": 10}

// bestCVSS picks the record's score. NVD's stated base score wins (it is
// what users compare with); a block without one is scored from its vector,
// and a block with neither a score nor a valid vector is an error.
func bestCVSS(metrics map[string][]json.RawMessage) (cvssChoice, error) {
	var best cvssChoice
	for kind, blocks := range metrics {
		rank, ok := cvssRank[kind]
		if !ok {
			continue
		}
		for _, b := range blocks {
			var m struct {
				Type     string `json:"type"`
				CVSSData struct {
					Version      string   `json:"version"`
					VectorString string   `json:"vectorString"`
					BaseScore    *float64 `json:"baseScore"`
				} `json:"cvssData"`
			}
			if err := json.Unmarshal(b, &m); err != nil {
				return best, fmt.Errorf("%s: %w", kind, err)
			}
			score, version, err := vulnmatch.CVSSBase(m.CVSSData.VectorString)
			switch {
			case m.CVSSData.BaseScore != nil:
				score = *m.CVSSData.BaseScore
				if version == "" {
					version = m.CVSSData.Version
				}
			case err != nil:
				return best, fmt.Errorf("%s: %w", kind, err)
			}
			r := rank
			if m.Type == "Primary" {
				r += 5
			}
			if r > best.rank {
				best = cvssChoice{score: score, vector: m.CVSSData.VectorString, version: version, rank: r}
			}
		}
	}
	return best, nil
}

// CPEMatch is an NVD CPE Match API 2.0 record: a match criterion and the
// concrete CPE names it expands to.
type CPEMatch struct {
	ID                    string    `json:"matchCriteriaId"`
	Criteria              string    `json:"criteria"`
	VersionStartIncluding string    `json:"versionStartIncluding,omitempty"`
	VersionStartExcluding string    `json:"versionStartExcluding,omitempty"`
	VersionEndIncluding   string    `json:"versionEndIncluding,omitempty"`
	VersionEndExcluding   string    `json:"versionEndExcluding,omitempty"`
	Status                string    `json:"status"`
	LastModified          time.Time `json:"-"`
	Names                 []string  `json:"-"`
}

// ParseCPEMatch reads a CPE Match document: one record ({"matchString":
// ...}) or an API page ({"matchStrings": [{"matchString": ...}]}).
func ParseCPEMatch(data []byte) ([]*CPEMatch, error) {
	type record struct {
		CPEMatch
		LastModified nvdTime `json:"lastModified"`
		Matches      []struct {
			CPEName string `json:"cpeName"`
		} `json:"matches"`
	}
	var doc struct {
		MatchString  *record `json:"matchString"`
		MatchStrings []struct {
			MatchString record `json:"matchString"`
		} `json:"matchStrings"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("cpe match: %w", err)
	}
	var recs []record
	switch {
	case doc.MatchString != nil:
		recs = append(recs, *doc.MatchString)
	case doc.MatchStrings != nil:
		for _, m := range doc.MatchStrings {
			recs = append(recs, m.MatchString)
		}
	default:
		return nil, fmt.Errorf("cpe match: neither \"matchString\" nor \"matchStrings\"")
	}
	out := make([]*CPEMatch, 0, len(recs))
	for _, r := range recs {
		if r.ID == "" {
			return nil, fmt.Errorf("cpe match: a record without matchCriteriaId")
		}
		if _, err := vulnmatch.ParseCPE(r.Criteria); err != nil {
			return nil, fmt.Errorf("cpe match %s: %w", r.ID, err)
		}
		m := r.CPEMatch
		m.LastModified = r.LastModified.Time
		for _, n := range r.Matches {
			m.Names = append(m.Names, n.CPEName)
		}
		out = append(out, &m)
	}
	return out, nil
}
