package bench

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []int64
		q      float64
		want   int64
		relErr float64 // allowed relative error; 0 means exact
	}{
		{"empty", nil, 0.5, 0, 0},
		{"single", []int64{42}, 0.99, 42, 0},
		{"1..100 p50", seq(1, 100), 0.50, 50, 0},
		{"1..100 p99", seq(1, 100), 0.99, 99, 0},
		{"1..100 p100", seq(1, 100), 1.0, 100, 0},
		{"1..100 p0 is min", seq(1, 100), 0, 1, 0},
		{"1..1000 p99.9", seq(1, 1000), 0.999, 999, 1.0 / subCount},
		{"negative clamps to zero", []int64{-5, -1}, 0.5, 0, 0},
		{"large values", []int64{1e9, 2e9, 3e9, 4e9}, 0.5, 2e9, 1.0 / subCount},
		{"max capped", []int64{1_000_003}, 0.5, 1_000_003, 0},
		{"max int64", []int64{math.MaxInt64}, 1, math.MaxInt64, 0},
		{"q above 1", seq(1, 10), 7, 10, 0},
		{"q NaN", seq(1, 10), math.NaN(), 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := new(Histogram)
			for _, v := range tc.values {
				h.Record(v)
			}
			got := h.Quantile(tc.q)
			if tc.relErr == 0 {
				if got != tc.want {
					t.Fatalf("Quantile(%v) = %d, want %d", tc.q, got, tc.want)
				}
				return
			}
			if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > tc.relErr {
				t.Fatalf("Quantile(%v) = %d, want %d within %.2f%%", tc.q, got, tc.want, tc.relErr*100)
			}
		})
	}
}

func seq(from, to int64) []int64 {
	out := make([]int64, 0, to-from+1)
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

// TestHistogramAgainstSort checks every reported quantile against the exact
// order statistic of a random latency-like sample.
func TestHistogramAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]int64, 100_000)
	h := new(Histogram)
	for i := range vals {
		// Log-normal-ish: microseconds to seconds.
		vals[i] = int64(math.Exp(rng.NormFloat64()*2 + 13))
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/subCount+1 {
			t.Errorf("q=%v: got %d, exact %d", q, got, exact)
		}
	}
	if h.Max() != vals[len(vals)-1] {
		t.Errorf("max %d, want %d", h.Max(), vals[len(vals)-1])
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every bucket's range must contain exactly the values that map to it,
	// and indexes must be monotonic and in range.
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 255, 256, 257, 511, 512, 1 << 20, 1<<20 + 1, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		idx := bucketIndex(v)
		if idx < prev || idx >= numBuckets {
			t.Fatalf("bucketIndex(%d) = %d (prev %d, buckets %d)", v, idx, prev, numBuckets)
		}
		prev = idx
		low, width := bucketRange(idx)
		if v < low || v-low >= width {
			t.Fatalf("value %d not in bucket %d range [%d, +%d)", v, idx, low, width)
		}
	}
}

func TestHistogramMergeAndPercentiles(t *testing.T) {
	a, b := new(Histogram), new(Histogram)
	for v := int64(1); v <= 50; v++ {
		a.Record(v * 1e6)
		b.Record((v + 50) * 1e6)
	}
	a.Merge(b)
	p := a.Percentiles()
	if p.Count != 100 || p.Max != 100 || p.Mean != 50.5 {
		t.Fatalf("merged percentiles %+v", p)
	}
	if math.Abs(p.P50-50) > 50.0/subCount || math.Abs(p.P99-99) > 99.0/subCount {
		t.Fatalf("merged percentiles %+v", p)
	}
}

func TestHistogramConcurrent(t *testing.T) {
	h := new(Histogram)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := int64(0); v < 10_000; v++ {
				h.Record(v)
			}
		}()
	}
	for i := 0; i < 100; i++ {
		_ = h.Quantile(0.99) // concurrent reads must not race or panic
	}
	wg.Wait()
	if h.Count() != 40_000 || h.Max() != 9_999 {
		t.Fatalf("count %d max %d", h.Count(), h.Max())
	}
}

// FuzzHistogram checks invariants for arbitrary inputs: quantiles never
// panic, are monotonic in q, never exceed the maximum, and the p100 value is
// the exact maximum.
func FuzzHistogram(f *testing.F) {
	f.Add(int64(0), int64(1), int64(2), 0.5)
	f.Add(int64(-1), int64(math.MaxInt64), int64(1e9), 0.999)
	f.Add(int64(255), int64(256), int64(257), 1.5)
	f.Fuzz(func(t *testing.T, a, b, c int64, q float64) {
		h := new(Histogram)
		for _, v := range []int64{a, b, c} {
			h.Record(v)
		}
		lo, hi := h.Quantile(0), h.Quantile(1)
		got := h.Quantile(q)
		if got < lo || got > hi || hi != h.Max() || got < 0 {
			t.Fatalf("q=%v got %d lo %d hi %d max %d", q, got, lo, hi, h.Max())
		}
	})
}
