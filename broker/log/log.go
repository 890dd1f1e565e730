package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/stats"
	"github.com/bulwark-kafka/bulwark/internal/fsutil"
)

const cleanShutdownName = ".clean-shutdown"

// Log is one partition's log. All methods are safe for concurrent use; see the package
// documentation for the locking model.
type Log struct {
	dir    string
	logger *slog.Logger // shared by many logs; log() adds this one's name
	epochs epochCache

	mu     sync.Mutex // serializes writers; see doc.go
	cfg    Config     // written under mu and smu
	failed error      // sticky: a write could not be undone, appends are refused

	epochsRecovered bool // Open found epochs missing from the checkpoint
	changedAtOpen   bool // Open recovered, truncated or rewrote something
	// cleanOnDisk: the clean-shutdown marker is still on disk, since nothing changed the files
	// after a clean Open (mu).
	cleanOnDisk bool

	smu   sync.RWMutex
	segs  []*segment // copy-on-write; the last one is active
	start int64      // log start offset
	end   int64      // log end offset
	size  int64      // total bytes of all segments
	// waitCh is the channel Wait hands out, made by the first caller and closed and dropped by
	// the next append (wakeLocked): an idle partition holds none.
	waitCh   atomic.Pointer[chan struct{}]
	closed   bool
	readHint atomic.Pointer[readHint]

	fmu      sync.Mutex
	flushed  int64
	flushErr error
	flushCh  chan struct{} // Sync's waiters' channel: closed and dropped whenever flushed or flushErr change
	fclosed  bool
	// The flusher goroutine's state (fmu): whether one runs, whether another round is wanted,
	// and whether the log stopped taking rounds; flushers waits for a running one.
	flushing, flushPending, fstopped bool
	flushers                         sync.WaitGroup
	fsyncs                           atomic.Int64 // test hook: fsyncs done by the flusher
	// unsynced counts appends since the flusher last started an fsync: its group-commit size.
	unsynced atomic.Uint64
	stats    *stats.Storage // Config.Stats as the log opened (read without a lock)

	producers     producerState // idempotent/transactional producer table (mu; aborted also smu)
	firstUnstable int64         // first offset of the earliest open transaction, -1 if none (smu)

	beforeFsync func() // test hook: called by the flusher before each fsync (simulates a slow disk)
}

// Open opens or creates the log in dir. Without the clean-shutdown marker it recovers the active
// segment; any segment with missing or inconsistent indexes is recovered too. logStartOffset is
// the start offset the broker persisted; it is raised to the first segment's base if lower.
// Messages go to logger with a "partition" attribute naming dir.
func Open(dir string, cfg Config, logStartOffset int64, logger *slog.Logger) (*Log, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// One listing of the directory answers every "is this file there" question below: at
	// 100,000 partitions each system call saved per partition is seconds of start-up.
	ents, err := fsutil.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("log: read %s: %w", dir, err)
	}
	l := newLog(dir, cfg, logger)
	names := make(map[string]bool, len(ents))
	for _, e := range ents {
		names[e.Name()] = true
	}
	clean := names[cleanShutdownName]
	bases, err := l.cleanDir(ents)
	if err != nil {
		return nil, err
	}
	haveEpochs := names[epochCheckpointName] && l.loadEpochs()
	if err := l.loadSegments(bases, clean, haveEpochs, names); err != nil {
		l.closeSegments()
		return nil, err
	}
	if err := l.finishOpen(logStartOffset, haveEpochs); err != nil {
		l.closeSegments()
		return nil, err
	}
	if err := l.loadProducers(producerSnapshotOffsets(ents)); err != nil {
		l.closeSegments()
		return nil, err
	}
	// A log that opened exactly as its clean shutdown left it keeps the marker until its files
	// first change (leaveCleanState): an idle partition then costs no write or fsync at start-up
	// and none at shutdown, which is most of the time 100,000 partitions take to open and close.
	l.cleanOnDisk = clean
	if clean && l.changedAtOpen {
		if err := l.leaveCleanState(); err != nil {
			l.closeSegments()
			return nil, err
		}
	}
	return l, nil
}

