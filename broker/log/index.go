package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
)

const (
	indexEntrySize     = 8  // uint32 relative offset, uint32 position
	timeIndexEntrySize = 12 // int64 timestamp, uint32 relative offset
)

// indexEntry maps the last offset of a batch (relative to the segment base) to the batch's
// file position, as Kafka's offset index does.
type indexEntry struct {
	rel uint32
	pos uint32
}

// timeEntry records the largest timestamp seen so far in a segment and the relative offset of
// the batch that carried it. Timestamps strictly increase from entry to entry.
type timeEntry struct {
	ts  int64
	rel uint32
}

// lookupPosition returns the file position of the last indexed batch whose last offset is
// <= rel, or 0 when none: scanning forward from there finds the batch containing rel.
func lookupPosition(idx []indexEntry, rel int64) int64 {
	i := sort.Search(len(idx), func(i int) bool { return int64(idx[i].rel) > rel })
	if i == 0 {
		return 0
	}
	return int64(idx[i-1].pos)
}

// lookupTimeBefore returns the relative offset of the last time index entry whose timestamp is
// strictly below ts, or -1. Every batch before that offset has a max timestamp below ts too, so
// a search for ts can start there.
func lookupTimeBefore(tidx []timeEntry, ts int64) int64 {
	i := sort.Search(len(tidx), func(i int) bool { return tidx[i].ts >= ts })
	if i == 0 {
		return -1
	}
	return int64(tidx[i-1].rel)
}

func encodeIndexEntry(b []byte, e indexEntry) {
	binary.BigEndian.PutUint32(b, e.rel)
	binary.BigEndian.PutUint32(b[4:], e.pos)
}

func encodeTimeEntry(b []byte, e timeEntry) {
	binary.BigEndian.PutUint64(b, uint64(e.ts))
	binary.BigEndian.PutUint32(b[8:], e.rel)
}

// readIndexFile reads a whole index file after bounding its size: an index can hold at most
// one entry per batch, and a batch is at least headerSize bytes, so a file larger than that
// is inconsistent and never allocated.
func readIndexFile(f *os.File, entrySize, logSize int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := st.Size()
	if n%entrySize != 0 || n/entrySize > logSize/headerSize+1 {
		return nil, fmt.Errorf("%w: index file %s of %d bytes", ErrCorrupt, f.Name(), n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, n), b); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeOffsetIndex parses and checks an offset index: relative offsets and positions strictly
// increase, positions lie inside the log file and offsets below relLimit (-1: unknown).
func decodeOffsetIndex(b []byte, logSize, relLimit int64) ([]indexEntry, error) {
	idx := make([]indexEntry, 0, len(b)/indexEntrySize)
	for i := 0; i+indexEntrySize <= len(b); i += indexEntrySize {
		e := indexEntry{rel: binary.BigEndian.Uint32(b[i:]), pos: binary.BigEndian.Uint32(b[i+4:])}
		bad := int64(e.pos)+headerSize > logSize || (relLimit >= 0 && int64(e.rel) >= relLimit)
		if n := len(idx); n > 0 && (e.rel <= idx[n-1].rel || e.pos <= idx[n-1].pos) {
			bad = true
		}
		if bad {
			return nil, fmt.Errorf("%w: offset index entry %d", ErrCorrupt, i/indexEntrySize)
		}
		idx = append(idx, e)
	}
	return idx, nil
}

// decodeTimeIndex parses and checks a time index: timestamps strictly increase, offsets never
// decrease and stay below relLimit (-1: unknown).
func decodeTimeIndex(b []byte, relLimit int64) ([]timeEntry, error) {
	tidx := make([]timeEntry, 0, len(b)/timeIndexEntrySize)
	for i := 0; i+timeIndexEntrySize <= len(b); i += timeIndexEntrySize {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(b[i:])), rel: binary.BigEndian.Uint32(b[i+8:])}
		bad := relLimit >= 0 && int64(e.rel) >= relLimit
		if n := len(tidx); n > 0 && (e.ts <= tidx[n-1].ts || e.rel < tidx[n-1].rel) {
			bad = true
		}
		if bad {
			return nil, fmt.Errorf("%w: time index entry %d", ErrCorrupt, i/timeIndexEntrySize)
		}
		tidx = append(tidx, e)
	}
	return tidx, nil
}

// writeOffsetIndex replaces an offset index file's contents with idx.
func writeOffsetIndex(f *os.File, idx []indexEntry) error {
	b := make([]byte, len(idx)*indexEntrySize)
	for i, e := range idx {
		encodeIndexEntry(b[i*indexEntrySize:], e)
	}
	return rewriteFile(f, b)
}

// writeTimeIndex replaces a plaintext time index file's contents with tidx.
func writeTimeIndex(f *os.File, tidx []timeEntry) error {
	b := make([]byte, len(tidx)*timeIndexEntrySize)
	for i, e := range tidx {
		encodeTimeEntry(b[i*timeIndexEntrySize:], e)
	}
	return rewriteFile(f, b)
}

func rewriteFile(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return nil
}
