package log

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
	"github.com/bulwark-kafka/bulwark/internal/fsutil"
)

// AppendResult describes an appended batch.
type AppendResult struct {
	BaseOffset, LastOffset int64
	LogAppendTime          int64 // -1 unless AppendOptions.LogAppendTime
	LogStartOffset         int64
	// Duplicate marks a retried idempotent batch that was already stored: nothing was written
	// and the offsets are the original ones.
	Duplicate bool
}

// AppendOptions controls how Append stamps a batch.
type AppendOptions struct {
	// LogAppendTime sets the timestamp-type bit and maxTimestamp to Now (recomputing the CRC).
	LogAppendTime bool
	// Now is the append time (time-based rolls and LogAppendTime); zero means time.Now().
	Now time.Time
	// LeaderEpoch is stamped into partitionLeaderEpoch; a new epoch is recorded in the
	// leader-epoch checkpoint.
	LeaderEpoch int32
	// Roll starts a new segment for this batch unless the active one is empty: a rewrite of a
	// log's live records begins a segment of its own, so that DeleteRecordsBefore its first
	// offset can free everything older.
	Roll bool
}

// Append assigns offsets to one validated batch — rewriting its baseOffset (and, as options
// say, partitionLeaderEpoch, attributes, maxTimestamp and CRC) in the caller's slice — and
// writes it to the active segment, rolling first if needed. It does not fsync (see Sync). The
// log keeps no reference to batch.
func (l *Log) Append(batch []byte, opts AppendOptions) (AppendResult, error) {
	if err := checkBatch(batch); err != nil {
		return AppendResult{}, err
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	pb := readProducerBatch(batch)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return AppendResult{}, err
	}
	if pb.pid >= 0 {
		if m, ok := l.producers.duplicate(pb); ok {
			// A retry of a batch already stored: Kafka answers with the original offsets.
			return AppendResult{BaseOffset: m.FirstOffset, LastOffset: m.LastOffset, LogAppendTime: m.AppendTime,
				LogStartOffset: l.start, Duplicate: true}, nil
		}
		if err := l.producers.check(pb); err != nil {
			return AppendResult{}, err
		}
	}
	return l.appendLocked(batch, opts, func(res AppendResult) {
		if pb.pid < 0 {
			return
		}
		pb.base, pb.last, pb.appendTime = res.BaseOffset, res.LastOffset, res.LogAppendTime
		if res.LogAppendTime >= 0 {
			pb.maxTs = res.LogAppendTime
		}
		l.producers.applyData(pb, opts.Now.UnixMilli())
		if pb.transactional {
			l.firstUnstable = l.producers.firstUnstable()
		}
	})
}

// Marker is a transaction marker (WriteTxnMarkers): the control batch that commits or aborts a
// producer's open transaction in this log.
type Marker struct {
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	LeaderEpoch      int32
	Now              time.Time
}

// AppendControl writes a transaction marker. A marker from an older producer epoch (or
// coordinator epoch) than the log has seen is ErrInvalidProducerEpoch.
func (l *Log) AppendControl(m Marker) (AppendResult, error) {
	if m.Now.IsZero() {
		m.Now = time.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return AppendResult{}, err
	}
	if err := l.producers.checkMarker(m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch); err != nil {
		return AppendResult{}, err
	}
	batch := buildControlBatch(m)
	return l.appendLocked(batch, AppendOptions{Now: m.Now, LeaderEpoch: m.LeaderEpoch}, func(res AppendResult) {
		l.producers.applyMarker(m.ProducerID, m.ProducerEpoch, m.Commit, m.CoordinatorEpoch, res.BaseOffset, m.Now.UnixMilli())
		l.firstUnstable = l.producers.firstUnstable()
	})
}

// writable reports why the log cannot take an append; mu is held.
func (l *Log) writable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// appendLocked assigns offsets to batch and writes it; publish runs under smu together with the
// new log end offset, so readers see the batch and its producer-state effects (the last stable
// offset) at once. mu is held.
func (l *Log) appendLocked(batch []byte, opts AppendOptions, publish func(AppendResult)) (AppendResult, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := l.leaveCleanState(); err != nil {
		return AppendResult{}, err
	}
	n := int64(len(batch))
	if l.cfg.Sealing != nil {
		n += sealedPrefix + envelope.FrameOverhead
	}
	info, _ := parseHeader(batch, 0)
	delta := info.last - info.base
	s := l.segs[len(l.segs)-1]
	if (opts.Roll && !s.empty()) || l.shouldRoll(s, n, delta, now) {
		if err := l.roll(now); err != nil {
			return AppendResult{}, err
		}
		s = l.segs[len(l.segs)-1]
	}
	res := AppendResult{BaseOffset: l.end, LastOffset: l.end + delta, LogAppendTime: -1}
	if opts.LogAppendTime {
		res.LogAppendTime = now.UnixMilli()
	}
	stampBatch(batch, res.BaseOffset, opts.LeaderEpoch, res.LogAppendTime, opts.LogAppendTime)
	stored := batch
	if s.sealer != nil {
		buf := sealBuffers.Get().(*[]byte)
		defer releaseSealBuffer(buf)
		*buf = sealRecord((*buf)[:0], s.sealer, batch, res.BaseOffset)
		stored, n = *buf, int64(len(*buf))
	}
	if err := l.write(s, stored); err != nil {
		return AppendResult{}, err
	}
	info, _ = parseHeader(batch, s.size)
	info.size = int64(len(stored))
	if l.epochs.assign(opts.LeaderEpoch, res.BaseOffset) {
		if err := l.writeEpochs(); err != nil {
			// The batches carry their epochs; recovery rebuilds the cache if this write is lost.
			l.log().Error("leader epoch checkpoint not written", "err", err)
		}
	}
	l.smu.Lock()
	s.track(info, l.cfg.IndexIntervalBytes)
	l.end = res.LastOffset + 1
	l.size += info.size
	l.unsynced.Add(1)
	res.LogStartOffset = l.start
	if publish != nil {
		publish(AppendResult{BaseOffset: res.BaseOffset, LastOffset: res.LastOffset, LogAppendTime: res.LogAppendTime})
	}
	l.wakeLocked()
	l.smu.Unlock()
	return res, nil
}

