package main

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// assertAudited checks the audit trail against every write the test made
// through client.do: each one that succeeded (or was refused for lack of
// permission) has an audit row with its request id, and no row holds any
// of secrets (passwords, keys, tokens the test used).
func (ts *testServer) assertAudited(t *testing.T, secrets ...string) {
	t.Helper()
	ctx := context.Background()
	st, err := (&DBFlags{DataDir: ts.dataDir, Database: ts.database, MaxTargetHosts: 4096}).open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rows []struct {
		RequestID string `bun:"request_id"`
		Action    string `bun:"action"`
		Changes   string `bun:"changes"`
		UserAgent string `bun:"user_agent"`
	}
	if err := st.DB().NewSelect().TableExpr("audit_events").Column("request_id", "action", "changes", "user_agent").Scan(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	byRequest := map[string][]string{}
	for _, r := range rows {
		byRequest[r.RequestID] = append(byRequest[r.RequestID], r.Action)
		for _, s := range secrets {
			if s != "" && strings.Contains(r.Changes, s) {
				t.Errorf("audit row %s holds a secret value (%.6s…): %s", r.Action, s, r.Changes)
			}
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	missing := 0
	for _, m := range ts.mutations {
		if m.requestID == "" {
			t.Errorf("%s %s: no X-Request-Id in the response", m.method, m.path)
			continue
		}
		if len(byRequest[m.requestID]) == 0 {
			missing++
			t.Errorf("%s %s (%d): no audit row for request %s", m.method, m.path, m.status, m.requestID)
		} else if m.status < 300 {
			audits.audited(m.route)
		}
	}
	if missing == 0 && len(ts.mutations) > 0 {
		t.Logf("%d writes, each with its audit row (%d rows in all)", len(ts.mutations), len(rows))
	}
}

// audits is the package's audit coverage: every mutating operation of the
// OpenAPI document, and those a test saw succeed with their audit row.
var audits = &auditCoverage{ops: map[string]bool{}, seen: map[string]bool{}}

type auditCoverage struct {
	mu        sync.Mutex
	ops, seen map[string]bool
}

func (a *auditCoverage) operations(doc *openapi3.T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions {
				a.ops[method+" "+path] = true
			}
		}
	}
}

func (a *auditCoverage) audited(route string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if route != "" {
		a.seen[route] = true
	}
}

// missing lists the mutating operations no test made succeed with an audit
// row (meaningful only after the whole package ran).
func (a *auditCoverage) missing() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for op := range a.ops {
		if !a.seen[op] {
			out = append(out, op)
		}
	}
	sort.Strings(out)
	return out
}
