package record

import (
	"errors"
	"fmt"
)

// Record is one decoded record of a batch.
type Record struct {
	// OffsetDelta is the record's offset minus the batch's BaseOffset.
	OffsetDelta int32
	// TimestampDelta is the record's timestamp minus the batch's BaseTimestamp.
	TimestampDelta int64
	// Key and Value are nil for a null key or value, and non-nil (possibly empty) otherwise.
	Key, Value []byte
	// Headers are the record's headers in wire order; nil when there are none.
	Headers []RecordHeader
}

// RecordHeader is one record header. Kafka forbids a null header key, so Key is a string.
type RecordHeader struct {
	Key   string
	Value []byte // nil for a null value
}

// invalidf wraps ErrInvalidRecord with a description of what is wrong.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRecord}, args...)...)
}

// walkOpts says how strictly walkRecords checks offset deltas and what it hands back.
type walkOpts struct {
	// produced demands offset deltas 0, 1, ..., n-1, as a client must write them. Without it,
	// deltas only have to increase and stay within lastOffsetDelta, which a compacted batch
	// (whose records have gaps) also satisfies.
	produced        bool
	lastOffsetDelta int32
	// visit, when set, receives every record with its headers decoded. When nil the walk
	// skips over headers without allocating.
	visit func(Record) error
}

// walkRecords checks that data holds exactly numRecords well-formed records and nothing else.
func walkRecords(data []byte, numRecords int32, o walkOpts) error {
	var count int32
	prev := int32(-1)
	for len(data) > 0 {
		if count == numRecords {
			return invalidf("%d bytes after the %d records the header declares", len(data), numRecords)
		}
		var rec Record
		n, err := parseRecord(data, &rec, o.visit != nil)
		if err != nil {
			return invalidf("record %d: %v", count, err)
		}
		switch {
		case o.produced && rec.OffsetDelta != count:
			return invalidf("record %d has offset delta %d", count, rec.OffsetDelta)
		case !o.produced && (rec.OffsetDelta <= prev || rec.OffsetDelta > o.lastOffsetDelta):
			return invalidf("record %d has offset delta %d after %d (last delta %d)", count, rec.OffsetDelta, prev, o.lastOffsetDelta)
		}
		prev = rec.OffsetDelta
		if o.visit != nil {
			if err := o.visit(rec); err != nil {
				return err
			}
		}
		data = data[n:]
		count++
	}
	if count != numRecords {
		return invalidf("batch holds %d records, its header declares %d", count, numRecords)
	}
	return nil
}

// parseRecord decodes the record at the start of b into rec and returns its encoded size.
// Its errors describe the problem only; walkRecords wraps them with the record's index and
// ErrInvalidRecord.
// The record's length varint must cover its body exactly. Key and value alias b. Headers are
// decoded (and allocated) only when withHeaders is set; otherwise they are only checked.
func parseRecord(b []byte, rec *Record, withHeaders bool) (int, error) {
	length, n := readVarint(b)
	if n == 0 {
		return 0, errors.New("truncated record length")
	}
	if length < 0 || int(length) > len(b)-n {
		return 0, fmt.Errorf("record length %d with %d bytes left", length, len(b)-n)
	}
	body := b[n : n+int(length)]
	if len(body) == 0 {
		return 0, errors.New("empty record")
	}
	p := 1 // the record attributes byte is unused
	var m int
	if rec.TimestampDelta, m = readVarlong(body[p:]); m == 0 {
		return 0, errors.New("truncated timestamp delta")
	}
	p += m
	if rec.OffsetDelta, m = readVarint(body[p:]); m == 0 {
		return 0, errors.New("truncated offset delta")
	}
	p += m
	var err error
	if rec.Key, p, err = readBytes(body, p, "key", true); err != nil {
		return 0, err
	}
	if rec.Value, p, err = readBytes(body, p, "value", true); err != nil {
		return 0, err
	}
	if p, err = readHeaders(body, p, rec, withHeaders); err != nil {
		return 0, err
	}
	if p != len(body) {
		return 0, fmt.Errorf("record length %d but its fields take %d bytes", length, p)
	}
	return n + int(length), nil
}

// readHeaders checks the header count and each header of a record body starting at p, and
// stores them in rec.Headers when withHeaders is set. Kafka rejects a negative count and a
// negative (null) header key; a header value may be null.
func readHeaders(body []byte, p int, rec *Record, withHeaders bool) (int, error) {
	count, m := readVarint(body[p:])
	if m == 0 {
		return 0, errors.New("truncated header count")
	}
	p += m
	// Each header takes at least two bytes (two length varints), which bounds the count
	// before anything is allocated for it.
	if count < 0 || int(count) > (len(body)-p)/2 {
		return 0, fmt.Errorf("header count %d with %d bytes left", count, len(body)-p)
	}
	rec.Headers = nil
	if withHeaders && count > 0 {
		rec.Headers = make([]RecordHeader, count)
	}
	for i := 0; i < int(count); i++ {
		var key, value []byte
		var err error
		if key, p, err = readBytes(body, p, "header key", false); err != nil {
			return 0, err
		}
		if value, p, err = readBytes(body, p, "header value", true); err != nil {
			return 0, err
		}
		if withHeaders {
			rec.Headers[i] = RecordHeader{Key: string(key), Value: value}
		}
	}
	return p, nil
}

// readBytes reads a varint-length-prefixed field at body[p:] and returns it (nil for a null
// length of -1 when nullable) and the position after it.
func readBytes(body []byte, p int, what string, nullable bool) ([]byte, int, error) {
	l, m := readVarint(body[p:])
	if m == 0 {
		return nil, 0, fmt.Errorf("truncated %s length", what)
	}
	p += m
	switch {
	case l == -1 && nullable:
		return nil, p, nil
	case l < 0 || int(l) > len(body)-p:
		return nil, 0, fmt.Errorf("%s length %d with %d bytes left", what, l, len(body)-p)
	}
	end := p + int(l)
	return body[p:end:end], end, nil
}

// Records calls fn with every record of batch, in order, decompressing first when the batch
// has a codec (never to more than max bytes; max <= 0 means DefaultMaxUncompressedBytes). It
// checks the batch's framing (header, length, that the record count matches NumRecords, and
// that offset deltas increase within LastOffsetDelta) but not its CRC: call VerifyCRC for that.
// Gaps between offset deltas are allowed, as compaction leaves them.
//
// Key, Value and header values alias batch, or for a compressed batch a buffer that belongs
// to this call alone; either way they stay valid after Records returns as long as batch is
// not modified. An error from fn stops the walk and is returned unchanged.
func Records(batch []byte, max int, fn func(Record) error) error {
	h, err := ParseHeader(batch)
	if err != nil {
		return err
	}
	if h.Size() > len(batch) {
		return fmt.Errorf("%w: batch of %d bytes, %d present", ErrShort, h.Size(), len(batch))
	}
	data := batch[HeaderSize:h.Size()]
	if c := h.Codec(); c != CodecNone {
		var s Scratch
		if data, err = s.decompress(c, data, max); err != nil {
			return err
		}
	}
	return walkRecords(data, h.NumRecords, walkOpts{lastOffsetDelta: h.LastOffsetDelta, visit: fn})
}
