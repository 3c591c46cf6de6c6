package feeds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/feeds"
	"github.com/vigilscan/vigil/internal/testenv"
	"github.com/vigilscan/vigil/storetest"
)

// mirror serves the sample like the official sources: the CVE API pages
// by startIndex and resultsPerPage, the other feeds as files with
// Last-Modified, If-Modified-Since and Range support. breakAfter, when set,
// cuts the first download of the tracker after that many bytes.
type mirror struct {
	t          *testing.T
	dir        string
	mu         sync.Mutex
	requests   []string
	breakAfter int
	broke      bool
	modified   time.Time
}

func (m *mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.requests = append(m.requests, r.Method+" "+r.URL.String()+" range="+r.Header.Get("Range")+" ims="+r.Header.Get("If-Modified-Since"))
	m.mu.Unlock()
	switch {
	case r.URL.Path == "/rest/json/cves/2.0":
		m.servePage(w, r)
		return
	case strings.HasPrefix(r.URL.Path, "/files/"):
	default:
		http.NotFound(w, r)
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, "/files/")
	path := map[string]string{
		"kev.json": "kev/known_exploited_vulnerabilities.json",
		"epss.csv": "epss/epss_scores-subset.csv",
		"tracker":  "debian/tracker-bookworm-subset.json",
	}[rel]
	if strings.HasPrefix(rel, "recog/") {
		path = rel
	}
	data, err := os.ReadFile(filepath.Join(m.dir, path))
	if path == "" || err != nil {
		http.NotFound(w, r)
		return
	}
	if rel == "tracker" && m.breakAfter > 0 && !m.broke && r.Header.Get("Range") == "" {
		// Announce the whole file, send part of it, then drop the connection.
		m.broke = true
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("Last-Modified", m.modified.Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:m.breakAfter])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	http.ServeContent(w, r, rel, m.modified, bytes.NewReader(data))
}

func (m *mirror) servePage(w http.ResponseWriter, r *http.Request) {
	raw, err := os.ReadFile(filepath.Join(m.dir, "nvd-api", "cves-page-0.json"))
	if err != nil {
		m.t.Error(err)
		return
	}
	var page map[string]any
	if err := json.Unmarshal(raw, &page); err != nil {
		m.t.Error(err)
		return
	}
	all := page["vulnerabilities"].([]any)
	if r.URL.Query().Get("lastModStartDate") != "" {
		all = []any{} // nothing changed since: the sample is static
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
	per, _ := strconv.Atoi(r.URL.Query().Get("resultsPerPage"))
	end := min(start+per, len(all))
	if start > len(all) {
		start = len(all)
	}
	page["vulnerabilities"] = all[start:end]
	page["startIndex"], page["resultsPerPage"], page["totalResults"] = start, end-start, len(all)
	json.NewEncoder(w).Encode(page)
}

func (m *mirror) count(substr string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.requests {
		if strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// TestSyncFromMirror syncs every source from a local mirror of the sample:
// the CVE API in pages of 20, an interrupted tracker download that the next
// sync resumes with a Range request, then an incremental sync that asks NVD
// only for what changed and gets 304 for the unchanged files.
func TestSyncFromMirror(t *testing.T) {
	dir := testenv.VulnDB(t)
	m := &mirror{t: t, dir: dir, breakAfter: 3000, modified: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(m)
	defer srv.Close()
	s := storetest.OpenSQLite(t)
	var progress []string
	var pmu sync.Mutex
	sy := &feeds.Syncer{
		Importer: &feeds.Importer{Store: s, Progress: func(src, what string, done, total int64) {
			pmu.Lock()
			progress = append(progress, src+" "+what)
			pmu.Unlock()
		}},
		Sources: feeds.Sources{NVD: srv.URL + "/rest/json/cves/2.0", KEV: srv.URL + "/files/kev.json", EPSS: srv.URL + "/files/epss.csv",
			Debian: srv.URL + "/files/tracker", Recog: srv.URL + "/files/recog/", RecogFiles: []string{"ssh_banners.xml", "http_servers.xml"}},
		CacheDir:    t.TempDir(),
		NVDPageSize: 20,
	}
	ctx := context.Background()

	// First sync: the tracker download breaks; everything else loads.
	res, err := sy.Sync(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "debian") {
		t.Fatalf("first sync: %v", err)
	}
	got := map[string]feeds.Result{}
	for _, r := range res {
		got[r.Source] = r
	}
	if got[vigil.FeedNVD].Total != 56 || got[vigil.FeedNVD].Files != 3 || got[vigil.FeedKEV].Total != 1404 || got[vigil.FeedEPSS].Total != 3 ||
		got[vigil.FeedRecog].Total != 2 {
		t.Errorf("first sync results: %+v", got)
	}
	if n := m.count("/rest/json/cves/2.0?resultsPerPage=20&startIndex="); n != 3 {
		t.Errorf("%d NVD page requests, want 3 (56 records by 20)", n)
	}
	if _, err := os.Stat(filepath.Join(sy.CacheDir, "debian", "tracker.json.part")); err != nil {
		t.Errorf("the interrupted download's partial file: %v", err)
	}

	// Second sync: the tracker resumes at byte 3000; NVD asks from its
	// cursor; the unchanged files answer 304 and are not re-imported.
	res, err = sy.Sync(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]feeds.Result{}
	for _, r := range res {
		got[r.Source] = r
	}
	if got[vigil.FeedDebian].Total != 55 {
		t.Errorf("tracker after resuming: %+v", got[vigil.FeedDebian])
	}
	if m.count("/files/tracker range=bytes=3000-") != 1 {
		t.Errorf("no resumed Range request: %v", m.requests)
	}
	if m.count("lastModStartDate=2026-") != 1 {
		t.Errorf("the second NVD query is not incremental: %v", m.requests)
	}
	if m.count("/files/kev.json range= ims=Fri, 20 Nov 2026 08:00:00 GMT") != 1 || got[vigil.FeedKEV].Version != "unchanged" {
		t.Errorf("KEV not conditional: %+v %v", got[vigil.FeedKEV], m.requests)
	}
	sts, err := s.FeedStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.LastError != "" || st.Records == 0 {
			t.Errorf("%s: %+v", st.Source, st)
		}
		if st.Source == vigil.FeedNVD && st.Records != 56 {
			t.Errorf("NVD after the incremental sync: %+v", st)
		}
	}
	if len(sts) != 5 {
		t.Errorf("%d sources with a status, want 5 (no CPE match source configured)", len(sts))
	}
	pmu.Lock()
	defer pmu.Unlock()
	if len(progress) == 0 {
		t.Error("no progress reported")
	}
}
