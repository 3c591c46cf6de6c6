package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/internal/mailtest"
	"github.com/vigilscan/vigil/storetest"
	"github.com/vigilscan/vigil/webhook"
)

// fakeClock is real time plus an offset the test moves forward.
type fakeClock struct{ off atomic.Int64 }

func (f *fakeClock) Now() time.Time          { return vigil.Now().Add(time.Duration(f.off.Load())) }
func (f *fakeClock) Advance(d time.Duration) { f.off.Add(int64(d)) }

// hookCall is one request the receiver got.
type hookCall struct {
	header http.Header
	body   []byte
	status int
}

// receiver is a webhook subscriber on a loopback address: it answers 500
// to the first failFirst[event] deliveries of an event, then 200.
type receiver struct {
	url       string
	mu        sync.Mutex
	calls     []hookCall
	failFirst map[string]int
	seen      map[string]int
}

func newReceiver(t *testing.T, addr string, failFirst map[string]int) *receiver {
	t.Helper()
	rc := &receiver{failFirst: failFirst, seen: map[string]int{}}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev := r.Header.Get(webhook.HeaderEvent)
		rc.mu.Lock()
		rc.seen[ev]++
		status := http.StatusOK
		if rc.seen[ev] <= rc.failFirst[ev] {
			status = http.StatusInternalServerError
		}
		rc.calls = append(rc.calls, hookCall{header: r.Header.Clone(), body: body, status: status})
		rc.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":` + map[bool]string{true: "true", false: "false"}[status == 200] + `}`))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	rc.url = "http://" + ln.Addr().String() + "/hook"
	return rc
}

// succeeded returns the successful calls of event.
func (rc *receiver) succeeded(event string) []hookCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []hookCall
	for _, c := range rc.calls {
		if c.status == 200 && c.header.Get(webhook.HeaderEvent) == event {
			out = append(out, c)
		}
	}
	return out
}

func (rc *receiver) all() []hookCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hookCall(nil), rc.calls...)
}

func TestWorkflowSQLite(t *testing.T) { testWorkflow(t, "sqlite") }

func TestWorkflowPostgres(t *testing.T) { testWorkflow(t, "postgres") }