// leaveCleanState removes the clean-shutdown marker, durably, before the log's files first change
// after a clean Open: from then on the next Open must not trust the active segment's indexes and
// producer snapshot, which only the next clean Close brings up to date. mu is held (or the log
// is not shared yet).
func (l *Log) leaveCleanState() error {
	if !l.cleanOnDisk {
		return nil
	}
	if err := os.Remove(filepath.Join(l.dir, cleanShutdownName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("log: remove clean-shutdown marker: %w", err)
	}
	if err := fsutil.SyncDir(l.dir); err != nil {
		return fmt.Errorf("log: fsync %s: %w", l.dir, err)
	}
	l.cleanOnDisk = false
	return nil
}

// Create makes a new, empty log in dir, which must hold no log yet (other files may be there).
// Unlike Open it fsyncs nothing: the caller makes dir and what it holds durable before anything
// depends on the log, as the broker does once for all the partitions of a CreateTopics
// (fsutil.FSSync) instead of a few fsyncs for each, then tells the log so (WriteMark).
func Create(dir string, cfg Config, startOffset int64, logger *slog.Logger) (*Log, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("log: create %s: %w", dir, err)
	}
	l := newLog(dir, cfg, logger)
	s, err := createSegment(dir, max(startOffset, 0), time.Now(), l.cfg.Sealing, l.cfg.Files)
	if err != nil {
		return nil, fmt.Errorf("log: create segment: %w", err)
	}
	l.segs = []*segment{s}
	l.start, l.end, l.flushed, l.size = s.base, s.base, s.base, s.size
	l.producers = newProducerState()
	l.firstUnstable = -1
	// An empty log is in its clean state from the start: with the marker, a shutdown before the
	// first append has nothing to write and the next Open trusts the empty segment, instead of
	// 100,000 new partitions costing a few fsyncs each at shutdown and a rescan at start-up.
	if err := fsutil.WriteNew(filepath.Join(dir, cleanShutdownName), nil, 0o640); err != nil {
		l.closeSegments()
		return nil, fmt.Errorf("log: write clean-shutdown marker: %w", err)
	}
	l.cleanOnDisk = true
	return l, nil
}

// log returns the logger for a message about this log, naming it by its directory ("topic-3").
// It is built per message, not kept: a logger with attributes costs about 800 bytes, too much to
// hold for each of 100,000 partitions for messages that are rare.
func (l *Log) log() *slog.Logger {
	return l.logger.With("partition", filepath.Base(l.dir))
}

func newLog(dir string, cfg Config, logger *slog.Logger) *Log {
	return &Log{dir: dir, logger: logger, cfg: cfg.sanitize(), stats: cfg.Stats}
}

// cleanDir removes leftovers of interrupted deletions and checkpoint writes, and returns the
// base offsets of the segments present, sorted.
func (l *Log) cleanDir(ents []os.DirEntry) ([]int64, error) {
	var bases []int64
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, deletedSuffix), strings.HasSuffix(name, ".tmp"):
			if err := os.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("log: remove %s: %w", name, err)
			}
		default:
			if base, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
				bases = append(bases, base)
			}
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// loadEpochs reads the leader-epoch checkpoint; false means it must be rebuilt from the batches.
func (l *Log) loadEpochs() bool {
	data, err := fsutil.ReadFile(filepath.Join(l.dir, epochCheckpointName))
	if err != nil {
		return false
	}
	entries, err := decodeEpochCheckpoint(data)
	if err != nil {
		l.log().Warn("rebuilding leader epoch cache", "err", err)
		return false
	}
	l.epochs.entries = entries
	return true
}

// loadSegments opens every segment, recovering the ones that need it. A segment that had to be
// truncated in the middle of the log makes every later segment unreachable; those are deleted.
func (l *Log) loadSegments(bases []int64, clean, haveEpochs bool, names map[string]bool) error {
	now := time.Now()
	for i, base := range bases {
		s, err := openSegment(l.dir, base, false, now, l.cfg.Sealing, l.cfg.Files)
		if err != nil {
			return fmt.Errorf("log: open segment %d: %w", base, err)
		}
		indexesExisted := names[filepath.Base(s.path(1))] && names[filepath.Base(s.path(2))]
		l.segs = append(l.segs, s)
		last := i == len(bases)-1
		maxLast := int64(-1)
		if !last {
			maxLast = bases[i+1]
		}
		ok := clean || !last
		if ok {
			if ok, err = l.loadSegment(s, maxLast, indexesExisted); err != nil {
				return fmt.Errorf("log: load segment %d: %w", base, err)
			}
		}
		if ok {
			continue
		}
		l.changedAtOpen = true
		truncated, err := l.recoverSegment(s, maxLast, func(b batchInfo) {
			if haveEpochs && l.epochs.assign(b.epoch, b.base) {
				l.epochsRecovered = true
			}
		})
		if err != nil {
			return err
		}
		if !last && (truncated || s.next != maxLast) {
			return l.dropAfter(i, bases[i+1:])
		}
	}
	return nil
}

