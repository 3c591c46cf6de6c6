// Package webhook delivers events to subscribers' URLs: signed JSON POSTs
// (CG §1.7 headers) over a client that refuses, at connect time, every
// address a server should not reach on a user's say-so (loopback, private,
// link-local and cloud metadata, ...) unless an operator allow-listed it.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigilscan/vigil"
)

// Headers of a delivery.
const (
	HeaderSignature = "X-CG-Hook-Signature"
	HeaderEvent     = "X-CG-Hook-Event"
	HeaderDelivery  = "X-CG-Hook-Delivery"
	HeaderAttempt   = "X-CG-Hook-Attempt"
)

// Sign is the X-CG-Hook-Signature of body: "sha256=" and the hex HMAC-SHA256
// keyed with the webhook's secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against body, in constant time.
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// blocked are the ranges no webhook may reach unless allow-listed. The
// stdlib predicates cover loopback, RFC 1918 / ULA, link-local (which holds
// the 169.254.169.254 metadata service), multicast and unspecified; these
// add the rest of the special-purpose registry that routes nowhere public.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach any of the above
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6
}

// Guard decides which addresses webhooks may connect to.
type Guard struct {
	Allow []netip.Prefix // VIGIL_WEBHOOK_ALLOW: reachable even if special
}

// ParseAllow parses a comma-separated CIDR (or address) list.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("webhook allow-list: %q is not a CIDR or address", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Check refuses an address that is special and not allow-listed.
func (g *Guard) Check(a netip.Addr) error {
	a = a.Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	why := ""
	switch {
	case a.IsLoopback():
		why = "loopback"
	case a.IsPrivate():
		why = "private"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		why = "link-local (cloud metadata lives there)"
	case a.IsMulticast() || a.IsInterfaceLocalMulticast():
		why = "multicast"
	case a.IsUnspecified():
		why = "unspecified"
	}
	for _, p := range blocked {
		if why == "" && p.Contains(a) {
			why = "special-purpose (" + p.String() + ")"
		}
	}
	if why != "" {
		return fmt.Errorf("address %s is %s; webhooks may not reach it (an operator can allow it with VIGIL_WEBHOOK_ALLOW)", a, why)
	}
	return nil
}

// CheckURL validates a subscriber URL when it is saved: http or https, a
// host, no credentials, and every address the host resolves to allowed.
// The client checks again at connect time, so a name that later resolves
// elsewhere (DNS rebinding) is still refused.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http:// or https:// URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials; use the secret to authenticate deliveries")
	}
	if len(raw) > 2000 {
		return errors.New("is too long (at most 2000 characters)")
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return g.Check(a)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("host %q does not resolve", host)
	}
	for _, a := range addrs {
		if err := g.Check(a); err != nil {
			return err
		}
	}
	return nil
}

// Client is an HTTP client that dials only allowed addresses, ignores proxy
// settings (a proxy would connect on its behalf, unchecked) and follows no
// redirects (a 3xx is an answer, not a success).
func (g *Guard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook: unexpected dial address %q", address)
		}
		return g.Check(ap.Addr())
	}}
	tr := &http.Transport{Proxy: nil, DialContext: d.DialContext, TLSHandshakeTimeout: timeout,
		ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Job is what one delivery attempt needs.
type Job struct {
	Delivery *vigil.WebhookDelivery
	URL      string
	Secret   string
}

// Attempt is the outcome of one POST.
type Attempt struct {
	Log *vigil.DeliveryAttempt
	OK  bool
}

// ExcerptBytes bounds the response body kept per attempt.
const ExcerptBytes = 2048

// Post sends one attempt of a delivery.
func Post(ctx context.Context, c *http.Client, j *Job, attempt int) *Attempt {
	body := []byte(j.Delivery.Payload)
	hdr := map[string]string{
		"Content-Type":  "application/json",
		"User-Agent":    "CloneGuard-Hook/" + hookHash(j.Delivery.WebhookID),
		HeaderSignature: Sign(j.Secret, body),
		HeaderEvent:     j.Delivery.Event,
		HeaderDelivery:  j.Delivery.ID,
		HeaderAttempt:   strconv.Itoa(attempt),
	}
	a := &vigil.DeliveryAttempt{RequestHeaders: hdr}
	start := time.Now()
	defer func() { a.DurationMS = int(time.Since(start).Milliseconds()) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, strings.NewReader(string(body)))
	if err != nil {
		a.Error = err.Error()
		return &Attempt{Log: a}
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		a.Error = err.Error()
		return &Attempt{Log: a}
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, ExcerptBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	a.ResponseCode, a.ResponseBody = resp.StatusCode, strings.ToValidUTF8(string(excerpt), "?")
	a.ResponseHeaders = map[string]string{}
	for _, k := range []string{"Content-Type", "Content-Length", "Server", "Date"} {
		if v := resp.Header.Get(k); v != "" {
			a.ResponseHeaders[k] = v
		}
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok {
		a.Error = "the receiver answered " + resp.Status
	}
	return &Attempt{Log: a, OK: ok}
}

// hookHash is a stable per-webhook tag for the User-Agent.
func hookHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:6])
}
