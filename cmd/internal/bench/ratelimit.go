package bench

import (
	"context"
	"sync"
	"time"
)

// clock abstracts time so the limiter can be tested with a fake clock and no
// real sleeping.
type clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// catchUp bounds how far behind schedule the limiter lets callers catch up.
const catchUp = 250 * time.Millisecond

// limiter is a token bucket shared by all producers. Instead of sleeping per
// record, a caller reserves a burst of tokens and sleeps once until the burst
// is due, then produces the whole burst; at 20,000 records/s a burst is 100
// records every 5ms, which OS timers handle well.
//
// The schedule is absolute: the k-th token is due at base + k/rate, computed
// from the count of issued tokens rather than by accumulating intervals, so
// timer lateness and rounding never add up into rate error. Callers that fall
// behind schedule (a late timer or a GC pause on a loaded machine, easily
// 10ms on two cores) may catch up by up to catchUp worth of tokens; beyond
// that (for example when the broker applies backpressure for seconds) the
// schedule is rebased, so a recovery never becomes an unbounded flood.
type limiter struct {
	clk   clock
	rate  float64 // tokens per second
	burst int     // tokens per reservation

	mu     sync.Mutex // guards base and issued; never held while sleeping
	base   time.Time
	issued int64
}

// newLimiter returns a limiter for rate tokens per second, or nil when rate is
// zero or negative (unthrottled).
func newLimiter(rate int, clk clock) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{clk: clk, rate: float64(rate), burst: burstFor(rate), base: clk.Now()}
}

// burstFor sizes a reservation to about 5ms of tokens, between 1 and 1000.
func burstFor(rate int) int {
	b := rate / 200
	if b < 1 {
		b = 1
	}
	if b > 1000 {
		b = 1000
	}
	return b
}

// restart begins the schedule at now, so time spent setting up before the
// producers start is not handed out as catch-up tokens.
func (l *limiter) restart(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base, l.issued = now, 0
}

// reserve books the next burst and returns the time it is due.
func (l *limiter) reserve() (due time.Time, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	due = l.dueAt(l.issued)
	if due.Before(now.Add(-catchUp)) {
		l.base = now.Add(-catchUp)
		l.issued = 0
		due = l.base
	}
	l.issued += int64(l.burst)
	return due, l.burst
}

// dueAt is the time the k-th token (counting from base) becomes available.
func (l *limiter) dueAt(k int64) time.Time {
	return l.base.Add(time.Duration(float64(k) / l.rate * float64(time.Second)))
}

// take reserves a burst, waits until it is due and returns its size. It
// returns early with ctx.Err() if ctx is done.
func (l *limiter) take(ctx context.Context) (int, error) {
	due, n := l.reserve()
	if wait := due.Sub(l.clk.Now()); wait > 0 {
		if err := l.clk.Sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
	return n, ctx.Err()
}
