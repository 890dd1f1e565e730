package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Frame layout (big-endian), the same in logs and snapshots:
//
//	[uint32 length][uint32 CRC-32C][uint8 type][uint16 version][payload]
//
// length counts every byte after the length field (CRC, type, version, payload); the CRC covers
// type, version and payload.
const (
	frameHeader   = 4 + 4 + 1 + 2 // bytes before the payload
	minFrameLen   = frameHeader - 4
	maxRecordLen  = 16 << 20 // a log frame's length bound
	maxSnapshotSz = 1 << 30  // a snapshot frame's length bound
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reasons a frame does not parse. Any of them at the end of the active log is a torn write.
var (
	errShortFrame = errors.New("short frame")
	errFrameLen   = errors.New("frame length out of bounds")
	errFrameCRC   = errors.New("frame CRC mismatch")
)

// frame is one parsed frame; payload aliases the input.
type frame struct {
	typ     RecordType
	version uint16
	payload []byte
	size    int // bytes the frame occupies, length field included
}

// appendFrame appends one encoded frame to buf.
func appendFrame(buf []byte, t RecordType, version uint16, payload []byte) []byte {
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(minFrameLen+len(payload)))
	buf = binary.BigEndian.AppendUint32(buf, 0) // CRC, filled below
	buf = append(buf, byte(t))
	buf = binary.BigEndian.AppendUint16(buf, version)
	buf = append(buf, payload...)
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+8:], castagnoli))
	return buf
}

// parseFrame parses the frame at the start of data, whose length field may not exceed maxLen.
func parseFrame(data []byte, maxLen int) (frame, error) {
	if len(data) < frameHeader {
		return frame{}, errShortFrame
	}
	n := binary.BigEndian.Uint32(data)
	if n < minFrameLen || uint64(n) > uint64(maxLen) {
		return frame{}, fmt.Errorf("%w: %d", errFrameLen, n)
	}
	if uint64(len(data)-4) < uint64(n) {
		return frame{}, errShortFrame
	}
	body := data[8 : 4+int(n)]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[4:]) {
		return frame{}, errFrameCRC
	}
	return frame{typ: RecordType(body[0]), version: binary.BigEndian.Uint16(body[1:]), payload: body[3:], size: 4 + int(n)}, nil
}

// validFrameFrom reports whether any well-formed log frame starts at or after byte from. It tells
// a torn tail (nothing valid follows the bad frame) from corruption in the middle of the log.
// Trying every position is quadratic in the worst case, but only runs on a damaged file and the
// CRC check is reached only where a plausible length field happens to be.
func validFrameFrom(data []byte, from int) bool {
	for q := from; q+frameHeader <= len(data); q++ {
		if _, err := parseFrame(data[q:], maxRecordLen); err == nil {
			return true
		}
	}
	return false
}

// logScan is what replayLog found in one log file.
type logScan struct {
	valid int  // bytes of well-formed frames from the start
	count int  // frames in those bytes
	torn  bool // bytes after valid that are a torn write, to be truncated
}

// replayLog applies the records of one log file (data, whose first record has offset base) to b.
// Records at or below b.st.Offset are already in the state (from a snapshot) and are skipped; a
// record past b.st.Offset+1 means records are missing. A bad frame with nothing valid after it is
// a torn tail (scan.torn); a bad frame followed by a valid one is corruption. name labels errors.
func replayLog(b *builder, name string, base int64, data []byte) (logScan, error) {
	var sc logScan
	for sc.valid < len(data) {
		off := base + int64(sc.count)
		f, err := parseFrame(data[sc.valid:], maxRecordLen)
		if err != nil {
			if validFrameFrom(data, sc.valid+1) {
				return sc, fmt.Errorf("%w record at offset %d (%s byte %d): %v", ErrCorrupt, off, name, sc.valid, err)
			}
			sc.torn = true
			return sc, nil
		}
		if off > b.st.Offset {
			if off != b.st.Offset+1 {
				return sc, fmt.Errorf("%w: %s starts at offset %d but the state ends at %d", ErrCorrupt, name, base, b.st.Offset)
			}
			if err := applyFrame(b, f); err != nil {
				return sc, fmt.Errorf("%w (record at offset %d, %s byte %d)", err, off, name, sc.valid)
			}
		}
		sc.valid += f.size
		sc.count++
	}
	return sc, nil
}

// applyFrame decodes, validates and applies one record read from disk. A record that does not
// validate was never committed, so it is corruption, not a caller's mistake.
func applyFrame(b *builder, f frame) error {
	r, err := decodeRecord(f.typ, f.version, f.payload)
	if err != nil {
		return err
	}
	if err := r.validate(b.st); err != nil {
		return fmt.Errorf("%w: %s does not apply: %v", ErrCorrupt, f.typ, err)
	}
	r.apply(b)
	b.st.Offset++
	return nil
}
