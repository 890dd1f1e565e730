package stats

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram buckets are log-linear: values below subBuckets each have their own bucket, and every
// power of two above is split into subBuckets equal parts, so a bucket is at most 1/subBuckets
// (12.5%) of its value wide. Values are whole units (microseconds for durations); the last bucket
// holds everything from 2^maxExponent units up (18 minutes for durations).
const (
	subBucketBits = 3
	subBuckets    = 1 << subBucketBits
	maxExponent   = 30
	// NumBuckets is the number of buckets every Histogram has.
	NumBuckets = (maxExponent-subBucketBits+1)*subBuckets + subBuckets
)

// Histogram counts observations into fixed buckets with atomic adds: no lock, no allocation.
// Durations are recorded in microseconds.
type Histogram struct {
	buckets [NumBuckets]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64
}

// BucketIndex returns the bucket holding v.
func BucketIndex(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len64(v) - 1 // v in [2^exp, 2^(exp+1))
	if exp > maxExponent {
		return NumBuckets - 1
	}
	sub := int(v>>(uint(exp)-subBucketBits)) & (subBuckets - 1)
	return (exp-subBucketBits+1)*subBuckets + sub
}

// BucketLower returns the smallest value bucket i holds.
func BucketLower(i int) float64 {
	if i < subBuckets {
		return float64(i)
	}
	exp := i/subBuckets + subBucketBits - 1
	sub := i % subBuckets
	return math.Ldexp(float64(subBuckets+sub), exp-subBucketBits)
}

// BucketUpper returns the value just above bucket i's range (its exclusive upper bound).
func BucketUpper(i int) float64 {
	if i == NumBuckets-1 {
		return math.Inf(1)
	}
	return BucketLower(i + 1)
}

// Observe records one value.
func (h *Histogram) Observe(v uint64) {
	if h == nil {
		return
	}
	h.buckets[BucketIndex(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
}

// ObserveDuration records a duration in microseconds (negative durations count as zero).
func (h *Histogram) ObserveDuration(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.Observe(uint64(d / time.Microsecond))
}

// HistogramSnapshot is a histogram's counts at one moment. Two snapshots subtract to give the
// observations made between them.
type HistogramSnapshot struct {
	Buckets [NumBuckets]uint64
	Count   uint64
	Sum     uint64
}

// Snapshot copies the counts into out. Concurrent observations may land in some fields and not
// others; the skew is at most the observations made during the copy.
func (h *Histogram) Snapshot(out *HistogramSnapshot) {
	if h == nil {
		*out = HistogramSnapshot{}
		return
	}
	for i := range h.buckets {
		out.Buckets[i] = h.buckets[i].Load()
	}
	out.Count = h.count.Load()
	out.Sum = h.sum.Load()
}

// Sub sets s to s − earlier (the observations made since earlier).
func (s *HistogramSnapshot) Sub(earlier *HistogramSnapshot) {
	for i := range s.Buckets {
		s.Buckets[i] -= min(s.Buckets[i], earlier.Buckets[i])
	}
	s.Count -= min(s.Count, earlier.Count)
	s.Sum -= min(s.Sum, earlier.Sum)
}

// Summary is what Kafka's histograms report: count, mean, extremes, spread and percentiles.
type Summary struct {
	Count          uint64
	Mean, Min, Max float64
	StdDev         float64
	// Quantiles holds the value at each of the quantiles asked for, in the same order.
	Quantiles []float64
}

// Summarize computes the summary of the snapshot's observations. Min, Max and the quantiles are
// read from the buckets, so each is within one bucket's width (12.5%) of the exact value; the
// mean is exact.
func (s *HistogramSnapshot) Summarize(quantiles []float64) Summary {
	out := Summary{Count: s.Count, Quantiles: make([]float64, len(quantiles))}
	var total uint64
	for _, n := range s.Buckets {
		total += n
	}
	if total == 0 {
		return out
	}
	out.Mean = float64(s.Sum) / float64(max(s.Count, 1))
	first, last := -1, 0
	var varSum float64
	for i, n := range s.Buckets {
		if n == 0 {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
		d := mid(i) - out.Mean
		varSum += float64(n) * d * d
	}
	out.Min, out.Max = BucketLower(first), mid(last)
	out.StdDev = math.Sqrt(varSum / float64(total))
	for qi, q := range quantiles {
		rank := uint64(math.Ceil(q * float64(total)))
		rank = max(rank, 1)
		var seen uint64
		for i, n := range s.Buckets {
			seen += n
			if seen >= rank {
				out.Quantiles[qi] = mid(i)
				break
			}
		}
	}
	return out
}

// mid is the value a bucket reports: the middle of its range (its own value for the exact
// buckets, the lower bound for the open-ended last one).
func mid(i int) float64 {
	if i < subBuckets || i == NumBuckets-1 {
		return BucketLower(i)
	}
	return (BucketLower(i) + BucketUpper(i)) / 2
}
