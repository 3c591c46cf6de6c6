package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/jobs"
	"github.com/vigilscan/vigil/notify"
	"github.com/vigilscan/vigil/schedule"
	"github.com/vigilscan/vigil/store"
	"github.com/vigilscan/vigil/storetest"
	"github.com/vigilscan/vigil/webhook"
)

const (
	hookBatch   = 1000   // events (one delivery each) per iteration
	hookWorkers = 10     // River's workers, and the raw loop's goroutines
	schedules   = 10_000 // schedules in the scheduler benchmark
	dueTogether = 1_000  // of them due in the same second, each with a scan
)

var discard = slog.New(slog.DiscardHandler)

// openDSN opens an empty store of backend and returns its DSN too (River
// on PostgreSQL opens a pool of its own).
func openDSN(b *testing.B, backend string) (*store.Store, string) {
	dsn := filepath.Join(b.TempDir(), "vigil.db")
	if backend == "postgres" {
		if os.Getenv("VIGIL_TEST_POSTGRES_URL") == "" {
			b.Skip("set VIGIL_TEST_POSTGRES_URL to benchmark PostgreSQL")
		}
		dsn = storetest.PostgresURL(keep{b})
	}
	return storetest.Open(keep{b}, dsn), dsn
}

// hookReceiver counts signed receipts per delivery.
type hookReceiver struct {
	srv      *httptest.Server
	received atomic.Int64
	mu       sync.Mutex
	seen     map[string]int
	bad      atomic.Int64 // signature did not verify
}

func newHookReceiver(secret string) *hookReceiver {
	h := &hookReceiver{seen: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhook.Verify(secret, body, r.Header.Get(webhook.HeaderSignature)) {
			h.bad.Add(1)
		}
		h.mu.Lock()
		h.seen[r.Header.Get(webhook.HeaderDelivery)]++
		h.mu.Unlock()
		h.received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	return h
}

func (h *hookReceiver) waitFor(b *testing.B, n int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for h.received.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries arrived within 5 minutes", h.received.Load(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// BenchmarkWebhookDelivery measures webhook deliveries per second to a
// local receiver through the whole path of `vigil serve`: events in the
// outbox, the dispatcher's fan-out to delivery rows, one River job per
// delivery (10 workers, the server's poll interval), the signed POST
// through the SSRF-guarded client and the attempt's record. The peer in the
// same run is the floor of the work: the same signed POSTs from 10
// goroutines with the same client and no database.
func BenchmarkWebhookDelivery(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, dsn := openDSN(b, backend)
			org := benchOrg(b, st)
			owner, err := st.CreateUser(ctx, org.ID, vigil.UserInput{Email: "hooks@example.com", Role: vigil.RoleAdmin, Locale: "en", Timezone: "UTC"}, "x")
			if err != nil {
				b.Fatal(err)
			}
			const secret = "whsec_bench"
			rc := newHookReceiver(secret)
			defer rc.srv.Close()
			allow, _ := webhook.ParseAllow("127.0.0.1/32")
			client := (&webhook.Guard{Allow: allow}).Client(10 * time.Second)
			cfg := jobs.Config{Messages: nopMessages{}, Queued: nopMessages{}, Log: discard, PollInterval: 500 * time.Millisecond,
				Webhooks: &notify.Deliverer{Store: st, Client: client, Log: discard}, PendingHooks: st}
			var runner *jobs.Runner
			if backend == "sqlite" {
				runner, err = jobs.StartSQLite(ctx, st.DB().DB, cfg)
			} else {
				runner, err = jobs.StartPostgres(ctx, dsn, cfg)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = runner.Stop(context.Background()) }()
			hook := &vigil.Webhook{Name: "bench", URL: rc.srv.URL + "/hook", Events: []string{vigil.EventExceptionCreated}, Secret: secret, Active: true}
			if err := st.CreateWebhook(ctx, org.ID, owner.ID, hook); err != nil {
				b.Fatal(err)
			}
			dispatcher := notify.NewDispatcher(st, runner.EnqueueWebhooks, nil, "", discard)
			go dispatcher.Run(ctx, 2*time.Second)

			var vigilTime, rawTime time.Duration
			for n := 0; n < b.N; n++ {
				outbox(b, st, org.ID, hookBatch)
				start := time.Now()
				dispatcher.Kick()
				rc.waitFor(b, int64((n+1)*hookBatch))
				vigilTime += time.Since(start)

				rawTime += rawPosts(b, client, rc.srv.URL+"/hook", secret, hookBatch)
			}
			total := float64(b.N * hookBatch)
			rc.waitFor(b, int64(2*b.N*hookBatch))
			rc.mu.Lock()
			for id, k := range rc.seen {
				if k != 1 && !strings.HasPrefix(id, "raw-") {
					b.Fatalf("delivery %s arrived %d times", id, k)
				}
			}
			rc.mu.Unlock()
			if rc.bad.Load() != 0 {
				b.Fatalf("%d signatures did not verify", rc.bad.Load())
			}
			b.ReportMetric(total/vigilTime.Seconds(), "deliveries/s")
			b.ReportMetric(total/rawTime.Seconds(), "raw-posts/s")
			b.ReportMetric(vigilTime.Seconds()/rawTime.Seconds(), "vigil/raw")
		})
	}
}

