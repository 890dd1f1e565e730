package meta

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
)

// DefaultSnapshotEvery is how many records the active log holds before Commit takes a snapshot.
const DefaultSnapshotEvery = 10000

// Options configures a Store.
type Options struct {
	// SnapshotEvery is how many records to append between automatic snapshots: 0 means
	// DefaultSnapshotEvery, a negative value turns automatic snapshots off.
	SnapshotEvery int
	// NodeID is this broker's id. The first Open records it; later opens must pass the same id,
	// because a data directory belongs to one node.
	NodeID int32
	// Logger receives recovery and snapshot events; nil discards them.
	Logger *slog.Logger
	// Sealing encrypts the metadata files at rest (nil: plaintext). See seal.go.
	Sealing *envelope.Config
}

// Store is the durable metadata log of one directory. See the package documentation for its
// concurrency model.
type Store struct {
	dir    string
	opts   Options
	logger *slog.Logger
	state  atomic.Pointer[State]

	mu         sync.Mutex       // serializes writers; guards every field below
	f          *os.File         // the active log, nil once closed
	base       int64            // offset of the active log's first record
	count      int              // records in the active log
	size       int64            // bytes of whole frames in the active log
	snapOffset int64            // offset of the newest snapshot on disk, -1 if none
	sealer     *envelope.Sealer // the active log's, when it is sealed
	failed     error            // set when an I/O error leaves the files in doubt
	// crash, set only by tests, simulates a crash at a named step of Snapshot: when it returns
	// true, Snapshot stops there and the test abandons the store.
	crash func(step string) bool
}

// errCrash is what a simulated crash returns.
var errCrash = errors.New("meta: simulated crash")

// stamper is a record that takes a value from the committing broker (a clock) before it is
// written, so that apply stays deterministic.
type stamper interface{ stamp(now time.Time) Record }

