package scan

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilscan/vigil"
)

// Scanner runs one configured scan. Each Run is independent: a scanner
// holds no sockets between runs.
type Scanner struct {
	cfg     Config
	ports   []vigil.PortRange
	targets *targetSet
	syn     bool // TCP scan and ping by raw SYN probes
}

// New validates cfg and returns a scanner.
func New(cfg Config) (*Scanner, error) {
	// A caller's own Dialer (a proxy, a test's counter) means connections
	// through it, so auto mode keeps to connect scanning then.
	customDialer := cfg.Dialer != nil
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ports, err := ParsePorts(cfg.Ports)
	if err != nil {
		return nil, fmt.Errorf("ports: %w", err)
	}
	ts, err := parseTargets(cfg.Hosts, cfg.ExcludeHosts)
	if err != nil {
		return nil, fmt.Errorf("hosts: %w", err)
	}
	s := &Scanner{cfg: cfg, ports: ports, targets: ts}
	if cfg.Mode == ModeSYN || (cfg.Mode == ModeAuto && !customDialer) {
		sock, err := openSYNSocket(cfg.Scope)
		if err == nil {
			sock.Close()
			s.syn = true
		} else if cfg.Mode == ModeSYN {
			return nil, fmt.Errorf("mode syn: %w", err)
		}
	}
	return s, nil
}

// engine is the state of one Run.
type engine struct {
	cfg     Config
	ports   []vigil.PortRange
	dialer  Dialer
	limiter *limiter
	pinger  *pinger    // nil when ICMP is unavailable
	syn     *synSocket // nil in connect mode
	events  chan<- Event

	probes                         atomic.Int64
	hostsTotal, hostsDone, hostsUp atomic.Int64
}

// Run starts the scan and returns its events; the channel is closed after
// EventScanDone. The caller must drain it: the engine waits for the consumer
// rather than buffering without bound. Cancelling ctx stops all traffic.
func (s *Scanner) Run(ctx context.Context) <-chan Event {
	ch := make(chan Event, 256)
	e := &engine{cfg: s.cfg, ports: s.ports, events: ch, limiter: newLimiter(s.cfg.Rate),
		dialer: guardedDialer{scope: s.cfg.Scope, next: s.cfg.Dialer}}
	e.hostsTotal.Store(s.targets.count)
	go func() {
		defer close(ch)
		if s.syn {
			sock, err := openSYNSocket(s.cfg.Scope)
			if err != nil {
				e.emit(ctx, Event{Type: EventWarning, Message: err.Error() + "; using connect scan"})
			} else {
				e.syn = sock
				defer sock.Close()
				if testSYNHook != nil {
					testSYNHook(sock)
				}
				sock.start()
			}
		}
		e.run(ctx, s.targets)
	}()
	return ch
}

func (e *engine) emit(ctx context.Context, ev Event) {
	ev.Time = e.cfg.Now().UTC()
	select {
	case e.events <- ev:
	case <-ctx.Done():
		// The consumer may have stopped reading; the final events still go
		// out if it has not (scan_done is sent without ctx).
	}
}

