package quota

import (
	"sync"
	"time"
)

// sensor measures one rate (bytes/s, request-time percent, mutations/s, connections/s) over a
// ring of sample windows, as Kafka's Rate over a SampledStat does.
type sensor struct {
	mu       sync.Mutex
	samples  []sample
	cur      int
	lastUsed time.Time
}

type sample struct {
	start time.Time
	value float64
}

func newSensor(n int, now time.Time) *sensor {
	s := &sensor{samples: make([]sample, n), lastUsed: now}
	for i := range s.samples {
		s.samples[i].start = now
	}
	return s
}

// advance moves the current sample forward to the window holding now, resetting samples that
// have aged out.
func (s *sensor) advance(now time.Time, window time.Duration) {
	c := &s.samples[s.cur]
	if now.Sub(c.start) < window {
		return
	}
	// Windows that passed with nothing recorded are cleared as we step over them, at most one
	// lap of the ring.
	for i := 0; i < len(s.samples) && now.Sub(s.samples[s.cur].start) >= window; i++ {
		next := s.samples[s.cur].start.Add(window)
		if now.Sub(next) >= window*time.Duration(len(s.samples)) {
			next = now // idle for longer than the whole ring: start afresh
		}
		s.cur = (s.cur + 1) % len(s.samples)
		s.samples[s.cur] = sample{start: next}
	}
}

// recordAndMeasure adds v at now and returns the rate per second over the retained windows.
func (s *sensor) recordAndMeasure(v float64, now time.Time, window time.Duration) (rate float64, size time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(now, window)
	s.samples[s.cur].value += v
	s.lastUsed = now
	return s.measureLocked(now, window)
}

// unrecord takes back v recorded in the current window (a throttled fetch answered empty).
func (s *sensor) unrecord(v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples[s.cur].value -= v
}

// measure returns the current rate without recording anything.
func (s *sensor) measure(now time.Time, window time.Duration) (float64, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(now, window)
	return s.measureLocked(now, window)
}

// measureLocked sums the samples younger than the ring and divides by the elapsed time. When fewer
// than all but one windows have passed, the missing whole windows are added to the elapsed time
// (Kafka's Rate.windowSize), so a first burst is not read as an enormous rate.
func (s *sensor) measureLocked(now time.Time, window time.Duration) (float64, time.Duration) {
	var total float64
	oldest := now
	span := window * time.Duration(len(s.samples))
	for _, sm := range s.samples {
		if now.Sub(sm.start) >= span {
			continue
		}
		total += sm.value
		if sm.start.Before(oldest) {
			oldest = sm.start
		}
	}
	elapsed := now.Sub(oldest)
	full := int(elapsed / window)
	if minFull := len(s.samples) - 1; full < minFull {
		elapsed += time.Duration(minFull-full) * window
	}
	return total / elapsed.Seconds(), elapsed
}

// throttleFor is how long a client whose measured rate is over bound must wait so that the
// average over the measured window comes back to bound: (rate − bound) / bound × window (Kafka's
// QuotaUtils.throttleTime), at most limit. It is computed in float64 and clamped before it becomes
// a Duration, so an extreme ratio cannot overflow.
func throttleFor(rate, bound float64, window, limit time.Duration) time.Duration {
	if rate <= bound || bound <= 0 {
		return 0
	}
	secs := (rate - bound) / bound * window.Seconds()
	if secs >= limit.Seconds() {
		return limit
	}
	return time.Duration(secs * float64(time.Second))
}

// tokenBucket is the controller-mutation quota's measure (KIP-599): it holds up to burst tokens,
// refills at rate per second, and each partition created or deleted takes one; a bucket below
// zero throttles for as long as it takes to refill to zero.
type tokenBucket struct {
	mu       sync.Mutex
	tokens   float64
	last     time.Time
	lastUsed time.Time
}

// take refills the bucket to now, takes n tokens and returns the throttle (0 while tokens remain).
func (b *tokenBucket) take(n, rate, burst float64, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(rate, burst, now)
	b.tokens -= n
	b.lastUsed = now
	return deficitTime(b.tokens, rate)
}

// deficit returns the throttle for the bucket as it stands, without taking anything.
func (b *tokenBucket) deficit(rate, burst float64, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(rate, burst, now)
	return deficitTime(b.tokens, rate)
}

func (b *tokenBucket) refill(rate, burst float64, now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
		return
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
}

// maxThrottle bounds every throttle to what throttle_time_ms (an int32 of milliseconds) can say.
const maxThrottle = time.Duration(1<<31-1) * time.Millisecond

func deficitTime(tokens, rate float64) time.Duration {
	if tokens >= 0 || rate <= 0 {
		return 0
	}
	secs := -tokens / rate
	if secs >= maxThrottle.Seconds() {
		return maxThrottle
	}
	return time.Duration(secs * float64(time.Second))
}
