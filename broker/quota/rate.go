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

// measureLocked sums the samples younger than the ring and divides by the elapsed time, which is
// never taken as less than all but one full window (Kafka's Rate.windowSize), so a first burst
// is not read as an enormous rate.
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
	if min := window * time.Duration(len(s.samples)-1); elapsed < min {
		elapsed = min
	}
	if elapsed <= 0 {
		elapsed = window
	}
	return total / elapsed.Seconds(), elapsed
}

// throttleFor is how long a client whose measured rate is over bound must wait so that the
// average over the measured window comes back to bound: (rate − bound) / bound × window (Kafka's
// QuotaUtils.throttleTime), capped at limit, the whole ring.
func throttleFor(rate, bound float64, window time.Duration, limit time.Duration) time.Duration {
	if rate <= bound || bound <= 0 {
		return 0
	}
	d := time.Duration((rate - bound) / bound * float64(window))
	return min(d, limit)
}