// testWorkflow drives exceptions, webhooks, notifications, schedules and
// the audit trail through HTTP, on an injected clock.
func testWorkflow(t *testing.T, backend string) {
	fc := &fakeClock{}
	clock = fc.Now
	t.Cleanup(func() { clock = vigil.Now })
	smtpd := mailtest.Start(t)
	// The receiver lives on 127.0.0.2, the one address the SSRF guard lets
	// through; 127.0.0.1 stays refused.
	rc := newReceiver(t, "127.0.0.2:0", map[string]int{vigil.EventExceptionActivated: 2})
	ts := startServer(t, backend, "--no-scanner", "--tick", "200ms", "--session-ttl", "240h", "--webhook-allow", "127.0.0.2/32", "--retry-backoff", "300ms",
		"--smtp-url", smtpd.URL(), "--smtp-from", "noreply@vigil.test", "--portal-url", "https://portal.test")
	admin := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	mustStatus(t, admin.do("POST", "/v2/users", map[string]any{"user": map[string]any{"email": "bob@example.com", "name": "Bob",
		"role": "user", "password": "bob-password-1", "skip_confirmation": true}}), 201, "create bob")
	bob := ts.signIn(ts.apiKey, "bob@example.com", "bob-password-1")

	// Webhooks: the SSRF guard refuses metadata and loopback addresses.
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://127.0.0.1:9/hook", "http://localhost:9/hook", "ftp://example.com/"} {
		r := admin.do("POST", "/v2/webhooks", map[string]any{"webhook": map[string]any{"name": "bad", "url": u, "events": []string{"scan_started"}}})
		mustStatus(t, r, 422, "webhook to "+u)
		if r.errorFields()["webhook.url"] == nil {
			t.Errorf("%s: the error does not name the url: %s", u, r.Raw)
		}
	}
	mustStatus(t, bob.do("POST", "/v2/webhooks", map[string]any{"webhook": map[string]any{"name": "x", "url": rc.url,
		"events": []string{"scan_started"}}}), 403, "a user may not add webhooks")
	r := admin.do("POST", "/v2/webhooks", map[string]any{"webhook": map[string]any{"name": "Ticketing", "url": rc.url,
		"events": []string{"scan_started", "scan_completed", "vulnerability_found", "exception_activated", "exception_expired"}}})
	mustStatus(t, r, 201, "create webhook")
	hook := r.data()
	secret, _ := hook["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || hook["has_secret"] != true {
		t.Fatalf("the generated secret is not returned once: %s", r.Raw)
	}
	if r := admin.do("GET", "/v2/webhooks/"+id(hook), nil); strings.Contains(string(r.Raw), secret) {
		t.Fatal("show returns the secret")
	}
	if n := len(admin.do("GET", "/v2/webhook_events", nil).Body["data"].([]any)); n != len(vigil.WebhookEvents) {
		t.Errorf("webhook events: %d", n)
	}

	// A scan with a PCI failure (telnet, CVSS 6.5) and a low finding.
	r = admin.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "Shop", "hosts": "192.0.2.10"}})
	mustStatus(t, r, 201, "target")
	r = admin.do("POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "PCI external", "target_id": id(r.data())}})
	mustStatus(t, r, 201, "scan")
	scan := id(r.data())
	mustStatus(t, admin.do("POST", "/v2/scans/"+scan+"/start", nil), 200, "start")
	run := reportRun(t, ts, scan)
	history := func() map[string]any { return admin.do("GET", "/v2/scans/"+scan+"/histories/"+run, nil).data() }
	if h := history(); h["compliance"] != false {
		t.Fatalf("before any exception the run must fail PCI: %v", h)
	}

	// Deliveries: signed, with the CG headers and payload.
	waitFor(t, 20*time.Second, "scan_started, scan_completed and vulnerability_found delivered", func() bool {
		return len(rc.succeeded("scan_started")) == 1 && len(rc.succeeded("scan_completed")) == 1 && len(rc.succeeded("vulnerability_found")) == 2
	})
	for _, c := range rc.all() {
		if !webhook.Verify(secret, c.body, c.header.Get(webhook.HeaderSignature)) {
			t.Errorf("signature does not verify: %s %s", c.header.Get(webhook.HeaderSignature), c.body)
		}
		var p map[string]any
		if err := json.Unmarshal(c.body, &p); err != nil || p["event"] != c.header.Get(webhook.HeaderEvent) ||
			p["delivery_id"] != c.header.Get(webhook.HeaderDelivery) || p["created_at"] == nil || p["data"] == nil {
			t.Errorf("payload %s with headers %v", c.body, c.header)
		}
		if !strings.HasPrefix(c.header.Get("User-Agent"), "CloneGuard-Hook/") {
			t.Errorf("user agent %q", c.header.Get("User-Agent"))
		}
	}
	var completed map[string]any
	_ = json.Unmarshal(rc.succeeded("scan_completed")[0].body, &completed)
	if d := completed["data"].(map[string]any); d["scan"].(map[string]any)["id"] != scan || d["run"].(map[string]any)["compliance"] != false {
		t.Errorf("scan_completed data: %v", d)
	}

	// Exceptions: a user asks, only a manager or admin activates.
	r = bob.do("POST", "/v2/exceptions", map[string]any{"exception": map[string]any{"text": "Telnet is a honeypot",
		"nvt": "vigil.telnet-exposed", "hosts": "192.0.2.10", "port": 23, "scan": scan, "reason": "Compensating control: isolated VLAN"}})
	mustStatus(t, r, 201, "bob requests an exception")
	ex := r.data()
	if ex["status"] != "pending" || ex["new_severity"] != float64(-1) || ex["false_positive"] != true || ex["findings_count"] != float64(0) {
		t.Fatalf("new exception: %s", r.Raw)
	}
	mustStatus(t, admin.do("POST", "/v2/exceptions", map[string]any{"exception": map[string]any{"text": "x", "nvt": "n", "hosts": "not-an-ip"}}), 422, "bad hosts")
	mustStatus(t, admin.do("POST", "/v2/exceptions", map[string]any{"exception": map[string]any{"text": "x", "nvt": "n", "new_severity": 11}}), 422, "bad severity")
	mustStatus(t, admin.do("POST", "/v2/exceptions", map[string]any{"exception": map[string]any{"nvt": "n"}}), 422, "no text")
	if f := findingsBy(admin, scan, "")["vigil.telnet-exposed 23/tcp"]; f["severity"] != float64(6.5) {
		t.Fatalf("a pending exception changed a finding: %v", f)
	}
	mustStatus(t, bob.do("PUT", "/v2/exceptions/activate", map[string]any{"ids": []string{id(ex)}}), 403, "bob activates")
	end := fc.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = admin.do("PUT", "/v2/exceptions/activate", map[string]any{"ids": []string{id(ex)}, "end_date": end})
	mustStatus(t, r, 200, "activate")
	if a := r.list()[0]; a["status"] != "active" || a["findings_count"] != float64(1) || a["reviewer_id"] == nil {
		t.Fatalf("activated: %s", r.Raw)
	}
	if h := history(); h["compliance"] != true {
		t.Fatalf("an active false positive on the only failing finding must pass PCI: %v", h)
	}
	if w := admin.do("GET", "/v2/vulnerabilities/pci_compliant", nil).data(); w["compliant"] != true {
		t.Errorf("PCI widget with the exception: %v", w)
	}
	f := findingsBy(admin, scan, "")["vigil.telnet-exposed 23/tcp"]
	if f["severity"] != float64(-1) || f["original_severity"] != float64(6.5) || f["exception_id"] != id(ex) || f["severity_class"] != "false_positive" {
		t.Errorf("overridden finding: %v", f)
	}
	if len(findingsBy(admin, scan, "q[severity]=medium")) != 0 {
		t.Error("the false positive still counts as medium")
	}
	if d := admin.do("GET", "/v2/exceptions/"+id(ex)+"/details", nil); len(d.data()["vulnerabilities"].([]any)) != 1 {
		t.Errorf("details: %s", d.Raw)
	}
	if st := admin.do("GET", "/v2/exceptions/statistics", nil).data(); st["active"] != float64(1) || st["findings_count"] != float64(1) {
		t.Errorf("statistics: %v", st)
	}

	// The activation's delivery failed twice, then succeeded: one success
	// after three logged attempts.
	waitFor(t, 20*time.Second, "exception_activated delivered after two failures", func() bool {
		return len(rc.succeeded(vigil.EventExceptionActivated)) == 1
	})
	r = admin.do("GET", "/v2/webhooks/"+id(hook)+"/deliveries?q[event]=exception_activated", nil)
	mustStatus(t, r, 200, "deliveries")
	if len(r.list()) != 1 || r.list()[0]["attempts"] != float64(3) || r.list()[0]["status"] != "succeeded" {
		t.Fatalf("delivery list: %s", r.Raw)
	}
	d := admin.do("GET", "/v2/webhooks/"+id(hook)+"/deliveries/"+id(r.list()[0]), nil).data()
	log := d["attempts_log"].([]any)
	if len(log) != 3 || log[0].(map[string]any)["response_code"] != float64(500) || log[2].(map[string]any)["response_code"] != float64(200) ||
		log[0].(map[string]any)["request_headers"].(map[string]any)[webhook.HeaderDelivery] != id(d) {
		t.Errorf("attempt log: %v", log)
	}
	for _, c := range rc.succeeded(vigil.EventExceptionActivated) {
		if c.header.Get(webhook.HeaderDelivery) != id(d) {
			t.Errorf("a second delivery of the activation: %v", c.header)
		}
	}

	// Notifications (default preferences) and the e-mail opt-in.
	mustStatus(t, admin.do("PUT", "/v2/user/preferences/notifications/exception_event", map[string]any{"email": true}), 200, "e-mail opt-in")
	var notes []map[string]any
	waitFor(t, 10*time.Second, "notifications of the scan and the exception", func() bool {
		notes = admin.do("GET", "/v2/notifications?per_page=100", nil).list()
		return len(notes) >= 4
	})
	kinds := map[string]bool{}
	for _, n := range notes {
		kinds[n["event"].(string)] = true
	}
	for _, k := range []string{"scan_started", "scan_completed", "exception_created", "exception_activated"} {
		if !kinds[k] {
			t.Errorf("no %s notification in %v", k, kinds)
		}
	}
	r = admin.do("GET", "/v2/notifications", nil)
	if m := r.Body["meta"].(map[string]any); m["unread_count"] != float64(len(notes)) || m["unseen_count"] != float64(len(notes)) {
		t.Errorf("meta before reading: %v", m)
	}
	mustStatus(t, admin.do("PUT", "/v2/notifications/"+id(notes[0])+"/read", nil), 200, "read one")
	mustStatus(t, admin.do("PUT", "/v2/notifications/"+id(notes[1])+"/seen", nil), 200, "see one")
	// Reading one also saw it: two are seen now, one read.
	if m := admin.do("GET", "/v2/notifications", nil).Body["meta"].(map[string]any); m["unseen_count"] != float64(len(notes)-2) || m["unread_count"] != float64(len(notes)-1) {
		t.Errorf("meta after seeing one: %v", m)
	}
	mustStatus(t, bob.do("PUT", "/v2/notifications/"+id(notes[0])+"/read", nil), 404, "bob reads the admin's")
	mustStatus(t, bob.do("GET", "/v2/notifications/"+id(notes[0]), nil), 404, "bob shows the admin's")
	r = admin.do("PUT", "/v2/notifications/seen_all", nil)
	if r.data()["unseen_count"] != float64(0) || r.data()["unread_count"] != float64(len(notes)-1) {
		t.Errorf("seen_all: %s", r.Raw)
	}
	if n := admin.do("GET", "/v2/notifications?q[read]=false&per_page=100", nil).list(); len(n) != len(notes)-1 {
		t.Errorf("unread filter: %d", len(n))
	}
	mustStatus(t, admin.do("DELETE", "/v2/notifications/"+id(notes[1]), nil), 200, "delete one")
	mustStatus(t, admin.do("GET", "/v2/notifications/"+id(notes[1]), nil), 404, "deleted")
	mustStatus(t, admin.do("PUT", "/v2/notifications/read_all", nil), 200, "read all")

	// Expiry, on the injected clock: PCI fails again, without a restart.
	fc.Advance(2 * time.Hour)
	waitFor(t, 10*time.Second, "the exception expires", func() bool {
		return admin.do("GET", "/v2/exceptions/"+id(ex), nil).data()["status"] == "expired"
	})
	if h := history(); h["compliance"] != false {
		t.Fatalf("after expiry the run must fail PCI again: %v", h)
	}
	if f := findingsBy(admin, scan, "")["vigil.telnet-exposed 23/tcp"]; f["severity"] != float64(6.5) || f["exception_id"] != nil {
		t.Errorf("after expiry: %v", f)
	}
	waitFor(t, 20*time.Second, "exception_expired delivered", func() bool { return len(rc.succeeded("exception_expired")) == 1 })
	smtpd.WaitFor(t, adminEmail, "Exception expired", 20*time.Second)

	// Reject, reset and bulk delete.
	r = admin.do("POST", "/v2/exceptions", map[string]any{"text": "Accepted risk", "nvt": "vigil.low", "new_severity": 0})
	mustStatus(t, r, 201, "unwrapped exception")
	ex2 := id(r.data())
	mustStatus(t, admin.do("PUT", "/v2/exceptions/reject?ids[]="+ex2, nil), 200, "reject")
	if st := admin.do("GET", "/v2/exceptions/"+ex2, nil).data()["status"]; st != "rejected" {
		t.Errorf("rejected: %v", st)
	}
	mustStatus(t, admin.do("PUT", "/v2/exceptions/reset", map[string]any{"ids": []string{ex2, id(ex)}}), 200, "reset")
	if st := admin.do("GET", "/v2/exceptions?q[status]=pending", nil).list(); len(st) != 2 {
		t.Errorf("pending after reset: %d", len(st))
	}
	mustStatus(t, admin.do("DELETE", "/v2/exceptions?ids[]="+ex2+"&ids[]="+vigil.NewID(), nil), 404, "bulk delete with an unknown id")
	mustStatus(t, admin.do("DELETE", "/v2/exceptions", map[string]any{"ids": []string{ex2}}), 200, "bulk delete")
	mustStatus(t, admin.do("GET", "/v2/exceptions/"+ex2, nil), 404, "deleted exception")
	r = admin.do("POST", "/v2/exceptions", map[string]any{"exception": map[string]any{"text": "Lab host", "nvt": "vigil.low", "hosts": "192.0.2.0/24"}})
	mustStatus(t, r, 201, "third exception")
	ex3 := id(r.data())
	mustStatus(t, admin.do("PUT", "/v2/exceptions/"+ex3, map[string]any{"exception": map[string]any{"reason": "isolated lab", "hosts": "192.0.2.10"}}), 200, "update exception")
	if d := admin.do("GET", "/v2/exceptions/"+ex3, nil).data(); d["reason"] != "isolated lab" || !strings.Contains(fmt.Sprint(d["hosts"]), "192.0.2.10") {
		t.Errorf("updated exception: %v", d)
	}
	mustStatus(t, admin.do("DELETE", "/v2/exceptions/"+ex3, nil), 200, "delete exception")
	mustStatus(t, admin.do("GET", "/v2/exceptions/"+ex3, nil), 404, "deleted exception")

	// Schedules: daily at 09:00 New York; the scan runs when its slot comes.
	ny, _ := time.LoadLocation("America/New_York")
	first := fc.Now().In(ny).Add(time.Hour)
	r = admin.do("POST", "/v2/schedules", map[string]any{"schedule": map[string]any{"name": "Daily", "first_time": first.Format("2006-01-02T15:04:05"),
		"timezone": "America/New_York", "period_unit": "daily"}})
	mustStatus(t, r, 201, "schedule")
	sched := r.data()
	if sched["next_time"] == nil || sched["period_unit"] != "day" {
		t.Fatalf("schedule: %s", r.Raw)
	}
	mustStatus(t, admin.do("POST", "/v2/schedules", map[string]any{"schedule": map[string]any{"name": "x", "first_time": "2026-01-01T00:00:00Z",
		"timezone": "Mars/Olympus", "period_unit": "daily"}}), 422, "unknown zone")
	mustStatus(t, admin.do("POST", "/v2/schedules", map[string]any{"schedule": map[string]any{"name": "x", "first_time": "2026-01-01T00:00:00Z",
		"rrule": "FREQ=SECONDLY"}}), 422, "too frequent")
	r = admin.do("POST", "/v2/schedules/calculate_first_date", map[string]any{"schedule": map[string]any{"first_time": "2020-01-06T09:00:00",
		"timezone": "Europe/Berlin", "period_unit": "weekly"}})
	mustStatus(t, r, 200, "first date of an unsaved schedule")
	if fd, _ := time.Parse(time.RFC3339, fmt.Sprint(r.data()["first_date"])); fd.Before(fc.Now()) || fd.In(mustLoad(t, "Europe/Berlin")).Weekday() != time.Monday {
		t.Errorf("first date: %s", r.Raw)
	}
	weekly := admin.do("POST", "/v2/schedules", map[string]any{"schedule": map[string]any{"name": "Weekly", "first_time": first.Format("2006-01-02T15:04:05"),
		"timezone": "America/New_York", "period_unit": "weekly"}})
	mustStatus(t, weekly, 201, "second schedule")
	mustStatus(t, admin.do("PUT", "/v2/schedules/"+id(weekly.data()), map[string]any{"schedule": map[string]any{"name": "Fortnightly", "period": 2}}), 200, "update schedule")
	if d := admin.do("GET", "/v2/schedules/"+id(weekly.data()), nil).data(); d["name"] != "Fortnightly" || d["period"] != float64(2) {
		t.Errorf("updated schedule: %v", d)
	}
	mustStatus(t, admin.do("DELETE", "/v2/schedules", map[string]any{"ids": []string{id(weekly.data())}}), 200, "bulk delete schedules")
	mustStatus(t, admin.do("GET", "/v2/schedules/"+id(weekly.data()), nil), 404, "deleted schedule")
	r = admin.do("POST", "/v2/schedules/calculate_next_date?n=3", map[string]any{"id": id(sched)})
	mustStatus(t, r, 200, "next dates")
	if dates := r.data()["next_dates"].([]any); len(dates) != 3 {
		t.Errorf("next dates: %s", r.Raw)
	}
	mustStatus(t, admin.do("PUT", "/v2/scans/"+scan, map[string]any{"scan": map[string]any{"schedule_id": id(sched)}}), 200, "link the schedule")
	if up := admin.do("GET", "/v2/scans/upcoming", nil).list(); len(up) != 1 || up[0]["next_run_at"] != sched["next_time"] {
		t.Errorf("upcoming: %v", up)
	}
	fc.Advance(61 * time.Minute)
	waitFor(t, 10*time.Second, "the schedule starts the scan", func() bool {
		return admin.do("GET", "/v2/scans/"+scan, nil).data()["status"] == "Requested"
	})
	// The next slot comes while that run still waits: skipped and recorded.
	fc.Advance(24 * time.Hour)
	var runs []map[string]any
	waitFor(t, 10*time.Second, "the second slot is skipped", func() bool {
		runs = admin.do("GET", "/v2/schedules/"+id(sched)+"/runs", nil).list()
		return len(runs) == 2
	})
	if runs[0]["skipped"] != true || !strings.Contains(runs[0]["reason"].(string), "still") || runs[1]["history_id"] == nil {
		t.Errorf("schedule runs: %v", runs)
	}
	mustStatus(t, admin.do("DELETE", "/v2/schedules/"+id(sched), nil), 200, "delete schedule")
	if sc := admin.do("GET", "/v2/scans/"+scan, nil).data(); sc["schedule_id"] != nil || sc["next_run_at"] != nil {
		t.Errorf("scan after its schedule was deleted: %v", sc)
	}

	// Audit: readable by admins, filterable, never by users.
	r = admin.do("GET", "/v2/audit/events?q[action]=exception.activate", nil)
	mustStatus(t, r, 200, "audit list")
	if len(r.list()) != 1 || r.list()[0]["resource_id"] != id(ex) || r.list()[0]["request_id"] == "" {
		t.Fatalf("audit of the activation: %s", r.Raw)
	}
	mustStatus(t, admin.do("GET", "/v2/audit/events/"+id(r.list()[0]), nil), 200, "audit event")
	mustStatus(t, bob.do("GET", "/v2/audit/events", nil), 403, "bob reads the audit trail")
	mustStatus(t, admin.raw("DELETE", "/v2/audit/events/"+id(r.list()[0]), "", nil, nil), 405, "no API deletes audit rows")

	// Webhook edits: rename, pause and resume, a new secret, and a finished
	// delivery sent again, signed with that new secret.
	mustStatus(t, admin.do("PUT", "/v2/webhooks/"+id(hook), map[string]any{"webhook": map[string]any{"name": "Ticketing (prod)"}}), 200, "update webhook")
	mustStatus(t, admin.do("PUT", "/v2/webhooks/"+id(hook)+"/deactivate", nil), 200, "deactivate")
	if d := admin.do("GET", "/v2/webhooks/"+id(hook), nil).data(); d["active"] != false || d["name"] != "Ticketing (prod)" {
		t.Errorf("deactivated webhook: %v", d)
	}
	mustStatus(t, admin.do("PUT", "/v2/webhooks/"+id(hook)+"/activate", nil), 200, "activate")
	rot := admin.do("POST", "/v2/webhooks/"+id(hook)+"/rotate_secret", nil)
	mustStatus(t, rot, 200, "rotate secret")
	newSecret, _ := rot.data()["secret"].(string)
	if newSecret == "" || newSecret == secret || rot.data()["active"] != true {
		t.Fatalf("rotated secret: %s", rot.Raw)
	}
	expired := admin.do("GET", "/v2/webhooks/"+id(hook)+"/deliveries?q[event]=exception_expired", nil).list()
	if len(expired) != 1 {
		t.Fatalf("exception_expired deliveries: %v", expired)
	}
	mustStatus(t, admin.do("POST", "/v2/webhooks/"+id(hook)+"/deliveries/"+id(expired[0])+"/redeliver", nil), 200, "redeliver")
	waitFor(t, 20*time.Second, "the redelivery", func() bool { return len(rc.succeeded(vigil.EventExceptionExpired)) == 2 })
	again := rc.succeeded(vigil.EventExceptionExpired)[1]
	if again.header.Get(webhook.HeaderDelivery) != id(expired[0]) || !webhook.Verify(newSecret, again.body, again.header.Get(webhook.HeaderSignature)) {
		t.Errorf("redelivery: %v (signed with the new secret: %v)", again.header, webhook.Verify(newSecret, again.body, again.header.Get(webhook.HeaderSignature)))
	}
	mustStatus(t, admin.do("DELETE", "/v2/webhooks/"+id(hook), nil), 200, "delete webhook")
	ts.assertAudited(t, adminPassword, "bob-password-1", secret, newSecret, ts.apiKey, admin.token, bob.token)
}

