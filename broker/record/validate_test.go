package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestValidateProducedCodecs(t *testing.T) {
	recs := sampleRecords(37, 300)
	for _, c := range allCodecs {
		t.Run(codecName(c), func(t *testing.T) {
			b := kmsgBatch(t, c, recs, nil)
			var s Scratch
			for range 3 { // the second and third runs reuse the scratch's decoders
				h, err := ValidateProduced(b, permissive, &s)
				if err != nil {
					t.Fatalf("ValidateProduced: %v", err)
				}
				if h.Size() != len(b) || h.NumRecords != 37 || h.LastOffsetDelta != 36 || h.ProducerID != -1 {
					t.Fatalf("header %+v", h)
				}
			}
			if _, err := ValidateProduced(b, permissive, nil); err != nil {
				t.Fatalf("without scratch: %v", err)
			}
			equalRecords(t, collect(t, b), recs)
		})
	}
}

// TestValidateProducedErrors has one row per check, each breaking exactly one rule of an
// otherwise valid batch.
func TestValidateProducedErrors(t *testing.T) {
	base := func() []byte {
		return BuildBatch(BuildOptions{ProducerID: 5, ProducerEpoch: 1, BaseSequence: 10, BaseTimestamp: 1e12}, sampleRecords(4, 20))
	}
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return fixCRC(b) }
	}
	setAttr := func(v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[offAttributes:], v); return fixCRC(b) }
	}
	// firstRecord returns the offset of the first record's field after its length varint.
	firstRecord := HeaderSize + 1
	tests := []struct {
		name string
		edit func([]byte) []byte
		lim  *Limits
		want error
	}{
		{"empty", func([]byte) []byte { return nil }, nil, ErrCorrupt},
		{"shorter than header", func(b []byte) []byte { return b[:HeaderSize-1] }, nil, ErrCorrupt},
		{"truncated batch", func(b []byte) []byte { return b[:len(b)-1] }, nil, ErrCorrupt},
		{"length below header", put32(offLength, minBatchLength-1), nil, ErrCorrupt},
		{"negative length", put32(offLength, 0x80000000), nil, ErrCorrupt},
		{"magic 1", func(b []byte) []byte { b[offMagic] = 1; return b }, nil, ErrInvalidRecord},
		{"two batches", func(b []byte) []byte { return append(b, b...) }, nil, ErrInvalidRecord},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, nil, ErrInvalidRecord},
		{"crc mismatch", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, nil, ErrCorrupt},
		{"crc field flipped", func(b []byte) []byte { b[offCRC] ^= 0x80; return b }, nil, ErrCorrupt},
		{"too large", nil, &Limits{MaxBatchBytes: 100}, ErrTooLarge},
		{"base offset", func(b []byte) []byte { SetBaseOffset(b, 7); return b }, nil, ErrInvalidRecord},
		{"zero records", put32(offNumRecords, 0), nil, ErrInvalidRecord},
		{"negative records", put32(offNumRecords, 0xffffffff), nil, ErrInvalidRecord},
		{"last offset delta", put32(offLastOffsetDelta, 2), nil, ErrInvalidRecord},
		{"control", setAttr(attrControl | attrTransactional), nil, ErrInvalidRecord},
		{"negative sequence", put32(offBaseSequence, 0xffffffff), nil, ErrInvalidRecord},
		{"codec 5", setAttr(5), nil, ErrUnsupportedCompression},
		{"codec 7", setAttr(7), nil, ErrUnsupportedCompression},
		{"zstd before v7", setAttr(uint16(CodecZstd)), &Limits{MaxBatchBytes: 1 << 20}, ErrUnsupportedCompression},
		{"gzip garbage", setAttr(uint16(CodecGzip)), nil, ErrInvalidRecord},
		{"snappy garbage", setAttr(uint16(CodecSnappy)), nil, ErrInvalidRecord},
		{"lz4 garbage", setAttr(uint16(CodecLz4)), nil, ErrInvalidRecord},
		{"zstd garbage", setAttr(uint16(CodecZstd)), nil, ErrInvalidRecord},
		{"fewer records", put32(offNumRecords, 5), nil, ErrInvalidRecord}, // also breaks lastOffsetDelta
		{"fewer records consistent", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offNumRecords:], 5)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 4)
			return fixCRC(b)
		}, nil, ErrInvalidRecord},
		{"more records", func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offNumRecords:], 3)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 2)
			return fixCRC(b)
		}, nil, ErrInvalidRecord},
		{"record length too long", func(b []byte) []byte { b[HeaderSize] += 2; return fixCRC(b) }, nil, ErrInvalidRecord},
		{"record length too short", func(b []byte) []byte { b[HeaderSize] -= 2; return fixCRC(b) }, nil, ErrInvalidRecord},
		{"record length negative", func(b []byte) []byte { b[HeaderSize] = 0x01; return fixCRC(b) }, nil, ErrInvalidRecord},
		{"offset delta", func(b []byte) []byte { b[firstRecord+2] = 2; return fixCRC(b) }, nil, ErrInvalidRecord},
		{"key length below -1", func(b []byte) []byte { b[firstRecord+3] = 0x03; return fixCRC(b) }, nil, ErrInvalidRecord},
		{"key length past end", func(b []byte) []byte { b[firstRecord+3] = 0x7e; return fixCRC(b) }, nil, ErrInvalidRecord},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			if _, err := ValidateProduced(b, permissive, nil); err != nil {
				t.Fatalf("base batch invalid: %v", err)
			}
			if tc.edit != nil {
				b = tc.edit(b)
			}
			lim := permissive
			if tc.lim != nil {
				lim = *tc.lim
			}
			_, err := ValidateProduced(b, lim, new(Scratch))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if got, want := ErrorCode(err), ErrorCode(tc.want); got != want {
				t.Fatalf("ErrorCode %d, want %d", got, want)
			}
		})
	}
}

