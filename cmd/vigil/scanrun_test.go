package main

import (
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil/storetest"
)

// Every address these tests scan is loopback: the server runs with
// --scan-allow 127.0.0.0/8 (harness) and the targets below.
const (
	e2eHost     = "127.0.4.10"              // the banner servers of the two-run test
	e2eLongHost = "127.0.4.20"              // the first host of the long scans, with one listener
	e2eLongNet  = "127.0.4.20,127.6.0.0/21" // 2,049 loopback hosts × 5,001 ports at 50,000/s: minutes of work
)

// bannerServer accepts connections on addr and greets each with banner,
// until the test ends or close is called.
func bannerServer(t *testing.T, addr, banner string) (close func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write([]byte(banner))
				buf := make([]byte, 256)
				_, _ = c.Read(buf)
			}()
		}
	}()
	var once bool
	close = func() {
		if !once {
			once = true
			ln.Close()
		}
	}
	t.Cleanup(close)
	return close
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runToEnd starts scan and waits until its run ends; it returns the run.
func runToEnd(t *testing.T, c *client, scan string) map[string]any {
	t.Helper()
	r := c.do("POST", "/v2/scans/"+scan+"/start", nil)
	mustStatus(t, r, 200, "start")
	run := id(r.data())
	var last map[string]any
	waitFor(t, 90*time.Second, "run "+run+" ends", func() bool {
		last = c.do("GET", "/v2/scans/"+scan+"/histories/"+run, nil).data()
		switch last["status"] {
		case "Done", "Stopped", "Interrupted", "Failed":
			return true
		}
		return false
	})
	return last
}

func findingsBy(c *client, scan, query string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, f := range c.do("GET", "/v2/scans/"+scan+"/vulnerabilities?per_page=100&"+query, nil).list() {
		out[f["nvt"].(string)+" "+f["port"].(string)] = f
	}
	return out
}

func TestScanRunSQLite(t *testing.T) { testScanRun(t, "sqlite") }

func TestScanRunPostgres(t *testing.T) {
	storetest.PostgresURL(t)
	testScanRun(t, "postgres")
}

