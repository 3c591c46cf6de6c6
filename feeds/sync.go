package feeds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
)

// Sources are where Sync downloads from; each can point at a mirror.
type Sources struct {
	NVD      string // CVE API 2.0 endpoint
	CPEMatch string // CPE Match API 2.0 endpoint ("" skips it: the matcher needs only the CVE records)
	KEV      string
	EPSS     string // the daily CSV, plain or gzipped
	Debian   string // the tracker's JSON dump
	Recog    string // base URL of Recog's xml/ directory
	// RecogFiles are the fingerprint files fetched under Recog.
	RecogFiles []string
	// NVDAPIKey raises NVD's rate limit (sent as the apiKey header).
	NVDAPIKey string
}

// OfficialSources are the upstream locations.
var OfficialSources = Sources{
	NVD:    "https://services.nvd.nist.gov/rest/json/cves/2.0",
	KEV:    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
	EPSS:   "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz",
	Debian: "https://security-tracker.debian.org/tracker/data/json",
	Recog:  "https://raw.githubusercontent.com/rapid7/recog/main/xml/",
	RecogFiles: []string{"ssh_banners.xml", "http_servers.xml", "ftp_banners.xml", "smtp_banners.xml", "imap_banners.xml",
		"pop_banners.xml", "dns_versionbind.xml", "mysql_banners.xml", "snmp_sysdescr.xml"},
}

// Syncer downloads feeds and imports them. Downloads land in CacheDir
// first: an interrupted file resumes where it stopped (HTTP Range), NVD
// pages already fetched for the same query are not fetched again, and
// nothing is imported until a source is complete.
type Syncer struct {
	Importer *Importer
	Sources  Sources
	CacheDir string
	Client   *http.Client
	// NVDPageSize is the CVE API's resultsPerPage (at most 2000).
	NVDPageSize int
	// NVDPageDelay spaces NVD requests (NVD asks for 6 s without an API key).
	NVDPageDelay time.Duration
	// NVDWindow is the longest lastModified range one query may span (NVD: 120 days).
	NVDWindow time.Duration
}

