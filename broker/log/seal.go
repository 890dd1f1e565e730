package log

// Encryption at rest of a partition log (Config.Sealing). A sealed segment file is an envelope
// header (HeaderSize bytes: the segment's own data key, wrapped) followed by one record per
// batch: the batch's base offset in the clear (8 bytes; offsets are in the offset index anyway)
// and an envelope frame sealing the whole batch, bound to that base offset. Positions in the
// offset index and in batchInfo are file positions of these records. A frame that opens but
// whose offsets do not continue the log is a moved, duplicated or cut-out piece: tampering. The time
// index carries record timestamps, so a sealed segment's .timeindex is an envelope file of its
// own holding one frame with every entry, written when the segment is sealed; while a segment is
// active its time index lives in memory (a crash rebuilds it by rescanning, as for plaintext).
// The offset index holds only offsets and positions and stays plaintext.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/internal/bufpool"
)

// Sealing turns on encryption at rest for a log: the key provider and the context naming the
// partition (cluster, topic, topic id, partition).
type Sealing = envelope.Config

// ErrSealedWithoutKey means a segment is encrypted but the log was opened without Sealing.
var ErrSealedWithoutKey = errors.New("log: segment is encrypted but encryption is not configured")

// sealNew writes a fresh envelope header into an empty segment file.
func (s *segment) sealNew(z *Sealing) error {
	b, sealer, err := z.NewFile(envelope.KindSegment, s.path(0))
	if err != nil {
		return fmt.Errorf("log: new data key for %s: %w", s.path(0), err)
	}
	if _, err = s.f.WriteAt(b, 0); err != nil {
		sealer.Close()
		return fmt.Errorf("log: write header of %s: %w", s.path(0), err)
	}
	s.sealer, s.dataStart, s.size = sealer, envelope.HeaderSize, envelope.HeaderSize
	return nil
}

