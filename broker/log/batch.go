package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Batch header layout (Kafka record batch v2, big-endian). The log reads only these fields and
// keeps its own tiny parser so it does not depend on package record.
const (
	headerSize       = 61 // full v2 batch header
	logOverhead      = 12 // baseOffset + batchLength
	minBatchLength   = headerSize - logOverhead
	offBatchLength   = 8
	offLeaderEpoch   = 12
	offMagic         = 16
	offCRC           = 17
	offAttributes    = 21 // the CRC covers from here to the end of the batch
	offLastDelta     = 23
	offMaxTimestamp  = 35
	attrLogAppendTs  = 1 << 3
	currentMagic     = 2
	maxRelativeDelta = 1<<31 - 1 // relative offsets must fit the index's uint32 (Kafka: Int.MaxValue)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchInfo is what the log tracks about one stored batch.
type batchInfo struct {
	pos   int64 // file position of the batch's first byte
	size  int64 // whole batch, including the 12-byte log overhead
	base  int64
	last  int64
	maxTs int64
	epoch int32
}

// parseHeader decodes the header fields the log needs from h (at least headerSize bytes) and
// checks the ones that can be checked without the body: length lower bound, magic, and a
// non-negative, index-sized last offset delta.
func parseHeader(h []byte, pos int64) (batchInfo, error) {
	if len(h) < headerSize {
		return batchInfo{}, fmt.Errorf("%w: short header", ErrCorrupt)
	}
	length := int32(binary.BigEndian.Uint32(h[offBatchLength:]))
	if length < minBatchLength {
		return batchInfo{}, fmt.Errorf("%w: batch length %d", ErrCorrupt, length)
	}
	if h[offMagic] != currentMagic {
		return batchInfo{}, fmt.Errorf("%w: magic %d", ErrCorrupt, h[offMagic])
	}
	delta := int32(binary.BigEndian.Uint32(h[offLastDelta:]))
	if delta < 0 {
		return batchInfo{}, fmt.Errorf("%w: last offset delta %d", ErrCorrupt, delta)
	}
	base := int64(binary.BigEndian.Uint64(h))
	if base < 0 || base > 1<<62 {
		return batchInfo{}, fmt.Errorf("%w: base offset %d", ErrCorrupt, base)
	}
	return batchInfo{
		pos:   pos,
		size:  int64(length) + logOverhead,
		base:  base,
		last:  base + int64(delta),
		maxTs: int64(binary.BigEndian.Uint64(h[offMaxTimestamp:])),
		epoch: int32(binary.BigEndian.Uint32(h[offLeaderEpoch:])),
	}, nil
}

// checkBatch verifies that b is exactly one v2 batch as far as the log cares. The broker has
// validated it fully; this only guards the log's own invariants.
func checkBatch(b []byte) error {
	if len(b) < headerSize {
		return fmt.Errorf("%w: batch of %d bytes", ErrCorrupt, len(b))
	}
	info, err := parseHeader(b, 0)
	if err != nil {
		return err
	}
	if info.size != int64(len(b)) {
		return fmt.Errorf("%w: batch length field %d does not match %d bytes", ErrCorrupt, info.size-logOverhead, len(b))
	}
	return nil
}

// batchCRC computes the CRC-32C a batch's header must carry.
func batchCRC(b []byte) uint32 { return crc32.Checksum(b[offAttributes:], castagnoli) }

// stampBatch assigns the base offset and leader epoch and, for LogAppendTime topics, sets the
// timestamp type bit and maxTimestamp and recomputes the CRC (which covers both).
func stampBatch(b []byte, base int64, epoch int32, appendTime int64, logAppendTime bool) {
	binary.BigEndian.PutUint64(b, uint64(base))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
	if !logAppendTime {
		return
	}
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | attrLogAppendTs
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(appendTime))
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
}

// Sentinel errors.
var (
	// ErrOffsetOutOfRange: the offset is below the log start offset or above the log end offset.
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrClosed: the log was closed or deleted.
	ErrClosed = errors.New("log: closed")
	// ErrCorrupt: a batch (given to Append or found on disk) is malformed.
	ErrCorrupt = errors.New("log: corrupt data")
)
