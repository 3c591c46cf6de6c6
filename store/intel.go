package store

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// The store is the matcher's data (vulnmatch.Data): imported CVE records
// with their KEV flag and EPSS score, and the Debian tracker.

// cveSelect reads CVE rows with KEV and EPSS joined in.
func (s *Store) cveSelect() *bun.SelectQuery {
	return s.db.NewSelect().TableExpr("cves AS c").
		ColumnExpr("c.id, c.status, c.published, c.last_modified, c.description, c.score, c.vector, c.cvss_version").
		ColumnExpr("c.configurations, c.refs, c.nvd_kev, k.cve_id IS NOT NULL AS kev").
		ColumnExpr("COALESCE(e.score, 0.0) AS epss, COALESCE(e.percentile, 0.0) AS epss_percentile").
		Join("LEFT JOIN kev AS k ON k.cve_id = c.id").
		Join("LEFT JOIN epss AS e ON e.cve_id = c.id")
}

type cveReadRow struct {
	cveRow
	KEV            bool    `bun:"kev"`
	EPSS           float64 `bun:"epss"`
	EPSSPercentile float64 `bun:"epss_percentile"`
}

func (r *cveReadRow) domain() (*vulnmatch.CVE, error) {
	c := &vulnmatch.CVE{ID: r.ID, Status: r.Status, Description: r.Description, Score: r.Score, Vector: r.Vector,
		CVSSVersion: r.CVSSVersion, KEV: r.KEV || r.NVDKEV, EPSS: r.EPSS, EPSSPercentile: r.EPSSPercentile}
	if r.Published != nil {
		c.Published = r.Published.UTC()
	}
	if r.LastModified != nil {
		c.LastModified = r.LastModified.UTC()
	}
	if err := json.Unmarshal([]byte(r.Configurations), &c.Configurations); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(r.Refs), &c.References); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Store) scanCVEs(ctx context.Context, q *bun.SelectQuery) ([]*vulnmatch.CVE, error) {
	var rows []cveReadRow
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, translate(err)
	}
	out := make([]*vulnmatch.CVE, 0, len(rows))
	for i := range rows {
		c, err := rows[i].domain()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ProductCVEs returns the CVEs whose vulnerable criteria name one of the
// vendor:product pairs, through the cve_products index.
func (s *Store) ProductCVEs(ctx context.Context, vendorProducts []string) ([]*vulnmatch.CVE, error) {
	if len(vendorProducts) == 0 {
		return nil, nil
	}
	var conds []string
	var args []any
	for _, vp := range vendorProducts {
		vendor, product, _ := strings.Cut(vp, ":")
		conds = append(conds, "(cp.vendor = ? AND cp.product = ?)")
		args = append(args, vendor, product)
	}
	q := s.cveSelect().Where("c.id IN (SELECT cp.cve_id FROM cve_products AS cp WHERE "+strings.Join(conds, " OR ")+")", args...).
		Order("c.id")
	return s.scanCVEs(ctx, q)
}

// CVEs returns the records of ids that NVD has.
func (s *Store) CVEs(ctx context.Context, ids []string) (map[string]*vulnmatch.CVE, error) {
	out := map[string]*vulnmatch.CVE{}
	for _, chunk := range chunks(ids, 500) {
		cves, err := s.scanCVEs(ctx, s.cveSelect().Where("c.id IN (?)", bun.In(chunk)))
		if err != nil {
			return nil, err
		}
		for _, c := range cves {
			out[c.ID] = c
		}
	}
	return out, nil
}

// TrackerEntries returns the tracker's rows of sources in release.
func (s *Store) TrackerEntries(ctx context.Context, release string, sources []string) (map[string][]*vulnmatch.TrackerEntry, error) {
	out := map[string][]*vulnmatch.TrackerEntry{}
	for _, chunk := range chunks(sources, 500) {
		var rows []trackerRow
		if err := s.db.NewSelect().Model(&rows).Where("dt.release = ? AND dt.source IN (?)", release, bun.In(chunk)).
			Order("dt.source", "dt.cve_id").Scan(ctx); err != nil {
			return nil, translate(err)
		}
		for _, r := range rows {
			e := &vulnmatch.TrackerEntry{Source: r.Source, CVE: r.CVEID, Release: r.Release, Description: r.Description,
				DebianBug: r.DebianBug, TrackerRelease: vulnmatch.TrackerRelease{Status: r.Status, FixedVersion: r.FixedVersion,
					Urgency: r.Urgency, NoDSA: r.NoDSA, NoDSAReason: r.NoDSAReason}}
			if err := json.Unmarshal([]byte(r.Repositories), &e.Repositories); err != nil {
				return nil, err
			}
			out[r.Source] = append(out[r.Source], e)
		}
	}
	return out, nil
}

var _ vulnmatch.Data = (*Store)(nil)
