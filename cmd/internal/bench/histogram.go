package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Histogram layout. Values below 2^(subBits+1) get one bucket each (exact);
// above that every power-of-two range is split into 2^subBits linear buckets,
// so the relative error of any reported value is below 2^-subBits (0.8%).
// The bucket count is fixed, so memory is bounded (about 59 KiB) whatever is
// recorded, which is the property HdrHistogram is used for.
const (
	subBits    = 7
	subCount   = 1 << subBits
	numBuckets = (64 - subBits + 1) << subBits
)

// Histogram records non-negative int64 values (nanoseconds here) in
// log-linear buckets. All methods are safe for concurrent use: counts are
// updated with atomics so a promise goroutine can record while a progress
// goroutine reads. The zero value is ready to use.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
}

// bucketIndex maps v to its bucket. For v < 2^(subBits+1) the index is v.
func bucketIndex(v uint64) int {
	m := bits.Len64(v)
	if m <= subBits+1 {
		return int(v)
	}
	shift := m - subBits - 1
	return (shift+1)<<subBits + int(v>>uint(shift)) - subCount
}

// bucketRange returns the lowest value of bucket idx and the bucket's width.
func bucketRange(idx int) (low, width uint64) {
	if idx < 2*subCount {
		return uint64(idx), 1
	}
	shift := idx>>subBits - 1
	sub := uint64(idx&(subCount-1) + subCount)
	return sub << uint(shift), 1 << uint(shift)
}

// Record adds one observation. Negative values (possible for end-to-end
// latency when clocks step) are recorded as zero rather than dropped, so the
// count still matches the number of records.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketIndex(uint64(v))].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest recorded value, or 0 when empty.
func (h *Histogram) Max() int64 { return h.max.Load() }

// Mean returns the arithmetic mean, or 0 when empty.
func (h *Histogram) Mean() float64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value at quantile q in [0, 1]: the highest value of
// the bucket holding the ceil(q*count)-th smallest observation, capped at the
// exact maximum. It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	if math.IsNaN(q) || q < 0 {
		q = 0
	}
	if q > 1 {
		q = 1
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	maxV := h.max.Load()
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			low, width := bucketRange(i)
			hi := low + width - 1
			if hi > uint64(maxV) {
				return maxV
			}
			return int64(hi)
		}
	}
	// Counts are read one by one while writers may still add, so the walk
	// can fall short of a total read earlier; the maximum is then correct.
	return maxV
}

// Merge adds every observation of o into h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	v := o.max.Load()
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Percentiles summarises a latency distribution in milliseconds.
type Percentiles struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// Percentiles converts a histogram of nanoseconds into millisecond figures.
func (h *Histogram) Percentiles() Percentiles {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Percentiles{
		Count: h.Count(),
		Mean:  h.Mean() / 1e6,
		P50:   ms(h.Quantile(0.50)),
		P99:   ms(h.Quantile(0.99)),
		P999:  ms(h.Quantile(0.999)),
		Max:   ms(h.Max()),
	}
}
