package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/feeds"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

type feedSourceRow struct {
	bun.BaseModel `bun:"table:feed_sources,alias:fs"`
	Source        string     `bun:"source,pk"`
	Version       string     `bun:"version"`
	Records       int        `bun:"records"`
	Cursor        string     `bun:"cursor"`
	LastSyncAt    *time.Time `bun:"last_sync_at"`
	LastError     string     `bun:"last_error"`
	LastErrorAt   *time.Time `bun:"last_error_at"`
	UpdatedAt     time.Time  `bun:"updated_at"`
}

type cveRow struct {
	bun.BaseModel  `bun:"table:cves,alias:c"`
	ID             string     `bun:"id,pk"`
	Status         string     `bun:"status"`
	Published      *time.Time `bun:"published"`
	LastModified   *time.Time `bun:"last_modified"`
	Description    string     `bun:"description"`
	Score          float64    `bun:"score"`
	Vector         string     `bun:"vector"`
	CVSSVersion    string     `bun:"cvss_version"`
	Assessed       bool       `bun:"assessed"`
	NVDKEV         bool       `bun:"nvd_kev"`
	Configurations string     `bun:"configurations"`
	Refs           string     `bun:"refs"`
}

type cveProductRow struct {
	bun.BaseModel `bun:"table:cve_products"`
	Vendor        string `bun:"vendor,pk"`
	Product       string `bun:"product,pk"`
	CVEID         string `bun:"cve_id,pk"`
}

type cpeMatchRow struct {
	bun.BaseModel `bun:"table:cpe_matches"`
	ID            string     `bun:"id,pk"`
	Criteria      string     `bun:"criteria"`
	Status        string     `bun:"status"`
	LastModified  *time.Time `bun:"last_modified"`
	RangeJSON     string     `bun:"range_json"`
	Names         string     `bun:"names"`
}

type kevRow struct {
	bun.BaseModel  `bun:"table:kev"`
	CVEID          string `bun:"cve_id,pk"`
	Vendor         string `bun:"vendor"`
	Product        string `bun:"product"`
	Name           string `bun:"name"`
	DateAdded      string `bun:"date_added"`
	Description    string `bun:"description"`
	RequiredAction string `bun:"required_action"`
	DueDate        string `bun:"due_date"`
	Ransomware     string `bun:"ransomware"`
	Notes          string `bun:"notes"`
}

type epssRow struct {
	bun.BaseModel `bun:"table:epss"`
	CVEID         string  `bun:"cve_id,pk"`
	Score         float64 `bun:"score"`
	Percentile    float64 `bun:"percentile"`
}

type trackerRow struct {
	bun.BaseModel `bun:"table:debian_tracker,alias:dt"`
	Source        string `bun:"source,pk"`
	Release       string `bun:"release,pk"`
	CVEID         string `bun:"cve_id,pk"`
	Status        string `bun:"status"`
	FixedVersion  string `bun:"fixed_version"`
	Urgency       string `bun:"urgency"`
	NoDSA         string `bun:"nodsa"`
	NoDSAReason   string `bun:"nodsa_reason"`
	Description   string `bun:"description"`
	DebianBug     int    `bun:"debian_bug"`
	Repositories  string `bun:"repositories"`
}

