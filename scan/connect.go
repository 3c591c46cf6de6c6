package scan

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilscan/vigil"
)

// Thresholds of the "every port open" check: once decideAfter probes of a
// host have answers, more than unreliableOpen open ports making up more than
// unreliableRatio of the answers means a SYN proxy, a tarpit or a firewall
// that accepts everything, not real services.
const (
	decideAfter     = 1000
	unreliableOpen  = 100
	unreliableRatio = 0.9
	localRetryPause = 20 * time.Millisecond
)

// hostScan is the state of one host's TCP port scan.
type hostScan struct {
	e      *engine
	t      target
	est    *rttEstimator
	onOpen func(port int, reason string, rtt time.Duration)

	mu         sync.Mutex
	buffered   []tcpOpen // open ports held back until the reliability decision
	decided    bool
	unreliable bool
	answered   int
	open       []int

	closed, filtered atomic.Int64
}

type tcpOpen struct {
	port   int
	reason string
	rtt    time.Duration
}

// scanTCP probes every TCP port of ranges on t. It returns the open ports,
// or unreliable=true when the host answers on (nearly) every port.
func (e *engine) scanTCP(ctx context.Context, t target, ranges []vigil.PortRange, est *rttEstimator,
	onOpen func(port int, reason string, rtt time.Duration)) (open []int, closed, filtered int, unreliable bool) {
	hs := &hostScan{e: e, t: t, est: est, onOpen: onOpen}
	total := 0
	for _, r := range ranges {
		if r.Protocol == vigil.TCP {
			total += r.Count()
		}
	}
	if total == 0 {
		return nil, 0, 0, false
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct{ port, attempt int }
	jobs := make(chan job)
	retries := make(chan job, e.cfg.MaxConnsPerHost)
	var pending sync.WaitGroup
	workers := min(e.cfg.MaxConnsPerHost, total)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var j job
				select {
				case j = <-retries:
				case j = <-jobs:
				case <-hctx.Done():
					return
				}
				hs.probe(hctx, j.port, j.attempt, func(attempt int) {
					pending.Add(1)
					go func() { // never block a worker on its own retry queue
						select {
						case retries <- job{j.port, attempt}:
						case <-hctx.Done():
							pending.Done()
						}
					}()
				})
				pending.Done()
				if hs.isUnreliable() {
					cancel()
				}
			}
		}()
	}
feed:
	for _, r := range ranges {
		if r.Protocol != vigil.TCP {
			continue
		}
		for p := r.Start; p <= r.End; p++ {
			pending.Add(1)
			select {
			case jobs <- job{p, 0}:
			case <-hctx.Done():
				pending.Done()
				break feed
			}
		}
	}
	done := make(chan struct{})
	go func() { pending.Wait(); close(done) }()
	select {
	case <-done:
	case <-hctx.Done():
	}
	cancel()
	wg.Wait()
	return hs.finish()
}

// finish releases what the reliability check still holds and returns the
// host's counts.
func (hs *hostScan) finish() (open []int, closed, filtered int, unreliable bool) {
	hs.decide(true)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	sort.Ints(hs.open)
	return hs.open, int(hs.closed.Load()), int(hs.filtered.Load()), hs.unreliable
}

// probe runs one attempt; requeue schedules a retry.
func (hs *hostScan) probe(ctx context.Context, port, attempt int, requeue func(attempt int)) {
	e := hs.e
	if err := e.limiter.Wait(ctx); err != nil {
		return
	}
	e.probes.Add(1)
	// Each retransmission waits twice as long (RFC 6298 back-off): a loaded
	// machine or a congested path gets time to answer before a port is
	// called filtered.
	timeout := min(hs.est.Timeout()<<attempt, max(e.cfg.MaxTimeout, hs.est.Timeout()))
	res := probeTCP(ctx, e.dialer, hs.t.addr, port, timeout)
	if res.reason == "cancelled" {
		return
	}
	if res.retry && attempt < e.cfg.Retries {
		if res.reason == "local-resource" {
			_ = sleepCtx(ctx, localRetryPause)
		}
		requeue(attempt + 1)
		return
	}
	if res.state != StateFiltered || res.reason == "host-unreach" || res.reason == "net-unreach" {
		hs.est.Observe(res.rtt)
	}
	switch res.state {
	case StateOpen:
		hs.addOpen(tcpOpen{port, res.reason, res.rtt})
	case StateClosed:
		hs.closed.Add(1)
		hs.answer()
	default:
		hs.filtered.Add(1)
	}
}

func (hs *hostScan) answer() {
	hs.mu.Lock()
	hs.answered++
	n := hs.answered
	hs.mu.Unlock()
	if n >= decideAfter {
		hs.decide(false)
	}
}

func (hs *hostScan) addOpen(o tcpOpen) {
	hs.mu.Lock()
	hs.answered++
	hs.open = append(hs.open, o.port)
	if !hs.decided {
		hs.buffered = append(hs.buffered, o)
		n := hs.answered
		hs.mu.Unlock()
		if n >= decideAfter {
			hs.decide(false)
		}
		return
	}
	unreliable := hs.unreliable
	hs.mu.Unlock()
	if !unreliable {
		hs.onOpen(o.port, o.reason, o.rtt)
	}
}

// decide runs the reliability check once and then releases the buffered
// open ports, unless the host looks like it accepts everything.
func (hs *hostScan) decide(final bool) {
	hs.mu.Lock()
	if hs.decided {
		hs.mu.Unlock()
		return
	}
	hs.decided = true
	open := len(hs.open)
	hs.unreliable = open > unreliableOpen && float64(open) > unreliableRatio*float64(hs.answered)
	flush := hs.buffered
	hs.buffered = nil
	unreliable := hs.unreliable
	hs.mu.Unlock()
	if unreliable {
		return
	}
	sort.Slice(flush, func(i, j int) bool { return flush[i].port < flush[j].port })
	for _, o := range flush {
		hs.onOpen(o.port, o.reason, o.rtt)
	}
}

func (hs *hostScan) isUnreliable() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.unreliable
}

// scanned is a convenience for the address of t as a string.
func (t target) String() string {
	if t.hostname != "" {
		return t.hostname + " (" + t.addr.String() + ")"
	}
	return t.addr.String()
}
