package scan

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// guardedDialer refuses any address outside the scope: the last check before
// a packet leaves, whatever code path asked for the connection.
type guardedDialer struct {
	scope Scope
	next  Dialer
}

// ErrOutOfScope is returned for addresses outside the scope guard.
var ErrOutOfScope = errors.New("scan: address outside the scan scope (VIGIL_SCAN_ALLOW)")

func (g guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !g.scope.Allows(a) {
		// Names are never dialed: the engine resolves and checks first.
		return nil, ErrOutOfScope
	}
	return g.next.DialContext(ctx, network, address)
}

// tcpProbe is the outcome of one connection attempt.
type tcpProbe struct {
	state  PortState
	reason string
	rtt    time.Duration
	retry  bool // no answer, or a local resource shortage: try again
}

// probeTCP tries one TCP handshake to addr:port within timeout.
func probeTCP(ctx context.Context, d Dialer, addr netip.Addr, port int, timeout time.Duration) tcpProbe {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	conn, err := d.DialContext(dctx, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	rtt := time.Since(start)
	if err == nil {
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST: no TIME_WAIT pile-up over a big sweep
		}
		conn.Close()
		return tcpProbe{state: StateOpen, reason: "syn-ack", rtt: rtt}
	}
	return classifyDialError(ctx, dctx, err, rtt)
}

func classifyDialError(ctx, dctx context.Context, err error, rtt time.Duration) tcpProbe {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return tcpProbe{state: StateClosed, reason: "conn-refused", rtt: rtt}
	case errors.Is(err, syscall.EHOSTUNREACH):
		return tcpProbe{state: StateFiltered, reason: "host-unreach", rtt: rtt}
	case errors.Is(err, syscall.ENETUNREACH):
		return tcpProbe{state: StateFiltered, reason: "net-unreach", rtt: rtt}
	case errors.Is(err, ErrOutOfScope):
		return tcpProbe{state: StateFiltered, reason: "out-of-scope"}
	case ctx.Err() != nil:
		return tcpProbe{state: StateFiltered, reason: "cancelled"}
	case dctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		return tcpProbe{state: StateFiltered, reason: "no-response", retry: true}
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.EAGAIN):
		// Out of local ports or descriptors: not the target's answer.
		return tcpProbe{state: StateFiltered, reason: "local-resource", retry: true}
	}
	return tcpProbe{state: StateFiltered, reason: "error: " + err.Error()}
}