// sealBuffers holds the buffers appends seal their batches into, shared by every log. A buffer
// kept per partition between appends cost 64 MiB with a thousand partitions taking 64 KiB
// batches (issue 17); shared, they cost what the appends running at once need.
var sealBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledSealBuffer is the largest seal buffer kept for reuse; a rare large batch's buffer is
// left to the collector rather than held by the pool.
const maxPooledSealBuffer = 1 << 20

func releaseSealBuffer(buf *[]byte) {
	if cap(*buf) > maxPooledSealBuffer {
		return
	}
	sealBuffers.Put(buf)
}

// write puts the batch at the end of the active segment. A failed or short write is cut back
// off the file; if even that fails the log stops accepting appends, since the file now holds
// bytes the offsets do not account for.
func (l *Log) write(s *segment, batch []byte) error {
	_, err := s.f.WriteAt(batch, s.size)
	if err == nil {
		return nil
	}
	if reopen := (*filecache.ReopenError)(nil); errors.As(err, &reopen) {
		// Nothing was written (the file could not be reopened: the process is out of
		// descriptors for now), so there is nothing to undo and the log stays usable.
		return fmt.Errorf("log: write %s: %w", s.path(0), err)
	}
	err = fmt.Errorf("log: write %s: %w", s.path(0), err)
	if terr := s.f.Truncate(s.size); terr != nil {
		l.failed = fmt.Errorf("%w (and undoing it failed: %v)", err, terr)
		return l.failed
	}
	return err
}

// shouldRoll mirrors Kafka's LogSegment.shouldRoll: a non-empty segment rolls when the batch
// would overflow segment.bytes, when segment.ms has passed since its first batch's timestamp
// (or its creation), when either index is full, or when the batch's offsets would not fit the
// index's relative offsets.
func (l *Log) shouldRoll(s *segment, n, delta int64, now time.Time) bool {
	if s.empty() {
		return false
	}
	switch {
	case l.cfg.Sealing != nil && s.sealer == nil:
		return true // a plaintext segment from before encryption was turned on takes no more data
	case s.size+n > l.cfg.SegmentBytes:
		return true
	case l.segmentAged(s, now):
		return true
	case int64(len(s.idx)) >= int64(l.cfg.SegmentIndexBytes/indexEntrySize),
		int64(len(s.tidx)) >= int64(l.cfg.SegmentIndexBytes/timeIndexEntrySize):
		return true
	case l.end+delta-s.base > maxRelativeDelta:
		return true
	}
	return false
}

// segmentAged reports whether segment.ms has elapsed for s.
func (l *Log) segmentAged(s *segment, now time.Time) bool {
	if l.cfg.SegmentMs <= 0 || s.empty() {
		return false
	}
	from := s.created.UnixMilli()
	if s.firstTs >= 0 {
		from = s.firstTs
	}
	return now.UnixMilli()-from > l.cfg.SegmentMs.Milliseconds()
}

// roll seals the active segment (fsyncing it, so only the new active segment can hold
// unsynced data) and starts a new one at the log end offset. mu is held.
func (l *Log) roll(now time.Time) error {
	old := l.segs[len(l.segs)-1]
	if old.empty() {
		return nil // an empty segment already starts at the log end offset
	}
	if err := l.leaveCleanState(); err != nil { // a retention roll changes the files too
		return err
	}
	if err := old.seal(&l.smu); err != nil {
		return err
	}
	s, err := openSegment(l.dir, l.end, true, now, l.cfg.Sealing, l.cfg.Files)
	if err != nil {
		return fmt.Errorf("log: roll at %d: %w", l.end, err)
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		s.release()
		return fmt.Errorf("log: roll at %d: fsync dir: %w", l.end, err)
	}
	segs := make([]*segment, len(l.segs), len(l.segs)+1)
	copy(segs, l.segs)
	l.smu.Lock()
	l.segs = append(segs, s)
	l.smu.Unlock()
	l.setFlushed(s.base, nil)
	l.writeProducerSnapshot()
	l.log().Debug("rolled segment", "base", s.base, "previous", old.base, "previous_bytes", old.size)
	return nil
}