// outbox writes n exception_created events straight into the outbox, as
// n exception requests would.
func outbox(b *testing.B, st *store.Store, orgID string, n int) {
	ctx := context.Background()
	now := time.Now().UTC()
	for from := 0; from < n; from += 500 {
		var sb strings.Builder
		var args []any
		sb.WriteString("INSERT INTO events (id, organization_id, type, resource_type, resource_id, title, message, data, created_at) VALUES ")
		for i := from; i < from+500 && i < n; i++ {
			if i > from {
				sb.WriteString(",")
			}
			sb.WriteString("(?, ?, ?, 'exception', ?, 'Exception requested', 'Accepted risk', ?, ?)")
			ex := vigil.NewID()
			args = append(args, vigil.NewID(), orgID, vigil.EventExceptionCreated, ex,
				fmt.Sprintf(`{"exception":{"id":%q,"text":"Accepted risk","status":"pending"}}`, ex), now)
		}
		if _, err := st.DB().ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
}

// rawPosts sends n signed deliveries from hookWorkers goroutines with the
// webhook client and no database: the floor of a delivery's cost.
func rawPosts(b *testing.B, client *http.Client, url, secret string, n int) time.Duration {
	ctx := context.Background()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range hookWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				d := &vigil.WebhookDelivery{ID: fmt.Sprintf("raw-%s", vigil.NewID()), WebhookID: "raw", Event: vigil.EventExceptionCreated,
					Payload: fmt.Sprintf(`{"event":"exception_created","delivery_id":"raw-%d","created_at":"now","data":{}}`, i)}
				if res := webhook.Post(ctx, client, &webhook.Job{Delivery: d, URL: url, Secret: secret}, 1); !res.OK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		b.Fatalf("%d raw posts failed", failed.Load())
	}
	return time.Since(start)
}

// nopMessages stands in for e-mail delivery, which this benchmark does not use.
type nopMessages struct{}

func (nopMessages) Deliver(context.Context, string, bool) error { return nil }
func (nopMessages) QueuedMessages(context.Context, time.Time, int) ([]string, error) {
	return nil, nil
}

// BenchmarkScheduler measures the scheduler's overhead with 10,000
// schedules: the time of a tick when nothing is due (what every replica
// pays every --tick), against the same tick on an empty database in the
// same run, and the rate at which one tick fires 1,000 slots due in the
// same second (each starting its scan in the slot's transaction).
func BenchmarkScheduler(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			now := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
			clock := now
			tick := func(st *store.Store) []*vigil.ScheduleRun {
				runs, err := (&schedule.Scheduler{Store: st, Now: func() time.Time { return clock }}).Tick(ctx)
				if err != nil {
					b.Fatal(err)
				}
				return runs
			}
			const idleTicks = 500
			idle := func(st *store.Store) time.Duration {
				tick(st) // warm the connection pool
				start := time.Now()
				for range idleTicks {
					if runs := tick(st); len(runs) != 0 {
						b.Fatalf("%d slots fired on an idle tick", len(runs))
					}
				}
				return time.Since(start) / idleTicks
			}

			empty, _ := openDSN(b, backend)
			baseline := idle(empty)

			st, _ := openDSN(b, backend)
			org := benchOrg(b, st)
			name, hosts := "bench", "192.0.2.1"
			target, err := st.CreateTarget(ctx, org.ID, vigil.TargetInput{Name: &name, Hosts: &hosts})
			if err != nil {
				b.Fatal(err)
			}
			zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo"}
			units := []string{vigil.UnitHour, vigil.UnitDay, vigil.UnitWeek, vigil.UnitMonth}
			seedStart := time.Now()
			for i := range schedules {
				s := &vigil.Schedule{OrganizationID: org.ID, Name: fmt.Sprintf("s-%05d", i), TimeZone: zones[i%len(zones)], Period: 1,
					PeriodUnit: units[i%len(units)], FirstTime: now.Add(2*time.Hour + time.Duration(i)*8*time.Second)}
				if i < dueTogether {
					s.PeriodUnit, s.FirstTime = vigil.UnitDay, now.Add(time.Hour)
				}
				if s.NextRunAt, err = schedule.First(s, now); err != nil {
					b.Fatal(err)
				}
				if err := st.CreateSchedule(ctx, s); err != nil {
					b.Fatal(err)
				}
				if i < dueTogether {
					scan := fmt.Sprintf("scan-%05d", i)
					if _, err := st.CreateScan(ctx, org.ID, vigil.ScanInput{Name: &scan, TargetID: &target.ID, ScheduleID: &s.ID}); err != nil {
						b.Fatal(err)
					}
				}
			}
			seeded := time.Since(seedStart)
			_, _ = st.DB().ExecContext(ctx, "ANALYZE")
			loaded := idle(st)

			clock = now.Add(time.Hour + time.Second)
			start := time.Now()
			runs := tick(st)
			fire := time.Since(start)
			started := 0
			for _, r := range runs {
				if r.RunID != "" {
					started++
				}
			}
			if started != dueTogether {
				b.Fatalf("one tick started %d of %d due scans", started, dueTogether)
			}
			b.ReportMetric(float64(baseline.Microseconds()), "idle-tick-empty-µs")
			b.ReportMetric(float64(loaded.Microseconds()), "idle-tick-10k-µs")
			b.ReportMetric(float64(loaded)/float64(baseline), "10k/empty")
			b.ReportMetric(float64(dueTogether)/fire.Seconds(), "slots-fired/s")
			b.ReportMetric(seeded.Seconds(), "seed-s")
		})
	}
}
