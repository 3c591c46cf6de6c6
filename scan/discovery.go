package scan

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/vigilscan/vigil"
)

// tcpPingPorts are tried by TCP ping: common services first. Any answer, a
// handshake or a reset, proves the host is up.
var tcpPingPorts = []int{443, 80, 22, 3389, 445}

// discover decides whether t is up according to the alive test.
func (e *engine) discover(ctx context.Context, t target, est *rttEstimator) (up bool, reason string, rtt time.Duration) {
	switch e.cfg.AliveTest {
	case vigil.AliveConsiderAlive:
		return true, "user-set", 0
	case vigil.AliveICMP:
		if e.pinger == nil {
			return e.tcpPing(ctx, t, est)
		}
		if rtt, ok := e.pinger.ping(ctx, e.limiter, t.addr, e.cfg.InitialTimeout, 1+e.cfg.Retries); ok {
			est.Observe(rtt)
			return true, "echo-reply", rtt
		}
		return false, "no-response to ICMP echo", 0
	case vigil.AliveTCPSYN:
		return e.tcpPing(ctx, t, est)
	}
	// scan_config_default: ICMP echo and TCP ping at once, first answer wins.
	type answer struct {
		up     bool
		reason string
		rtt    time.Duration
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan answer, 2)
	var wg sync.WaitGroup
	if e.pinger != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rtt, ok := e.pinger.ping(dctx, e.limiter, t.addr, e.cfg.InitialTimeout, 1+e.cfg.Retries)
			answers <- answer{ok, "echo-reply", rtt}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		up, reason, rtt := e.tcpPing(dctx, t, est)
		answers <- answer{up, reason, rtt}
	}()
	go func() { wg.Wait(); close(answers) }()
	// The first answer decides; the other method is cancelled and waited
	// for, so no probe of discovery is still out when the port scan starts.
	defer func() { cancel(); wg.Wait() }()
	for a := range answers {
		if a.up {
			if a.reason == "echo-reply" {
				est.Observe(a.rtt)
			}
			return true, a.reason, a.rtt
		}
	}
	if e.pinger == nil {
		return false, "no-response to TCP ping (ICMP unavailable)", 0
	}
	return false, "no-response to ICMP echo or TCP ping", 0
}

// tcpPing tries the ping ports at once; a SYN-ACK (handshake) or a reset
// means up. It sends raw SYNs when the run has raw sockets.
func (e *engine) tcpPing(ctx context.Context, t target, est *rttEstimator) (bool, string, time.Duration) {
	if e.syn != nil {
		up, reason, rtt, err := e.synPing(ctx, t, est)
		if err == nil || ctx.Err() != nil {
			if !up {
				return false, "no-response to TCP ping", 0
			}
			return up, reason, rtt
		}
	}
	type res struct {
		p    tcpProbe
		port int
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan res, len(tcpPingPorts))
	for _, port := range tcpPingPorts {
		go func() {
			var r tcpProbe
			for attempt := 0; attempt <= e.cfg.Retries; attempt++ {
				if e.limiter.Wait(pctx) != nil {
					break
				}
				e.probes.Add(1)
				r = probeTCP(pctx, e.dialer, t.addr, port, e.cfg.InitialTimeout)
				if !r.retry {
					break
				}
			}
			out <- res{r, port}
		}()
	}
	for range tcpPingPorts {
		r := <-out
		if r.p.state == StateOpen || r.p.state == StateClosed {
			est.Observe(r.p.rtt)
			return true, "tcp-" + r.p.reason + " on port " + strconv.Itoa(r.port), r.p.rtt
		}
	}
	return false, "no-response to TCP ping", 0
}
