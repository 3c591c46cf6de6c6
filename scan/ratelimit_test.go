package scan

import (
	"context"
	"testing"
	"time"
)

func TestLimiterPaces(t *testing.T) {
	// A fake clock: Wait sleeps by advancing it.
	now := time.Unix(0, 0)
	l := newLimiter(1000)
	l.now = func() time.Time { return now }
	l.sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	for i := 0; i < 5000; i++ {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// 5,000 tokens at 1,000/s take 5 s, less the initial burst of 20 ms.
	if el := now.Sub(time.Unix(0, 0)); el < 4900*time.Millisecond || el > 5100*time.Millisecond {
		t.Errorf("5000 tokens took %v", el)
	}
	var none *limiter
	if err := none.Wait(context.Background()); err != nil {
		t.Error("nil limiter must not limit")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if newLimiter(1).Wait(ctx) == nil {
		t.Error("Wait ignores a cancelled context")
	}
}

func TestRTTEstimator(t *testing.T) {
	e := newRTTEstimator(time.Second, 100*time.Millisecond, 3*time.Second)
	if e.Timeout() != time.Second {
		t.Error("initial timeout")
	}
	for i := 0; i < 20; i++ {
		e.Observe(time.Millisecond)
	}
	if e.Timeout() != 100*time.Millisecond {
		t.Errorf("fast host: %v, want the floor", e.Timeout())
	}
	for i := 0; i < 50; i++ {
		e.Observe(400 * time.Millisecond)
	}
	if to := e.Timeout(); to < 400*time.Millisecond || to > 3*time.Second {
		t.Errorf("slow host: %v", to)
	}
}
