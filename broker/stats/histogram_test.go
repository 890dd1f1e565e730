package stats

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 100, 1000, 1 << 20, 1<<30 - 1, 1 << 30, 1 << 31, math.MaxUint64} {
		i := BucketIndex(v)
		if i < prev {
			t.Fatalf("bucket of %d (%d) is below the previous value's (%d)", v, i, prev)
		}
		prev = i
		if i < NumBuckets-1 && (float64(v) < BucketLower(i) || float64(v) >= BucketUpper(i)) {
			t.Errorf("%d in bucket %d = [%v, %v)", v, i, BucketLower(i), BucketUpper(i))
		}
		if w := BucketUpper(i) - BucketLower(i); i >= subBuckets && i < NumBuckets-1 && w > BucketLower(i)/subBuckets+1e-9 {
			t.Errorf("bucket %d is %v wide at %v: more than 1/%d", i, w, BucketLower(i), subBuckets)
		}
	}
	for i := 1; i < NumBuckets; i++ {
		if BucketLower(i) != BucketUpper(i-1) {
			t.Fatalf("gap between bucket %d and %d", i-1, i)
		}
	}
}

func TestSummaryQuantilesWithinABucket(t *testing.T) {
	var h Histogram
	vals := make([]float64, 0, 10000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		v := uint64(r.ExpFloat64() * 5000) // a long tail, like request times in µs
		h.Observe(v)
		vals = append(vals, float64(v))
	}
	sort.Float64s(vals)
	var s HistogramSnapshot
	h.Snapshot(&s)
	qs := []float64{0.5, 0.9, 0.99, 0.999}
	sum := s.Summarize(qs)
	for i, q := range qs {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		if rel := math.Abs(sum.Quantiles[i]-exact) / exact; rel > 0.125 {
			t.Errorf("q%.3f = %v, exact %v (%.1f%% off)", q, sum.Quantiles[i], exact, rel*100)
		}
	}
	var mean float64
	for _, v := range vals {
		mean += v
	}
	mean /= float64(len(vals))
	if math.Abs(sum.Mean-mean) > 1e-6*mean {
		t.Errorf("mean %v, exact %v", sum.Mean, mean)
	}
	if sum.Count != 10000 || sum.Max < vals[len(vals)-1]*0.875 || sum.Min > vals[0]+1 {
		t.Errorf("count %d min %v max %v (exact %v..%v)", sum.Count, sum.Min, sum.Max, vals[0], vals[len(vals)-1])
	}
}

func TestSnapshotSubIsTheInterval(t *testing.T) {
	var h Histogram
	h.ObserveDuration(time.Millisecond)
	var before HistogramSnapshot
	h.Snapshot(&before)
	h.ObserveDuration(10 * time.Millisecond)
	h.ObserveDuration(-time.Second) // counts as zero
	var now HistogramSnapshot
	h.Snapshot(&now)
	now.Sub(&before)
	s := now.Summarize([]float64{1})
	if s.Count != 2 || s.Max < 9000 || s.Min != 0 {
		t.Errorf("interval summary %+v", s)
	}
}

func TestNilReceiversCountNothing(t *testing.T) {
	var b *Broker
	var tp *Topic
	var l *Listener
	b.Produced(tp, &ProduceTally{Parts: 1})
	b.Fetched(tp, &FetchTally{Parts: 1})
	tp.Produced(1, 1, Appended)
	tp.Fetched(1, false)
	b.Throttled(QuotaProduce, time.Second)
	b.Decided("acl", true)
	l.Opened()
	l.Authenticated("PLAIN", true, false)
	l.RefusedOne(RefusedLimit)
	var st *Storage
	st.Synced(time.Millisecond, 3, nil)
	if b.Listener("x") != nil || b.NewTopic() != nil || b.StorageStats() != nil {
		t.Fatal("a nil Broker handed out counters")
	}
}

func TestOutcomesBoundTheirNames(t *testing.T) {
	var o Outcomes
	for i := 0; i < 100; i++ {
		o.Count(string(rune('a'+i%26))+string(rune('A'+i/26)), i%2 == 0)
	}
	names, total := 0, uint64(0)
	o.Each(func(_ string, failed, ok uint64) { names++; total += failed + ok })
	if names > maxOutcomeNames+1 || total != 100 {
		t.Errorf("%d names, %d outcomes; want at most %d names and all 100 counted", names, total, maxOutcomeNames+1)
	}
}

func TestErrorCodesOutOfRangeAreCounted(t *testing.T) {
	b := NewBroker(func(int16) string { return "Produce" })
	r := b.Requests.Get(0)
	r.Error(0, 2)
	r.Error(3, 1)
	r.Error(9999, 1)
	r.Error(-5, 1)
	got := map[int16]uint64{}
	r.EachError(func(code int16, n *atomic.Uint64) { got[code] = n.Load() })
	if got[0] != 2 || got[3] != 1 || got[OtherErrorCode] != 2 {
		t.Errorf("error counts %v", got)
	}
	if b.Requests.Get(-1) != nil || b.Requests.Get(MaxAPIKey+1) != nil {
		t.Error("keys out of range got counters")
	}
}
