package scan

import (
	"sync"
	"time"
)

// rttEstimator derives a probe timeout from measured round-trip times the way
// TCP does (RFC 6298): srtt and rttvar smoothed, timeout = srtt + 4*rttvar,
// clamped to [min, max]. Until the first sample it answers initial.
type rttEstimator struct {
	mu               sync.Mutex
	srtt, rttvar     time.Duration
	samples          int
	initial, min, mx time.Duration
}

func newRTTEstimator(initial, min, max time.Duration) *rttEstimator {
	return &rttEstimator{initial: initial, min: min, mx: max}
}

// Observe records one round trip.
func (e *rttEstimator) Observe(rtt time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.samples == 0 {
		e.srtt, e.rttvar = rtt, rtt/2
	} else {
		diff := e.srtt - rtt
		if diff < 0 {
			diff = -diff
		}
		e.rttvar = (3*e.rttvar + diff) / 4
		e.srtt = (7*e.srtt + rtt) / 8
	}
	e.samples++
}

// Timeout is the current probe timeout.
func (e *rttEstimator) Timeout() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.samples == 0 {
		return e.initial
	}
	return min(max(e.srtt+4*e.rttvar, e.min), e.mx)
}
