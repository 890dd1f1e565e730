package record

import (
	"encoding/binary"
)

// BuildOptions are the producer fields of a batch BuildBatch makes. A plain (non-idempotent)
// producer uses ProducerID -1, ProducerEpoch -1 and BaseSequence -1.
type BuildOptions struct {
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	Transactional bool
	Control       bool
	BaseTimestamp int64
}

// BuildBatch encodes records as one uncompressed v2 batch with base offset 0 and partition
// leader epoch -1, as a client sends it. Offset deltas are the record indexes (the records'
// OffsetDelta fields are ignored); MaxTimestamp is BaseTimestamp plus the largest
// TimestampDelta. It is meant for tests and for the broker's own control records.
func BuildBatch(opts BuildOptions, records []Record) []byte {
	size := HeaderSize
	for i := range records {
		n := recordBodyLen(int32(i), &records[i])
		size += varintLen(int32(n)) + n
	}
	b := make([]byte, HeaderSize, size)
	maxDelta := int64(0)
	for i := range records {
		r := &records[i]
		if i == 0 || r.TimestampDelta > maxDelta {
			maxDelta = r.TimestampDelta
		}
		b = appendVarint(b, int32(recordBodyLen(int32(i), r)))
		b = append(b, 0) // record attributes, unused
		b = appendVarlong(b, r.TimestampDelta)
		b = appendVarint(b, int32(i))
		b = appendNullableBytes(b, r.Key)
		b = appendNullableBytes(b, r.Value)
		b = appendVarint(b, int32(len(r.Headers)))
		for _, h := range r.Headers {
			b = appendVarint(b, int32(len(h.Key)))
			b = append(b, h.Key...)
			b = appendNullableBytes(b, h.Value)
		}
	}
	var attrs uint16
	if opts.Transactional {
		attrs |= attrTransactional
	}
	if opts.Control {
		attrs |= attrControl
	}
	be := binary.BigEndian
	be.PutUint64(b[offBaseOffset:], 0)
	be.PutUint32(b[offLength:], uint32(len(b)-LogOverhead))
	be.PutUint32(b[offLeaderEpoch:], 0xffffffff) // -1: the leader assigns it
	b[offMagic] = Magic
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint32(b[offLastOffsetDelta:], uint32(int32(len(records))-1))
	be.PutUint64(b[offBaseTimestamp:], uint64(opts.BaseTimestamp))
	be.PutUint64(b[offMaxTimestamp:], uint64(opts.BaseTimestamp+maxDelta))
	be.PutUint64(b[offProducerID:], uint64(opts.ProducerID))
	be.PutUint16(b[offProducerEpoch:], uint16(opts.ProducerEpoch))
	be.PutUint32(b[offBaseSequence:], uint32(opts.BaseSequence))
	be.PutUint32(b[offNumRecords:], uint32(len(records)))
	putCRC(b)
	return b
}

// recordBodyLen returns the encoded size of a record after its length varint.
func recordBodyLen(offsetDelta int32, r *Record) int {
	n := 1 + varlongLen(r.TimestampDelta) + varintLen(offsetDelta) +
		nullableBytesLen(r.Key) + nullableBytesLen(r.Value) + varintLen(int32(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintLen(int32(len(h.Key))) + len(h.Key) + nullableBytesLen(h.Value)
	}
	return n
}

func appendNullableBytes(b, v []byte) []byte {
	if v == nil {
		return appendVarint(b, -1)
	}
	return append(appendVarint(b, int32(len(v))), v...)
}

func nullableBytesLen(v []byte) int {
	if v == nil {
		return varintLen(-1)
	}
	return varintLen(int32(len(v))) + len(v)
}
