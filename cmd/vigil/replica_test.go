package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/storetest"
)

// Two `vigil serve` processes on one PostgreSQL database, both ticking the
// scheduler every 50 ms: every slot of every schedule starts its scan once.
func TestScheduleTwoReplicasPostgres(t *testing.T) {
	pg := storetest.PostgresURL(t)
	dir := t.TempDir()
	ts := &testServer{t: t, dataDir: dir}
	flags := []string{"--database", pg, "--no-scanner", "--tick", "50ms"}
	ts.url = spawn(t, dir, func(out string) {
		if m := regexp.MustCompile(`API key \(x-api-key\): (\S+)`).FindStringSubmatch(out); m != nil {
			ts.apiKey = m[1]
		}
	}, flags...)
	other := spawn(t, dir, func(string) {}, flags...)
	ts.loadOpenAPI()
	a := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	ts2 := &testServer{t: t, url: other, dataDir: dir}
	ts2.loadOpenAPI()
	b := &client{ts: ts2, apiKey: ts.apiKey, token: a.token}

	// Ten scans, each on its own schedule, all due within the same second.
	first := vigil.Now().Add(3 * time.Second).Format(time.RFC3339)
	var scans, schedules []string
	for i := range 10 {
		c := a
		if i%2 == 1 {
			c = b // half created through the other replica
		}
		r := c.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "t" + string(rune('a'+i)), "hosts": "192.0.2.1"}})
		mustStatus(t, r, 201, "target")
		tg := id(r.data())
		r = c.do("POST", "/v2/schedules", map[string]any{"schedule": map[string]any{"name": "s", "first_time": first, "period_unit": "hourly"}})
		mustStatus(t, r, 201, "schedule")
		schedules = append(schedules, id(r.data()))
		r = c.do("POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "s", "target_id": tg, "schedule_id": id(r.data())}})
		mustStatus(t, r, 201, "scan")
		scans = append(scans, id(r.data()))
	}
	waitFor(t, 20*time.Second, "every schedule fires", func() bool {
		for _, s := range schedules {
			if len(a.do("GET", "/v2/schedules/"+s+"/runs", nil).list()) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // both replicas tick ~20 more times each
	for i, sc := range scans {
		runs := a.do("GET", "/v2/scans/"+sc+"/histories", nil).list()
		slots := a.do("GET", "/v2/schedules/"+schedules[i]+"/runs", nil).list()
		fired := a.do("GET", "/v2/schedules/"+schedules[i], nil).data()["slots"]
		if len(runs) != 1 || len(slots) != 1 || slots[0]["history_id"] != id(runs[0]) || fired != float64(1) {
			t.Errorf("scan %d: %d runs, %d slot records, fired %v times: %v", i, len(runs), len(slots), fired, slots)
		}
	}
}
