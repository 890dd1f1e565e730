package quota

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRequestPathNoQuotas is what every request pays when no quota is configured.
func BenchmarkRequestPathNoQuotas(b *testing.B) {
	m := NewManager(Config{})
	c := Client{User: "ANONYMOUS", ClientID: "bench"}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = m.Produce(c, 16<<10) + m.RequestTime(c, 20*time.Microsecond)
		}
	})
}

// BenchmarkRequestPathQuotasNotReached is what a produce request pays when default-user quotas
// apply to it but are never reached: resolution (cached), two measurements, no throttle. Eight
// clients run in parallel, as connections do.
func BenchmarkRequestPathQuotasNotReached(b *testing.B) {
	m := NewManager(Config{})
	m.SetQuotas(map[string]map[string]float64{Entity{User: nil}.Key(): {ProducerByteRate: 1e11, RequestPercentage: 1e6}})
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		c := Client{User: "ANONYMOUS", ClientID: "bench-" + strconv.FormatInt(next.Add(1), 10)}
		for pb.Next() {
			if m.Produce(c, 16<<10)+m.RequestTime(c, 20*time.Microsecond) != 0 {
				b.Fatal("throttled")
			}
		}
	})
}
