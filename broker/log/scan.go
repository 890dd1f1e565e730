package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// scanBuffer is the read-ahead used when rescanning a segment file.
const scanBuffer = 256 << 10

// scanLimits bounds what a valid batch in a segment may contain.
type scanLimits struct {
	segBase  int64 // batches' offsets are relative to it and must fit the index's uint32
	minBase  int64 // the first batch's base offset must equal this
	maxLast  int64 // last offsets must stay below this (the next segment's base); -1: none
	fileSize int64
	verify   bool // check CRC-32C (recovery) or only the headers (clean open)
}

// scanBatches walks the batches of f from position pos and calls fn for each valid one. It
// stops at the first invalid byte — a torn or short batch, wrong magic, bad length, CRC
// mismatch, or offsets that do not increase — and returns the position where the valid data
// ends. Only an I/O error is returned as an error; damage just ends the scan. Nothing is
// allocated from lengths read off the disk: bodies stream through the CRC in fixed chunks.
func scanBatches(f io.ReaderAt, pos int64, lim scanLimits, fn func(batchInfo)) (int64, error) {
	if pos >= lim.fileSize {
		return pos, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, pos, lim.fileSize-pos), scanBuffer)
	var h [headerSize]byte
	next := lim.minBase
	for pos < lim.fileSize {
		if lim.fileSize-pos < headerSize {
			return pos, nil
		}
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return pos, ioErr(err)
		}
		b, err := parseHeader(h[:], pos)
		if err != nil || !batchFits(b, next, lim) {
			return pos, nil
		}
		ok, err := skipBody(br, h[:], b.size-headerSize, lim.verify)
		if err != nil || !ok {
			return pos, ioErr(err)
		}
		fn(b)
		next = b.last + 1
		pos += b.size
	}
	return pos, nil
}

// batchFits checks a parsed header against the segment's bounds.
func batchFits(b batchInfo, next int64, lim scanLimits) bool {
	switch {
	case b.pos+b.size > lim.fileSize:
		return false // torn write: the batch runs past the end of the file
	case b.base != next:
		// This log assigns offsets itself and never compacts, so batches are contiguous: a
		// gap can only be damage (the base offset is outside the CRC).
		return false
	case b.last-lim.segBase > maxRelativeDelta:
		return false
	case lim.maxLast >= 0 && b.last >= lim.maxLast:
		return false
	}
	return true
}

// skipBody consumes n body bytes, verifying the CRC stored in header h when verify is set.
func skipBody(br *bufio.Reader, h []byte, n int64, verify bool) (bool, error) {
	if !verify {
		_, err := br.Discard(int(n))
		return err == nil, err
	}
	crc := crc32.New(castagnoli)
	crc.Write(h[offAttributes:headerSize])
	if _, err := io.CopyN(crc, br, n); err != nil {
		return false, err
	}
	return crc.Sum32() == binary.BigEndian.Uint32(h[offCRC:]), nil
}

