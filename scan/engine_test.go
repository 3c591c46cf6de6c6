package scan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/internal/testenv"
	"github.com/vigilscan/vigil/testbed"
)

// listen opens n TCP listeners on 127.0.0.1 that accept and close.
func listen(t *testing.T, n int) []int { return listenOn(t, "127.0.0.1", n) }

// listenOn opens n TCP listeners on host that accept and close.
func listenOn(t *testing.T, host string, n int) []int {
	t.Helper()
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := testbed.AcceptAndClose(host, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	sort.Ints(ports)
	return ports
}

// listeningOn reads the kernel's TCP listening sockets on host (or on every address).
func listeningOn(t *testing.T, host string) map[int]bool {
	t.Helper()
	ports, err := testbed.OpenTCPPorts(host)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

func loopbackScope(t *testing.T) Scope {
	s, err := ParseScope("127.0.0.0/8,::1")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func collect(t *testing.T, s *Scanner, ctx context.Context) []Event {
	t.Helper()
	var evs []Event
	deadline := time.After(60 * time.Second)
	ch := s.Run(ctx)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				if len(evs) == 0 || evs[len(evs)-1].Type != EventScanDone {
					t.Fatalf("the stream did not end with scan_done: %v", evs)
				}
				return evs
			}
			evs = append(evs, ev)
		case <-deadline:
			t.Fatal("scan did not finish within 60s")
		}
	}
}

func openPorts(evs []Event, proto string) []int {
	var out []int
	for _, ev := range evs {
		if ev.Type == EventPort && ev.Protocol == proto && ev.State == StateOpen {
			out = append(out, ev.Port)
		}
	}
	sort.Ints(out)
	return out
}

func portRange(ports []int, extra int) string {
	lo, hi := ports[0], ports[len(ports)-1]
	return fmt.Sprintf("%d-%d", max(1, lo-extra), min(65535, hi+extra))
}

func TestPortScanFindsExactlyTheOpenPorts(t *testing.T) {
	t.Run("connect", func(t *testing.T) {
		testFindsExactlyTheOpenPorts(t, ModeConnect, vigil.AliveConsiderAlive, "127.0.3.1")
	})
	t.Run("syn", func(t *testing.T) {
		testenv.RequireRoot(t, "the SYN scanner (raw sockets)")
		testFindsExactlyTheOpenPorts(t, ModeSYN, vigil.AliveConsiderAlive, "127.0.3.2")
	})
	// Discovery's TCP ping (SYN) and ICMP race; the loser winds down while
	// the port scan of the same host starts.
	t.Run("syn-after-discovery", func(t *testing.T) {
		testenv.RequireRoot(t, "the SYN scanner (raw sockets)")
		testFindsExactlyTheOpenPorts(t, ModeSYN, vigil.AliveScanConfigDefault, "127.0.3.3")
	})
}

func testFindsExactlyTheOpenPorts(t *testing.T, mode Mode, alive vigil.AliveTest, host string) {
	// An address of its own: other packages' tests listen on 127.0.0.1.
	ports := listenOn(t, host, 5)
	before := listeningOn(t, host)
	cfg := DefaultConfig()
	cfg.Hosts, cfg.Ports, cfg.Scope, cfg.Mode = host, portRange(ports, 50), loopbackScope(t), mode
	cfg.AliveTest = alive
	cfg.ProgressEvery = 0
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := collect(t, s, context.Background())
	after := listeningOn(t, host)
	// Exactly the kernel's listening sockets in the range: those listening
	// before and after were found; nothing else was (wildcard listeners of
	// other processes may come and go meanwhile).
	lo, hi := ports[0]-50, ports[len(ports)-1]+50
	got := openPorts(evs, "tcp")
	found := map[int]bool{}
	for _, p := range got {
		found[p] = true
		if !before[p] && !after[p] {
			t.Errorf("port %d reported open but never listened", p)
		}
	}
	var want []int
	for p := range before {
		if after[p] && p >= lo && p <= hi {
			want = append(want, p)
			if !found[p] {
				t.Errorf("port %d listens but was not found", p)
			}
		}
	}
	for _, p := range ports {
		if !found[p] {
			t.Errorf("our listener %d was not found", p)
		}
	}
	var done *Event
	for i := range evs {
		if evs[i].Type == EventHostDone {
			done = &evs[i]
		}
	}
	total := ports[len(ports)-1] + 50 - (ports[0] - 50) + 1
	if done == nil || done.Summary.Open != len(got) || done.Summary.Open+done.Summary.Closed+done.Summary.Filtered != total {
		t.Errorf("host summary: %+v (total %d)", done, total)
	}
}