// Open opens (creating if needed) the metadata directory dir: it loads the newest snapshot,
// replays the logs after it, truncates a torn write at the end of the last log, and refuses to
// start on corruption anywhere else. A new directory gets a generated cluster id and opts.NodeID,
// recorded as its first record; an existing one must belong to opts.NodeID.
func Open(dir string, opts Options) (*Store, error) {
	if opts.SnapshotEvery == 0 {
		opts.SnapshotEvery = DefaultSnapshotEvery
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.NodeID < 0 {
		return nil, fmt.Errorf("meta: node id %d is negative", opts.NodeID)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	s := &Store{dir: dir, opts: opts, logger: logger, snapOffset: -1}
	if err := s.load(); err != nil {
		s.closeFile()
		return nil, err
	}
	st := s.state.Load()
	switch {
	case st.ClusterID == "":
		st, err := s.commit(bootstrap{ClusterID: newClusterID(), NodeID: opts.NodeID})
		if err != nil {
			s.closeFile()
			return nil, err
		}
		logger.Info("metadata: new cluster", "cluster_id", st.ClusterID, "node_id", st.NodeID)
	case st.NodeID != opts.NodeID:
		s.closeFile()
		return nil, fmt.Errorf("%w: %s belongs to node %d, not %d", ErrNodeIDMismatch, dir, st.NodeID, opts.NodeID)
	}
	return s, nil
}

// load rebuilds the state from the directory and opens the active log.
func (s *Store) load() error {
	ls, err := s.listDir()
	if err != nil {
		return err
	}
	st := emptyState()
	if n := len(ls.snaps); n > 0 {
		if st, err = s.readSnapshot(ls.snaps[n-1]); err != nil {
			return err
		}
		s.snapOffset = st.Offset
	}
	b := newBuilder(st)
	// Logs whose successor starts within the snapshot hold only records the snapshot has; they are
	// left over from a snapshot whose clean-up did not finish, and are not read.
	logs := ls.logs
	for len(logs) > 1 && logs[1] <= b.st.Offset+1 {
		logs = logs[1:]
	}
	for i, base := range logs {
		last := i == len(logs)-1
		if base > b.st.Offset+1 {
			return fmt.Errorf("%w: records %d to %d are missing (next log is %s)", ErrCorrupt, b.st.Offset+1, base-1, logName(base))
		}
		sc, err := s.replayFile(b, base, last)
		if err != nil {
			return err
		}
		if !last && base+int64(sc.count) != logs[i+1] {
			return fmt.Errorf("%w: %s holds %d records but %s follows it", ErrCorrupt, logName(base), sc.count, logName(logs[i+1]))
		}
	}
	s.state.Store(b.st)
	if s.opts.Sealing != nil && s.f != nil && s.sealer == nil {
		// Encryption was turned on: commit nothing more to a plaintext log, and snapshot at once
		// so the plaintext files are removed.
		if err := s.roll(b.st.Offset + 1); err != nil {
			return err
		}
		s.logger.Info("metadata: encryption turned on; sealing the metadata")
		defer func() { _ = s.snapshot() }()
	}
	if s.f == nil || s.base+int64(s.count) != b.st.Offset+1 {
		// No log, or the last one ends inside the snapshot: appends need a log starting right
		// after the state.
		if err := s.roll(b.st.Offset + 1); err != nil {
			return err
		}
	}
	s.removeOld()
	s.logger.Debug("metadata: loaded", "offset", b.st.Offset, "snapshot", s.snapOffset, "logs", len(logs))
	return nil
}

// replayFile replays one log file into b. The last log becomes the active one, with a torn tail
// truncated; a torn tail anywhere else is corruption.
func (s *Store) replayFile(b *builder, base int64, last bool) (logScan, error) {
	name := logName(base)
	data, err := os.ReadFile(s.path(name))
	if err != nil {
		return logScan{}, fmt.Errorf("meta: %w", err)
	}
	sealer, sealed, err := s.openSealedFile(name, data)
	if err != nil {
		return logScan{}, err
	}
	physical, sealedTorn := 0, false
	if sealed {
		var plain []byte
		if plain, physical, sealedTorn, err = unsealLog(sealer, name, data); err != nil {
			sealer.Close()
			return logScan{}, err
		}
		data = plain
	}
	sc, err := replayLog(b, name, base, data)
	if sealed {
		// Offsets into the plaintext mean nothing on disk: a sealed log is cut at whole records.
		if sc.torn && err == nil {
			err = fmt.Errorf("%w: %s: a sealed record holds a partial frame", ErrCorrupt, name)
		}
		sc.valid, sc.torn = physical, sealedTorn
		if !last || err != nil {
			sealer.Close()
		}
	}
	if err != nil {
		return sc, err
	}
	if !last {
		if sc.torn {
			return sc, fmt.Errorf("%w record at offset %d (%s byte %d): torn write before a later log", ErrCorrupt, base+int64(sc.count), name, sc.valid)
		}
		return sc, nil
	}
	f, err := os.OpenFile(s.path(name), os.O_RDWR, 0)
	if err != nil {
		return sc, fmt.Errorf("meta: %w", err)
	}
	if sc.torn {
		s.logger.Warn("metadata: truncating torn write at the end of the log", "file", name,
			"offset", base+int64(sc.count), "bytes", len(data)-sc.valid)
		if err := truncateSync(f, int64(sc.valid)); err != nil {
			f.Close()
			return sc, err
		}
	}
	s.f, s.base, s.count, s.size = f, base, sc.count, int64(sc.valid)
	s.setSealer(sealer)
	return sc, nil
}

// State returns the current state. It is cheap (an atomic load) and the result never changes;
// callers must not mutate it.
func (s *Store) State() *State { return s.state.Load() }

// Commit validates recs in order, each against the state the ones before it produce, appends them
// all to the log, fsyncs once, and publishes the new state, which it returns. Either every record
// commits or none does. A record that does not apply is reported with an error wrapping
// ErrTopicExists, ErrUnknownTopic, ErrUnknownPartition or ErrInvalidRecord.
func (s *Store) Commit(recs ...Record) (*State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commit(recs...)
}

func (s *Store) commit(recs ...Record) (*State, error) {
	if err := s.usable(); err != nil {
		return nil, err
	}
	cur := s.state.Load()
	if len(recs) == 0 {
		return cur, nil
	}
	b := newBuilder(cur)
	now := time.Now()
	var buf []byte
	for i, r := range recs {
		if r == nil {
			return nil, fmt.Errorf("%w: record %d is nil", ErrInvalidRecord, i)
		}
		if sr, ok := r.(stamper); ok {
			r = sr.stamp(now)
		}
		if err := r.validate(b.st); err != nil {
			return nil, err
		}
		version, payload, err := encodeRecord(r)
		if err != nil {
			return nil, err
		}
		if minFrameLen+len(payload) > maxRecordLen {
			return nil, fmt.Errorf("%w: %s of %d bytes exceeds the %d-byte bound", ErrInvalidRecord, r.Type(), len(payload), maxRecordLen)
		}
		buf = appendFrame(buf, r.Type(), version, payload)
		r.apply(b)
		b.st.Offset++
	}
	if err := s.append(buf); err != nil {
		return nil, err
	}
	s.count += len(recs)
	s.state.Store(b.st)
	if s.opts.SnapshotEvery > 0 && s.count >= s.opts.SnapshotEvery {
		// The records are durable already; a failed snapshot only means a longer replay.
		if err := s.snapshot(); err != nil {
			s.logger.Error("metadata: automatic snapshot failed", "err", err)
		}
	}
	return b.st, nil
}

// append writes whole frames at the end of the active log and fsyncs. A failed write is cut off
// again so the log keeps only whole committed frames; if that is impossible, or the fsync itself
// failed (after which the kernel may have dropped the dirty pages), the store stops accepting
// writes: only a restart's recovery can say what is on disk.
func (s *Store) append(buf []byte) error {
	if s.sealer != nil {
		buf = sealRecord(nil, s.sealer, buf, s.base+int64(s.count))
	}
	if _, err := s.f.WriteAt(buf, s.size); err != nil {
		if terr := truncateSync(s.f, s.size); terr != nil {
			s.failed = fmt.Errorf("%w: %w", ErrStoreFailed, err)
		}
		return fmt.Errorf("meta: append: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		s.failed = fmt.Errorf("%w: %w", ErrStoreFailed, err)
		return fmt.Errorf("meta: append: %w", err)
	}
	s.size += int64(len(buf))
	return nil
}

// usable reports why the store cannot write, if it cannot.
func (s *Store) usable() error {
	switch {
	case s.failed != nil:
		return s.failed
	case s.f == nil:
		return ErrClosed
	}
	return nil
}

// Close closes the store. Every committed record is already durable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	s.setSealer(nil)
	if err != nil {
		return fmt.Errorf("meta: close: %w", err)
	}
	return nil
}

// closeFile closes the active log without locking, for Open's error paths.
func (s *Store) closeFile() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.setSealer(nil)
}

// setSealer replaces the active log's sealer, zeroing the old data key.
func (s *Store) setSealer(sealer *envelope.Sealer) {
	if s.sealer != nil && s.sealer != sealer {
		s.sealer.Close()
	}
	s.sealer = sealer
}

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

func truncateSync(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("meta: truncate: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("meta: truncate: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory, making creations, renames and removals in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("meta: sync dir: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("meta: sync dir: %w", err)
	}
	return nil
}
