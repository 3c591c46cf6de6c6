package scan

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/internal/testenv"
)

// sniffSYNs counts, until stop, the SYN packets (without ACK) that cross
// loopback to each destination, as seen by a raw socket of its own.
func sniffSYNs(t *testing.T) (stop func() map[netip.Addr]int) {
	t.Helper()
	c, err := net.ListenPacket("ip4:tcp", "0.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ipv4.NewRawConn(c)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[netip.Addr]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			h, p, _, err := raw.ReadFrom(buf)
			if err != nil {
				return
			}
			if len(p) >= 14 && p[13]&0x02 != 0 && p[13]&0x10 == 0 {
				dst, _ := netip.AddrFromSlice(h.Dst.To4())
				mu.Lock()
				seen[dst]++
				mu.Unlock()
			}
		}
	}()
	return func() map[netip.Addr]int {
		time.Sleep(100 * time.Millisecond) // what is in flight arrives
		c.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// TestSYNScopeGuardOnTheWire scans an in-scope and an out-of-scope address
// in SYN mode and watches loopback: no packet goes to the refused address.
func TestSYNScopeGuardOnTheWire(t *testing.T) {
	testenv.RequireRoot(t, "the SYN scanner (raw sockets)")
	in, out := netip.MustParseAddr("127.0.3.20"), netip.MustParseAddr("127.0.9.20") // no other test uses 127.0.9.x: the sniffer sees every process
	stop := sniffSYNs(t)
	cfg := DefaultConfig()
	cfg.Hosts, cfg.Ports, cfg.Mode, cfg.AliveTest, cfg.ProgressEvery = in.String()+","+out.String(), "1-300", ModeSYN, vigil.AliveTCPSYN, 0
	cfg.Scope, _ = ParseScope("127.0.3.0/24")
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := collect(t, s, context.Background())
	seen := stop()
	refused := false
	for _, ev := range evs {
		refused = refused || (ev.Type == EventRefused && ev.Host == out)
	}
	if !refused {
		t.Errorf("no refusal reported for %s", out)
	}
	if seen[out] != 0 {
		t.Errorf("%d SYNs went to the out-of-scope %s", seen[out], out)
	}
	if seen[in] < 300 {
		t.Errorf("the sniffer saw %d SYNs to %s, want at least 300 (is it working?)", seen[in], in)
	}

	// The guard also stands in the packet builder itself.
	sock, err := openSYNSocket(cfg.Scope)
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	if _, err := sock.newSYNPacket(out); err != ErrOutOfScope {
		t.Errorf("newSYNPacket(%s): %v", out, err)
	}
}
