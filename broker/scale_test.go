//go:build linux && !race

package broker

// Scale tests: slow under the race detector (thousands of fsyncs and files), so they build only
// without it. scripts/test.sh runs them in a step of their own.

import (
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTenThousandPartitionsUnderALowLimit is issue 17's case: a 10,000-partition topic under an
// open-file limit of about 14,000 (the operator's machine had 20,000; what used to fail was
// 10,000 partitions × 3 files). It is created, produced to, consumed and restarted under that
// limit.
func TestTenThousandPartitionsUnderALowLimit(t *testing.T) {
	const parts = 10000
	dir := t.TempDir()
	withFileLimit(t, openFiles(t)+14000, func() {
		b := startTestBroker(t, dir)
		adm := b.Admin(t)
		// In steps of 2,500, so that no single request outlasts the client's timeout: creating
		// a partition costs a few fsyncs (issue 17 wants that faster; not done yet).
		start := time.Now()
		mustCreateTopic(t, adm, "many", parts/4, nil)
		for n := 2 * parts / 4; n <= parts; n += parts / 4 {
			r, err := adm.CreatePartitions(testContext(t), n-len(b.cluster.lookupTopic("many").partitions), "many")
			if err != nil || r.Error() != nil {
				t.Fatalf("grow to %d: %v %v", n, err, r.Error())
			}
		}
		t.Logf("%d partitions created in %v", parts, time.Since(start))
		cl := b.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		recs := make([]*kgo.Record, parts)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: "many", Value: []byte(strconv.Itoa(i))}
		}
		start = time.Now()
		if err := cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
			t.Fatalf("produce to every partition: %v", err)
		}
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
		consumer := b.Client(t, kgo.ConsumeTopics("many"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		seen := map[string]bool{}
		for len(seen) < parts {
			fs := consumer.PollFetches(testContext(t))
			if err := fs.Err0(); err != nil {
				t.Fatalf("consume after restart: %v (%d of %d read)", err, len(seen), parts)
			}
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		}
		t.Logf("consumed in %v", time.Since(start))
	})
}