// TestValidateProducedRecordFields breaks record-level fields with hand-made records.
func TestValidateProducedRecordFields(t *testing.T) {
	// rec builds a one-record batch whose record body is given verbatim (after the length).
	rec := func(body ...byte) []byte {
		raw := appendVarint(nil, int32(len(body)))
		raw = append(raw, body...)
		return kmsgBatchRaw(raw, 1)
	}
	v := func(x int32) byte { return appendVarint(nil, x)[0] } // one-byte varints only
	tests := []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"minimal", rec(0, 0, 0, v(-1), v(-1), 0), true},
		{"empty key and value", rec(0, 0, 0, 0, 0, 0), true},
		{"null header value", rec(0, 0, 0, v(-1), v(-1), v(1), v(1), 'k', v(-1)), true},
		{"empty header key", rec(0, 0, 0, v(-1), v(-1), v(1), 0, 0), true},
		{"null header key", rec(0, 0, 0, v(-1), v(-1), v(1), v(-1), v(-1)), false},
		{"negative header count", rec(0, 0, 0, v(-1), v(-1), v(-1)), false},
		{"header count too big", rec(0, 0, 0, v(-1), v(-1), v(2), 0, 0), false},
		{"header value below -1", rec(0, 0, 0, v(-1), v(-1), v(1), 0, v(-2)), false},
		{"header value past end", rec(0, 0, 0, v(-1), v(-1), v(1), 0, v(3), 'x'), false},
		{"value below -1", rec(0, 0, 0, v(-1), v(-2), 0), false},
		{"trailing byte in record", rec(0, 0, 0, v(-1), v(-1), 0, 0), false},
		{"missing header count", rec(0, 0, 0, v(-1), v(-1)), false},
		{"offset delta 1", rec(0, 0, v(1), v(-1), v(-1), 0), false},
		{"offset delta -1", rec(0, 0, v(-1), v(-1), v(-1), 0), false},
		{"overlong varint", rec(0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0, v(-1), v(-1), 0), false},
		{"five-byte varint", rec(0, 0, 0x80, 0x80, 0x80, 0x80, 0x00, v(-1), v(-1), 0), true},
		{"six-byte varint", rec(0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, v(-1), v(-1), 0), false},
		{"empty record", rec(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateProduced(tc.b, permissive, nil)
			if tc.ok && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("want ErrInvalidRecord, got %v", err)
			}
		})
	}
}

// kmsgBatchRaw wraps already-encoded records in an uncompressed batch built with kmsg.
func kmsgBatchRaw(raw []byte, n int32) []byte {
	rb := kmsg.RecordBatch{Magic: 2, PartitionLeaderEpoch: -1, LastOffsetDelta: n - 1, NumRecords: n,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, Records: raw}
	return finishKmsgBatch(&rb)
}

func TestValidateProducedDecompressionLimit(t *testing.T) {
	recs := sampleRecords(64, 1024) // about 66 KiB uncompressed, very compressible
	for _, c := range allCodecs[1:] {
		t.Run(codecName(c), func(t *testing.T) {
			b := kmsgBatch(t, c, recs, nil)
			lim := permissive
			lim.MaxUncompressedBytes = 8 << 10
			s := new(Scratch)
			_, err := ValidateProduced(b, lim, s)
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("want ErrInvalidRecord over the limit, got %v", err)
			}
			if cap(s.buf) > lim.MaxUncompressedBytes+1 {
				t.Fatalf("scratch grew to %d bytes, limit %d", cap(s.buf), lim.MaxUncompressedBytes)
			}
			// The same scratch then validates the batch under a sufficient limit.
			if _, err := ValidateProduced(b, permissive, s); err != nil {
				t.Fatalf("with room: %v", err)
			}
		})
	}
}

