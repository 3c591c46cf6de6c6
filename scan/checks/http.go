package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/vigilscan/vigil/scan"
)

const familyWeb = "Web servers"

var isHTTP = named("http", "http-alt", "http-proxy")

func init() {
	register(
		&Check{ID: "vigil.http-trace", Name: "HTTP TRACE method enabled", Family: familyWeb,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
			Description: "The web server answers TRACE requests by echoing the request back, headers included.",
			Impact:      "Cross-site tracing can expose cookies and authorization headers to script in a browser.",
			Solution:    "Disable TRACE (Apache: TraceEnable off; nginx rejects it by default).",
			References:  []string{"https://owasp.org/www-community/attacks/Cross_Site_Tracing"},
			Evidence:    "the status line and the echoed request line",
			Applies:     isHTTP, Run: runHTTPTrace},
		&Check{ID: "vigil.http-directory-listing", Name: "HTTP directory listing", Family: familyWeb,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
			Description: "The web server lists the files of a directory that has no index page.",
			Impact:      "Anyone can browse files that were never meant to be linked: backups, configuration, source.",
			Solution:    "Turn off automatic indexes (nginx: autoindex off; Apache: Options -Indexes).",
			References:  []string{"https://cwe.mitre.org/data/definitions/548.html"},
			Evidence:    "the listing's title",
			Applies:     isHTTP, Run: runHTTPDirListing},
		&Check{ID: "vigil.http-security-headers", Name: "HTTP security headers missing", Family: familyWeb,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:L/A:N",
			Description: "The response to / lacks security headers browsers rely on: X-Frame-Options or a CSP frame-ancestors rule, X-Content-Type-Options, and on HTTPS Strict-Transport-Security.",
			Impact:      "Clickjacking, MIME sniffing, and downgrade of HTTPS to HTTP are not prevented by the browser.",
			Solution:    "Send X-Frame-Options: DENY (or Content-Security-Policy: frame-ancestors 'none'), X-Content-Type-Options: nosniff, and Strict-Transport-Security on HTTPS.",
			References:  []string{"https://owasp.org/www-project-secure-headers/"},
			Evidence:    "the headers that are missing",
			Applies:     isHTTP, Run: runHTTPSecurityHeaders},
		&Check{ID: "vigil.http-version-disclosure", Name: "Web server version disclosed", Family: familyWeb,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
			Description: "The Server (or X-Powered-By) header names the software and its exact version.",
			Impact:      "An attacker learns which published vulnerabilities to try without probing.",
			Solution:    "Hide the version (nginx: server_tokens off; Apache: ServerTokens Prod; PHP: expose_php Off).",
			Evidence:    "the header",
			Applies:     isHTTP, Run: runHTTPVersionDisclosure},
		&Check{ID: "vigil.http-default-page", Name: "Web server default page", Family: familyWeb,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
			Description: "The server shows the default page of a fresh installation.",
			Impact:      "A forgotten or unconfigured server is exposed; it is usually unmaintained.",
			Solution:    "Remove the default site or replace it with the intended content; disable the server if it is unused.",
			Evidence:    "the default page's title",
			Applies:     isHTTP, Run: runHTTPDefaultPage},
	)
}

// httpResult is a response with at most 64 KiB of its body.
type httpResult struct {
	resp *http.Response
	body string
}

// httpRoot is GET / of the service, fetched once for all the checks that
// judge it.
func httpRoot(ctx context.Context, t *Target, ps scan.PortService) (*http.Response, string, error) {
	r, err := shared(t, fmt.Sprintf("http-root/%d", ps.Port), func() (httpResult, error) {
		resp, body, err := httpGet(ctx, t, ps, http.MethodGet, "/")
		return httpResult{resp, body}, err
	})
	return r.resp, r.body, err
}

// httpGet sends one request to the service and returns the response with
// at most 64 KiB of its body.
func httpGet(ctx context.Context, t *Target, ps scan.PortService, method, path string) (*http.Response, string, error) {
	scheme := "http"
	if isTLS(ps) {
		scheme = "https"
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return t.Dial(ctx, "tcp", ps.Port)
		},
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: t.ServerName()}, //nolint:gosec // a scanner inspects any certificate
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	host := t.ServerName()
	req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(ps.Port))+path, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", "Vigil-Scanner")
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, "", err
	}
	return resp, string(body), nil
}

func runHTTPTrace(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	resp, body, err := httpGet(ctx, t, ps, "TRACE", "/vigil-trace-check")
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(body, "TRACE /vigil-trace-check") {
		return fmt.Sprintf("TRACE / answered %s and echoed %q", resp.Status, firstLine(body)), true, nil
	}
	return "", false, nil
}

var titleRe = regexp.MustCompile(`(?is)<title>\s*(.*?)\s*</title>`)

func title(body string) string {
	if m := titleRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func runHTTPDirListing(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	resp, body, err := httpRoot(ctx, t, ps)
	if err != nil {
		return "", false, err
	}
	ti := title(body)
	if resp.StatusCode == http.StatusOK && (strings.HasPrefix(ti, "Index of /") || strings.HasPrefix(ti, "Directory listing for /")) {
		return fmt.Sprintf("GET / %s, title %q", resp.Status, ti), true, nil
	}
	return "", false, nil
}

func runHTTPSecurityHeaders(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	resp, _, err := httpRoot(ctx, t, ps)
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return "", false, nil // a redirect (to HTTPS, to a login): the target page decides
	}
	h := resp.Header
	var missing []string
	if h.Get("X-Frame-Options") == "" && !strings.Contains(strings.ToLower(h.Get("Content-Security-Policy")), "frame-ancestors") {
		missing = append(missing, "X-Frame-Options (or CSP frame-ancestors)")
	}
	if !strings.EqualFold(strings.TrimSpace(h.Get("X-Content-Type-Options")), "nosniff") {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if isTLS(ps) && h.Get("Strict-Transport-Security") == "" {
		missing = append(missing, "Strict-Transport-Security")
	}
	if len(missing) == 0 {
		return "", false, nil
	}
	return "GET / " + resp.Status + " without " + strings.Join(missing, ", "), true, nil
}

var versionInHeader = regexp.MustCompile(`[A-Za-z][\w.-]*/\d+(\.\d+)+`)

func runHTTPVersionDisclosure(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	resp, _, err := httpRoot(ctx, t, ps)
	if err != nil {
		return "", false, err
	}
	for _, name := range []string{"Server", "X-Powered-By", "X-AspNet-Version"} {
		v := resp.Header.Get(name)
		if v != "" && (versionInHeader.MatchString(v) || name == "X-AspNet-Version") {
			return name + ": " + v, true, nil
		}
	}
	return "", false, nil
}

// defaultPages are titles of stock installation pages.
var defaultPages = []string{"Welcome to nginx!", "Apache2 Debian Default Page", "Apache2 Ubuntu Default Page", "Test Page for the Apache",
	"IIS Windows Server", "Welcome to CentOS", "Test Page for the Nginx HTTP Server", "It works!", "Welcome to Caddy",
	"Apache Tomcat", "Lighttpd Default Page"}

func runHTTPDefaultPage(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	resp, body, err := httpRoot(ctx, t, ps)
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", false, nil
	}
	ti := title(body)
	for _, d := range defaultPages {
		if strings.HasPrefix(ti, d) || (d == "It works!" && strings.Contains(body, "<h1>It works!</h1>")) {
			return fmt.Sprintf("GET / %s, title %q", resp.Status, firstNonEmpty(ti, d)), true, nil
		}
	}
	return "", false, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimRight(s, "\r")
}
