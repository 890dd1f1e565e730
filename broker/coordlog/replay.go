package coordlog

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/bulwark-kafka/bulwark/broker/record"
)

// replayChunkBytes is how much replay asks the log for at a time; a larger batch is still
// returned whole.
const replayChunkBytes = 1 << 20

// maxBatchUncompressed bounds decompression of a replayed batch. The journal never compresses,
// so a compressed batch only passes if it decodes within what a Write could have produced.
const maxBatchUncompressed = MaxWriteBytes + 1<<20

// replay reads the whole log and rebuilds the map. It runs before the Store is shared, so it
// takes no lock (applyLocked is safe here).
func (s *Store) replay() error {
	off, end := s.log.LogStartOffset(), s.log.LogEndOffset()
	for off < end {
		data, err := s.log.Read(off, replayChunkBytes, end, true)
		if err != nil {
			return fmt.Errorf("coordlog: replay at offset %d: %w", off, err)
		}
		if len(data) == 0 {
			return fmt.Errorf("%w: replay stalled at offset %d of %d", ErrCorrupt, off, end)
		}
		for len(data) > 0 {
			var batch []byte
			if batch, data, err = record.Next(data); err != nil {
				return fmt.Errorf("%w: batch at offset %d: %v", ErrCorrupt, off, err)
			}
			next, err := s.replayBatch(batch, off)
			if err != nil {
				return err
			}
			off = next
		}
	}
	return nil
}

// replayBatch applies one batch read at or after offset off and returns the offset after it.
func (s *Store) replayBatch(batch []byte, off int64) (int64, error) {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return 0, fmt.Errorf("%w: batch at offset %d: %v", ErrCorrupt, off, err)
	}
	base := h.BaseOffset
	switch {
	case h.LastOffset() < off:
		return 0, fmt.Errorf("%w: batch at offset %d ends at %d, before the replay position %d", ErrCorrupt, base, h.LastOffset(), off)
	case !record.VerifyCRC(batch):
		return 0, fmt.Errorf("%w: batch at offset %d: CRC mismatch", ErrCorrupt, base)
	case h.Control():
		return 0, fmt.Errorf("%w: batch at offset %d is a control batch", ErrCorrupt, base)
	}
	err = record.Records(batch, maxBatchUncompressed, func(r record.Record) error {
		o := base + int64(r.OffsetDelta)
		switch {
		case r.Key == nil:
			return fmt.Errorf("%w: record at offset %d has a null key", ErrCorrupt, o)
		case len(r.Key) > MaxKeyBytes || len(r.Value) > MaxValueBytes:
			return fmt.Errorf("%w: record at offset %d: key of %d or value of %d bytes exceeds the limits", ErrCorrupt, o, len(r.Key), len(r.Value))
		}
		s.applyLocked(r.Key, r.Value)
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return 0, err
		}
		return 0, fmt.Errorf("%w: batch at offset %d: %v", ErrCorrupt, base, err)
	}
	return h.LastOffset() + 1, nil
}

// sortedKeys returns the live keys in sorted order.
func (s *Store) sortedKeys() []string { return slices.Sorted(maps.Keys(s.m)) }
