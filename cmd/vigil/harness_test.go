package main

import (
	"bytes"
	"context"
	"encoding/json"

	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/vigilscan/vigil/storetest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a vigil server started the way `vigil serve` starts.
type testServer struct {
	t        *testing.T
	url      string
	dataDir  string
	database string
	apiKey   string
	orgID    string
	stdout   *syncBuffer
	stop     func()
	router   routers.Router

	mu        sync.Mutex
	mutations []mutation // successful (or forbidden) writes, for assertAudited
}

// mutation is a write the test made and the request id it got.
type mutation struct {
	method, path, requestID string
	route                   string // "POST /v2/targets/{id}/..." from the OpenAPI document
	status                  int
}

const adminEmail, adminPassword = "admin@example.com", "admin-password-123"

// startMu serializes starts: onListen is one package variable.
var startMu sync.Mutex

// startServer runs `vigil serve` in-process on a free loopback port against
// backend "sqlite" or "postgres", waits until it listens and signs nothing in.
func startServer(t *testing.T, backend string, extra ...string) *testServer {
	t.Helper()
	ts := &testServer{t: t, dataDir: t.TempDir(), stdout: &syncBuffer{}}
	if backend == "postgres" {
		ts.database = storetest.PostgresURL(t)
	}
	ts.start(extra...)
	m := regexp.MustCompile(`API key \(x-api-key\): (\S+)`).FindStringSubmatch(ts.stdout.String())
	if m == nil {
		t.Fatalf("no API key printed on first start:\n%s", ts.stdout.String())
	}
	ts.apiKey = m[1]
	ts.loadOpenAPI()
	// Every write of every test must have its audit row.
	t.Cleanup(func() { ts.assertAudited(t) })
	return ts
}

func (ts *testServer) args(cmd ...string) []string {
	args := append(cmd, "--data-dir", ts.dataDir)
	if ts.database != "" {
		args = append(args, "--database", ts.database)
	}
	return args
}

// start runs serve until stop; it can be called again after stop (restart).
func (ts *testServer) start(extra ...string) {
	t := ts.t
	startMu.Lock()
	defer startMu.Unlock()
	addrc := make(chan string, 1)
	onListen = func(addr string) { addrc <- addr }
	defer func() { onListen = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The in-process scanner may only ever probe loopback.
	args := append(ts.args("serve", "--listen", "127.0.0.1:0", "--admin-email", adminEmail, "--admin-password", adminPassword,
		"--log-level", "error", "--scan-allow", "127.0.0.0/8"), extra...)
	go func() { done <- run(ctx, args, ts.stdout, io.Discard) }()
	select {
	case addr := <-addrc:
		ts.url = "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not listen within 30s")
	}
	ts.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop within 20s")
		}
	}
	t.Cleanup(func() {
		if ts.stop != nil {
			ts.stop()
			ts.stop = nil
		}
	})
}

func (ts *testServer) loadOpenAPI() {
	resp, err := http.Get(ts.url + "/v2/openapi.json")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		ts.t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		ts.t.Fatalf("openapi.json is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: ts.url}}
	audits.operations(doc)
	ts.router, err = legacy.NewRouter(doc)
	if err != nil {
		ts.t.Fatal(err)
	}
}

// client is a caller with an API key and, once signed in, a token.
type client struct {
	ts     *testServer
	apiKey string
	token  string
}

func (ts *testServer) client() *client { return &client{ts: ts, apiKey: ts.apiKey} }

// response is a decoded JSON answer.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// data returns body.data as an object.
func (r *response) data() map[string]any {
	d, _ := r.Body["data"].(map[string]any)
	return d
}

// list returns body.data as a list of objects.
func (r *response) list() []map[string]any {
	items, _ := r.Body["data"].([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		out = append(out, it.(map[string]any))
	}
	return out
}

func (r *response) errorFields() map[string]any {
	f, _ := r.Body["errors"].(map[string]any)
	return f
}

// do sends a request; body may be a string (sent raw) or a value (JSON).
// Every response is validated against the server's OpenAPI document.
func (c *client) do(method, path string, body any) *response {
	c.ts.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.ts.url+path, rd)
	if err != nil {
		c.ts.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("x-api-key", c.apiKey)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := &response{Status: resp.StatusCode, Header: resp.Header}
	out.Raw, _ = io.ReadAll(resp.Body)
	if len(out.Raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(out.Raw, &out.Body); err != nil {
			c.ts.t.Fatalf("%s %s: response is not JSON: %v\n%s", method, path, err, out.Raw)
		}
	}
	c.ts.validate(req, raw, resp, out.Raw)
	c.ts.recordWrite(req, resp)
	return out
}

// recordWrite keeps a write that succeeded or was refused for lack of
// permission, for assertAudited.
func (ts *testServer) recordWrite(req *http.Request, resp *http.Response) {
	if req.Method == http.MethodGet || (resp.StatusCode >= 300 && resp.StatusCode != http.StatusForbidden) {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.mutations = append(ts.mutations, mutation{method: req.Method, path: req.URL.RequestURI(), requestID: resp.Header.Get("X-Request-Id"),
		route: ts.routeOf(req), status: resp.StatusCode})
}

// validate checks a real response against the OpenAPI document: its route
// must be documented, and its status and body must match the schema.
func (ts *testServer) validate(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	ts.t.Helper()
	vreq, _ := http.NewRequest(req.Method, req.URL.String(), bytes.NewReader(reqBody))
	vreq.Header = req.Header.Clone()
	route, params, err := ts.router.FindRoute(vreq)
	if err != nil {
		ts.t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true, ExcludeRequestQueryParams: true}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		ts.t.Errorf("%s %s -> %d: response does not match the OpenAPI document: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, truncateForLog(body))
	}
}

// routeOf names req's operation in the OpenAPI document ("" if none).
func (ts *testServer) routeOf(req *http.Request) string {
	if ts.router == nil {
		return ""
	}
	r, _, err := ts.router.FindRoute(req)
	if err != nil {
		return ""
	}
	return r.Method + " " + r.Path
}

func truncateForLog(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// signIn signs in and returns a client carrying the token.
func (ts *testServer) signIn(apiKey, email, password string) *client {
	ts.t.Helper()
	c := &client{ts: ts, apiKey: apiKey}
	r := c.do("POST", "/auth/sign_in", map[string]any{"username": email, "password": password})
	if r.Status != 200 {
		ts.t.Fatalf("sign in %s: %d %s", email, r.Status, r.Raw)
	}
	c.token, _ = r.Body["token"].(string)
	org, _ := r.Body["organization"].(map[string]any)
	if ts.orgID == "" && apiKey == ts.apiKey {
		ts.orgID, _ = org["uuid"].(string)
	}
	return c
}

// mustStatus fails unless r has the wanted status.
func mustStatus(t *testing.T, r *response, want int, what string) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, want, r.Raw)
	}
}

// runCLI runs a vigil command and returns its output.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out syncBuffer
	err := run(context.Background(), args, &out, io.Discard)
	return out.String(), err
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func id(m map[string]any) string { s, _ := m["id"].(string); return s }
