package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilscan/vigil/httpapi"
	"github.com/vigilscan/vigil/internal/seed"
)

// Results benchmark size: VIGIL_BENCH_FINDINGS findings (default 1,000,000)
// over 10,000 hosts in 10 scans, each scan run twice (the second run fixes
// 5 % of the findings, so statuses differ).
func resultsSize() (findings, hosts int) {
	findings = 1_000_000
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_FINDINGS")); err == nil && v > 0 {
		findings = v
	}
	return findings, max(findings/100, 10)
}

type resultsEnv struct {
	env
	host   string
	scan   string
	ingest float64 // findings/s
	rows   int
}

var (
	resultsEnvs   = map[string]*resultsEnv{}
	resultsEnvsMu sync.Mutex
)

func setupResults(b *testing.B, backend string) *resultsEnv {
	resultsEnvsMu.Lock()
	defer resultsEnvsMu.Unlock()
	if e := resultsEnvs[backend]; e != nil {
		return e
	}
	ctx := context.Background()
	st := openBackend(b, backend)
	org := benchOrg(b, st)
	findings, hosts := resultsSize()
	stats, err := seed.Run(ctx, st, org.ID, seed.Options{Findings: findings, Hosts: hosts, Scans: 10, FixedPerMille: 50})
	if err != nil {
		b.Fatal(err)
	}
	// Planner statistics as a server would have them: SQLite's from the
	// hourly PRAGMA optimize, PostgreSQL's (and its visibility map, which
	// index-only counts need) from what autovacuum does after a bulk load;
	// this is done here because test clusters may run with autovacuum off.
	if backend == "postgres" {
		_, err = st.DB().ExecContext(ctx, "VACUUM ANALYZE")
	} else {
		err = st.Optimize(ctx)
	}
	if err != nil {
		b.Fatal(err)
	}
	e := &resultsEnv{env: *serveSignedIn(b, st, org, httpapi.Services{Targets: st, Scans: st, Results: st}),
		ingest: stats.PerSecond(), rows: stats.Findings}
	var mv struct {
		Data []struct{ ID string } `json:"data"`
	}
	e.call(b, "GET", "/v2/hosts/most_vulnerable?limit=1", "", &mv)
	e.host = mv.Data[0].ID
	var scans struct {
		Data []struct{ ID string } `json:"data"`
	}
	e.call(b, "GET", "/v2/scans?per_page=1", "", &scans)
	e.scan = scans.Data[0].ID
	resultsEnvs[backend] = e
	return e
}

var resultQueries = []struct {
	name string
	path func(e *resultsEnv) string
}{
	{"vulns high+open by -severity p1", func(*resultsEnv) string {
		return "/v2/vulnerabilities?" + url.Values{"q[severity]": {"high"}, "q[status]": {"open"}, "sort_by": {"-severity"}}.Encode()
	}},
	{"vulns high+open by -severity p200", func(*resultsEnv) string {
		return "/v2/vulnerabilities?" + url.Values{"q[severity]": {"high"}, "q[status]": {"open"}, "sort_by": {"-severity"}, "page": {"200"}}.Encode()
	}},
	{"vulns medium+port443 newest p1", func(*resultsEnv) string {
		return "/v2/vulnerabilities?" + url.Values{"q[severity]": {"medium"}, "q[port]": {"443"}, "sort_by": {"-last_seen_at"}}.Encode()
	}},
	{"vulns medium+port443 newest p200", func(*resultsEnv) string {
		return "/v2/vulnerabilities?" + url.Values{"q[severity]": {"medium"}, "q[port]": {"443"}, "sort_by": {"-last_seen_at"}, "page": {"200"}}.Encode()
	}},
	{"vulns fixed by ip p1", func(*resultsEnv) string {
		return "/v2/vulnerabilities?" + url.Values{"q[status]": {"fixed"}, "sort_by": {"ip"}}.Encode()
	}},
	{"host details", func(e *resultsEnv) string { return "/v2/hosts/" + e.host }},
	{"hosts by -severity p1", func(*resultsEnv) string { return "/v2/hosts?sort_by=-severity" }},
	{"widget total", func(*resultsEnv) string { return "/v2/vulnerabilities/total" }},
	{"widget top (hosts)", func(*resultsEnv) string { return "/v2/vulnerabilities/top" }},
	{"widget top (risk)", func(*resultsEnv) string { return "/v2/vulnerabilities/top?by=risk" }},
	{"widget pci_compliant", func(*resultsEnv) string { return "/v2/vulnerabilities/pci_compliant" }},
	{"most vulnerable hosts", func(*resultsEnv) string { return "/v2/hosts/most_vulnerable" }},
	{"scan statistics", func(e *resultsEnv) string { return "/v2/scans/" + e.scan + "/statistics" }},
}

// BenchmarkResults seeds 1,000,000 findings over 10,000 hosts through the
// node's write path (reporting ingest throughput), then measures p50/p95 of
// the vulnerability lists, host details and widgets through HTTP.
func BenchmarkResults(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, q := range resultQueries {
			b.Run(backend+"/"+strings.ReplaceAll(q.name, " ", "_"), func(b *testing.B) {
				e := setupResults(b, backend)
				path := q.path(e)
				var lat []time.Duration
				for b.Loop() {
					t := time.Now()
					e.call(b, "GET", path, "", nil)
					lat = append(lat, time.Since(t))
				}
				p50, p95 := percentile(lat, 50), percentile(lat, 95)
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
				record(backend, "results:"+q.name, p50, p95)
			})
		}
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	var sb strings.Builder
	findings, hosts := resultsSize()
	fmt.Fprintf(&sb, "\nResults: %d findings over %d hosts (10 scans, 2 runs each), through HTTP, per request:\n", findings, hosts)
	fmt.Fprintf(&sb, "%-36s %11s %11s %11s %11s\n", "query", "sqlite p50", "sqlite p95", "pg p50", "pg p95")
	for _, q := range resultQueries {
		s, p := results["results:"+q.name]["sqlite"], results["results:"+q.name]["postgres"]
		fmt.Fprintf(&sb, "%-36s %11s %11s %11s %11s\n", q.name, ms(s.p50), ms(s.p95), ms(p.p50), ms(p.p95))
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		if e := resultsEnvs[backend]; e != nil {
			fmt.Fprintf(&sb, "ingest %-8s %d finding writes, %.0f findings/s\n", backend, e.rows, e.ingest)
		}
	}
	b.Log(sb.String())
	fmt.Print(sb.String())
}
