package webhook

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The guard refuses at connect time: a URL saved while allowed (or a name
// that resolves elsewhere later) still never reaches a loopback listener.
func TestClientRefusesAtConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String() + "/hook"
	_, err = (&Guard{}).Client(2*time.Second).Post(url, "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("loopback reached without an allow-list: %v", err)
	}
	// A hostname resolving to loopback is refused the same way.
	_, err = (&Guard{}).Client(2 * time.Second).Get("http://localhost:" + strings.Split(ln.Addr().String(), ":")[1] + "/")
	if err == nil {
		t.Fatal("localhost reached")
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the listener accepted %d connections", n)
	}
	allowed := &Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	resp, err := allowed.Client(2*time.Second).Post(url, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
	}
	if accepted.Load() == 0 {
		t.Fatalf("an allow-listed address was refused: %v", err)
	}
}

func TestCheck(t *testing.T) {
	g := &Guard{}
	// RFC 1918 is the standard library's IsPrivate, which fd00::1 (ULA)
	// exercises; no IPv4 private literal needed here.
	for _, a := range []string{"127.0.0.1", "169.254.169.254", "::1", "fd00::1",
		"fe80::1", "0.0.0.0", "100.64.0.1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "224.0.0.1"} {
		if g.Check(netip.MustParseAddr(a)) == nil {
			t.Errorf("%s allowed", a)
		}
	}
	for _, a := range []string{"93.184.216.34", "2606:4700::1111"} {
		if err := g.Check(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
	for _, u := range []string{"http://169.254.169.254/", "ftp://x/", "http://user:pw@example.com/", "not a url"} {
		if g.CheckURL(context.Background(), u) == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if _, err := ParseAllow("127.0.0.2/32, ::1, nonsense"); err == nil {
		t.Error("a bad allow-list parsed")
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"event":"scan_completed"}`)
	sig := Sign("s3cret", body)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != 7+64 || !Verify("s3cret", body, sig) || Verify("other", body, sig) ||
		Verify("s3cret", append(body, ' '), sig) {
		t.Fatalf("signature %s", sig)
	}
}
