package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
)

const (
	groupTargets  = 50_000 // targets in the organization, all grouped
	groupCount    = 500    // groups of 100 targets each
	memberOfCount = 10     // groups the restricted user belongs to
)

// BenchmarkGroupAccess measures what group restrictions cost: the first page
// of the target list for an admin (no restriction) and for a user who sees
// 1,000 of 50,000 targets through 10 of 500 groups, and one ResourceAccess
// check (what every single-target or single-scan route adds for such a
// user). Restricted/unrestricted ratios per backend.
func BenchmarkGroupAccess(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			st := openBackend(b, backend)
			org := benchOrg(b, st)
			user, err := st.CreateUser(ctx, org.ID, vigil.UserInput{Email: "member@example.com", Role: vigil.RoleUser, Locale: "en", Timezone: "UTC"}, "x")
			if err != nil {
				b.Fatal(err)
			}
			lists, _, err := st.FindPortLists(ctx, org.ID, vigil.ListOptions{Page: 1, PerPage: 1})
			if err != nil {
				b.Fatal(err)
			}
			db := st.DB()
			ids := make([]string, groupTargets)
			base := time.Now().Add(-time.Hour).UTC()
			for from := 0; from < groupTargets; from += 1000 {
				var sb strings.Builder
				var args []any
				sb.WriteString("INSERT INTO targets (id, organization_id, name, hosts, exclude_hosts, comment, port_list_id, alive_test, host_count, created_at, updated_at) VALUES ")
				for i := from; i < from+1000; i++ {
					if i > from {
						sb.WriteString(",")
					}
					sb.WriteString("(?, ?, ?, '192.0.2.1', '', '', ?, 'scan_config_default', 1, ?, ?)")
					ids[i] = vigil.NewID()
					at := base.Add(time.Duration(i) * time.Millisecond)
					args = append(args, ids[i], org.ID, fmt.Sprintf("t-%06d", i), lists[0].ID, at, at)
				}
				if _, err := db.ExecContext(ctx, sb.String(), args...); err != nil {
					b.Fatal(err)
				}
			}
			per := groupTargets / groupCount
			for g := 0; g < groupCount; g++ {
				name := fmt.Sprintf("g-%03d", g)
				grp, err := st.CreateGroup(ctx, org.ID, "", vigil.GroupInput{Name: &name})
				if err != nil {
					b.Fatal(err)
				}
				if err := st.SetGroupResources(ctx, org.ID, grp.ID, ids[g*per:(g+1)*per], nil, false); err != nil {
					b.Fatal(err)
				}
				if g%(groupCount/memberOfCount) == 0 {
					if err := st.SetMember(ctx, org.ID, grp.ID, user.ID, vigil.AccessView, "manual"); err != nil {
						b.Fatal(err)
					}
				}
			}
			_, _ = db.ExecContext(ctx, "ANALYZE")
			page := vigil.ListOptions{Page: 1, PerPage: 25, Sort: []vigil.Sort{{Column: "name"}}}
			restricted := page
			restricted.RestrictTo = user.ID
			var perOp [3]time.Duration
			for i, run := range []func() error{
				func() error { _, _, err := st.FindTargets(ctx, org.ID, page); return err },
				func() error {
					ts, total, err := st.FindTargets(ctx, org.ID, restricted)
					if err == nil && (total != memberOfCount*per || len(ts) != 25) {
						err = fmt.Errorf("restricted list: %d of %d", len(ts), total)
					}
					return err
				},
				func() error {
					_, err := st.ResourceAccess(ctx, org.ID, user.ID, vigil.ResourceTarget, ids[len(ids)/2])
					return err
				},
			} {
				start := time.Now()
				for n := 0; n < b.N; n++ {
					if err := run(); err != nil {
						b.Fatal(err)
					}
				}
				perOp[i] = time.Since(start) / time.Duration(b.N)
			}
			b.ReportMetric(float64(perOp[0].Microseconds()), "admin-list-µs")
			b.ReportMetric(float64(perOp[1].Microseconds()), "restricted-list-µs")
			b.ReportMetric(float64(perOp[1])/float64(perOp[0]), "restricted/admin")
			b.ReportMetric(float64(perOp[2].Microseconds()), "access-check-µs")
		})
	}
}
