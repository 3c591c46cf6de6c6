package scan

import (
	"context"
	"strconv"
	"time"

	"github.com/vigilscan/vigil"
)

// synBatch is the most probes handed to the kernel in one system call.
const synBatch = 64

// synProbe sends SYN probes to the ports next yields on t, at most window
// unanswered at a time, and retransmits unanswered ones with exponential
// back-off. result gets the final state of each port and returns false to
// stop early (a host found up, a host that answers on every port). Memory is
// bounded by the window, not by the number of ports.
func (e *engine) synProbe(ctx context.Context, t target, next func() (uint16, bool), est *rttEstimator, window int,
	result func(port int, state PortState, reason string, rtt time.Duration) bool) error {
	pkt, err := e.syn.newSYNPacket(t.addr)
	if err != nil {
		return err
	}
	defer pkt.wait()
	answers := make(chan synAnswer, 2*window+synBatch)
	defer e.syn.register(pkt.dst, answers)()

	type probe struct {
		sent    time.Time // zero while waiting for retransmission
		attempt int
	}
	type sentAt struct {
		port uint16
		sent time.Time
	}
	out := make(map[uint16]probe, window)
	// One queue per attempt: within it probes expire in the order they left.
	queues := make([][]sentAt, e.cfg.Retries+1)
	var retry []uint16
	inFlight, more, stopped := 0, true, false
	batch := synBatch
	if e.cfg.Rate > 0 {
		batch = min(synBatch, max(1, e.cfg.Rate/1000))
	}
	ports := make([]uint16, 0, batch)
	attempts := make([]int, 0, batch)
	timeout := func(attempt int) time.Duration {
		return min(est.Timeout()<<attempt, max(e.cfg.MaxTimeout, est.Timeout()))
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()

	handle := func(a synAnswer) {
		p, ok := out[a.port]
		if !ok {
			return // a duplicate, or an answer after the port was given up
		}
		delete(out, a.port)
		var rtt time.Duration
		if !p.sent.IsZero() {
			inFlight--
			rtt = a.at.Sub(p.sent)
			if p.attempt == 0 { // Karn: only unambiguous samples
				est.Observe(rtt)
			}
		}
		state, reason := StateClosed, "reset"
		if a.open {
			state, reason = StateOpen, "syn-ack"
		}
		if !result(int(a.port), state, reason, rtt) {
			stopped = true
		}
	}
	drain := func() {
		for {
			select {
			case a := <-answers:
				handle(a)
			default:
				return
			}
		}
	}
	expire := func(now time.Time) (nextDeadline time.Time) {
		for attempt, q := range queues {
			for len(q) > 0 {
				h := q[0]
				p, ok := out[h.port]
				if !ok || p.sent != h.sent {
					q = q[1:]
					continue
				}
				d := h.sent.Add(timeout(attempt))
				if now.Before(d) {
					if nextDeadline.IsZero() || d.Before(nextDeadline) {
						nextDeadline = d
					}
					break
				}
				q = q[1:]
				inFlight--
				if attempt < e.cfg.Retries && !stopped {
					out[h.port] = probe{attempt: attempt}
					retry = append(retry, h.port)
					continue
				}
				delete(out, h.port)
				if !result(int(h.port), StateFiltered, "no-response", 0) {
					stopped = true
				}
			}
			if len(q) == 0 {
				q = queues[attempt][:0] // reuse the backing array
			}
			queues[attempt] = q
		}
		return nextDeadline
	}

	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Fill the window.
		ports, attempts = ports[:0], attempts[:0]
		for !stopped && inFlight+len(ports) < window && len(ports) < batch {
			var port uint16
			attempt := 0
			if len(retry) > 0 {
				port, retry = retry[0], retry[1:]
				p, ok := out[port]
				if !ok {
					continue // answered late while waiting for its turn
				}
				attempt = p.attempt + 1
			} else if more {
				if port, more = next(); !more {
					break
				}
			} else {
				break
			}
			if err := e.limiter.Wait(ctx); err != nil {
				return err
			}
			pkt.build(len(ports), port)
			ports = append(ports, port)
			attempts = append(attempts, attempt)
		}
		if len(ports) > 0 {
			now := time.Now()
			for i, port := range ports {
				out[port] = probe{sent: now, attempt: attempts[i]}
				queues[attempts[i]] = append(queues[attempts[i]], sentAt{port, now})
			}
			inFlight += len(ports)
			e.probes.Add(int64(len(ports)))
			if err := pkt.send(len(ports), ports); err != nil {
				return err
			}
		}
		drain()
		deadline := expire(time.Now())
		if stopped || (inFlight == 0 && len(retry) == 0 && !more) {
			return nil
		}
		if inFlight < window && (len(retry) > 0 || more) {
			continue // room to send more
		}
		wait := time.Until(deadline)
		if deadline.IsZero() {
			wait = est.Timeout()
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case a := <-answers:
			handle(a)
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// scanSYN is scanTCP over raw SYN probes.
func (e *engine) scanSYN(ctx context.Context, t target, ranges []vigil.PortRange, est *rttEstimator,
	onOpen func(port int, reason string, rtt time.Duration)) (open []int, closed, filtered int, unreliable bool, err error) {
	hs := &hostScan{e: e, t: t, est: est, onOpen: onOpen}
	ri, p := 0, -1
	next := func() (uint16, bool) {
		for ri < len(ranges) {
			r := ranges[ri]
			if r.Protocol != vigil.TCP {
				ri++
				continue
			}
			if p < r.Start {
				p = r.Start
			} else {
				p++
			}
			if p > r.End {
				ri, p = ri+1, -1
				continue
			}
			return uint16(p), true
		}
		return 0, false
	}
	err = e.synProbe(ctx, t, next, est, e.cfg.MaxConnsPerHost, func(port int, state PortState, reason string, rtt time.Duration) bool {
		switch state {
		case StateOpen:
			hs.addOpen(tcpOpen{port, reason, rtt})
		case StateClosed:
			hs.closed.Add(1)
			hs.answer()
		default:
			hs.filtered.Add(1)
		}
		return !hs.isUnreliable()
	})
	open, closed, filtered, unreliable = hs.finish()
	return open, closed, filtered, unreliable, err
}

// synPing is TCP ping by SYN: any SYN-ACK or reset proves the host up.
func (e *engine) synPing(ctx context.Context, t target, est *rttEstimator) (up bool, reason string, rtt time.Duration, err error) {
	i := 0
	next := func() (uint16, bool) {
		if i >= len(tcpPingPorts) {
			return 0, false
		}
		i++
		return uint16(tcpPingPorts[i-1]), true
	}
	err = e.synProbe(ctx, t, next, est, len(tcpPingPorts), func(port int, state PortState, r string, d time.Duration) bool {
		if state == StateFiltered {
			return true
		}
		up, reason, rtt = true, "tcp-"+r+" on port "+strconv.Itoa(port), d
		return false
	})
	return up, reason, rtt, err
}
