//go:build linux && !race

package broker

// Scale tests: slow under the race detector (thousands of fsyncs and files), so they build only
// without it. scripts/test.sh runs them in a step of their own.

import (
	"testing"
	"time"
)

// TestTenThousandPartitionsUnderALowLimit is issue 17's case: a 10,000-partition topic under an
// open-file limit of about 3,000 descriptors, fewer than its partitions (what used to fail was
// 10,000 partitions × 3 files under 20,000). It is created in one request, produced to, consumed
// and restarted under that limit; the cache of open files keeps within its budget throughout.
func TestTenThousandPartitionsUnderALowLimit(t *testing.T) {
	const parts = 10000
	dir := t.TempDir()
	withFileLimit(t, openFiles(t)+3000, func() {
		b := startTestBroker(t, dir)
		adm := b.Admin(t)
		start := time.Now()
		mustCreateTopic(t, adm, "many", parts, nil)
		t.Logf("%d partitions created in %v", parts, time.Since(start))
		start = time.Now()
		produceOneEach(t, b, "many", parts)
		t.Logf("one record produced to each partition in %v", time.Since(start))
		start = time.Now()
		b.stop(t)
		t.Logf("clean shutdown in %v", time.Since(start))

		start = time.Now()
		b = startTestBroker(t, dir)
		t.Logf("restarted in %v", time.Since(start))
		start = time.Now()
		if got := len(b.cluster.lookupTopic("many").partitions); got != parts {
			t.Fatalf("after restart: %d partitions", got)
		}
		consumeOneEach(t, b, "many", parts)
		t.Logf("consumed in %v", time.Since(start))
		if st := b.cluster.files.Stats(); st.Open > st.Budget || st.Budget >= parts {
			t.Fatalf("open files %+v: want a budget below the partition count, and kept", st)
		}
	})
}
