package metrics

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/stats"
)

// Meters follow Yammer's (Kafka's JMX meters): a count, a mean rate since the meter was first
// seen, and one-, five- and fifteen-minute exponentially weighted rates updated every
// tickInterval. Histograms report over a recent window: the tracker snapshots each one every
// windowStep and keeps windowSteps of them, so percentiles describe the last minute or two, as
// Yammer's decaying reservoir does, not the whole uptime.
const (
	tickInterval = 5 * time.Second
	windowStep   = 30 * time.Second
	windowSteps  = 4
)

var (
	alpha1  = 1 - math.Exp(-tickInterval.Seconds()/60)
	alpha5  = 1 - math.Exp(-tickInterval.Seconds()/300)
	alpha15 = 1 - math.Exp(-tickInterval.Seconds()/900)
)

// meter is the rate state of one counter.
type meter struct {
	// start is when the meter was first seen, the base of its mean rate (Yammer's meters count
	// from their creation; a topic's counters are created with the topic).
	start    time.Time
	last     uint64
	m1, m5   float64
	m15      float64
	ticked   bool
	seenTick uint64
}

// rates holds meter and window state for every counter and histogram the tracker has seen.
// The ticker walks the broker's counters every tickInterval, so rates are current whether or
// not anyone scrapes; what it no longer finds (a deleted topic) is forgotten.
type rates struct {
	mu     sync.Mutex
	tick   uint64
	meters map[*atomic.Uint64]*meter
	hists  map[*stats.Histogram]*window
	now    func() time.Time
}

func newRates(now func() time.Time) *rates {
	return &rates{meters: map[*atomic.Uint64]*meter{}, hists: map[*stats.Histogram]*window{}, now: now}
}

// meterValues are a meter's attributes as Kafka's JMX exporter shows them.
type meterValues struct {
	Count                 uint64
	MeanRate              float64
	OneMinute, FiveMinute float64
	FifteenMinute         float64
}

// read returns a counter's meter values, starting to track it if it is new.
func (r *rates) read(c *atomic.Uint64) meterValues {
	n := c.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.meterLocked(c)
	v := meterValues{Count: n, OneMinute: m.m1, FiveMinute: m.m5, FifteenMinute: m.m15}
	if el := r.now().Sub(m.start).Seconds(); el > 0 {
		v.MeanRate = float64(n) / el
	}
	return v
}

// meterLocked returns a counter's meter, starting one from zero: every counter starts at zero
// with the process (or its topic), so all it has counted belongs to the first interval.
func (r *rates) meterLocked(c *atomic.Uint64) *meter {
	m := r.meters[c]
	if m == nil {
		m = &meter{start: r.now()}
		r.meters[c] = m
	}
	m.seenTick = r.tick
	return m
}

// window keeps a histogram's recent snapshots.
type window struct {
	ring     [windowSteps]stats.HistogramSnapshot
	filled   int
	next     int
	lastStep time.Time
	seenTick uint64
}

// summary returns what the histogram saw over its window (from the oldest kept snapshot to
// now) and its count since start.
func (r *rates) summary(h *stats.Histogram, quantiles []float64) (stats.Summary, uint64) {
	var cur stats.HistogramSnapshot
	h.Snapshot(&cur)
	total := cur.Count
	r.mu.Lock()
	w := r.windowLocked(h)
	if w.filled == windowSteps {
		// The oldest snapshot is between windowSteps-1 and windowSteps steps old; until the
		// ring is full the summary covers everything since start.
		cur.Sub(&w.ring[w.next])
	}
	r.mu.Unlock()
	return cur.Summarize(quantiles), total
}

func (r *rates) windowLocked(h *stats.Histogram) *window {
	w := r.hists[h]
	if w == nil {
		w = &window{lastStep: r.now()}
		r.hists[h] = w
	}
	w.seenTick = r.tick
	return w
}

// walker enumerates the counters and histograms the ticker keeps current.
type walker interface {
	walk(counter func(*atomic.Uint64), histogram func(*stats.Histogram))
}

// update runs one tick: every counter's rates advance by the counts since the last tick, every
// histogram whose step has passed is snapshotted, and what the walk no longer finds is dropped.
func (r *rates) update(w walker) {
	r.mu.Lock()
	r.tick++
	r.mu.Unlock()
	now := r.now()
	var snap stats.HistogramSnapshot
	w.walk(func(c *atomic.Uint64) {
		n := c.Load()
		r.mu.Lock()
		m := r.meterLocked(c)
		inst := float64(n-min(m.last, n)) / tickInterval.Seconds()
		if !m.ticked {
			m.m1, m.m5, m.m15, m.ticked = inst, inst, inst, true
		} else {
			m.m1 += alpha1 * (inst - m.m1)
			m.m5 += alpha5 * (inst - m.m5)
			m.m15 += alpha15 * (inst - m.m15)
		}
		m.last = n
		r.mu.Unlock()
	}, func(h *stats.Histogram) {
		r.mu.Lock()
		win := r.windowLocked(h)
		due := now.Sub(win.lastStep) >= windowStep
		r.mu.Unlock()
		if !due {
			return
		}
		h.Snapshot(&snap)
		r.mu.Lock()
		win.ring[win.next] = snap
		win.next = (win.next + 1) % windowSteps
		win.filled = min(win.filled+1, windowSteps)
		win.lastStep = now
		r.mu.Unlock()
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	for c, m := range r.meters {
		if m.seenTick+1 < r.tick {
			delete(r.meters, c)
		}
	}
	for h, win := range r.hists {
		if win.seenTick+1 < r.tick {
			delete(r.hists, h)
		}
	}
}
