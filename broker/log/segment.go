package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
	"github.com/bulwark-kafka/bulwark/internal/filecache"
	"github.com/bulwark-kafka/bulwark/internal/fsutil"
)

const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	deletedSuffix   = ".deleted"
)

// segment is one .log file and its two indexes. Fields marked "published" are written under
// Log.mu and Log.smu together and read under either; the rest belong to Log.mu.
//
// Only the .log file is opened through the cache of open files (Config.Files), which closes it
// while the partition is idle and reopens it on use. The indexes live in memory and are written whole when the
// segment is sealed (rolled, or the log closed cleanly), and read once when a log opens: holding
// their files open would triple the descriptors every partition costs (issue 17). After a crash
// the active segment is rescanned and its indexes rebuilt, as before.
type segment struct {
	base int64
	// dir is the log's directory, the same string (not a copy per segment): the file paths are
	// built when needed (path) instead of kept, which cost about 250 bytes a partition.
	dir     string
	renamed [3]bool // which of the files remove renamed to *.deleted
	f       *filecache.File

	// published
	size        int64
	next        int64 // offset after the last batch; == base while empty
	idx         []indexEntry
	tidx        []timeEntry
	maxTs       int64 // largest batch max timestamp, -1 if none
	maxTsOffset int64 // last offset of the first batch carrying maxTs

	firstTs     int64     // max timestamp of the first batch (time-based roll), -1 if none
	created     time.Time // when this process created or opened the segment
	sinceIndex  int64     // bytes appended since the last offset index entry
	refs        atomic.Int32
	deleted     atomic.Bool
	closeErrLog func(error)

	// sealer opens and seals this segment's frames when it is encrypted (nil: plaintext), and
	// dataStart is where its batches begin (after the envelope header). sealing is the log's
	// encryption setting, for the time index written at seal time.
	sealer    *envelope.Sealer
	dataStart int64
	sealing   *Sealing
}

// empty reports whether the segment holds no batch yet.
func (s *segment) empty() bool { return s.size <= s.dataStart }

// segmentSuffixes names a segment's files in path's order.
var segmentSuffixes = [3]string{logSuffix, indexSuffix, timeIndexSuffix}

// path returns the path of the segment's file i: 0 the .log, 1 the .index, 2 the .timeindex.
func (s *segment) path(i int) string {
	p := segmentName(s.dir, s.base, segmentSuffixes[i])
	if s.renamed[i] {
		p += deletedSuffix
	}
	return p
}

// paths returns the paths of the segment's three files.
func (s *segment) paths() [3]string { return [3]string{s.path(0), s.path(1), s.path(2)} }

func segmentName(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// parseSegmentName returns the base offset of a "<20 digits>.log" file name.
func parseSegmentName(name string) (int64, bool) {
	if len(name) != 20+len(logSuffix) || filepath.Ext(name) != logSuffix {
		return 0, false
	}
	base, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// openSegment opens (creating when create is set) a segment's .log file through files.
func openSegment(dir string, base int64, create bool, now time.Time, z *Sealing, files *filecache.Cache) (*segment, error) {
	s := &segment{base: base, dir: dir, next: base, maxTs: -1, maxTsOffset: -1, firstTs: -1, created: now, sealing: z}
	s.refs.Store(1)
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_TRUNC
	}
	var err error
	if s.f, err = files.Open(s.path(0), flag, 0o640); err != nil {
		return nil, err
	}
	// A new segment's index files are first written when it is sealed: while it is active they
	// would hold nothing, and creating two empty files for every new partition doubled the cost
	// of creating one (issue 17). A segment found without them is rescanned, as after a crash.
	switch {
	case create && z != nil:
		err = s.sealNew(z)
	case !create:
		err = s.openSealed(z)
	}
	if err != nil {
		_ = s.closeFiles()
		if create {
			// Never leave a segment without its header behind: the next roll retries.
			for _, p := range s.paths() {
				_ = os.Remove(p)
			}
		}
		return nil, err
	}
	return s, nil
}

// createSegment creates a new, empty segment at base.
func createSegment(dir string, base int64, now time.Time, z *Sealing, files *filecache.Cache) (*segment, error) {
	return openSegment(dir, base, true, now, z, files)
}

func (s *segment) closeFiles() error {
	if s.sealer != nil {
		s.sealer.Close()
	}
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// acquire takes a reference for a reader. Callers hold Log.smu, under which the log's own
// reference is still held, so the count cannot have reached zero.
func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference; the last one closes the files and, for a deleted segment, removes
// them.
func (s *segment) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	if s.deleted.Load() {
		s.shredHeaders() // crypto-shredding: the data keys go before the files do
	}
	err := s.closeFiles()
	if s.deleted.Load() {
		for _, p := range s.paths() {
			if rmErr := os.Remove(p); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
				err = errors.Join(err, rmErr)
			}
		}
	}
	if err != nil && s.closeErrLog != nil {
		s.closeErrLog(err)
	}
}

