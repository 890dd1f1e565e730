package log

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"
)

// Batches carry the current time: segment.ms is measured from batch timestamps, and old ones
// would roll (and fsync) a segment per batch.

// BenchmarkAppend measures Append alone (page-cache writes, no fsync) with 16 KiB batches.
func BenchmarkAppend(b *testing.B) {
	l := openTest(b, b.TempDir(), DefaultConfig(), 0)
	batch := testBatch(16, 1000, time.Now().UnixMilli())
	b.SetBytes(int64(len(batch)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.Append(batch, AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendIdempotent is BenchmarkAppend with a producer id and advancing sequences: the
// cost of duplicate detection and sequence checks on the append path.
func BenchmarkAppendIdempotent(b *testing.B) {
	l := openTest(b, b.TempDir(), DefaultConfig(), 0)
	const records = 16
	batch := testBatch(records, 1000, time.Now().UnixMilli()) // the same shape as BenchmarkAppend
	binary.BigEndian.PutUint64(batch[offProducerID:], 7)
	binary.BigEndian.PutUint16(batch[offProducerEpoch:], 0)
	b.SetBytes(int64(len(batch)))
	seq := int32(0)
	b.ResetTimer()
	for b.Loop() {
		binary.BigEndian.PutUint32(batch[offBaseSequence:], uint32(seq))
		binary.BigEndian.PutUint32(batch[offCRC:], batchCRC(batch))
		if _, err := l.Append(batch, AppendOptions{}); err != nil {
			b.Fatal(err)
		}
		seq += records
	}
}

// BenchmarkAppendSync measures acks=all style Append+Sync from 8 goroutines sharing fsyncs.
func BenchmarkAppendSync(b *testing.B) {
	l := openTest(b, b.TempDir(), DefaultConfig(), 0)
	b.SetBytes(int64(len(testBatch(16, 1000, time.Now().UnixMilli()))))
	var wg sync.WaitGroup
	work := make(chan struct{})
	b.ResetTimer()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := testBatch(16, 1000, time.Now().UnixMilli())
			for range work {
				res, err := l.Append(batch, AppendOptions{})
				if err == nil {
					err = l.Sync(context.Background(), res.LastOffset+1)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	b.ReportMetric(float64(l.fsyncs.Load())/float64(b.N), "fsyncs/op")
}
