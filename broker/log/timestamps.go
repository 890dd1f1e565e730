package log

import (
	"errors"
	"fmt"

	"github.com/bulwark-kafka/bulwark/broker/record"
)

// Lookups by time, record by record as Kafka 4 answers them: the time index and the batches'
// max timestamps find the batch, and the batch's records (decompressed when need be) give the
// exact record. A batch is read and decoded only when its max timestamp says the answer is in it.

// OffsetForTimestamp returns the offset and timestamp of the first record at or after the log
// start whose timestamp is >= ts (Kafka's LogSegment.findOffsetByTimestamp; a log-append-time
// batch's records all carry its max timestamp). ok is false when there is none.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, ok bool, err error) {
	l.smu.RLock()
	start := l.start
	var views []view
	for _, s := range l.segs {
		if s.maxTs >= ts && s.next > start {
			views = append(views, s.view())
			s.acquire()
		}
	}
	l.smu.RUnlock()
	defer func() {
		for _, v := range views {
			v.s.release()
		}
	}()
	for _, v := range views {
		off, rts, found, err := l.findTimestamp(v, ts, start)
		if err != nil || found {
			return off, rts, found, err
		}
	}
	return -1, -1, false, nil
}

// findTimestamp walks the batches of v from the time index's hint and returns the first record
// at or after start with a timestamp >= ts.
func (l *Log) findTimestamp(v view, ts, start int64) (int64, int64, bool, error) {
	pos := v.s.dataStart
	if rel := lookupTimeBefore(v.tidx, ts); rel >= 0 {
		pos = max(lookupPosition(v.idx, rel), v.s.dataStart)
	}
	var h [headerSize]byte
	for pos < v.size {
		b, err := readHeader(v, pos, h[:])
		if err != nil {
			return -1, -1, false, err
		}
		if b.maxTs >= ts && b.last >= start {
			off, rts, found, err := l.firstRecordFrom(b.base, ts, start)
			if err != nil || found {
				return off, rts, found, err
			}
		}
		pos += b.size
	}
	return -1, -1, false, nil
}

// errFound ends a walk over a batch's records.
var errFound = errors.New("found")

// firstRecordFrom reads the batch holding offset and returns its first record at or after start
// whose timestamp is >= ts.
func (l *Log) firstRecordFrom(offset, ts, start int64) (int64, int64, bool, error) {
	data, err := l.Read(offset, 1, l.LogEndOffset(), true)
	if err != nil || len(data) == 0 {
		return -1, -1, false, err
	}
	batch, _, err := record.Next(data)
	if err != nil {
		return -1, -1, false, fmt.Errorf("log: batch at offset %d: %w", offset, err)
	}
	h, err := record.ParseHeader(batch)
	if err != nil {
		return -1, -1, false, fmt.Errorf("log: batch at offset %d: %w", offset, err)
	}
	found, rts := int64(-1), int64(-1)
	err = record.Records(batch, 0, func(r record.Record) error {
		off, t := h.BaseOffset+int64(r.OffsetDelta), h.BaseTimestamp+r.TimestampDelta
		if h.LogAppendTime() {
			t = h.MaxTimestamp
		}
		if off >= start && t >= ts {
			found, rts = off, t
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return found, rts, true, nil
	case err != nil:
		return -1, -1, false, fmt.Errorf("log: records of the batch at offset %d: %w", h.BaseOffset, err)
	}
	return -1, -1, false, nil
}

// MaxTimestamp returns the offset and timestamp of the first record carrying the log's largest
// timestamp (Kafka 4's MAX_TIMESTAMP); ok is false when the log is empty.
func (l *Log) MaxTimestamp() (offset, timestamp int64, ok bool, err error) {
	l.smu.RLock()
	if l.end <= l.start {
		l.smu.RUnlock()
		return -1, -1, false, nil
	}
	start := l.start
	offset, timestamp = -1, -1
	for _, s := range l.segs {
		if s.next > start && s.maxTs > timestamp {
			offset, timestamp = s.maxTsOffset, s.maxTs // an offset of the first batch carrying it
		}
	}
	l.smu.RUnlock()
	if offset < 0 {
		return -1, -1, false, nil
	}
	off, rts, found, err := l.firstRecordFrom(max(offset, start), timestamp, start)
	switch {
	case err != nil:
		return -1, -1, false, err
	case !found: // removed meanwhile (retention): the batch-level answer is the best there is
		return max(offset, start), timestamp, true, nil
	}
	return off, rts, true, nil
}
