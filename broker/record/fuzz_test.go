package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzLimit keeps decompression small so the fuzzer can check it is honoured.
const fuzzLimit = 256 << 10

// seedBatches returns valid batches of every codec for the fuzz corpora.
func seedBatches(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, c := range allCodecs {
		seeds = append(seeds, kmsgBatch(f, c, sampleRecords(4, 40), nil))
	}
	seeds = append(seeds,
		BuildBatch(BuildOptions{ProducerID: 3, BaseSequence: 0, Transactional: true}, sampleRecords(2, 0)),
		BuildBatch(BuildOptions{ProducerID: -1, BaseSequence: -1}, nil),
	)
	return seeds
}

// FuzzValidateProduced checks, for arbitrary input (with the CRC optionally repaired so the
// fuzzer reaches the record walk and the decompressors):
//   - ValidateProduced never panics, and every error wraps one of the package's sentinels;
//   - the scratch buffer never grows past MaxUncompressedBytes+1;
//   - a batch that validates has Header.Size() == len(b), passes VerifyCRC, reads back through
//     Records with NumRecords records at offset deltas 0..n-1, and parses with franz-go's kmsg.
func FuzzValidateProduced(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte{}, false)
	lim := Limits{MaxBatchBytes: 1 << 20, MaxUncompressedBytes: fuzzLimit, AllowZstd: true}
	s := new(Scratch)
	f.Fuzz(func(t *testing.T, b []byte, repairCRC bool) {
		if repairCRC && len(b) >= HeaderSize {
			putCRC(b)
		}
		h, err := ValidateProduced(b, lim, s)
		if cap(s.buf) > fuzzLimit+1 {
			t.Fatalf("scratch buffer grew to %d bytes", cap(s.buf))
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if h.Size() != len(b) || !VerifyCRC(b) {
			t.Fatalf("valid batch of %d bytes has size %d", len(b), h.Size())
		}
		var n int32
		err = Records(b, fuzzLimit, func(r Record) error {
			if r.OffsetDelta != n {
				t.Fatalf("record %d has delta %d", n, r.OffsetDelta)
			}
			n++
			return nil
		})
		if err != nil || n != h.NumRecords {
			t.Fatalf("Records after validation: %d of %d, %v", n, h.NumRecords, err)
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil || rb.NumRecords != h.NumRecords || uint32(rb.CRC) != h.CRC {
			t.Fatalf("kmsg disagrees: %v", err)
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrShort, ErrCorrupt, ErrInvalidRecord, ErrTooLarge, ErrUnsupportedCompression} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzNext checks that walking a stream never panics and that whatever Next splits off is a
// prefix of its input, at least a header long, sized by its own batchLength, with the rest
// following it; and that the walk always ends with ErrShort or ErrCorrupt.
func FuzzNext(f *testing.F) {
	seeds := seedBatches(f)
	f.Add(bytes.Join(seeds, nil))
	f.Add(append(append([]byte(nil), seeds[0]...), seeds[1][:20]...))
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, b []byte) {
		rest := b
		for {
			batch, next, err := Next(rest)
			if err != nil {
				if !errors.Is(err, ErrShort) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("unexpected error %v", err)
				}
				if len(next) != len(rest) {
					t.Fatal("an error must leave the input unconsumed")
				}
				return
			}
			size := int(int32(binary.BigEndian.Uint32(batch[offLength:]))) + LogOverhead
			if len(batch) < HeaderSize || len(batch) != size || len(batch)+len(next) != len(rest) ||
				!bytes.Equal(batch, rest[:len(batch)]) {
				t.Fatalf("bad split: batch %d bytes (size %d), rest %d of %d", len(batch), size, len(next), len(rest))
			}
			if _, err := ParseHeader(batch); err != nil && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("a split batch must have a readable header: %v", err)
			}
			rest = next
		}
	})
}

// FuzzRecords checks that Records never panics, honours its limit, reports the header's
// record count on success, and yields offset deltas that increase within LastOffsetDelta.
func FuzzRecords(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var n int32
		prev := int32(-1)
		err := Records(b, fuzzLimit, func(r Record) error {
			if r.OffsetDelta <= prev {
				t.Fatalf("delta %d after %d", r.OffsetDelta, prev)
			}
			prev = r.OffsetDelta
			n++
			return nil
		})
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if h, _ := ParseHeader(b); n != h.NumRecords || (n > 0 && prev > h.LastOffsetDelta) {
			t.Fatalf("%d records, header says %d", n, h.NumRecords)
		}
	})
}