// openSealed detects an existing segment's format and, for a sealed one, unwraps its data key.
// A plaintext segment under Sealing stays readable (encryption turned on later); a sealed one
// without Sealing is an error.
func (s *segment) openSealed(z *Sealing) error {
	var magic [envelope.HeaderSize]byte
	n, err := s.f.ReadAt(magic[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	h, herr := envelope.DecodeHeader(magic[:n])
	switch {
	case errors.Is(herr, envelope.ErrNotSealed) && z != nil && (n == 0 || n < envelope.HeaderSize && envelope.IsHeaderPrefix(magic[:n])):
		// Created but its header never (fully) written: a crash or a failed roll. It holds no
		// batch, so it starts again as a sealed segment.
		if err := s.f.Truncate(0); err != nil {
			return err
		}
		return s.sealNew(z)
	case errors.Is(herr, envelope.ErrNotSealed):
		return nil // plaintext segment
	case herr != nil:
		return fmt.Errorf("log: %s: %w", s.path(0), herr)
	case z == nil:
		return fmt.Errorf("%w: %s", ErrSealedWithoutKey, s.path(0))
	}
	sealer, err := z.OpenFile(h)
	if err != nil {
		return fmt.Errorf("log: data key of %s: %w", s.path(0), err)
	}
	s.sealer, s.dataStart = sealer, envelope.HeaderSize
	return nil
}

// sealedPrefix is the clear base offset in front of each frame of a sealed segment.
const sealedPrefix = 8

// frameAt reads and opens the record at pos of a sealed segment: the plaintext batch, and its
// batchInfo with the record's file position and size.
func frameAt(v view, pos int64) (batchInfo, []byte, error) {
	var pre [sealedPrefix + 4]byte
	if v.size-pos < int64(len(pre)) {
		return batchInfo{}, nil, fmt.Errorf("%w: segment %d: frame at %d runs past %d", ErrCorrupt, v.base, pos, v.size)
	}
	if _, err := v.s.f.ReadAt(pre[:], pos); err != nil {
		return batchInfo{}, nil, fmt.Errorf("log: read segment %d: %w", v.base, err)
	}
	base := int64(binary.BigEndian.Uint64(pre[:]))
	n, err := envelope.FrameLen(pre[sealedPrefix:])
	if err != nil || pos+sealedPrefix+int64(n) > v.size {
		return batchInfo{}, nil, fmt.Errorf("%w: segment %d: frame at %d: bad length", ErrCorrupt, v.base, pos)
	}
	frame := make([]byte, n)
	if _, err := v.s.f.ReadAt(frame, pos+sealedPrefix); err != nil {
		return batchInfo{}, nil, fmt.Errorf("log: read segment %d: %w", v.base, err)
	}
	plain, err := v.s.sealer.Open(frame[:0:0], frame, base, nil)
	if err != nil {
		return batchInfo{}, nil, fmt.Errorf("%w: segment %d position %d: %w", ErrCorrupt, v.base, pos, err)
	}
	b, err := parseHeader(plain, pos)
	if err != nil || b.size != int64(len(plain)) || b.base != base {
		return batchInfo{}, nil, fmt.Errorf("%w: segment %d position %d: sealed batch is malformed", ErrCorrupt, v.base, pos)
	}
	b.size = sealedPrefix + int64(n)
	return b, plain, nil
}

// sealRecord appends a sealed segment's record for batch (base offset, frame) to dst.
func sealRecord(dst []byte, sealer *envelope.Sealer, batch []byte, base int64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(base))
	return sealer.Seal(dst, batch, base, nil)
}

// readFromSealed is readFrom for a sealed segment: one pread sized by maxBytes, each frame
// opened in place and its plaintext moved down to follow the previous one, so a fetch costs one
// system call and one buffer like a plaintext read. With minOneBatch a first batch larger than
// maxBytes is read whole.
func (l *Log) readFromSealed(v view, offset, pos, maxBytes, upTo int64, minOneBatch bool) ([]byte, error) {
	buf := bufpool.Get(int(min(maxBytes+sealedPrefix+envelope.FrameOverhead, v.size-pos)))
	if _, err := v.s.f.ReadAt(buf, pos); err != nil && err != io.EOF {
		bufpool.Put(buf)
		return nil, fmt.Errorf("log: read segment %d: %w", v.base, err)
	}
	w, alone, err := l.openFrames(v, buf, offset, pos, maxBytes, upTo, minOneBatch)
	if err != nil || w == 0 {
		bufpool.Put(buf)
		return alone, err
	}
	return shrink(buf, w), nil
}

// openFrames opens, in place, the frames that buf (read at pos) holds for a readFromSealed and
// moves their plaintext to the front of buf, returning its length w. When no whole batch fits
// and minOneBatch is set, the first batch is read alone and returned as alone.
func (l *Log) openFrames(v view, buf []byte, offset, pos, maxBytes, upTo int64, minOneBatch bool) (w int, alone []byte, err error) {
	r := 0 // frame bytes read; w counts plaintext bytes written
	next := int64(-1)
	for r+sealedPrefix+4 <= len(buf) {
		base := int64(binary.BigEndian.Uint64(buf[r:]))
		n, err := envelope.FrameLen(buf[r+sealedPrefix:])
		if err != nil {
			return 0, nil, fmt.Errorf("%w: segment %d: frame at %d: %w", ErrCorrupt, v.base, pos+int64(r), err)
		}
		end := r + sealedPrefix + n
		if end > len(buf) {
			break
		}
		frame := buf[r+sealedPrefix : end]
		// Open in place: the plaintext lands where the ciphertext was, then moves down.
		plain, err := v.s.sealer.Open(frame[16:16], frame, base, nil)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: segment %d position %d: %w", ErrCorrupt, v.base, pos+int64(r), err)
		}
		b, err := parseHeader(plain, pos+int64(r))
		if err != nil || b.size != int64(len(plain)) || b.base != base {
			return 0, nil, fmt.Errorf("%w: segment %d position %d: sealed batch is malformed", ErrCorrupt, v.base, pos+int64(r))
		}
		// Frames open only in their own file, but one moved within it would: the batches must
		// hold the requested offset and then follow each other.
		if (next < 0 && (b.base > offset || b.last < offset)) || (next >= 0 && b.base != next) {
			return 0, nil, fmt.Errorf("%w: %w: segment %d position %d holds offsets %d-%d out of order", ErrCorrupt, envelope.ErrTampered, v.base, pos+int64(r), b.base, b.last)
		}
		if b.last >= upTo || int64(w+len(plain)) > maxBytes {
			break
		}
		w += copy(buf[w:], plain)
		r = end
		next = b.last + 1
	}
	if w == 0 && minOneBatch {
		b, plain, err := frameAt(v, pos)
		if err != nil || b.last >= upTo {
			return 0, nil, err
		}
		if b.base > offset || b.last < offset {
			return 0, nil, fmt.Errorf("%w: %w: segment %d position %d holds offsets %d-%d, not %d", ErrCorrupt, envelope.ErrTampered, v.base, pos, b.base, b.last, offset)
		}
		l.readHint.Store(&readHint{s: v.s, offset: b.last + 1, pos: pos + b.size})
		return 0, plain, nil
	}
	if next >= 0 {
		l.readHint.Store(&readHint{s: v.s, offset: next, pos: pos + int64(r)})
	}
	return w, nil, nil
}

