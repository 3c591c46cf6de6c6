// Package bench holds Vigil's benchmarks. They are not timed tests: they
// print figures (and ratios between the two databases measured in the same
// run) for the issue notes.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/auth"
	"github.com/vigilscan/vigil/httpapi"
	"github.com/vigilscan/vigil/store"
	"github.com/vigilscan/vigil/storetest"
)

const seedTargets = 100_000

var prefixes = []string{"web", "db", "mail", "vpn"}

// env is one seeded backend behind an in-process HTTP server.
type env struct {
	srv          *httptest.Server
	key, token   string
	createPerSec float64
}

var (
	envs   = map[string]*env{}
	envsMu sync.Mutex
)

func setup(b *testing.B, backend string) *env {
	envsMu.Lock()
	defer envsMu.Unlock()
	if e := envs[backend]; e != nil {
		return e
	}
	ctx := context.Background()
	st := openBackend(b, backend)
	org := benchOrg(b, st)
	e := serveSignedIn(b, st, org, httpapi.Services{Targets: st, Credentials: st, PortLists: st})

	// Create throughput through the API (validation, auth, JSON, one transaction each).
	const viaAPI = 2000
	start := time.Now()
	for i := 0; i < viaAPI; i++ {
		e.call(b, "POST", "/v2/targets", fmt.Sprintf(`{"target":{"name":"%s-%06d","hosts":"192.0.2.%d"}}`, prefixes[i%4], i, i%250+1), nil)
	}
	e.createPerSec = viaAPI / time.Since(start).Seconds()

	// The rest in bulk, straight into the table.
	lists, _, err := st.FindPortLists(ctx, org.ID, vigil.ListOptions{Page: 1, PerPage: 1})
	if err != nil {
		b.Fatal(err)
	}
	db := st.DB()
	base := time.Now().Add(-24 * time.Hour).UTC()
	for from := viaAPI; from < seedTargets; from += 1000 {
		var sb strings.Builder
		var args []any
		sb.WriteString("INSERT INTO targets (id, organization_id, name, hosts, exclude_hosts, comment, port_list_id, alive_test, host_count, created_at, updated_at) VALUES ")
		for i := from; i < from+1000 && i < seedTargets; i++ {
			if i > from {
				sb.WriteString(",")
			}
			sb.WriteString("(?, ?, ?, ?, '', '', ?, 'scan_config_default', 1, ?, ?)")
			at := base.Add(time.Duration(i) * time.Second)
			args = append(args, vigil.NewID(), org.ID, fmt.Sprintf("%s-%06d", prefixes[i%4], i), fmt.Sprintf("192.0.2.%d", i%250+1), lists[0].ID, at, at)
		}
		if _, err := db.ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if backend == "postgres" {
		_, _ = db.ExecContext(ctx, "ANALYZE targets")
	} else {
		_, _ = db.ExecContext(ctx, "ANALYZE")
	}
	envs[backend] = e
	return e
}

// openBackend opens an empty store of backend ("sqlite" or "postgres") that
// outlives the sub-benchmark asking for it: the benchmarks share it.
func openBackend(b *testing.B, backend string) *store.Store {
	if backend == "postgres" {
		if os.Getenv("VIGIL_TEST_POSTGRES_URL") == "" {
			b.Skip("set VIGIL_TEST_POSTGRES_URL to benchmark PostgreSQL")
		}
		return storetest.OpenPostgres(keep{b})
	}
	return storetest.OpenSQLite(keep{b})
}

// benchOrg creates the benchmark organization in st.
func benchOrg(b *testing.B, st *store.Store) *vigil.Organization {
	org, err := st.CreateOrganization(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return org
}

// serveSignedIn gives org an admin and an API key, serves svc (plus the
// account services of st) over HTTP and signs the admin in.
func serveSignedIn(b *testing.B, st *store.Store, org *vigil.Organization, svc httpapi.Services) *env {
	ctx := context.Background()
	hash, _ := auth.HashPassword("bench-password", auth.DefaultArgon2)
	if _, err := st.CreateUser(ctx, org.ID, vigil.UserInput{Email: "bench@example.com", Role: vigil.RoleAdmin, Locale: "en", Timezone: "UTC"}, hash); err != nil {
		b.Fatal(err)
	}
	key := auth.NewToken(auth.PrefixAPIKey)
	if err := st.CreateAPIKey(ctx, &vigil.APIKey{OrganizationID: org.ID, Name: "bench", Prefix: key[:8], KeyHash: auth.HashToken(key)}); err != nil {
		b.Fatal(err)
	}
	cfg := httpapi.DefaultConfig()
	cfg.PasswordHasher = func(p string) (string, error) { return auth.HashPassword(p, auth.DefaultArgon2) }
	cfg.PasswordVerifier = auth.VerifyPassword
	cfg.BurnPasswordCheck = auth.BurnPasswordCheck
	svc.Accounts, svc.Limiter = st, st
	api := httpapi.NewServer(svc, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	e := &env{srv: httptest.NewServer(api), key: key}
	var signIn struct{ Token string }
	e.call(b, "POST", "/auth/sign_in", `{"username":"bench@example.com","password":"bench-password"}`, &signIn)
	e.token = signIn.Token
	return e
}

// keep adapts b so helpers' cleanups run at process end, not when the
// first sub-benchmark ends.
type keep struct{ testing.TB }

func (keep) Cleanup(func()) {}

func (e *env) call(b *testing.B, method, path, body string, out any) {
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", e.key)
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
}

var queries = []struct{ name, query string }{
	{"prefix-by-name", url.Values{"q[name]": {"web-0012*"}, "sort_by": {"name"}}.Encode()},
	{"prefix-25pct-by-name", url.Values{"q[name]": {"db*"}, "sort_by": {"name"}}.Encode()},
	{"prefix-25pct-newest", url.Values{"q[name]": {"mail*"}, "sort_by": {"-created_at"}}.Encode()},
	{"suffix-by-name", url.Values{"q[name]": {"*77"}, "sort_by": {"name desc"}}.Encode()},
	{"exact", url.Values{"q[name]": {"VPN-054321"}}.Encode()},
	{"page-100-by-name", url.Values{"sort_by": {"name"}, "page": {"100"}}.Encode()},
}

// BenchmarkTargetList lists 100,000 targets with a q[name] filter and a
// sort through the HTTP API and reports p50/p95 per request.
func BenchmarkTargetList(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		for _, q := range queries {
			b.Run(backend+"/"+q.name, func(b *testing.B) {
				e := setup(b, backend)
				var lat []time.Duration
				b.ResetTimer()
				for b.Loop() {
					t := time.Now()
					var out struct {
						Meta vigil.ListMeta `json:"meta"`
					}
					e.call(b, "GET", "/v2/targets?"+q.query, "", &out)
					lat = append(lat, time.Since(t))
				}
				b.StopTimer()
				p50, p95 := percentile(lat, 50), percentile(lat, 95)
				b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
				record(backend, q.name, p50, p95)
			})
		}
	}
	printSummary(b)
}

// BenchmarkTargetCreate reports create-target throughput through the API,
// measured while seeding (2,000 sequential POST /v2/targets).
func BenchmarkTargetCreate(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			e := setup(b, backend)
			for b.Loop() {
			}
			b.ReportMetric(e.createPerSec, "targets/s")
		})
	}
}

type result struct{ p50, p95 time.Duration }

var (
	results   = map[string]map[string]result{}
	resultsMu sync.Mutex
)

func record(backend, query string, p50, p95 time.Duration) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	if results[query] == nil {
		results[query] = map[string]result{}
	}
	results[query][backend] = result{p50, p95}
}

func printSummary(b *testing.B) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nGET /v2/targets over %d targets (one organization), per request:\n", seedTargets)
	fmt.Fprintf(&sb, "%-22s %12s %12s %12s %12s %10s\n", "query", "sqlite p50", "sqlite p95", "pg p50", "pg p95", "pg/sqlite")
	for _, q := range queries {
		s, p := results[q.name]["sqlite"], results[q.name]["postgres"]
		ratio := "-"
		if s.p50 > 0 && p.p50 > 0 {
			ratio = fmt.Sprintf("%.2f", float64(p.p50)/float64(s.p50))
		}
		fmt.Fprintf(&sb, "%-22s %12s %12s %12s %12s %10s\n", q.name, ms(s.p50), ms(s.p95), ms(p.p50), ms(p.p95), ratio)
	}
	b.Log(sb.String())
	fmt.Print(sb.String())
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}