// ioErr drops the EOF errors that only mean "the file ended early" (treated as damage).
func ioErr(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// recoverSegment rescans s from scratch with CRC checks, truncates the file after the last
// valid batch, and rebuilds both indexes. maxLast is the next segment's base (-1 for the last
// segment). It reports whether anything was cut off.
func (l *Log) recoverSegment(s *segment, maxLast int64, onBatch func(batchInfo)) (bool, error) {
	st, err := s.f.Stat()
	if err != nil {
		return false, err
	}
	s.size, s.next, s.idx, s.tidx, s.sinceIndex = s.dataStart, s.base, nil, nil, 0
	s.maxTs, s.maxTsOffset, s.firstTs = -1, -1, -1
	// Positions are uint32 in the index; a file longer than that was not written by this log.
	lim := scanLimits{segBase: s.base, minBase: s.base, maxLast: maxLast, fileSize: min(st.Size(), math.MaxUint32), verify: true}
	end, err := s.scan(s.dataStart, lim, func(b batchInfo) {
		s.track(b, l.cfg.IndexIntervalBytes)
		onBatch(b)
	})
	if err != nil {
		return false, fmt.Errorf("log: scan %s: %w", s.path(0), err)
	}
	truncated := end < st.Size()
	if truncated {
		l.log().Warn("truncating damaged segment", "segment", s.path(0), "valid_bytes", end, "file_bytes", st.Size())
		if err := s.f.Truncate(end); err != nil {
			return false, fmt.Errorf("log: truncate %s: %w", s.path(0), err)
		}
	}
	s.addTimeEntry()
	// A non-active segment's rebuilt indexes must be durable, since only the active segment is
	// rescanned after a crash; the active segment's are rebuilt after every crash anyway.
	if err := s.writeIndexes(maxLast >= 0); err != nil {
		return false, fmt.Errorf("log: rebuild indexes of %s: %w", s.path(0), err)
	}
	// The truncation must be durable before new appends land after it.
	if truncated {
		if err := s.f.Sync(); err != nil {
			return false, fmt.Errorf("log: fsync %s: %w", s.f.Name(), err)
		}
	}
	return truncated, nil
}

// loadSegment loads a segment's indexes after a clean shutdown and checks them. For the last
// segment it also walks the batch headers after the last index entry to find the log end. It
// returns false when anything is inconsistent; the caller then recovers the segment.
func (l *Log) loadSegment(s *segment, maxLast int64, indexesExisted bool) (bool, error) {
	st, err := s.f.Stat()
	if err != nil {
		return false, err
	}
	size := st.Size()
	relLimit := int64(-1)
	if maxLast >= 0 {
		relLimit = maxLast - s.base
	}
	if size == s.dataStart && (maxLast < 0 || maxLast == s.base) {
		// No batch, so nothing for the indexes to hold: an idle partition's segment is loaded
		// without opening them.
		s.size = size
		return true, nil
	}
	if !indexesExisted {
		return false, nil
	}
	files, err := s.openIndexes(os.O_RDONLY)
	if err != nil {
		return false, nil // missing or unreadable: the caller rebuilds them
	}
	defer closeAll(files)
	ib, err := readIndexFile(files[0], indexEntrySize, size)
	if err != nil {
		return false, ioErr2(err)
	}
	var tb []byte
	if s.sealer != nil {
		var ok bool
		if tb, ok, err = s.readSealedTimeIndex(files[1], s.sealing); err != nil || !ok {
			return false, err
		}
	} else if tb, err = readIndexFile(files[1], timeIndexEntrySize, size); err != nil {
		return false, ioErr2(err)
	}
	idx, err1 := decodeOffsetIndex(ib, size, relLimit)
	tidx, err2 := decodeTimeIndex(tb, relLimit)
	if err1 != nil || err2 != nil || size > math.MaxUint32 {
		return false, nil
	}
	s.idx, s.tidx, s.size = idx, tidx, size
	if n := len(tidx); n > 0 {
		s.maxTs, s.maxTsOffset = tidx[n-1].ts, s.base+int64(tidx[n-1].rel)
	}
	if maxLast >= 0 {
		s.next = maxLast
		return true, nil
	}
	return l.walkTail(s)
}

// ioErr2 separates real I/O errors from index files that are merely inconsistent.
func ioErr2(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return nil
	}
	return err
}

// walkTail finds the end of the last segment after a clean shutdown: it walks batch headers
// (without CRCs) from the last offset index entry to the end of the file, re-tracking them for
// the max timestamp and index bookkeeping. Any inconsistency means the segment needs recovery.
func (l *Log) walkTail(s *segment) (bool, error) {
	size := s.size
	v := view{s: s, base: s.base, size: size}
	var h [headerSize]byte
	if size > s.dataStart {
		if first, err := readHeader(v, s.dataStart, h[:]); err == nil {
			s.firstTs = first.maxTs
		}
	}
	start := s.dataStart
	minBase := s.base
	if n := len(s.idx); n > 0 {
		// The last entry must point at a batch ending at the entry's offset; the walk
		// re-tracks that batch (adding no entry for it: sinceIndex starts at 0).
		start = int64(s.idx[n-1].pos)
		b, err := readHeader(v, start, h[:])
		if err != nil || b.last != s.base+int64(s.idx[n-1].rel) {
			return false, nil
		}
		minBase = b.base
	}
	firstTs := s.firstTs
	s.size, s.sinceIndex = start, 0
	lim := scanLimits{segBase: s.base, minBase: minBase, maxLast: -1, fileSize: size}
	end, err := s.scan(start, lim, func(b batchInfo) { s.track(b, l.cfg.IndexIntervalBytes) })
	if err != nil {
		return false, err
	}
	s.firstTs = firstTs
	return end == size, nil
}