// scanFrames is scanBatches for a sealed segment: authentication replaces the CRC. A frame that
// fails to open is a torn tail when nothing after it opens; a frame that fails while a later one
// opens, or a frame that opens but does not continue the offsets (moved, duplicated, or a piece
// cut out before it), is tampering and an error, never a silent truncation.
func scanFrames(s *segment, pos int64, lim scanLimits, fn func(batchInfo)) (int64, error) {
	v := view{s: s, base: s.base, size: lim.fileSize}
	next := lim.minBase
	for pos < lim.fileSize {
		b, _, err := frameAt(v, pos)
		if err != nil {
			if errors.Is(err, ErrCorrupt) && validFrameAfter(v, pos) {
				return pos, fmt.Errorf("%w (damage in the middle of the segment, not a torn tail)", err)
			}
			return pos, nil
		}
		if !batchFits(b, next, lim) {
			return pos, fmt.Errorf("%w: segment %d position %d: batch at offset %d where %d was expected", envelope.ErrTampered, s.base, pos, b.base, next)
		}
		fn(b)
		next = b.last + 1
		pos += b.size
	}
	return pos, nil
}

// validFrameAfter reports whether any record after the damaged one at pos still opens,
// following the length fields. A crash only ever damages the unsynced end of a segment, so a
// valid record after a damaged one means the damage is not a torn tail. (Damage to the very last
// records is indistinguishable from a torn tail, and is cut off like one.)
func validFrameAfter(v view, pos int64) bool {
	for {
		var pre [sealedPrefix + 4]byte
		if _, err := v.s.f.ReadAt(pre[:], pos); err != nil {
			return false
		}
		n, err := envelope.FrameLen(pre[sealedPrefix:])
		if err != nil || pos+sealedPrefix+int64(n) >= v.size {
			return false
		}
		pos += sealedPrefix + int64(n)
		if _, _, err := frameAt(v, pos); err == nil {
			return true
		}
	}
}

// writeSealedTimeIndex replaces a sealed segment's .timeindex with an envelope file holding all
// entries in one frame. Callers hold Log.mu.
func (s *segment) writeSealedTimeIndex(f *os.File, z *Sealing) error {
	b, sealer, err := z.NewFile(envelope.KindTimeIndex, s.path(2))
	if err != nil {
		return fmt.Errorf("log: time index key for segment %d: %w", s.base, err)
	}
	defer sealer.Close()
	entries := make([]byte, len(s.tidx)*timeIndexEntrySize)
	for i, e := range s.tidx {
		encodeTimeEntry(entries[i*timeIndexEntrySize:], e)
	}
	b = sealer.Seal(b, entries, envelope.HeaderSize, []byte("timeindex "+strconv.FormatInt(s.base, 10)))
	return rewriteFile(f, b)
}

// readSealedTimeIndex reads a sealed .timeindex; an empty or unreadable one (the segment was
// active when the process stopped) returns ok=false and the caller rebuilds it.
func (s *segment) readSealedTimeIndex(f *os.File, z *Sealing) ([]byte, bool, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if st.Size() < envelope.HeaderSize || st.Size() > envelope.HeaderSize+envelope.MaxFrame {
		return nil, false, nil
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, st.Size()), data); err != nil {
		return nil, false, nil
	}
	h, err := envelope.DecodeHeader(data)
	if err != nil {
		return nil, false, nil
	}
	sealer, err := z.OpenFile(h)
	if err != nil {
		return nil, false, fmt.Errorf("log: time index key of segment %d: %w", s.base, err)
	}
	defer sealer.Close()
	plain, err := sealer.Open(nil, data[envelope.HeaderSize:], envelope.HeaderSize, []byte("timeindex "+strconv.FormatInt(s.base, 10)))
	if err != nil {
		return nil, false, nil
	}
	return plain, true, nil
}

// shredFiles destroys a sealed segment's data keys before its files are removed.
func (s *segment) shredHeaders() {
	if s.sealer == nil {
		return
	}
	for _, p := range []string{s.path(0), s.path(2)} {
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			if st, err := f.Stat(); err == nil && st.Size() >= envelope.HeaderSize {
				_, _ = f.WriteAt(make([]byte, envelope.HeaderSize), 0)
				_ = f.Sync()
			}
			_ = f.Close()
		}
	}
}

// scan walks a segment's batches from pos (scanBatches, or scanFrames when sealed).
func (s *segment) scan(pos int64, lim scanLimits, fn func(batchInfo)) (int64, error) {
	if s.sealer != nil {
		return scanFrames(s, max(pos, s.dataStart), lim, fn)
	}
	return scanBatches(s.f, pos, lim, fn)
}

// shredDir zeroes the envelope header of every sealed file in dir (a deleted topic's partition),
// destroying its data keys before the files are removed.
func shredDir(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		var head [8]byte
		if n, _ := f.ReadAt(head[:], 0); n == len(head) && envelope.IsHeaderPrefix(head[:]) && head != [8]byte{} {
			_, _ = f.WriteAt(make([]byte, envelope.HeaderSize), 0)
			_ = f.Sync()
		}
		_ = f.Close()
	}
}
