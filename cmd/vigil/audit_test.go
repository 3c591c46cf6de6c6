package main

import (
	"context"
	"strings"
	"testing"
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
		}
	}
	if missing == 0 && len(ts.mutations) > 0 {
		t.Logf("%d writes, each with its audit row (%d rows in all)", len(ts.mutations), len(rows))
	}
}
