package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Sizes of the fixed parts of a batch.
const (
	// HeaderSize is the number of bytes of a v2 batch header, baseOffset and batchLength included.
	HeaderSize = 61
	// LogOverhead is the number of bytes before batchLength's count starts: baseOffset and
	// batchLength themselves.
	LogOverhead = 12
	// minBatchLength is the smallest legal batchLength: a header with no records.
	minBatchLength = HeaderSize - LogOverhead
)

// Byte offsets of the header fields.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // the CRC covers this byte to the end of the batch
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57
)

// Attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// Magic is the only batch format this package (and a Kafka 4 broker) accepts.
const Magic = 2

// castagnoli is the CRC-32C table. It is computed once and only read afterwards; crc32 uses
// the CPU's CRC instructions for this polynomial where they exist.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Codec is the compression codec in attribute bits 0-2.
type Codec int8

// The codecs Kafka defines.
const (
	CodecNone   Codec = 0
	CodecGzip   Codec = 1
	CodecSnappy Codec = 2
	CodecLz4    Codec = 3
	CodecZstd   Codec = 4
)

// String returns Kafka's name for the codec (compression.type values).
func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLz4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Header is the decoded fixed part of a v2 batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // the batchLength field: bytes after it
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Codec returns the compression codec from attribute bits 0-2.
func (h Header) Codec() Codec { return Codec(h.Attributes & attrCodecMask) }

// LogAppendTime reports attribute bit 3: timestamps were assigned by the broker.
func (h Header) LogAppendTime() bool { return h.Attributes&attrLogAppendTime != 0 }

// Transactional reports attribute bit 4.
func (h Header) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// Control reports attribute bit 5: the batch holds a transaction marker.
func (h Header) Control() bool { return h.Attributes&attrControl != 0 }

// Size returns the total number of bytes of the batch: Length + LogOverhead.
func (h Header) Size() int { return int(h.Length) + LogOverhead }

// LastOffset returns the offset of the batch's last record: BaseOffset + LastOffsetDelta.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// ParseHeader decodes the first HeaderSize bytes of b. It fails with ErrShort if b is shorter
// than a header, ErrCorrupt if batchLength is below the header's own size (so Size is always at
// least HeaderSize on success), and ErrInvalidRecord if magic is not 2. It does not check that
// b holds the whole batch or that the CRC matches.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, a batch header needs %d", ErrShort, len(b), HeaderSize)
	}
	h := decodeHeader(b)
	if h.Magic != Magic {
		return h, fmt.Errorf("%w: magic %d, only magic 2 is supported", ErrInvalidRecord, h.Magic)
	}
	if h.Length < minBatchLength {
		return h, fmt.Errorf("%w: batch length %d is below the minimum %d", ErrCorrupt, h.Length, minBatchLength)
	}
	return h, nil
}

// decodeHeader reads the header fields of b, which must hold at least HeaderSize bytes.
func decodeHeader(b []byte) Header {
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
}

// Next splits the first whole batch off b, using its batchLength, for walking a stream of
// batches as read from a segment file or a Fetch response. It returns ErrShort when b ends
// before the batch does, an empty b included; callers treat that as the end of the stream
// (a torn tail after a crash, or a Fetch response cut at its byte budget). A batchLength below
// the header's size is ErrCorrupt, since nothing after it can be trusted. On error rest is b,
// unconsumed. Next reads only the first LogOverhead bytes: it checks neither magic nor CRC.
// The returned batch's capacity ends with it, so appending to it cannot clobber rest.
func Next(b []byte) (batch, rest []byte, err error) {
	if len(b) < LogOverhead {
		return nil, b, fmt.Errorf("%w: %d bytes left, less than a batch prefix", ErrShort, len(b))
	}
	length := int32(binary.BigEndian.Uint32(b[offLength:]))
	if length < minBatchLength {
		return nil, b, fmt.Errorf("%w: batch length %d is below the minimum %d", ErrCorrupt, length, minBatchLength)
	}
	size := int(length) + LogOverhead
	if len(b) < size {
		return nil, b, fmt.Errorf("%w: batch of %d bytes, %d left", ErrShort, size, len(b))
	}
	return b[:size:size], b[size:], nil
}

// SetBaseOffset writes the broker-assigned base offset. The field is outside the CRC. It does
// nothing if batch is shorter than the field.
func SetBaseOffset(batch []byte, off int64) {
	if len(batch) < offBaseOffset+8 {
		return
	}
	binary.BigEndian.PutUint64(batch[offBaseOffset:], uint64(off))
}

// SetPartitionLeaderEpoch writes the leader epoch the batch was appended under. The field is
// deliberately outside the CRC so a leader can stamp it without rehashing. It does nothing if
// batch is shorter than the field.
func SetPartitionLeaderEpoch(batch []byte, e int32) {
	if len(batch) < offLeaderEpoch+4 {
		return
	}
	binary.BigEndian.PutUint32(batch[offLeaderEpoch:], uint32(e))
}

// SetLogAppendTime marks the batch's timestamps as broker-assigned: it sets attribute bit 3
// and MaxTimestamp = ts, leaves BaseTimestamp alone (as Kafka does), and recomputes the CRC
// since both fields are covered by it. It does nothing if batch is shorter than a header.
func SetLogAppendTime(batch []byte, ts int64) {
	if len(batch) < HeaderSize {
		return
	}
	be := binary.BigEndian
	attrs := be.Uint16(batch[offAttributes:]) | attrLogAppendTime
	be.PutUint16(batch[offAttributes:], attrs)
	be.PutUint64(batch[offMaxTimestamp:], uint64(ts))
	be.PutUint32(batch[offCRC:], crc32.Checksum(batch[offAttributes:crcEnd(batch)], castagnoli))
}

// VerifyCRC reports whether batch holds one whole v2 batch (magic 2, a plausible batchLength,
// at least batchLength+12 bytes) whose stored CRC matches bytes 21 to the batch's end. Magic is
// checked too because it sits outside the CRC, so a flipped magic byte would go unnoticed.
func VerifyCRC(batch []byte) bool {
	h, err := ParseHeader(batch)
	if err != nil || h.Size() > len(batch) {
		return false
	}
	return crc32.Checksum(batch[offAttributes:h.Size()], castagnoli) == h.CRC
}

// crcEnd returns where the CRC-covered bytes of batch end: the end its batchLength claims,
// clamped to the bytes present, for editors that must not panic on a malformed batch.
func crcEnd(batch []byte) int {
	size := int(int32(binary.BigEndian.Uint32(batch[offLength:]))) + LogOverhead
	if size < HeaderSize || size > len(batch) {
		return len(batch)
	}
	return size
}