// testScanRun: scans of a loopback testbed through HTTP with the in-process
// scanner: runs to Done with hosts, ports, services and findings; a service
// stopped between runs is fixed, then reopened; a long scan stops within 5 s
// with its partial results.
func testScanRun(t *testing.T, backend string) {
	ts := startServer(t, backend, "--scanner-runs", "2", "--scan-rate", "50000")
	c := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	ssh := "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
	bannerServer(t, e2eHost+":2222", ssh)
	stopTelnet := bannerServer(t, e2eHost+":2323", "\xff\xfd\x18\xff\xfd\x20")

	r := c.do("POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "e2e", "port_range": "T:2222,2323"}})
	mustStatus(t, r, 201, "port list")
	r = c.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": "testbed", "hosts": e2eHost,
		"port_list_id": id(r.data()), "alive_test": "consider_alive"}})
	mustStatus(t, r, 201, "target")
	r = c.do("POST", "/v2/scans", map[string]any{"scan": map[string]any{"name": "e2e", "target_id": id(r.data())}})
	mustStatus(t, r, 201, "scan")
	scan := id(r.data())

	t.Run("Done", func(t *testing.T) {
		run := runToEnd(t, c, scan)
		if run["status"] != "Done" || run["progress"] != float64(100) || run["compliance"] != false {
			t.Fatalf("first run: %v", run)
		}
		hosts := c.do("GET", "/v2/scans/"+scan+"/hosts", nil).list()
		if len(hosts) != 1 || hosts[0]["ip"] != e2eHost || hosts[0]["ports_open"] != float64(2) || hosts[0]["done"] != true {
			t.Fatalf("scan hosts: %v", hosts)
		}
		host := id(hosts[0])
		d := c.do("GET", "/v2/scans/"+scan+"/hosts/"+host, nil).data()
		services := map[float64]map[string]any{}
		for _, s := range d["services"].([]any) {
			services[s.(map[string]any)["port"].(float64)] = s.(map[string]any)
		}
		if s := services[2222]; s == nil || s["service"] != "ssh" || s["product"] != "OpenSSH" || s["version"] != "9.2p1" {
			t.Errorf("ssh service: %v", s)
		}
		if s := services[2323]; s == nil || s["service"] != "telnet" {
			t.Errorf("telnet service: %v", s)
		}
		fs := findingsBy(c, scan, "")
		if len(fs) != 3 || fs["vigil.telnet-exposed 2323/tcp"] == nil || fs["vigil.open-port 2222/tcp"] == nil {
			t.Fatalf("findings: %v", fs)
		}
		if h := c.do("GET", "/v2/hosts/"+host, nil).data(); h["os"] != "Debian GNU/Linux" || h["severity_class"] != "medium" {
			t.Errorf("asset: %v", h)
		}
		if d := c.do("GET", "/v2/vulnerabilities/pci_compliant", nil).data(); d["compliant"] != false {
			t.Errorf("PCI with telnet open: %v", d)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("FixedThenReopened", func(t *testing.T) {
		stopTelnet()
		run := runToEnd(t, c, scan)
		if run["status"] != "Done" || run["compliance"] != true {
			t.Fatalf("second run: %v", run)
		}
		fixed := findingsBy(c, scan, "q[status]=fixed")
		if len(fixed) != 2 || fixed["vigil.telnet-exposed 2323/tcp"]["fixed_history_id"] != id(run) {
			t.Fatalf("fixed after the service stopped: %v", fixed)
		}
		diff := c.do("GET", "/v2/scans/"+scan+"/histories/"+id(run), nil).data()["diff"].(map[string]any)
		if diff["fixed"] != float64(2) || diff["unchanged"] != float64(1) || diff["new"] != float64(0) {
			t.Errorf("second run's diff: %v", diff)
		}
		if d := c.do("GET", "/v2/vulnerabilities/pci_compliant", nil).data(); d["compliant"] != true {
			t.Errorf("PCI after the fix: %v", d)
		}

		bannerServer(t, e2eHost+":2323", "\xff\xfd\x18\xff\xfd\x20")
		run = runToEnd(t, c, scan)
		reopened := findingsBy(c, scan, "q[status]=reopened")
		if run["status"] != "Done" || len(reopened) != 2 || reopened["vigil.telnet-exposed 2323/tcp"] == nil {
			t.Fatalf("third run %v: reopened %v", run["status"], reopened)
		}
		r := c.do("GET", "/v2/scans/"+scan+"/histories/"+id(run)+"/diff?q[change]=reopened", nil)
		if len(r.list()) != 2 {
			t.Errorf("third run's diff: %s", r.Raw)
		}
	})

	t.Run("OutOfScope", func(t *testing.T) {
		// ::1 is outside the server's --scan-allow 127.0.0.0/8: refused
		// before anything is sent, and the run says so.
		r := c.do("POST", "/v2/scans/wizard", map[string]any{"wizard": map[string]any{"name": "outside", "hosts": "::1",
			"alive_test": "consider_alive", "start_now": false}})
		mustStatus(t, r, 201, "wizard without start")
		if r.data()["status"] != "New" || r.data()["history"] != nil {
			t.Fatalf("wizard with start_now false: %s", r.Raw)
		}
		run := runToEnd(t, c, id(r.data()))
		if run["status"] != "Failed" || !strings.Contains(run["reason"].(string), "scope") {
			t.Errorf("out-of-scope run: %v", run)
		}
	})

	t.Run("StopWithinFiveSeconds", func(t *testing.T) {
		bannerServer(t, e2eLongHost+":1500", "hello\r\n")
		discovery := ""
		for _, p := range c.do("GET", "/v2/scan_profiles", nil).list() {
			if p["name"] == "Discovery" {
				discovery = id(p)
			}
		}
		r := c.do("POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "long", "port_range": "T:1000-6000"}})
		mustStatus(t, r, 201, "port list")
		r = c.do("POST", "/v2/scans/wizard", map[string]any{"wizard": map[string]any{"name": "long", "hosts": e2eLongNet,
			"port_list_id": id(r.data()), "alive_test": "consider_alive", "config_id": discovery}})
		mustStatus(t, r, 201, "wizard")
		scan := id(r.data())
		run := id(r.data()["history"].(map[string]any))
		waitFor(t, 30*time.Second, "the long scan finds the first host's port", func() bool {
			return len(findingsBy(c, scan, "q[port]=1500")) == 1
		})
		if st := c.do("GET", "/v2/scans/"+scan, nil).data()["status"]; st != "Running" {
			t.Fatalf("long scan is %v, not Running", st)
		}
		asked := time.Now()
		r = c.do("POST", "/v2/scans/"+scan+"/stop", nil)
		if r.Status != 200 || r.data()["status"] != "Stop Requested" {
			t.Fatalf("stop: %s", r.Raw)
		}
		waitFor(t, 5*time.Second, "Stopped", func() bool {
			return c.do("GET", "/v2/scans/"+scan+"/histories/"+run, nil).data()["status"] == "Stopped"
		})
		t.Logf("stopped %v after the request", time.Since(asked).Round(time.Millisecond))
		d := c.do("GET", "/v2/scans/"+scan+"/histories/"+run, nil).data()
		if d["progress"].(float64) >= 100 || d["ended_at"] == nil {
			t.Errorf("stopped run: %v", d)
		}
		hosts := c.do("GET", "/v2/scans/"+scan+"/hosts?"+url.Values{"q[ip]": {e2eLongHost}}.Encode(), nil).list()
		if len(hosts) != 1 {
			t.Errorf("partial results lost: %v", hosts)
		}
		if r := c.do("POST", "/v2/scans/"+scan+"/stop", nil); r.Status != 422 {
			t.Errorf("stop a stopped scan: %d", r.Status)
		}
	})
}

// TestScanRunSurvivesSIGKILL kills the server process during a run: after a
// restart the run ends Interrupted (never stuck Running), its results so far
// are kept, and the scan can run again.
func TestScanRunSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	ts := &testServer{t: t, dataDir: dir}
	ts.url = spawn(t, dir, func(out string) {
		if m := regexp.MustCompile(`API key \(x-api-key\): (\S+)`).FindStringSubmatch(out); m != nil {
			ts.apiKey = m[1]
		}
	}, "--run-lease", "3s", "--scan-rate", "50000")
	ts.loadOpenAPI()
	c := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	bannerServer(t, e2eLongHost+":1500", "hello\r\n")
	r := c.do("POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "long", "port_range": "T:1000-6000"}})
	mustStatus(t, r, 201, "port list")
	r = c.do("POST", "/v2/scans/wizard", map[string]any{"wizard": map[string]any{"name": "long", "hosts": e2eLongNet,
		"port_list_id": id(r.data()), "alive_test": "consider_alive", "config_id": "8715c877-47a0-438d-98a3-27c7a6ab2196"}})
	mustStatus(t, r, 201, "wizard")
	scan := id(r.data())
	run := id(r.data()["history"].(map[string]any))
	waitFor(t, 30*time.Second, "the first host's port is stored", func() bool {
		return len(findingsBy(c, scan, "q[port]=1500")) == 1
	})
	killServer(t)

	ts.url = spawn(t, dir, func(string) {}, "--run-lease", "3s", "--scan-rate", "50000")
	ts.loadOpenAPI()
	c = ts.signIn(ts.apiKey, adminEmail, adminPassword)
	var d map[string]any
	waitFor(t, 15*time.Second, "the dead node's run ends", func() bool {
		d = c.do("GET", "/v2/scans/"+scan+"/histories/"+run, nil).data()
		return d["status"] != "Running"
	})
	if d["status"] != "Interrupted" || !strings.Contains(d["reason"].(string), "kept") {
		t.Fatalf("after SIGKILL and restart: %v", d)
	}
	if len(findingsBy(c, scan, "q[port]=1500")) != 1 {
		t.Error("results reported before the kill were lost")
	}
	if st := c.do("GET", "/v2/scans/"+scan, nil).data()["status"]; st != "Interrupted" {
		t.Errorf("scan status %v", st)
	}
	mustStatus(t, c.do("POST", "/v2/scans/"+scan+"/start", nil), 200, "start again")
	mustStatus(t, c.do("POST", "/v2/scans/"+scan+"/stop", nil), 200, "stop the new run")
	killServer(t)
}
