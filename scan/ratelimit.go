package scan

import (
	"context"
	"sync"
	"time"
)

// limiter paces probes to at most rate per second with a small burst. It is
// shared by every worker of a scan, so the limit holds for the whole scan.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration // time per token
	burst    time.Duration // how far "next" may lag behind now
	next     time.Time     // when the next token is free
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error
}

// newLimiter returns a limiter for rate tokens per second; rate <= 0 means no limit.
func newLimiter(rate int) *limiter {
	if rate <= 0 {
		return nil
	}
	interval := time.Second / time.Duration(rate)
	burst := interval * time.Duration(max(1, rate/50)) // 20 ms worth of tokens
	return &limiter{interval: interval, burst: burst, now: time.Now, sleep: sleepCtx}
}

// Wait blocks until a token is free or ctx ends.
func (l *limiter) Wait(ctx context.Context) error {
	if l == nil {
		return ctx.Err()
	}
	l.mu.Lock()
	now := l.now()
	if floor := now.Add(-l.burst); l.next.Before(floor) {
		l.next = floor
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return l.sleep(ctx, d)
	}
	return ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
