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
		// The creation's syncfs made every new file durable (each was written: encryption is on,
		// so a new segment starts with its envelope header): none needs an fsync of its own when
		// the budget closes it for the next topic's. Within one request larger than the budget,
		// files closed before the syncfs are fsynced.
		if b.cluster.keys == nil {
			t.Fatal("encryption is off: new segment files are never written, so this check would prove nothing")
		}
		before := b.cluster.files.Stats()
		mustCreateTopic(t, adm, "next", 1000, nil)
		if st := b.cluster.files.Stats(); st.Evictions < before.Evictions+1000 || st.Syncs != before.Syncs {
			t.Fatalf("open files %+v before a second topic, %+v after: want 1,000 more evictions and no more fsyncs", before, st)
		}
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