// remove renames the files to *.deleted and drops the log's reference after delay; readers
// still holding references keep the files open until they finish.
func (s *segment) remove(delay time.Duration, logErr func(error)) {
	for i, p := range s.paths() {
		var err error
		if i == 0 {
			err = s.f.Rename(p + deletedSuffix) // a reopen after eviction must find it
		} else {
			err = os.Rename(p, p+deletedSuffix)
		}
		if err != nil && !(i > 0 && errors.Is(err, os.ErrNotExist)) { // an active segment has no index files yet
			logErr(err)
			continue
		}
		s.renamed[i] = true
	}
	s.closeErrLog = logErr
	s.deleted.Store(true)
	if delay <= 0 {
		s.release()
		return
	}
	time.AfterFunc(delay, s.release)
}

// track records one batch appended at s.size: it advances size and next offset, updates the
// max timestamp, and adds index entries the way Kafka's LogSegment.append does (an offset
// entry, and a time entry if the max timestamp grew, once more than interval bytes were
// appended since the last entry). Callers hold whatever lock publishes these fields.
func (s *segment) track(b batchInfo, interval int32) {
	if s.empty() {
		s.firstTs = b.maxTs
	}
	if b.maxTs > s.maxTs {
		s.maxTs, s.maxTsOffset = b.maxTs, b.last
	}
	if s.sinceIndex > int64(interval) {
		s.idx = append(s.idx, indexEntry{rel: uint32(b.last - s.base), pos: uint32(b.pos)})
		s.addTimeEntry()
		s.sinceIndex = 0
	}
	s.sinceIndex += b.size
	s.size = b.pos + b.size
	s.next = b.last + 1
}

// addTimeEntry appends (maxTs, maxTsOffset) to the time index when it would grow it.
func (s *segment) addTimeEntry() {
	if s.maxTs < 0 || (len(s.tidx) > 0 && s.tidx[len(s.tidx)-1].ts >= s.maxTs) {
		return
	}
	s.tidx = append(s.tidx, timeEntry{ts: s.maxTs, rel: uint32(s.maxTsOffset - s.base)})
}

// seal makes the segment complete on disk before it stops being active (or the log closes):
// the time index gets a final entry with the segment's max timestamp (retention reads it at the
// next Open) and all three files are fsynced. Callers hold Log.mu; pub is Log.smu, held only
// while the in-memory time index changes so readers do not wait for the fsyncs.
func (s *segment) seal(pub sync.Locker) error {
	pub.Lock()
	s.addTimeEntry()
	pub.Unlock()
	if err := s.writeIndexes(true); err != nil {
		return fmt.Errorf("log: write indexes of segment %d: %w", s.base, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("log: fsync %s: %w", s.f.Name(), err)
	}
	return nil
}

// writeIndexes writes both index files from memory (a sealed segment's time index as an
// envelope file), fsyncing them when sync is set, and closes them again.
func (s *segment) writeIndexes(sync bool) error {
	files, err := s.openIndexes(os.O_RDWR | os.O_CREATE)
	if err != nil {
		return err
	}
	defer closeAll(files)
	if err := writeOffsetIndex(files[0], s.idx); err != nil {
		return err
	}
	if s.sealer != nil {
		err = s.writeSealedTimeIndex(files[1], s.sealing)
	} else {
		err = writeTimeIndex(files[1], s.tidx)
	}
	if err != nil || !sync {
		return err
	}
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	return nil
}

// openIndexes opens the .index and .timeindex files; the caller closes them (closeAll).
func (s *segment) openIndexes(flag int) ([2]*os.File, error) {
	var files [2]*os.File
	for i := range files {
		f, err := fsutil.Open(s.path(i+1), flag, 0o640)
		if err != nil {
			closeAll(files)
			return files, err
		}
		files[i] = f
	}
	return files, nil
}

func closeAll(files [2]*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// view is a reader's snapshot of a segment, taken under Log.smu.
type view struct {
	s           *segment
	base, size  int64
	next        int64
	idx         []indexEntry
	tidx        []timeEntry
	maxTs       int64
	maxTsOffset int64
}

func (s *segment) view() view {
	return view{s: s, base: s.base, size: s.size, next: s.next, idx: s.idx, tidx: s.tidx, maxTs: s.maxTs, maxTsOffset: s.maxTsOffset}
}