type recogFileRow struct {
	bun.BaseModel `bun:"table:recog_files"`
	Name          string    `bun:"name,pk"`
	Content       string    `bun:"content"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

// feedTables are the tables each source fills.
var feedTables = map[string][]string{
	vigil.FeedNVD:      {"cve_products", "cves"},
	vigil.FeedCPEMatch: {"cpe_matches"},
	vigil.FeedKEV:      {"kev"},
	vigil.FeedEPSS:     {"epss"},
	vigil.FeedDebian:   {"debian_tracker"},
	vigil.FeedRecog:    {"recog_files"},
}

// ImportFeed runs fn in one write transaction.
func (s *Store) ImportFeed(ctx context.Context, source string, fn func(feeds.Tx) error) error {
	if _, ok := feedTables[source]; !ok {
		return fmt.Errorf("unknown feed source %q", source)
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return fn(&feedTx{s: s, tx: tx})
	})
}

// FeedStatuses lists the status of every source that was ever imported.
func (s *Store) FeedStatuses(ctx context.Context) ([]*vigil.FeedStatus, error) {
	var rows []feedSourceRow
	if err := s.db.NewSelect().Model(&rows).Order("source").Scan(ctx); err != nil {
		return nil, translate(err)
	}
	out := make([]*vigil.FeedStatus, len(rows))
	for i, r := range rows {
		out[i] = &vigil.FeedStatus{Source: r.Source, Version: r.Version, Records: r.Records, Cursor: r.Cursor,
			LastSyncAt: utcPtr(r.LastSyncAt), LastError: r.LastError, LastErrorAt: utcPtr(r.LastErrorAt), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// RecordFeedError notes a failed import or sync; the source's data and last
// successful sync stay as they were.
func (s *Store) RecordFeedError(ctx context.Context, source, msg string, at time.Time) error {
	at = at.UTC().Truncate(time.Millisecond)
	row := &feedSourceRow{Source: source, LastError: msg, LastErrorAt: &at, UpdatedAt: at}
	_, err := s.wdb.NewInsert().Model(row).On("CONFLICT (source) DO UPDATE").
		Set("last_error = EXCLUDED.last_error").Set("last_error_at = EXCLUDED.last_error_at").Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return translate(err)
}

// feedTx is one source's import transaction.
type feedTx struct {
	s  *Store
	tx bun.Tx
}

func (t *feedTx) Clear(ctx context.Context, source string) error {
	for _, table := range feedTables[source] {
		if _, err := t.tx.NewDelete().TableExpr(table).Where("1 = 1").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (t *feedTx) PutCVEs(ctx context.Context, cves []*vulnmatch.CVE) error {
	if len(cves) == 0 {
		return nil
	}
	// The same record twice in one batch: the later one wins.
	byID := make(map[string]*vulnmatch.CVE, len(cves))
	ids := make([]string, 0, len(cves))
	for _, c := range cves {
		if _, dup := byID[c.ID]; !dup {
			ids = append(ids, c.ID)
		}
		byID[c.ID] = c
	}
	rows := make([]*cveRow, 0, len(ids))
	var products []*cveProductRow
	for _, id := range ids {
		c := byID[id]
		cfg, err := json.Marshal(c.Configurations)
		if err != nil {
			return err
		}
		refs, err := json.Marshal(c.References)
		if err != nil {
			return err
		}
		rows = append(rows, &cveRow{ID: c.ID, Status: c.Status, Published: timePtr(c.Published), LastModified: timePtr(c.LastModified),
			Description: c.Description, Score: c.Score, Vector: c.Vector, CVSSVersion: c.CVSSVersion, Assessed: c.Assessed(),
			NVDKEV: c.KEV, Configurations: string(cfg), Refs: string(refs)})
		for _, vp := range c.VulnerableProducts() {
			vendor, product, _ := strings.Cut(vp, ":")
			products = append(products, &cveProductRow{Vendor: vendor, Product: product, CVEID: id})
		}
	}
	q := t.tx.NewInsert().Model(&rows).On("CONFLICT (id) DO UPDATE")
	for _, c := range []string{"status", "published", "last_modified", "description", "score", "vector", "cvss_version",
		"assessed", "nvd_kev", "configurations", "refs"} {
		q = q.Set(c + " = EXCLUDED." + c)
	}
	if _, err := q.Exec(ctx); err != nil {
		return err
	}
	// A modified record may name other products than before.
	if _, err := t.tx.NewDelete().TableExpr("cve_products").Where("cve_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
		return err
	}
	for _, chunk := range chunks(products, 500) {
		if _, err := t.tx.NewInsert().Model(&chunk).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (t *feedTx) PutCPEMatches(ctx context.Context, ms []*feeds.CPEMatch) error {
	if len(ms) == 0 {
		return nil
	}
	rows := make([]*cpeMatchRow, 0, len(ms))
	for _, m := range ms {
		rng, err := json.Marshal(m)
		if err != nil {
			return err
		}
		names, err := json.Marshal(m.Names)
		if err != nil {
			return err
		}
		rows = append(rows, &cpeMatchRow{ID: m.ID, Criteria: m.Criteria, Status: m.Status, LastModified: timePtr(m.LastModified),
			RangeJSON: string(rng), Names: string(names)})
	}
	_, err := t.tx.NewInsert().Model(&rows).On("CONFLICT (id) DO UPDATE").Set("criteria = EXCLUDED.criteria").
		Set("status = EXCLUDED.status").Set("last_modified = EXCLUDED.last_modified").Set("range_json = EXCLUDED.range_json").
		Set("names = EXCLUDED.names").Exec(ctx)
	return err
}

func (t *feedTx) PutKEV(ctx context.Context, es []*feeds.KEVEntry) error {
	if len(es) == 0 {
		return nil
	}
	rows := make([]*kevRow, 0, len(es))
	for _, e := range es {
		rows = append(rows, &kevRow{CVEID: e.CVE, Vendor: e.Vendor, Product: e.Product, Name: e.Name, DateAdded: e.DateAdded,
			Description: e.Description, RequiredAction: e.RequiredAction, DueDate: e.DueDate, Ransomware: e.Ransomware, Notes: e.Notes})
	}
	_, err := t.tx.NewInsert().Model(&rows).On("CONFLICT (cve_id) DO NOTHING").Exec(ctx)
	return err
}

func (t *feedTx) PutEPSS(ctx context.Context, ss []feeds.EPSSScore) error {
	if len(ss) == 0 {
		return nil
	}
	rows := make([]*epssRow, len(ss))
	for i, sc := range ss {
		rows[i] = &epssRow{CVEID: sc.CVE, Score: sc.Score, Percentile: sc.Percentile}
	}
	_, err := t.tx.NewInsert().Model(&rows).On("CONFLICT (cve_id) DO UPDATE").Set("score = EXCLUDED.score").
		Set("percentile = EXCLUDED.percentile").Exec(ctx)
	return err
}

func (t *feedTx) PutTracker(ctx context.Context, es []*vulnmatch.TrackerEntry) error {
	rows := make([]*trackerRow, 0, len(es))
	for _, e := range es {
		repos, err := json.Marshal(e.Repositories)
		if err != nil {
			return err
		}
		rows = append(rows, &trackerRow{Source: e.Source, Release: e.Release, CVEID: e.CVE, Status: e.Status,
			FixedVersion: e.FixedVersion, Urgency: e.Urgency, NoDSA: e.NoDSA, NoDSAReason: e.NoDSAReason,
			Description: e.Description, DebianBug: e.DebianBug, Repositories: string(repos)})
	}
	for _, chunk := range chunks(rows, 500) {
		if _, err := t.tx.NewInsert().Model(&chunk).On("CONFLICT (source, release, cve_id) DO UPDATE").
			Set("status = EXCLUDED.status").Set("fixed_version = EXCLUDED.fixed_version").Set("urgency = EXCLUDED.urgency").
			Set("nodsa = EXCLUDED.nodsa").Set("nodsa_reason = EXCLUDED.nodsa_reason").Set("description = EXCLUDED.description").
			Set("debian_bug = EXCLUDED.debian_bug").Set("repositories = EXCLUDED.repositories").Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (t *feedTx) PutRecog(ctx context.Context, name string, content []byte) error {
	row := &recogFileRow{Name: name, Content: string(content), UpdatedAt: t.s.now()}
	_, err := t.tx.NewInsert().Model(row).On("CONFLICT (name) DO UPDATE").Set("content = EXCLUDED.content").
		Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
	return err
}

func (t *feedTx) Count(ctx context.Context, source string) (int, error) {
	tables := feedTables[source]
	if len(tables) == 0 {
		return 0, fmt.Errorf("unknown feed source %q", source)
	}
	n, err := t.tx.NewSelect().TableExpr(tables[len(tables)-1]).Count(ctx)
	return int(n), err
}

func (t *feedTx) SetStatus(ctx context.Context, st *vigil.FeedStatus) error {
	row := &feedSourceRow{Source: st.Source, Version: st.Version, Records: st.Records, Cursor: st.Cursor,
		LastSyncAt: st.LastSyncAt, UpdatedAt: st.UpdatedAt}
	_, err := t.tx.NewInsert().Model(row).On("CONFLICT (source) DO UPDATE").
		Set("version = EXCLUDED.version").Set("records = EXCLUDED.records").Set("cursor = EXCLUDED.cursor").
		Set("last_sync_at = EXCLUDED.last_sync_at").Set("last_error = ''").Set("last_error_at = NULL").
		Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
	return err
}

// RecogFiles returns the imported Recog fingerprint files by name.
func (s *Store) RecogFiles(ctx context.Context) (map[string][]byte, error) {
	var rows []recogFileRow
	if err := s.db.NewSelect().Model(&rows).Scan(ctx); err != nil {
		return nil, translate(err)
	}
	out := make(map[string][]byte, len(rows))
	for _, r := range rows {
		out[r.Name] = []byte(r.Content)
	}
	return out, nil
}
