package record

import (
	"testing"
)

// BenchmarkValidateProduced measures the produce hot path: a 16 KiB uncompressed batch of
// 1 KiB records. Run: go test -run '^$' -bench ValidateProduced -benchmem ./broker/record/
func BenchmarkValidateProduced(b *testing.B) {
	batch := BuildBatch(BuildOptions{ProducerID: 1, ProducerEpoch: 0, BaseSequence: 0, BaseTimestamp: 1_700_000_000_000},
		benchRecords(16, 1024-30)) // about 1 KiB per record on the wire
	lim := Limits{MaxBatchBytes: 1048588, MaxUncompressedBytes: 64 << 20, AllowZstd: true}
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateProduced(batch, lim, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateProducedCompressed measures the same records compressed by each codec
// as franz-go compresses them, with a reused Scratch as the broker pools them. SetBytes
// counts the uncompressed batch, so MB/s compares with the uncompressed benchmark in
// records validated per second.
func BenchmarkValidateProducedCompressed(b *testing.B) {
	recs := benchRecords(16, 1024-30)
	for _, c := range allCodecs[1:] {
		b.Run(codecName(c), func(b *testing.B) {
			batch := kmsgBatch(b, c, recs, nil)
			s := new(Scratch)
			b.SetBytes(int64(len(kmsgBatch(b, CodecNone, recs, nil))))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateProduced(batch, permissive, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchRecords returns n keyed records with values of size bytes of text-like content.
func benchRecords(n, size int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = "the quick brown fox jumps over the lazy dog "[(i*7+j)%44]
		}
		recs[i] = Record{TimestampDelta: int64(i), Key: []byte{'k', byte('0' + i%10)}, Value: v}
	}
	return recs
}
