package bench

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when someone sleeps on it or the test steps it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep advances the clock to at least now+d; with several simulated
// producers the clock only moves forward, like a real one.
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLimiterRateAccuracy(t *testing.T) {
	tests := []struct {
		name      string
		rate      int
		producers int
		span      time.Duration
		work      time.Duration // simulated time each burst takes to send
		stall     time.Duration // a late timer or GC pause every 50th burst
	}{
		{"20k/s one producer", 20_000, 1, 10 * time.Second, 0, 0},
		{"20k/s four producers", 20_000, 4, 10 * time.Second, 0, 0},
		{"20k/s with send cost", 20_000, 4, 10 * time.Second, 300 * time.Microsecond, 0},
		{"20k/s with late timers", 20_000, 4, 10 * time.Second, 0, 30 * time.Millisecond},
		{"1k/s", 1_000, 2, 10 * time.Second, 0, 0},
		{"7 per second", 7, 1, 100 * time.Second, 0, 0},
		{"1M/s", 1_000_000, 8, 2 * time.Second, 50 * time.Microsecond, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			l := newLimiter(tc.rate, clk)
			start := clk.Now()
			end := start.Add(tc.span)
			var total, calls int64
			// Round-robin the simulated producers on one goroutine so the
			// result is deterministic.
			for done := false; !done; {
				for p := 0; p < tc.producers; p++ {
					n, err := l.take(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if !clk.Now().Before(end) {
						done = true
						break
					}
					total += int64(n)
					clk.step(tc.work / time.Duration(tc.producers))
					if calls++; calls%50 == 0 {
						clk.step(tc.stall)
					}
				}
			}
			want := float64(tc.rate) * tc.span.Seconds()
			if dev := math.Abs(float64(total)-want) / want; dev > 0.01 {
				t.Fatalf("got %d tokens in %v, want %.0f (deviation %.3f%%)", total, tc.span, want, dev*100)
			}
		})
	}
}

func TestLimiterNoFloodAfterStall(t *testing.T) {
	clk := newFakeClock()
	l := newLimiter(20_000, clk)
	if _, err := l.take(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.step(2 * time.Second) // a stall: 40,000 tokens "missed"
	start := clk.Now()
	var granted int
	for clk.Now().Sub(start) < time.Millisecond {
		n, err := l.take(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		granted += n
	}
	// The catch-up allowance plus the ~1ms (and one burst) of new schedule.
	if limit := int(20_000*catchUp.Seconds()) + 3*burstFor(20_000); granted > limit {
		t.Fatalf("granted %d tokens within 1ms after a stall, want <= %d", granted, limit)
	}
}

func TestLimiterRestart(t *testing.T) {
	clk := newFakeClock()
	l := newLimiter(20_000, clk)
	clk.step(time.Second) // setup time before the producers start
	l.restart(clk.Now())
	start := clk.Now()
	var granted int
	for clk.Now().Sub(start) < 100*time.Millisecond {
		n, err := l.take(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		granted += n
	}
	if want := 2000 + burstFor(20_000); granted > want {
		t.Fatalf("granted %d in the first 100ms after restart, want <= %d", granted, want)
	}
}

func TestLimiterUnthrottled(t *testing.T) {
	if l := newLimiter(0, newFakeClock()); l != nil {
		t.Fatalf("rate 0 must mean no limiter, got %+v", l)
	}
}

func TestLimiterCanceled(t *testing.T) {
	clk := newFakeClock()
	l := newLimiter(10, clk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.take(ctx); err == nil {
		t.Fatal("take on a canceled context must fail")
	}
}

func TestBurstFor(t *testing.T) {
	tests := []struct{ rate, want int }{{1, 1}, {199, 1}, {200, 1}, {20_000, 100}, {10_000_000, 1000}}
	for _, tc := range tests {
		if got := burstFor(tc.rate); got != tc.want {
			t.Errorf("burstFor(%d) = %d, want %d", tc.rate, got, tc.want)
		}
	}
}
