package record

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRecordsCompactedGaps checks that Records accepts the offset gaps compaction leaves,
// which ValidateProduced rejects from a client.
func TestRecordsCompactedGaps(t *testing.T) {
	krecs := toKmsg(sampleRecords(3, 4))
	krecs[1].OffsetDelta, krecs[2].OffsetDelta = 2, 5
	b := kmsgBatchRaw(encodeKmsgRecords(krecs), 3)
	if _, err := ValidateProduced(b, permissive, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("gaps from a client: %v", err)
	}
	// A compacted batch keeps its original lastOffsetDelta.
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	rb.LastOffsetDelta = 5
	b = finishKmsgBatch(&rb)
	var deltas []int32
	if err := Records(b, 0, func(r Record) error { deltas = append(deltas, r.OffsetDelta); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(deltas) != 3 || deltas[0] != 0 || deltas[1] != 2 || deltas[2] != 5 {
		t.Fatalf("deltas %v", deltas)
	}
	// Deltas past lastOffsetDelta, or not increasing, are still errors.
	rb.LastOffsetDelta = 4
	if err := Records(finishKmsgBatch(&rb), 0, func(Record) error { return nil }); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("delta past the last: %v", err)
	}
	krecs[2].OffsetDelta = 2
	b = kmsgBatchRaw(encodeKmsgRecords(krecs), 3)
	if err := Records(b, 0, func(Record) error { return nil }); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("repeated delta: %v", err)
	}
}

func TestRecordsErrors(t *testing.T) {
	b := kmsgBatch(t, CodecGzip, sampleRecords(5, 100), nil)
	stop := errors.New("stop")
	n := 0
	err := Records(b, 0, func(Record) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("callback error: %v after %d records", err, n)
	}
	if err := Records(b[:len(b)-1], 0, func(Record) error { return nil }); !errors.Is(err, ErrShort) {
		t.Fatalf("truncated: %v", err)
	}
	if err := Records(b[:10], 0, func(Record) error { return nil }); !errors.Is(err, ErrShort) {
		t.Fatalf("no header: %v", err)
	}
	if err := Records(b, 100, func(Record) error { return nil }); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("over max: %v", err)
	}
	bad := append([]byte(nil), b...)
	bad[offAttributes+1] = 6 // codec 6; Records does not check the CRC
	if err := Records(bad, 0, func(Record) error { return nil }); !errors.Is(err, ErrUnsupportedCompression) {
		t.Fatalf("codec 6: %v", err)
	}
}

// TestRecordsOutliveScratch checks that records from a compressed batch stay intact after the
// next call, since Records owns its buffer.
func TestRecordsOutliveCall(t *testing.T) {
	recs := sampleRecords(8, 64)
	b := kmsgBatch(t, CodecZstd, recs, nil)
	first := collect(t, b)
	other := kmsgBatch(t, CodecZstd, sampleRecords(8, 65), nil)
	collect(t, other)
	equalRecords(t, first, recs)
}

// TestXerialChunks checks Java-style snappy spanning several 32 KiB xerial chunks, and
// malformed framing.
func TestXerialChunks(t *testing.T) {
	recs := sampleRecords(100, 1500) // ~150 KiB: five chunks
	b := kmsgBatch(t, codecXerial, recs, nil)
	if _, err := ValidateProduced(b, permissive, new(Scratch)); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, collect(t, b), recs)

	raw := encodeKmsgRecords(toKmsg(recs))
	framed, _ := compressLikeClient(t, codecXerial, raw)
	var s Scratch
	bad := map[string][]byte{
		"header only part":   framed[:12],
		"torn chunk length":  framed[:xerialHeaderLen+2],
		"chunk past the end": framed[:xerialHeaderLen+100],
	}
	for name, src := range bad {
		if _, err := s.decompress(CodecSnappy, src, 0); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}
	empty, err := s.decompress(CodecSnappy, framed[:xerialHeaderLen], 0)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty xerial stream: %d bytes, %v", len(empty), err)
	}
	// The limit applies to the sum of the chunks, not each one.
	if _, err := s.decompress(CodecSnappy, framed, len(raw)-1); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("over the limit across chunks: %v", err)
	}
	if out, err := s.decompress(CodecSnappy, framed, len(raw)); err != nil || !bytes.Equal(out, raw) {
		t.Fatalf("exactly at the limit: %v", err)
	}
}

// TestSnappyRejectsS2 checks that a block using S2's extensions (which a lenient decoder
// accepts but snappy-java and librdkafka refuse) is not stored as snappy.
func TestSnappyRejectsS2(t *testing.T) {
	raw := encodeKmsgRecords(toKmsg(benchRecords(20, 500)))
	enc := s2.Encode(nil, raw)
	if _, err := snappy.Decode(nil, enc); err != nil {
		t.Skip("this S2 encoding happens to be plain snappy")
	}
	b := kmsgBatchRaw(raw, 20)
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	rb.Attributes, rb.Records = int16(CodecSnappy), enc
	if _, err := ValidateProduced(finishKmsgBatch(&rb), permissive, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("S2 block as snappy: %v", err)
	}
	rb.Records = s2.EncodeSnappy(nil, raw)
	if _, err := ValidateProduced(finishKmsgBatch(&rb), permissive, nil); err != nil {
		t.Fatalf("plain snappy: %v", err)
	}
}
