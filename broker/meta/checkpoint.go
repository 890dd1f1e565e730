package meta

import (
	"fmt"
	"os"

	"github.com/bulwark-kafka/bulwark/broker/envelope"
)

// Snapshot writes the current state to a snapshot file and drops the log records it covers.
// Commit calls it every Options.SnapshotEvery records; the broker may call it at any time (for
// example at shutdown, to shorten the next start).
//
// The steps, each safe to crash after (docs/format/metadata.md):
//  1. start a new, empty log at the next offset (temp file, fsync, rename, fsync the directory);
//     appends go there from now on;
//  2. write the snapshot to a temp file, fsync it, rename it, fsync the directory;
//  3. remove the logs and snapshots it supersedes, and fsync the directory.
func (s *Store) Snapshot() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot()
}

func (s *Store) snapshot() error {
	if err := s.usable(); err != nil {
		return err
	}
	st := s.state.Load()
	if st.Offset == s.snapOffset {
		return nil // already on disk
	}
	data, err := encodeSnapshot(st)
	if err != nil {
		return err
	}
	if s.count > 0 {
		if err := s.roll(st.Offset + 1); err != nil {
			return err
		}
	}
	if s.crashed("rolled") {
		return errCrash
	}
	name := snapshotName(st.Offset)
	if s.opts.Sealing != nil {
		if data, err = s.sealSnapshot(name, data, st.Offset); err != nil {
			return err
		}
	}
	if err := s.writeAtomic(name, data); err != nil {
		return err
	}
	s.snapOffset = st.Offset
	if s.crashed("snapshot-durable") {
		return errCrash
	}
	s.removeOld()
	s.logger.Info("metadata: snapshot written", "file", name, "offset", st.Offset, "bytes", len(data))
	return nil
}

// roll makes a new empty log starting at base the active log. Until the rename nothing visible
// has changed; once renamed, a failed directory fsync leaves in doubt whether the new log will
// survive a crash, so the store stops accepting writes rather than commit records to it.
func (s *Store) roll(base int64) error {
	name := logName(base)
	tmp := s.path(name + tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("meta: new log: %w", err)
	}
	abort := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("meta: new log: %w", err)
	}
	var sealer *envelope.Sealer
	if s.opts.Sealing != nil {
		hdr, sl, err := s.opts.Sealing.NewFile(envelope.KindMetadataLog, name)
		if err != nil {
			return abort(err)
		}
		if _, err := f.WriteAt(hdr, 0); err != nil {
			sl.Close()
			return abort(err)
		}
		sealer = sl
	}
	if err := f.Sync(); err != nil {
		if sealer != nil {
			sealer.Close()
		}
		return abort(err)
	}
	if s.crashed("log-temp") {
		return errCrash
	}
	if err := os.Rename(tmp, s.path(name)); err != nil {
		return abort(err)
	}
	if s.crashed("log-renamed") {
		return errCrash
	}
	if err := syncDir(s.dir); err != nil {
		_ = f.Close()
		s.failed = fmt.Errorf("%w: %w", ErrStoreFailed, err)
		return err
	}
	s.closeFile()
	s.f, s.base, s.count, s.size = f, base, 0, 0
	if sealer != nil {
		s.size = envelope.HeaderSize
	}
	s.setSealer(sealer)
	return nil
}

// writeAtomic writes a file under its final name only once its content is durable: temp file,
// fsync, rename, directory fsync. A crash leaves either no file (the temp one is removed at the
// next Open) or the whole file.
func (s *Store) writeAtomic(name string, data []byte) error {
	tmp := s.path(name + tmpSuffix)
	err := os.WriteFile(tmp, data, 0o640)
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil && s.crashed("snapshot-temp") {
		return errCrash
	}
	if err == nil {
		err = os.Rename(tmp, s.path(name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("meta: write %s: %w", name, err)
	}
	if s.crashed("snapshot-renamed") {
		return errCrash
	}
	if err := syncDir(s.dir); err != nil {
		// Either outcome of the rename is consistent: the caller keeps the older files.
		return fmt.Errorf("meta: write %s: %w", name, err)
	}
	return nil
}

// removeOld removes the logs the newest snapshot covers and the snapshots before it. Leftovers are
// harmless (Open skips them), so failures are only logged.
func (s *Store) removeOld() {
	ls, err := s.listDir()
	if err != nil {
		s.logger.Warn("metadata: clean-up", "err", err)
		return
	}
	removed := false
	remove := func(name string) {
		if err := os.Remove(s.path(name)); err != nil {
			s.logger.Warn("metadata: clean-up", "err", err)
			return
		}
		removed = true
	}
	// A log can go once the log after it starts within the newest snapshot: all its records are in
	// the snapshot. (A crash between rolling the log and writing the snapshot leaves an older log
	// whose records the snapshot does not have yet.)
	for i := 0; i+1 < len(ls.logs) && ls.logs[i+1] <= s.snapOffset+1; i++ {
		remove(logName(ls.logs[i]))
	}
	if s.crashed("cleanup-logs") {
		return
	}
	for _, off := range ls.snaps {
		if off < s.snapOffset {
			remove(snapshotName(off))
		}
	}
	if removed {
		if err := syncDir(s.dir); err != nil {
			s.logger.Warn("metadata: clean-up", "err", err)
		}
	}
}

func (s *Store) crashed(step string) bool { return s.crash != nil && s.crash(step) }

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