// dropAfter deletes the segments that follow a damaged one.
func (l *Log) dropAfter(i int, later []int64) error {
	for _, base := range later {
		l.log().Warn("deleting segment after damaged one", "segment", base, "damaged", l.segs[i].base)
		for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			if err := os.Remove(segmentName(l.dir, base, suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("log: remove segment %d: %w", base, err)
			}
		}
	}
	return fsutil.SyncDir(l.dir)
}

// finishOpen derives the log's offsets from the loaded segments and settles the epoch cache.
func (l *Log) finishOpen(logStartOffset int64, haveEpochs bool) error {
	if len(l.segs) == 0 {
		s, err := openSegment(l.dir, max(logStartOffset, 0), true, time.Now(), l.cfg.Sealing, l.cfg.Files)
		if err != nil {
			return fmt.Errorf("log: create segment: %w", err)
		}
		l.segs = []*segment{s}
		l.changedAtOpen = true
		if err := fsutil.SyncDir(l.dir); err != nil {
			return fmt.Errorf("log: fsync %s: %w", l.dir, err)
		}
	}
	act := l.segs[len(l.segs)-1]
	l.end = act.next
	for _, s := range l.segs {
		l.size += s.size
	}
	l.start = max(logStartOffset, l.segs[0].base)
	if l.start > l.end {
		if err := l.restartAt(l.start); err != nil {
			return err
		}
	}
	if !haveEpochs {
		l.epochs.entries = nil
		if err := l.rebuildEpochs(); err != nil {
			return err
		}
	}
	changed := l.epochs.truncateFromEnd(l.end)
	changed = l.epochs.truncateFromStart(l.start) || changed
	if changed || l.epochsRecovered || (!haveEpochs && len(l.epochs.entries) > 0) {
		l.changedAtOpen = true
		if err := l.writeEpochs(); err != nil {
			return err
		}
	}
	l.flushed = l.end
	return nil
}

// restartAt handles a persisted log start offset beyond the data on disk (the data it covered
// is gone): like Kafka, it drops every segment and starts an empty one at that offset.
func (l *Log) restartAt(start int64) error {
	l.changedAtOpen = true
	l.log().Warn("log start offset is beyond the log end; starting empty", "log_start", start, "log_end", l.end)
	for _, s := range l.segs {
		s.remove(0, func(err error) { l.log().Warn("segment removal failed", "err", err) })
	}
	s, err := openSegment(l.dir, start, true, time.Now(), l.cfg.Sealing, l.cfg.Files)
	if err != nil {
		return fmt.Errorf("log: create segment: %w", err)
	}
	l.segs, l.end, l.size = []*segment{s}, start, 0
	l.epochs.entries = nil
	return fsutil.SyncDir(l.dir)
}

// rebuildEpochs rebuilds a missing or damaged epoch cache from the batch headers.
func (l *Log) rebuildEpochs() error {
	for _, s := range l.segs {
		lim := scanLimits{segBase: s.base, minBase: s.base, maxLast: -1, fileSize: s.size}
		if _, err := s.scan(s.dataStart, lim, func(b batchInfo) { l.epochs.assign(b.epoch, b.base) }); err != nil {
			return fmt.Errorf("log: rebuild epoch cache: %w", err)
		}
	}
	return nil
}

func (l *Log) writeEpochs() error {
	if err := fsutil.WriteFileAtomic(l.dir, epochCheckpointName, encodeEpochCheckpoint(l.epochs.snapshot())); err != nil {
		return fmt.Errorf("log: write %s: %w", epochCheckpointName, err)
	}
	return nil
}

// closeSegments drops the log's reference on every segment (Open failures, Close, Delete).
func (l *Log) closeSegments() {
	for _, s := range l.segs {
		s.closeErrLog = func(err error) { l.log().Warn("closing segment failed", "err", err) }
		s.release()
	}
	l.segs = nil
}