// TestValidateProducedTrailingCompressed checks a compressed stream that holds more records
// than the header declares, and one whose records area is empty.
func TestValidateProducedCompressedCounts(t *testing.T) {
	recs := sampleRecords(5, 10)
	for _, c := range allCodecs[1:] {
		t.Run(codecName(c), func(t *testing.T) {
			b := kmsgBatch(t, c, recs, func(rb *kmsg.RecordBatch) { rb.NumRecords, rb.LastOffsetDelta = 4, 3 })
			if _, err := ValidateProduced(b, permissive, nil); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("extra record: got %v", err)
			}
			b = kmsgBatch(t, c, recs, func(rb *kmsg.RecordBatch) { rb.Records = nil })
			if _, err := ValidateProduced(b, permissive, nil); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("empty compressed area: got %v", err)
			}
		})
	}
}

func TestValidateProducedIdempotentAndTransactional(t *testing.T) {
	b := BuildBatch(BuildOptions{ProducerID: 9, ProducerEpoch: 2, BaseSequence: 0, Transactional: true}, sampleRecords(3, 5))
	h, err := ValidateProduced(b, permissive, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Transactional() || h.Control() || h.ProducerID != 9 || h.ProducerEpoch != 2 || h.BaseSequence != 0 {
		t.Fatalf("header %+v", h)
	}
	// A control batch built for the broker's own markers is rejected from a client.
	ctl := BuildBatch(BuildOptions{ProducerID: 9, Transactional: true, Control: true},
		[]Record{{Key: []byte{0, 0, 0, 1}, Value: []byte{0, 0, 0, 0, 0, 0}}})
	if _, err := ValidateProduced(ctl, permissive, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("control batch: %v", err)
	}
	if !VerifyCRC(ctl) {
		t.Fatal("control batch CRC")
	}
}

func TestValidateProducedZeroAllocs(t *testing.T) {
	b := BuildBatch(BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, sampleRecords(16, 1024))
	lim := Limits{MaxBatchBytes: 1 << 20, AllowZstd: true}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ValidateProduced(b, lim, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("uncompressed validation allocates %.1f times per call", allocs)
	}
}

func TestValidateProducedScratchReleasesLargeBuffers(t *testing.T) {
	recs := sampleRecords(12, 1<<20) // 12 MiB, over the retained size
	b := kmsgBatch(t, CodecLz4, recs, nil)
	s := new(Scratch)
	if _, err := ValidateProduced(b, permissive, s); err != nil {
		t.Fatal(err)
	}
	if cap(s.buf) > scratchRetainBytes {
		t.Fatalf("scratch kept %d bytes", cap(s.buf))
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		err  error
		want int16
	}{
		{nil, 0},
		{ErrCorrupt, 2},
		{ErrTooLarge, 10},
		{ErrUnsupportedCompression, 76},
		{ErrInvalidRecord, 87},
		{ErrShort, 87},
		{errors.New("other"), 87},
		{invalidf("wrapped %d", 1), 87},
	}
	for _, tc := range tests {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestScratchStartsNoGoroutines checks that the decoders a Scratch creates run synchronously,
// so a Scratch dropped from a pool leaks nothing.
func TestScratchStartsNoGoroutines(t *testing.T) {
	batches := make([][]byte, 0, len(allCodecs))
	for _, c := range allCodecs {
		batches = append(batches, kmsgBatch(t, c, sampleRecords(10, 100), nil))
	}
	before := runtime.NumGoroutine()
	for range 20 {
		for _, b := range batches {
			if _, err := ValidateProduced(b, permissive, new(Scratch)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines grew from %d to %d", before, after)
	}
}

// TestZstdStreamingWindows checks frames as the Java client writes them (streamed, with no
// content size, the window set by the compression level): accepted up to the limit, the
// decoder dropped afterwards when its window is too large to keep, and refused over the limit.
func TestZstdStreamingWindows(t *testing.T) {
	recs := sampleRecords(30, 100)
	raw := encodeKmsgRecords(toKmsg(recs))
	for _, window := range []int{1 << 20, 16 << 20} {
		var buf bytes.Buffer
		zw, err := zstd.NewWriter(&buf, zstd.WithWindowSize(window), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		// A flush before the end makes the encoder commit to a header without a content
		// size, as a streaming producer does.
		if _, err := zw.Write(raw[:100]); err != nil {
			t.Fatal(err)
		}
		if err := zw.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := zw.Write(raw[100:]); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		b := kmsgBatch(t, CodecNone, recs, func(rb *kmsg.RecordBatch) {
			rb.Attributes, rb.Records = int16(CodecZstd), buf.Bytes()
		})
		var h zstd.Header
		if err := h.Decode(b[HeaderSize:]); err != nil || h.HasFCS || h.WindowSize != uint64(window) {
			t.Fatalf("test frame header %+v (%v)", h, err)
		}
		s := new(Scratch)
		if _, err := ValidateProduced(b, permissive, s); err != nil {
			t.Fatalf("window %d: %v", window, err)
		}
		if kept := s.zd != nil; kept != (window <= scratchRetainBytes) {
			t.Fatalf("window %d: decoder kept = %v", window, kept)
		}
		lim := permissive
		lim.MaxUncompressedBytes = window / 2
		if _, err := ValidateProduced(b, lim, s); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("window %d over a limit of %d: %v", window, lim.MaxUncompressedBytes, err)
		}
	}
}
