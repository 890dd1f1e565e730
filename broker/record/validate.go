package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Limits are the per-topic and per-request bounds ValidateProduced enforces.
type Limits struct {
	// MaxBatchBytes is the topic's max.message.bytes, compared with the whole batch size
	// (Header.Size(), which includes the 12-byte log overhead, as Kafka compares it).
	// Zero or less means no limit.
	MaxBatchBytes int
	// MaxUncompressedBytes caps the memory used to decompress a batch for validation; a batch
	// that would decompress to more is ErrInvalidRecord. Zero or less means
	// DefaultMaxUncompressedBytes. The output buffer never exceeds it (plus one byte), nor
	// does a zstd window; the decoders' own fixed working memory comes on top (gzip's 32 KiB
	// window, lz4 blocks of at most 4 MiB).
	MaxUncompressedBytes int
	// AllowZstd is false for Produce requests below v7, which must not carry zstd.
	AllowZstd bool
}

// ValidateProduced validates the records of one partition of a client's Produce request,
// which must be exactly one v2 batch, and returns its header. It applies Kafka's leader-side
// checks in this order (cheap framing first, so the CRC is computed only over a batch that
// is within the size limit), each mapped to a sentinel:
//
//   - fewer bytes than a header or than batchLength claims, or batchLength below the header
//     size: ErrCorrupt
//   - magic other than 2, or bytes after the batch: ErrInvalidRecord
//   - Size() over MaxBatchBytes: ErrTooLarge
//   - CRC-32C mismatch over bytes 21..end: ErrCorrupt
//   - baseOffset != 0, NumRecords <= 0, LastOffsetDelta+1 != NumRecords, the control bit set,
//     or a producer id with a negative baseSequence: ErrInvalidRecord
//   - a codec other than 0-4, or zstd when !lim.AllowZstd: ErrUnsupportedCompression
//
// Then it walks every record, decompressing first for compressed codecs (bounded by
// lim.MaxUncompressedBytes), and checks that each record's length covers exactly its fields
// and stays within the batch, that offset deltas run 0..n-1 in order, that key, value and
// header lengths are in bounds (>= -1; header keys >= 0 as Kafka requires), and that there
// are exactly NumRecords records (ErrInvalidRecord otherwise).
//
// s may be nil; passing a Scratch reuses its buffers and decoders. An uncompressed batch
// validates without allocating. On error the returned Header holds whatever was decoded
// before the failing check (the zero Header if not even the header could be read).
func ValidateProduced(b []byte, lim Limits, s *Scratch) (Header, error) {
	h, err := checkFraming(b, lim)
	if err != nil {
		return h, err
	}
	if err := checkHeader(h, lim); err != nil {
		return h, err
	}
	data := b[HeaderSize:]
	if c := h.Codec(); c != CodecNone {
		if s == nil {
			s = new(Scratch)
		}
		defer s.release()
		if data, err = s.decompress(c, data, lim.MaxUncompressedBytes); err != nil {
			return h, err
		}
	}
	if err := walkRecords(data, h.NumRecords, walkOpts{produced: true}); err != nil {
		return h, err
	}
	return h, nil
}

// checkFraming checks what the bytes must satisfy before any field is believed: the length,
// the magic, the size limit and the CRC.
func checkFraming(b []byte, lim Limits) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, a batch needs at least %d", ErrCorrupt, len(b), HeaderSize)
	}
	h := decodeHeader(b)
	if h.Magic != Magic {
		return h, fmt.Errorf("%w: magic %d, only magic 2 is supported", ErrInvalidRecord, h.Magic)
	}
	if h.Length < minBatchLength {
		return h, fmt.Errorf("%w: batch length %d is below the minimum %d", ErrCorrupt, h.Length, minBatchLength)
	}
	switch size := h.Size(); {
	case size > len(b):
		return h, fmt.Errorf("%w: batch length says %d bytes, %d present", ErrCorrupt, size, len(b))
	case size < len(b):
		return h, fmt.Errorf("%w: %d bytes after the batch; a produce carries exactly one batch per partition", ErrInvalidRecord, len(b)-size)
	case lim.MaxBatchBytes > 0 && size > lim.MaxBatchBytes:
		return h, fmt.Errorf("%w: batch of %d bytes exceeds max.message.bytes %d", ErrTooLarge, size, lim.MaxBatchBytes)
	}
	if got := crc32.Checksum(b[offAttributes:], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: CRC %#08x, computed %#08x", ErrCorrupt, h.CRC, got)
	}
	return h, nil
}

// checkHeader applies LogValidator.validateBatch and the codec rules to a framed header.
func checkHeader(h Header, lim Limits) error {
	switch {
	case h.BaseOffset != 0:
		return invalidf("base offset %d; a client must send 0", h.BaseOffset)
	case h.NumRecords <= 0:
		return invalidf("record count %d", h.NumRecords)
	case int64(h.LastOffsetDelta)+1 != int64(h.NumRecords):
		return invalidf("last offset delta %d does not match record count %d", h.LastOffsetDelta, h.NumRecords)
	case h.Control():
		return invalidf("a client may not produce a control batch")
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return invalidf("producer id %d with base sequence %d", h.ProducerID, h.BaseSequence)
	}
	switch c := h.Codec(); {
	case c > CodecZstd:
		return fmt.Errorf("%w: unknown codec %d", ErrUnsupportedCompression, int8(c))
	case c == CodecZstd && !lim.AllowZstd:
		return fmt.Errorf("%w: zstd needs Produce v7 or later", ErrUnsupportedCompression)
	}
	return nil
}

// putCRC recomputes and stores the CRC of a whole batch.
func putCRC(batch []byte) {
	binary.BigEndian.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:], castagnoli))
}