// LogStartOffset returns the first offset that may be read.
func (l *Log) LogStartOffset() int64 {
	l.smu.RLock()
	defer l.smu.RUnlock()
	return l.start
}

// LogEndOffset returns the next offset to be assigned.
func (l *Log) LogEndOffset() int64 {
	l.smu.RLock()
	defer l.smu.RUnlock()
	return l.end
}

// HighWatermark returns the offset consumers may read up to; on a single node it is the log
// end offset.
func (l *Log) HighWatermark() int64 { return l.LogEndOffset() }

// Size returns the total bytes of all segments.
func (l *Log) Size() int64 {
	l.smu.RLock()
	defer l.smu.RUnlock()
	return l.size
}

// NumSegments returns how many segments the log has.
func (l *Log) NumSegments() int {
	l.smu.RLock()
	defer l.smu.RUnlock()
	return len(l.segs)
}

// Wait returns a channel closed by the next append, or when the log is closed or deleted.
// Fetch long-polls by taking the channel, checking for data, then selecting on it.
func (l *Log) Wait() <-chan struct{} {
	l.smu.RLock() // keeps wakeLocked out: a channel made here is closed by the next append
	defer l.smu.RUnlock()
	if l.closed {
		return closedChan
	}
	for {
		if ch := l.waitCh.Load(); ch != nil {
			return *ch
		}
		ch := make(chan struct{})
		if l.waitCh.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

// closedChan is what Wait returns for a closed log.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// wakeLocked wakes Wait callers; smu must be held for writing.
func (l *Log) wakeLocked() {
	if ch := l.waitCh.Swap(nil); ch != nil {
		close(*ch)
	}
}

// SetConfig applies changed topic configs; they take effect from the next append or retention
// pass.
func (l *Log) SetConfig(cfg Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.smu.Lock()
	sealing, st, files := l.cfg.Sealing, l.cfg.Stats, l.cfg.Files
	l.cfg = cfg.sanitize()
	l.cfg.Sealing, l.cfg.Stats, l.cfg.Files = sealing, st, files
	l.smu.Unlock()
}

// Close fsyncs the active segment, writes the clean-shutdown marker and closes the files. Wait
// channels are closed; Sync callers whose data is durable succeed, the rest get ErrClosed.
func (l *Log) Close() error { return l.shutdown(true) }

// Delete closes the log without syncing and removes its directory (topic deletion).
func (l *Log) Delete() error {
	// Readers still holding a segment finish from descriptors already open; a closed one must
	// not be reopened by name once the directory is gone (the name may be reused).
	l.smu.RLock()
	for _, s := range l.segs {
		s.f.Unlinked()
	}
	l.smu.RUnlock()
	if err := l.shutdown(false); err != nil && !errors.Is(err, ErrClosed) {
		l.log().Warn("closing deleted log", "err", err)
	}
	shredDir(l.dir)
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("log: remove %s: %w", l.dir, err)
	}
	return nil
}

func (l *Log) shutdown(clean bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.stopFlusher()
	var err error
	if clean {
		err = l.sealForClose()
	}
	l.smu.Lock()
	l.closed = true
	l.wakeLocked()
	end := l.end
	l.smu.Unlock()
	l.fmu.Lock()
	if clean && err == nil && l.flushErr == nil {
		l.flushed = max(l.flushed, end)
	}
	l.fclosed = true
	l.wakeSyncersLocked()
	l.fmu.Unlock()
	l.closeSegments()
	return err
}

// sealForClose makes the log durable and marks the shutdown clean; mu is held. A log whose
// files have not changed since a clean Open still carries its marker: nothing to do.
func (l *Log) sealForClose() error {
	if l.cleanOnDisk {
		return nil
	}
	err := l.segs[len(l.segs)-1].seal(&l.smu)
	l.fmu.Lock()
	ferr := l.flushErr
	l.fmu.Unlock()
	// After a failed write or fsync the file may not match what was appended (the kernel can
	// drop dirty pages once an fsync fails), so the next Open must rescan it.
	if err == nil && l.failed == nil && ferr == nil {
		l.writeProducerSnapshot()
		err = fsutil.WriteFileAtomic(l.dir, cleanShutdownName, nil)
	}
	if err != nil {
		return fmt.Errorf("log: close: %w", err)
	}
	return nil
}