func (e *engine) run(ctx context.Context, ts *targetSet) {
	start := e.cfg.Now()
	mode := ModeConnect
	if e.syn != nil {
		mode = ModeSYN
	}
	e.emit(ctx, Event{Type: EventScanStart, Progress: e.progress(), Message: fmt.Sprintf("ports %s, %s scan, alive test %s, scope %s",
		vigil.FormatPortRanges(e.ports), mode, e.cfg.AliveTest, e.cfg.Scope)})
	if e.needsICMP() {
		p, err := openPinger()
		if err != nil {
			e.emit(ctx, Event{Type: EventWarning, Message: "ICMP echo unavailable (" + err.Error() + "); discovery uses TCP ping only"})
		} else {
			e.pinger = p
			defer p.Close()
			go p.receive(ctx)
		}
	}

	stopProgress := e.startProgress(ctx)
	hosts := make(chan target)
	var wg sync.WaitGroup
	for i := 0; i < e.cfg.MaxHosts; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range hosts {
				e.scanHost(ctx, t)
			}
		}()
	}
	onError := func(host, msg string) {
		e.hostsDone.Add(1)
		e.emit(ctx, Event{Type: EventError, Hostname: host, Message: msg})
	}
	for t := range ts.all(ctx, e.cfg.Resolver, onError) {
		if !e.cfg.Scope.Allows(t.addr) {
			e.hostsDone.Add(1)
			e.emit(ctx, Event{Type: EventRefused, Host: t.addr, Hostname: t.hostname,
				Message: "outside the scan scope " + e.cfg.Scope.String() + "; nothing sent"})
			continue
		}
		select {
		case hosts <- t:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(hosts)
	wg.Wait()
	stopProgress()
	msg := fmt.Sprintf("%d hosts, %d up, %d probes in %s", e.hostsDone.Load(), e.hostsUp.Load(), e.probes.Load(),
		e.cfg.Now().Sub(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		msg = "cancelled: " + msg
	}
	// The last event goes out even after cancellation, so consumers learn
	// the scan ended; the channel is buffered and the consumer is draining.
	e.events <- Event{Type: EventScanDone, Time: e.cfg.Now().UTC(), Progress: e.progress(), Message: msg}
}

func (e *engine) needsICMP() bool {
	return e.cfg.AliveTest == vigil.AliveICMP || e.cfg.AliveTest == vigil.AliveScanConfigDefault
}

func (e *engine) progress() *Progress {
	p := &Progress{HostsTotal: e.hostsTotal.Load(), HostsDone: e.hostsDone.Load(), HostsUp: e.hostsUp.Load(), ProbesSent: e.probes.Load()}
	if p.HostsTotal > 0 {
		p.Percent = float64(p.HostsDone) * 100 / float64(p.HostsTotal)
	}
	return p
}

func (e *engine) startProgress(ctx context.Context) (stop func()) {
	if e.cfg.ProgressEvery <= 0 {
		return func() {}
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(e.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				e.emit(pctx, Event{Type: EventProgress, Progress: e.progress()})
			}
		}
	}()
	return func() { cancel(); <-done }
}

// scanHost discovers, port-scans and fingerprints one host.
func (e *engine) scanHost(ctx context.Context, t target) {
	defer e.hostsDone.Add(1)
	if e.cfg.HostTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.HostTimeout)
		defer cancel()
	}
	start := e.cfg.Now()
	est := newRTTEstimator(e.cfg.InitialTimeout, e.cfg.MinTimeout, e.cfg.MaxTimeout)
	up, reason, rtt := e.discover(ctx, t, est)
	if ctx.Err() != nil {
		return
	}
	if !up {
		e.emit(ctx, Event{Type: EventHostDown, Host: t.addr, Hostname: t.hostname, Reason: reason})
		return
	}
	e.hostsUp.Add(1)
	e.emit(ctx, Event{Type: EventHostUp, Host: t.addr, Hostname: t.hostname, Reason: reason, RTT: rtt})

	onOpen := func(port int, reason string, rtt time.Duration) {
		e.emit(ctx, Event{Type: EventPort, Host: t.addr, Hostname: t.hostname, Port: port, Protocol: "tcp", State: StateOpen, Reason: reason, RTT: rtt})
	}
	open, closed, filtered, unreliable := e.scanPorts(ctx, t, est, onOpen)
	sum := &HostSummary{Closed: closed, Filtered: filtered}
	if unreliable {
		e.emit(ctx, Event{Type: EventHostUnreliable, Host: t.addr, Hostname: t.hostname,
			Message: fmt.Sprintf("%d of the first answered ports are open: the host (or a device before it) accepts every connection; ports are not reported", len(open))})
		open = nil
	} else {
		sum.Open = len(open)
	}
	udp := e.scanUDP(ctx, t, est)
	for _, u := range udp {
		if u.state == StateOpen {
			sum.Open++
		} else if u.state == StateOpenFiltered {
			sum.OpenFiltered++
		} else if u.state == StateClosed {
			sum.Closed++
		} else {
			sum.Filtered++
		}
	}
	if e.cfg.ServiceDetection && ctx.Err() == nil {
		services := e.detectServices(ctx, t, open, udp)
		if e.cfg.Checks != nil && ctx.Err() == nil {
			e.runChecks(ctx, HostServices{Addr: t.addr, Hostname: t.hostname, Services: services})
		}
	}
	sum.Duration = e.cfg.Now().Sub(start)
	e.emit(ctx, Event{Type: EventHostDone, Host: t.addr, Hostname: t.hostname, Summary: sum})
}

// testSYNHook lets tests watch a run's raw sockets.
var testSYNHook func(*synSocket)

// scanPorts runs the TCP port scan by SYN probes when the run has raw
// sockets and by connections otherwise (or when SYN cannot reach the host,
// e.g. IPv6 without a raw IPv6 socket).
func (e *engine) scanPorts(ctx context.Context, t target, est *rttEstimator,
	onOpen func(port int, reason string, rtt time.Duration)) (open []int, closed, filtered int, unreliable bool) {
	if e.syn != nil {
		open, closed, filtered, unreliable, err := e.scanSYN(ctx, t, e.ports, est, onOpen)
		if err == nil || ctx.Err() != nil {
			return open, closed, filtered, unreliable
		}
		if len(open) > 0 || closed > 0 {
			// Part of the host was scanned; say so rather than mixing methods.
			e.emit(ctx, Event{Type: EventError, Host: t.addr, Hostname: t.hostname, Message: "SYN scan failed: " + err.Error()})
			return open, closed, filtered, unreliable
		}
		e.emit(ctx, Event{Type: EventWarning, Host: t.addr, Hostname: t.hostname, Message: "SYN scan unavailable (" + err.Error() + "); using connect scan"})
	}
	return e.scanTCP(ctx, t, e.ports, est, onOpen)
}

// runChecks runs the configured checks on a host and reports their findings.
func (e *engine) runChecks(ctx context.Context, h HostServices) {
	if e.cfg.CheckTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.cfg.CheckTimeout)
		defer cancel()
	}
	e.cfg.Checks(ctx, e.dialer, h, func(f vigil.FindingResult) {
		f.Address = h.Addr
		e.emit(ctx, Event{Type: EventFinding, Host: h.Addr, Hostname: h.Hostname, Port: f.Port, Protocol: f.Protocol, Finding: &f})
	})
}
