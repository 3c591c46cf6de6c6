package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the restart test run this binary as `vigil` itself.
func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_TEST_EXEC_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	// After a whole run, every mutating operation of the API must have been
	// made to succeed, with its audit row, by some test.
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" && !testing.Short() {
		if missing := audits.missing(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d mutating operations were never audited by a test:\n  %s\n", len(missing), strings.Join(missing, "\n  "))
			code = 1
		}
	}
	os.Exit(code)
}

func TestConfigPrecedence(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "vigil.json", `{"listen": "127.0.0.1:1111", "data_dir": "/from/file", "session_ttl": "1h", "max_target_hosts": 10, "org_name": "From file"}`)
	t.Setenv("VIGIL_DATA_DIR", "/from/env")
	t.Setenv("VIGIL_SESSION_TTL", "2h")
	cli, _, err := parse([]string{"--config", cfg, "serve", "--session-ttl", "3h"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := cli.Serve
	// flag > env > file > default
	if s.SessionTTL != 3*time.Hour || s.DataDir != "/from/env" || s.Listen != "127.0.0.1:1111" || s.MaxTargetHosts != 10 || s.OrgName != "From file" {
		t.Errorf("got ttl=%v dir=%q listen=%q max=%d org=%q", s.SessionTTL, s.DataDir, s.Listen, s.MaxTargetHosts, s.OrgName)
	}
	if _, _, err := parse([]string{"--config", "/no/such/file.json", "serve"}, io.Discard, io.Discard); err == nil {
		t.Error("a missing config file was ignored")
	}
	if _, _, err := parse([]string{"serve", "--log-level", "chatty"}, io.Discard, io.Discard); err == nil {
		t.Error("a bad enum flag was accepted")
	}
}

func TestVersionAndMigrate(t *testing.T) {
	out, err := runCLI(t, "version")
	if err != nil || !strings.HasPrefix(out, "vigil ") {
		t.Errorf("version: %q %v", out, err)
	}
	dir := t.TempDir()
	// --no-migrate on a fresh database refuses to start and says why.
	err = run(context.Background(), []string{"serve", "--data-dir", dir, "--no-migrate", "--listen", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "vigil migrate up") {
		t.Fatalf("serve --no-migrate on an empty database: %v", err)
	}
	out, err = runCLI(t, "migrate", "status", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "pending") {
		t.Fatalf("migrate status: %q %v", out, err)
	}
	migrations, _ := filepath.Glob("../../store/migrations/sqlite/*.sql")
	out, err = runCLI(t, "migrate", "up", "--data-dir", dir)
	if want := fmt.Sprintf("applied %d migration", len(migrations)); err != nil || len(migrations) < 4 || !strings.Contains(out, want) {
		t.Fatalf("migrate up: %q %v", out, err)
	}
	out, err = runCLI(t, "migrate", "status", "--data-dir", dir)
	if err != nil || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
		t.Fatalf("migrate status after up: %q %v", out, err)
	}
	// No organization yet: admin commands say so.
	if _, err := runCLI(t, "admin", "create-api-key", "--data-dir", dir); err == nil {
		t.Error("create-api-key without an organization succeeded")
	}
}

// TestRestartAfterKill writes through the API, kills the server with SIGKILL
// and starts it again: everything acknowledged must still be there.
func TestRestartAfterKill(t *testing.T) {
	dir := t.TempDir()
	ts := &testServer{t: t, dataDir: dir}
	ts.url = spawn(t, dir, func(out string) {
		m := regexp.MustCompile(`API key \(x-api-key\): (\S+)`).FindStringSubmatch(out)
		if m != nil {
			ts.apiKey = m[1]
		}
	})
	ts.loadOpenAPI()
	c := ts.signIn(ts.apiKey, adminEmail, adminPassword)
	r := c.do("POST", "/v2/credentials", map[string]any{"credential": map[string]any{"name": "k", "type": "esxi", "username": "root", "password": "pw"}})
	mustStatus(t, r, 201, "credential")
	r = c.do("POST", "/v2/port_lists", map[string]any{"port_list": map[string]any{"name": "k", "port_range": "T:22,80"}})
	mustStatus(t, r, 201, "port list")
	var acked []string
	for i := 0; i < 50; i++ {
		r = c.do("POST", "/v2/targets", map[string]any{"target": map[string]any{"name": fmt.Sprintf("t-%02d", i), "hosts": "192.0.2.1"}})
		mustStatus(t, r, 201, "target")
		acked = append(acked, id(r.data()))
	}
	killServer(t)

	ts.url = spawn(t, dir, func(out string) {
		if strings.Contains(out, "First start") {
			t.Error("restart bootstrapped again")
		}
	})
	ts.loadOpenAPI()
	c = ts.signIn(ts.apiKey, adminEmail, adminPassword)
	r = c.do("GET", "/v2/targets?per_page=100", nil)
	if len(r.list()) != len(acked) {
		t.Fatalf("after SIGKILL: %d targets, %d acknowledged", len(r.list()), len(acked))
	}
	if got := c.do("GET", "/v2/credentials", nil).list(); len(got) != 1 || got[0]["has_password"] != true {
		t.Errorf("credential after restart: %v", got)
	}
	if got := c.do("GET", "/v2/port_lists?q[name]=k", nil).list(); len(got) != 1 || got[0]["port_range"] != "T:22,80" {
		t.Errorf("port list after restart: %v", got)
	}
	killServer(t)
}

var spawned *exec.Cmd

// spawn starts this test binary as `vigil serve` in a child process.
func spawn(t *testing.T, dir string, onOutput func(string), extra ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", dir, "--listen", addr, "--admin-email", adminEmail,
		"--admin-password", adminPassword, "--log-level", "error", "--scan-allow", "127.0.0.0/8")
	cmd.Args = append(cmd.Args, extra...)
	cmd.Env = append(os.Environ(), "VIGIL_TEST_EXEC_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	spawned = cmd
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.Now().Add(30 * time.Second)
	var out strings.Builder
	for time.Now().Before(deadline) {
		if _, err := httpGet("http://" + addr + "/healthz"); err == nil {
			// Drain what was printed before the server listened.
			for done := false; !done; {
				select {
				case l, ok := <-lines:
					if !ok {
						done = true
					}
					out.WriteString(l + "\n")
				case <-time.After(100 * time.Millisecond):
					done = true
				}
			}
			onOutput(out.String())
			return "http://" + addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("child server did not answer within 30s")
	return ""
}

func killServer(t *testing.T) {
	t.Helper()
	if err := spawned.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = spawned.Wait()
}
