package log

import (
	"fmt"
	"os"
	"time"
)

// DeleteRecordsBefore raises the log start offset to offset (DeleteRecords) and deletes the
// segments wholly below it. offset must lie in [0, HighWatermark]; one below the current start
// changes nothing. It returns the log start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if offset < 0 || offset > l.end {
		return 0, fmt.Errorf("%w: %d not in [0, %d]", ErrOffsetOutOfRange, offset, l.end)
	}
	if offset <= l.start {
		return l.start, nil
	}
	l.smu.Lock()
	l.start = offset
	l.producers.truncateAborted(offset)
	l.smu.Unlock()
	if l.epochs.truncateFromStart(offset) {
		if err := l.writeEpochs(); err != nil {
			l.log().Error("leader epoch checkpoint not written", "err", err)
		}
	}
	if _, err := l.deletePrefix(l.belowStart(), time.Now()); err != nil {
		return offset, err
	}
	return offset, nil
}

// belowStart counts the leading segments whose data lies wholly below the log start offset.
func (l *Log) belowStart() int {
	n := 0
	for i, s := range l.segs {
		end := s.next
		if i+1 < len(l.segs) {
			end = l.segs[i+1].base
		}
		if s.empty() || end > l.start {
			break
		}
		n++
	}
	return n
}

// EnforceRetention rolls the active segment if segment.ms has passed, then deletes the longest
// prefix of segments that breach retention.ms (now minus the segment's largest timestamp),
// retention.bytes (the log would still be at least that large without it) or the log start
// offset. When every segment would go, an empty active segment is rolled first so the log end
// offset survives. It returns how many segments it deleted.
func (l *Log) EnforceRetention(now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if act := l.segs[len(l.segs)-1]; l.segmentAged(act, now) {
		if err := l.roll(now); err != nil {
			return 0, err
		}
	}
	n := max(l.belowStart(), l.retentionPrefix(now))
	return l.deletePrefix(n, now)
}

// retentionPrefix counts the leading segments that breach retention.ms or retention.bytes.
// Kafka's rule stops at the first segment kept, so only a prefix ever goes.
func (l *Log) retentionPrefix(now time.Time) int {
	diff := l.size - l.cfg.RetentionBytes
	n := 0
	for _, s := range l.segs {
		if s.empty() {
			break // the empty active segment
		}
		byTime := l.cfg.RetentionMs >= 0 && now.UnixMilli()-s.largestTimestamp() > l.cfg.RetentionMs
		bySize := l.cfg.RetentionBytes >= 0 && diff-s.size >= 0
		if !byTime && !bySize {
			break
		}
		if bySize {
			diff -= s.size
		}
		n++
	}
	return n
}

// largestTimestamp is what retention.ms compares: the segment's largest batch timestamp, or the
// file's modification time when no batch carries one (as Kafka does).
func (s *segment) largestTimestamp() int64 {
	if s.maxTs >= 0 {
		return s.maxTs
	}
	if st, err := os.Stat(s.path(0)); err == nil {
		return st.ModTime().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// deletePrefix deletes the first n segments, rolling first when that would take the active
// one, and advances the log start offset past them. mu is held.
func (l *Log) deletePrefix(n int, now time.Time) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	if n >= len(l.segs) {
		if err := l.roll(now); err != nil {
			return 0, err
		}
		n = len(l.segs) - 1
	}
	victims := l.segs[:n]
	rest := append([]*segment(nil), l.segs[n:]...)
	l.smu.Lock()
	l.segs = rest
	for _, s := range victims {
		l.size -= s.size
	}
	l.start = max(l.start, rest[0].base)
	start := l.start
	l.producers.truncateAborted(start)
	l.smu.Unlock()
	if l.epochs.truncateFromStart(start) {
		if err := l.writeEpochs(); err != nil {
			l.log().Error("leader epoch checkpoint not written", "err", err)
		}
	}
	delay := l.cfg.FileDeleteDelay
	for _, s := range victims {
		l.log().Info("deleting segment", "base", s.base, "bytes", s.size)
		s.remove(delay, func(err error) { l.log().Warn("segment removal failed", "segment", s.base, "err", err) })
	}
	return n, nil
}