// Sync downloads and imports the given sources (all configured ones when
// empty). A source that fails leaves its data as it was; the others go on.
func (s *Syncer) Sync(ctx context.Context, sources []string) ([]Result, error) {
	if len(sources) == 0 {
		sources = vigil.FeedSources
	}
	var results []Result
	var failed []string
	for _, src := range sources {
		res, err := s.syncSource(ctx, src)
		if errors.Is(err, errNotConfigured) {
			continue
		}
		if err != nil {
			failed = append(failed, err.Error())
			if rerr := s.Importer.Store.RecordFeedError(context.WithoutCancel(ctx), src, err.Error(), s.Importer.now()); rerr != nil {
				failed = append(failed, rerr.Error())
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if res != nil {
			results = append(results, *res)
		}
	}
	if len(failed) > 0 {
		return results, errors.New(strings.Join(failed, "; "))
	}
	return results, nil
}

var errNotConfigured = errors.New("source not configured")

func (s *Syncer) syncSource(ctx context.Context, src string) (*Result, error) {
	switch src {
	case vigil.FeedNVD:
		if s.Sources.NVD == "" {
			return nil, errNotConfigured
		}
		return s.syncNVD(ctx)
	case vigil.FeedCPEMatch:
		if s.Sources.CPEMatch == "" {
			return nil, errNotConfigured
		}
		return s.syncPaged(ctx, src, s.Sources.CPEMatch, "matchStrings")
	case vigil.FeedKEV:
		return s.syncFiles(ctx, src, s.Sources.KEV, []string{""})
	case vigil.FeedEPSS:
		return s.syncFiles(ctx, src, s.Sources.EPSS, []string{""})
	case vigil.FeedDebian:
		return s.syncFiles(ctx, src, s.Sources.Debian, []string{""})
	case vigil.FeedRecog:
		return s.syncFiles(ctx, src, s.Sources.Recog, s.Sources.RecogFiles)
	}
	return nil, fmt.Errorf("unknown feed source %q", src)
}

func (s *Syncer) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

// syncFiles fetches a file source (names are joined to base; "" is base
// itself). When the server says none of them changed since the last sync
// (If-Modified-Since), nothing is imported.
func (s *Syncer) syncFiles(ctx context.Context, src, base string, names []string) (*Result, error) {
	if base == "" {
		return nil, errNotConfigured
	}
	old, err := s.Importer.status(ctx, src)
	if err != nil {
		return nil, err
	}
	since := ""
	if old != nil && old.LastError == "" {
		since = old.Cursor
	}
	dir := filepath.Join(s.CacheDir, src)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var paths []string
	changed, newest := false, ""
	for i, name := range names {
		u := base
		if name != "" {
			u = strings.TrimRight(base, "/") + "/" + name
		}
		file := name
		if file == "" {
			file = fileName(u)
		}
		path := filepath.Join(dir, file)
		lastMod, modified, err := s.download(ctx, src, u, path, since)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		changed = changed || modified
		if lastMod > newest {
			newest = lastMod
		}
		paths = append(paths, path)
		s.Importer.Progress.report(src, "files", int64(i+1), int64(len(names)))
	}
	if !changed {
		return &Result{Source: src, Version: "unchanged"}, nil
	}
	return s.Importer.importSource(ctx, src, paths, newest, s.Importer.fillFrom(ctx, src, paths))
}

// fileName names the cache file of a URL: its last path element.
func fileName(u string) string {
	p, err := url.Parse(u)
	if err != nil || strings.Trim(p.Path, "/") == "" {
		return "download"
	}
	name := filepath.Base(p.Path)
	if !strings.Contains(name, ".") {
		name += ".json" // the tracker's /tracker/data/json
	}
	return name
}

// download fetches u to path. A path.part left by an interrupted download
// is resumed with a Range request. With since (an HTTP date) a 304 answer
// keeps the cached file and reports it unmodified.
func (s *Syncer) download(ctx context.Context, src, u, path, since string) (lastModified string, modified bool, err error) {
	part := path + ".part"
	var offset int64
	if fi, err := os.Stat(part); err == nil {
		offset = fi.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	} else if _, perr := http.ParseTime(since); perr == nil {
		if _, err := os.Stat(path); err == nil {
			req.Header.Set("If-Modified-Since", since)
		}
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch resp.StatusCode {
	case http.StatusNotModified:
		return since, false, nil
	case http.StatusPartialContent:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", offset)) {
			return "", false, fmt.Errorf("GET %s: resumed at the wrong offset (%s)", u, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
	case http.StatusOK:
		flags |= os.O_TRUNC
		offset = 0
	default:
		return "", false, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o600)
	if err != nil {
		return "", false, err
	}
	total := offset + resp.ContentLength
	pr := &progressReader{r: resp.Body, done: offset, total: total, report: func(done, total int64) {
		s.Importer.Progress.report(src, "bytes", done, total)
	}}
	if _, err := io.Copy(f, pr); err != nil {
		f.Close()
		return "", false, fmt.Errorf("GET %s: %w (the %d bytes so far are kept; the next sync resumes)", u, err, pr.done)
	}
	if err := f.Close(); err != nil {
		return "", false, err
	}
	if err := os.Rename(part, path); err != nil {
		return "", false, err
	}
	return resp.Header.Get("Last-Modified"), true, nil
}

type progressReader struct {
	r           io.Reader
	done, total int64
	report      func(done, total int64)
	last        time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if now := time.Now(); err != nil || now.Sub(p.last) > 200*time.Millisecond {
		p.last = now
		p.report(p.done, p.total)
	}
	return n, err
}

// nvdQuery is one NVD download: a lastModified window (none: everything).
type nvdQuery struct {
	Start, End string // NVD's ISO-8601 dates; "" for a full download
}

func (q nvdQuery) key() string {
	if q.Start == "" {
		return "full"
	}
	return strings.NewReplacer(":", "", "-", "", ".", "").Replace(q.Start + "_" + q.End)
}

// syncNVD fetches the CVE records modified since the last sync (all of
// them the first time), page by page, and imports them in one transaction.
func (s *Syncer) syncNVD(ctx context.Context) (*Result, error) {
	old, err := s.Importer.status(ctx, vigil.FeedNVD)
	if err != nil {
		return nil, err
	}
	now := s.Importer.now()
	var queries []nvdQuery
	if old == nil || old.Cursor == "" {
		queries = []nvdQuery{{}}
	} else {
		start, err := time.Parse(time.RFC3339Nano, old.Cursor)
		if err != nil {
			return nil, fmt.Errorf("nvd: cursor %q: %w", old.Cursor, err)
		}
		window := s.NVDWindow
		if window <= 0 {
			window = 120 * 24 * time.Hour
		}
		for from := start; from.Before(now); from = from.Add(window) {
			to := from.Add(window)
			if to.After(now) {
				to = now
			}
			queries = append(queries, nvdQuery{Start: from.UTC().Format("2006-01-02T15:04:05.000Z"), End: to.UTC().Format("2006-01-02T15:04:05.000Z")})
		}
	}
	var pages []string
	for _, q := range queries {
		ps, err := s.fetchPages(ctx, vigil.FeedNVD, s.Sources.NVD, q, "vulnerabilities")
		if err != nil {
			return nil, err
		}
		pages = append(pages, ps...)
	}
	res, err := s.Importer.importSource(ctx, vigil.FeedNVD, pages, "", s.Importer.fillFrom(ctx, vigil.FeedNVD, pages))
	if err != nil {
		return nil, err
	}
	// The pages are imported: the next sync starts from the new cursor.
	for _, q := range queries {
		os.RemoveAll(filepath.Join(s.CacheDir, vigil.FeedNVD, q.key()))
	}
	return res, nil
}

// syncPaged fetches a paged NVD API (CPE match) in full and imports it.
func (s *Syncer) syncPaged(ctx context.Context, src, endpoint, itemsKey string) (*Result, error) {
	pages, err := s.fetchPages(ctx, src, endpoint, nvdQuery{}, itemsKey)
	if err != nil {
		return nil, err
	}
	res, err := s.Importer.importSource(ctx, src, pages, "", s.Importer.fillFrom(ctx, src, pages))
	if err == nil {
		os.RemoveAll(filepath.Join(s.CacheDir, src, nvdQuery{}.key()))
	}
	return res, err
}

// fetchPages downloads every page of one query into the cache, keeping the
// pages a previous, interrupted sync already has.
func (s *Syncer) fetchPages(ctx context.Context, src, endpoint string, q nvdQuery, itemsKey string) ([]string, error) {
	dir := filepath.Join(s.CacheDir, src, q.key())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	size := s.NVDPageSize
	if size <= 0 || size > 2000 {
		size = 2000
	}
	var pages []string
	total := -1
	for start, n := 0, 0; total < 0 || start < total; n++ {
		if n > 100_000 {
			return nil, fmt.Errorf("%s: more than 100000 pages; giving up", src)
		}
		path := filepath.Join(dir, fmt.Sprintf("page-%09d.json", start))
		if data, err := os.ReadFile(path); err == nil {
			if got, per, ok := pageCounts(data, itemsKey); ok {
				total = got
				pages = append(pages, path)
				start += per
				continue
			}
		}
		if len(pages) > 0 && s.NVDPageDelay > 0 {
			select {
			case <-time.After(s.NVDPageDelay):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		u, err := url.Parse(endpoint)
		if err != nil {
			return nil, err
		}
		v := u.Query()
		v.Set("startIndex", strconv.Itoa(start))
		v.Set("resultsPerPage", strconv.Itoa(size))
		if q.Start != "" {
			v.Set("lastModStartDate", q.Start)
			v.Set("lastModEndDate", q.End)
		}
		u.RawQuery = v.Encode()
		data, err := s.get(ctx, u.String())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		got, per, ok := pageCounts(data, itemsKey)
		if !ok {
			return nil, fmt.Errorf("%s: page at %d is not an API page", src, start)
		}
		if per == 0 && start < got {
			return nil, fmt.Errorf("%s: empty page at %d of %d", src, start, got)
		}
		if err := os.WriteFile(path+".part", data, 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(path+".part", path); err != nil {
			return nil, err
		}
		total = got
		pages = append(pages, path)
		start += per
		s.Importer.Progress.report(src, "records", int64(min(start, total)), int64(total))
		if per == 0 {
			break
		}
	}
	sort.Strings(pages)
	return pages, nil
}

// pageCounts reads an API page's totalResults and how many items it holds.
func pageCounts(data []byte, itemsKey string) (total, items int, ok bool) {
	var p map[string]json.RawMessage
	if json.Unmarshal(data, &p) != nil {
		return 0, 0, false
	}
	var list []json.RawMessage
	if json.Unmarshal(p["totalResults"], &total) != nil || json.Unmarshal(p[itemsKey], &list) != nil {
		return 0, 0, false
	}
	return total, len(list), true
}

func (s *Syncer) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if s.Sources.NVDAPIKey != "" {
		req.Header.Set("apiKey", s.Sources.NVDAPIKey)
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(resp.Body)
}