// reportRun plays a scanner node for scan's requested run: it claims it,
// reports a host with a PCI-failing telnet finding (CVSS 6.5) and a low one,
// and finishes it Done. It returns the run id.
func reportRun(t *testing.T, ts *testServer, scan string) string {
	t.Helper()
	ctx := context.Background()
	st, err := (&DBFlags{DataDir: ts.dataDir, Database: ts.database, MaxTargetHosts: 4096}).open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, _, err := st.ClaimRun(ctx, "local", "test-node", time.Minute)
	if err != nil || run == nil || run.ScanID != scan {
		t.Fatalf("claim: %+v %v", run, err)
	}
	a := netip.MustParseAddr("192.0.2.10")
	b := &vigil.ResultBatch{
		Hosts: []vigil.HostResult{{Address: a, Status: "up", Reason: "syn-ack"}},
		Findings: []vigil.FindingResult{
			{Address: a, Port: 23, Protocol: "tcp", CheckID: "vigil.telnet-exposed", Name: "Telnet service exposed", Severity: 6.5, QoD: 80},
			{Address: a, Port: 22, Protocol: "tcp", CheckID: "vigil.low", Name: "Low finding", Severity: 2.0, QoD: 80},
		},
	}
	if err := st.RecordResults(ctx, run.ID, "test-node", b); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordResults(ctx, run.ID, "test-node", &vigil.ResultBatch{Hosts: []vigil.HostResult{{Address: a, Done: true, Open: 2}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(ctx, run.ID, "test-node", vigil.StatusDone, ""); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

func TestWebhookRestartSQLite(t *testing.T) { testWebhookRestart(t, nil) }

func TestWebhookRestartPostgres(t *testing.T) {
	testWebhookRestart(t, []string{"--database", storetest.PostgresURL(t)})
}

// testWebhookRestart kills the server between a failed attempt and its
// retry: the retry lives in the database, so the restarted server delivers
// it, once.
func testWebhookRestart(t *testing.T, database []string) {
	dir := t.TempDir()
	rc := newReceiver(t, "127.0.0.2:0", map[string]int{vigil.EventExceptionCreated: 1})
	flags := append([]string{"--no-scanner", "--webhook-allow", "127.0.0.2/32", "--retry-backoff", "3s"}, database...)
	ts := &testServer{t: t, dataDir: dir}
	ts.url = spawn(t, dir, func(out string) {
		if m := regexp.MustCompile(`API key \(x-api-key\): (\S+)`).FindStringSubmatch(out); m != nil {
			ts.apiKey = m[1]
		}
	}, flags...)
	ts.loadOpenAPI()
	c := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	r := c.do("POST", "/v2/webhooks", map[string]any{"webhook": map[string]any{"name": "Ticketing", "url": rc.url,
		"events": []string{vigil.EventExceptionCreated}}})
	mustStatus(t, r, 201, "create webhook")
	hook := id(r.data())
	mustStatus(t, c.do("POST", "/v2/exceptions", map[string]any{"exception": map[string]any{"text": "Accepted risk", "nvt": "vigil.telnet-exposed"}}),
		201, "create exception")

	// The first attempt fails; its retry is 3 s away when the server dies.
	deliveries := "/v2/webhooks/" + hook + "/deliveries"
	waitFor(t, 15*time.Second, "the first attempt", func() bool {
		l := c.do("GET", deliveries, nil).list()
		return len(l) == 1 && l[0]["attempts"] == float64(1)
	})
	time.Sleep(300 * time.Millisecond) // let River record the retry
	killServer(t)
	if n := len(rc.all()); n != 1 {
		t.Fatalf("%d receipts before the restart, want the one failure", n)
	}

	ts.url = spawn(t, dir, func(string) {}, flags...)
	ts.loadOpenAPI()
	c = ts.signIn(ts.apiKey, adminEmail, adminPassword)
	waitFor(t, 30*time.Second, "the retry after the restart", func() bool {
		return len(rc.succeeded(vigil.EventExceptionCreated)) == 1
	})
	time.Sleep(500 * time.Millisecond)
	l := c.do("GET", deliveries, nil).list()
	if len(l) != 1 || l[0]["status"] != "succeeded" || l[0]["attempts"] != float64(2) {
		t.Fatalf("delivery after the restart: %v", l)
	}
	if calls := rc.all(); len(calls) != 2 || calls[0].header.Get(webhook.HeaderDelivery) != calls[1].header.Get(webhook.HeaderDelivery) {
		t.Errorf("receipts: %d, want one failure and one success of the same delivery", len(calls))
	}
	killServer(t)
}

func mustLoad(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
