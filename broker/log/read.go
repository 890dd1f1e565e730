package log

import (
	"fmt"
	"io"
	"sort"

	"github.com/bulwark-kafka/bulwark/internal/bufpool"
)

// readHint remembers where the last Read stopped, so a consumer tailing the log finds its next
// batch without an index lookup and header walk.
type readHint struct {
	s      *segment
	offset int64 // base offset of the batch at pos
	pos    int64
}

// Read returns a copy of the stored batches starting with the one containing offset: at most
// maxBytes bytes of whole batches, none whose last offset is >= upTo. With minOneBatch a first
// batch larger than maxBytes is returned whole. An offset below the log start or above the log
// end is ErrOffsetOutOfRange; the log end offset (or anything at or above upTo) reads empty.
// The copy's storage may come from package bufpool: a caller that knows when it is done with it
// (the Fetch handler, once the response is written) may Put it back; others simply drop it.
func (l *Log) Read(offset int64, maxBytes int32, upTo int64, minOneBatch bool) ([]byte, error) {
	v, ok, err := l.viewFor(offset, -1)
	if err != nil || !ok {
		return nil, err
	}
	if offset >= upTo {
		v.s.release()
		return nil, nil
	}
	for {
		pos, err := l.position(v, offset)
		if err != nil {
			v.s.release()
			return nil, err
		}
		if pos < v.size {
			defer v.s.release()
			if v.s.sealer != nil {
				return l.readFromSealed(v, offset, pos, int64(max(maxBytes, 0)), upTo, minOneBatch)
			}
			return l.readFrom(v, pos, int64(max(maxBytes, 0)), upTo, minOneBatch)
		}
		// offset lies past this segment's data (it ends where the next one starts).
		v.s.release()
		if v, ok, err = l.viewFor(offset, v.base); err != nil || !ok {
			return nil, err
		}
	}
}

// viewFor snapshots, and takes a reference on, the segment holding offset (the first segment
// based after `after` when after >= 0). ok is false when there is nothing to read.
func (l *Log) viewFor(offset, after int64) (view, bool, error) {
	l.smu.RLock()
	defer l.smu.RUnlock()
	if l.closed {
		return view{}, false, ErrClosed
	}
	if offset < l.start || offset > l.end {
		return view{}, false, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, l.start, l.end)
	}
	if offset == l.end {
		return view{}, false, nil
	}
	var i int
	if after >= 0 {
		i = sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > after })
	} else {
		i = sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset }) - 1
	}
	if i < 0 || i >= len(l.segs) {
		return view{}, false, nil
	}
	s := l.segs[i]
	s.acquire()
	return s.view(), true, nil
}

// position finds the file position of the batch containing offset in v (v.size if none): the
// read hint, else the sparse index and a forward walk over batch headers.
func (l *Log) position(v view, offset int64) (int64, error) {
	if h := l.readHint.Load(); h != nil && h.s == v.s && h.offset == offset && h.pos <= v.size {
		return h.pos, nil
	}
	pos := max(lookupPosition(v.idx, offset-v.base), v.s.dataStart)
	var h [headerSize]byte
	for pos < v.size {
		b, err := readHeader(v, pos, h[:])
		if err != nil {
			return 0, err
		}
		if b.last >= offset {
			return pos, nil
		}
		pos += b.size
	}
	return v.size, nil
}

// readHeader preads and parses the batch header at pos.
func readHeader(v view, pos int64, h []byte) (batchInfo, error) {
	if v.s.sealer != nil {
		b, _, err := frameAt(v, pos)
		return b, err
	}
	if v.size-pos < headerSize {
		return batchInfo{}, fmt.Errorf("%w: segment %d: header at %d runs past %d", ErrCorrupt, v.base, pos, v.size)
	}
	if _, err := v.s.f.ReadAt(h[:headerSize], pos); err != nil {
		return batchInfo{}, fmt.Errorf("log: read segment %d: %w", v.base, err)
	}
	b, err := parseHeader(h, pos)
	if err != nil {
		return batchInfo{}, fmt.Errorf("segment %d position %d: %w", v.base, pos, err)
	}
	if pos+b.size > v.size {
		return batchInfo{}, fmt.Errorf("%w: segment %d: batch at %d runs past %d", ErrCorrupt, v.base, pos, v.size)
	}
	return b, nil
}

// readFrom reads whole batches from pos with one pread sized by maxBytes, then trims to the
// last batch that fits and ends below upTo.
func (l *Log) readFrom(v view, pos, maxBytes, upTo int64, minOneBatch bool) ([]byte, error) {
	buf := bufpool.Get(int(min(maxBytes, v.size-pos)))
	if _, err := v.s.f.ReadAt(buf, pos); err != nil && err != io.EOF {
		bufpool.Put(buf)
		return nil, fmt.Errorf("log: read segment %d: %w", v.base, err)
	}
	end, next := 0, int64(-1)
	for end+headerSize <= len(buf) {
		b, err := parseHeader(buf[end:], pos+int64(end))
		if err != nil {
			bufpool.Put(buf)
			return nil, fmt.Errorf("segment %d position %d: %w", v.base, pos+int64(end), err)
		}
		if b.last >= upTo || int64(end)+b.size > int64(len(buf)) {
			break
		}
		end += int(b.size)
		next = b.last + 1
	}
	if end == 0 && minOneBatch {
		bufpool.Put(buf)
		return l.readOneBatch(v, pos, upTo)
	}
	if end > 0 {
		l.readHint.Store(&readHint{s: v.s, offset: next, pos: pos + int64(end)})
	}
	return shrink(buf, end), nil
}

// shrink returns buf[:n], moved to a smaller buffer when it would use less than half of buf:
// a caller that keeps the data should not pin a mostly unused buffer. buf goes back to the pool
// then. The result keeps its buffer's whole capacity, which is what lets bufpool.Put take it
// back.
func shrink(buf []byte, n int) []byte {
	if n >= len(buf)/2 {
		return buf[:n]
	}
	out := bufpool.Get(n)
	copy(out, buf[:n])
	bufpool.Put(buf)
	return out
}

// readOneBatch returns the whole batch at pos even though it is larger than the read budget
// (KIP-74: the first partition of a fetch always makes progress).
func (l *Log) readOneBatch(v view, pos, upTo int64) ([]byte, error) {
	var h [headerSize]byte
	b, err := readHeader(v, pos, h[:])
	if err != nil || b.last >= upTo {
		return nil, err
	}
	buf := bufpool.Get(int(b.size)) // bounded: readHeader checked it lies inside the segment
	if _, err := v.s.f.ReadAt(buf, pos); err != nil {
		bufpool.Put(buf)
		return nil, fmt.Errorf("log: read segment %d: %w", v.base, err)
	}
	l.readHint.Store(&readHint{s: v.s, offset: b.last + 1, pos: pos + b.size})
	return buf, nil
}

// EndOffsetForEpoch implements Kafka's LeaderEpochFileCache.endOffsetFor: the largest known
// epoch <= epoch and the offset where the next epoch began (the log end offset for the latest
// epoch); (-1, -1) for an epoch above all known or an empty cache.
func (l *Log) EndOffsetForEpoch(epoch int32) (foundEpoch int32, endOffset int64) {
	return l.epochs.endOffsetFor(epoch, l.LogEndOffset())
}

// EpochForOffset returns the leader epoch that wrote offset, or -1 if unknown.
func (l *Log) EpochForOffset(offset int64) int32 { return l.epochs.epochFor(offset) }