// countingDialer records every address dialed and answers like a host that
// accepts connections on accept (or on every port when all is set).
type countingDialer struct {
	mu     sync.Mutex
	dialed map[string]int
	all    bool
	accept map[int]bool
	delay  time.Duration
	calls  atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.calls.Add(1)
	d.mu.Lock()
	if d.dialed == nil {
		d.dialed = map[string]int{}
	}
	host, port, _ := net.SplitHostPort(address)
	d.dialed[host]++
	d.mu.Unlock()
	if d.delay > 0 {
		select {
		case <-time.After(d.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var p int
	fmt.Sscan(port, &p)
	if d.all || d.accept[p] {
		c1, c2 := net.Pipe()
		c2.Close()
		return c1, nil
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
}

func TestScopeGuardSendsNothingOutside(t *testing.T) {
	d := &countingDialer{accept: map[int]bool{22: true}}
	cfg := DefaultConfig()
	cfg.Hosts = "127.0.0.1, 192.0.2.0/30, 198.51.100.7"
	cfg.Ports, cfg.Scope, cfg.Dialer, cfg.ProgressEvery = "20-25", loopbackScope(t), d, 0
	cfg.AliveTest = vigil.AliveTCPSYN
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := collect(t, s, context.Background())
	refused := map[string]bool{}
	for _, ev := range evs {
		if ev.Type == EventRefused {
			refused[ev.Host.String()] = true
		}
	}
	for host := range d.dialed {
		if !strings.HasPrefix(host, "127.") {
			t.Errorf("dialed %s outside the scope", host)
		}
	}
	for _, h := range []string{"192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.7"} {
		if !refused[h] {
			t.Errorf("no refusal reported for %s", h)
		}
	}
	if got := openPorts(evs, "tcp"); fmt.Sprint(got) != "[22]" {
		t.Errorf("open ports %v", got)
	}
	// The guard also stands in the dialer itself.
	g := guardedDialer{scope: loopbackScope(t), next: d}
	if _, err := g.DialContext(context.Background(), "tcp", "192.0.2.9:80"); !errors.Is(err, ErrOutOfScope) {
		t.Errorf("guarded dialer: %v", err)
	}
	if d.dialed["192.0.2.9"] != 0 {
		t.Error("the guarded dialer let a packet out")
	}
}

func TestEveryPortOpenIsUnreliable(t *testing.T) {
	d := &countingDialer{all: true}
	cfg := DefaultConfig()
	cfg.Hosts, cfg.Ports, cfg.Scope, cfg.Dialer, cfg.ProgressEvery = "127.0.0.2", "1-65535", loopbackScope(t), d, 0
	cfg.AliveTest = vigil.AliveConsiderAlive
	s, _ := New(cfg)
	evs := collect(t, s, context.Background())
	var unreliable bool
	for _, ev := range evs {
		if ev.Type == EventPort {
			t.Fatalf("a port was reported on an accept-everything host: %+v", ev)
		}
		unreliable = unreliable || ev.Type == EventHostUnreliable
	}
	if !unreliable {
		t.Error("no host_unreliable event")
	}
	if n := d.calls.Load(); n > 5000 {
		t.Errorf("kept probing after deciding: %d probes", n)
	}
}

// TestCancelStopsTrafficWithinASecond cancels a big sweep: the stream
// closes within a second and no probe leaves after it has closed, counted
// by a dialer (connect) and by the raw socket's send hook (SYN).
func TestCancelStopsTrafficWithinASecond(t *testing.T) {
	t.Run("connect", func(t *testing.T) {
		d := &countingDialer{delay: 50 * time.Millisecond}
		cfg := DefaultConfig()
		cfg.Hosts, cfg.Dialer = "127.0.0.0/24", d
		checkCancel(t, cfg, d.calls.Load)
	})
	t.Run("syn", func(t *testing.T) {
		testenv.RequireRoot(t, "the SYN scanner (raw sockets)")
		var sent atomic.Int64
		testSYNHook = func(s *synSocket) { s.sent = func(netip.Addr, int) { sent.Add(1) } }
		defer func() { testSYNHook = nil }()
		cfg := DefaultConfig()
		cfg.Hosts, cfg.Mode, cfg.Rate = "127.0.5.0/24", ModeSYN, 20000
		checkCancel(t, cfg, sent.Load)
	})
}

func checkCancel(t *testing.T, cfg Config, probes func() int64) {
	cfg.Ports, cfg.Scope, cfg.ProgressEvery, cfg.AliveTest = "1-65535", loopbackScope(t), 0, vigil.AliveConsiderAlive
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := s.Run(ctx)
	time.Sleep(300 * time.Millisecond)
	cancel()
	cancelled := time.Now()
	for range ch {
	}
	if el := time.Since(cancelled); el > time.Second {
		t.Errorf("the stream closed %v after cancel", el)
	}
	n := probes()
	if n == 0 {
		t.Fatal("no probe was sent before the cancel")
	}
	time.Sleep(200 * time.Millisecond)
	if after := probes(); after != n {
		t.Errorf("%d probes after the stream closed", after-n)
	}
}

func TestUDPScan(t *testing.T) {
	// A UDP echo-ish server answering any datagram, and a port with nothing.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], addr)
		}
	}()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	free, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closedPort := free.LocalAddr().(*net.UDPAddr).Port
	free.Close()
	cfg := DefaultConfig()
	cfg.Hosts, cfg.Scope, cfg.ProgressEvery = "127.0.0.1", loopbackScope(t), 0
	cfg.Ports = fmt.Sprintf("U:%d,%d", min(port, closedPort), max(port, closedPort))
	cfg.AliveTest = vigil.AliveConsiderAlive
	s, _ := New(cfg)
	evs := collect(t, s, context.Background())
	if got := openPorts(evs, "udp"); fmt.Sprint(got) != fmt.Sprint([]int{port}) {
		t.Errorf("udp open %v, want [%d]: %v", got, port, evs)
	}
	for _, ev := range evs {
		if ev.Type == EventHostDone && ev.Summary.Closed != 1 {
			t.Errorf("closed UDP port not seen as closed: %+v", ev.Summary)
		}
	}
}

func TestDiscoveryOnLoopback(t *testing.T) {
	listen(t, 1)
	for _, alive := range []vigil.AliveTest{vigil.AliveScanConfigDefault, vigil.AliveTCPSYN, vigil.AliveICMP} {
		cfg := DefaultConfig()
		cfg.Hosts, cfg.Ports, cfg.Scope, cfg.AliveTest, cfg.ProgressEvery = "127.0.0.1", "1", loopbackScope(t), alive, 0
		s, _ := New(cfg)
		evs := collect(t, s, context.Background())
		up := false
		for _, ev := range evs {
			up = up || ev.Type == EventHostUp
		}
		if !up {
			t.Errorf("%s: loopback not up: %v", alive, evs)
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	for _, c := range []Config{{Hosts: "300.1.1.1", Ports: "80"}, {Hosts: "127.0.0.1", Ports: "0-5"}, {Hosts: "127.0.0.1", Ports: "80", AliveTest: "ping"},
		{Hosts: "127.0.0.1", Ports: "80", Mode: "stealth"}, {Hosts: "127.0.0.1", Ports: ""}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := ParseScope("192.0.2.0/33"); err == nil {
		t.Error("bad scope accepted")
	}
	s, _ := ParseScope("127.0.0.0/8 ::1")
	if !s.Allows(netip.MustParseAddr("127.9.9.9")) || s.Allows(netip.MustParseAddr("192.0.2.1")) || !s.Allows(netip.MustParseAddr("::1")) {
		t.Error("scope membership")
	}
	if (Scope{}).Allows(netip.MustParseAddr("192.0.2.1")) != true {
		t.Error("the zero scope must allow everything")
	}
}
