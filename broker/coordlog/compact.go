package coordlog

import (
	"context"
	"fmt"
	"time"

	plog "github.com/bulwark-kafka/bulwark/broker/log"
	"github.com/bulwark-kafka/bulwark/broker/record"
)

// rewriteBatchBytes is the size compaction aims for per rewritten batch; one entry larger than
// it gets a batch of its own.
const rewriteBatchBytes = 1 << 20

// Compact rewrites the live set and drops the segments it supersedes if the log is larger than
// max(Options.CompactMinBytes, 2×live bytes), or always when force is set. The owner calls it
// periodically; Write calls it too when the trigger holds after its own append. Writes wait
// for a running compaction.
func (s *Store) Compact(force bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !force && !s.shouldCompactLocked() {
		return nil
	}
	return s.compactLocked()
}

// shouldCompactLocked reports whether the compaction trigger holds.
func (s *Store) shouldCompactLocked() bool {
	return s.log.Size() > max(s.compactMin, 2*s.liveBytes)
}

// compactLocked rewrites the live set, then deletes every segment below the rewrite. A crash
// between the two leaves old and rewritten records side by side, which replays to the same map.
func (s *Store) compactLocked() error {
	before := s.log.Size()
	x, err := s.rewriteLocked()
	if err != nil {
		return err
	}
	if _, err := s.log.DeleteRecordsBefore(x); err != nil {
		return fmt.Errorf("coordlog: compact: delete records before %d: %w", x, err)
	}
	s.logger.Info("coordlog: compacted", "before_bytes", before, "after_bytes", s.log.Size(), "live_keys", len(s.m))
	return nil
}

// rewriteLocked appends every live entry again, in sorted key order and batches of about
// rewriteBatchBytes, and fsyncs them. It returns X, the log end offset before the rewrite.
//
// The first rewritten batch rolls the log (AppendOptions.Roll), so the rewrite starts a
// segment based at X: otherwise the old records would share the active segment with the
// rewrite and DeleteRecordsBefore could free nothing.
func (s *Store) rewriteLocked() (int64, error) {
	x := s.log.LogEndOffset()
	var recs []record.Record
	n := 0
	first := true
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		opts := record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli()}
		batch := record.BuildBatch(opts, recs)
		recs, n = recs[:0], 0
		if _, err := s.log.Append(batch, plog.AppendOptions{Roll: first}); err != nil {
			return fmt.Errorf("coordlog: compact: append: %w", err)
		}
		first = false
		return nil
	}
	for _, k := range s.sortedKeys() {
		v := s.m[k]
		size := len(k) + len(v) + recordOverhead
		if n > 0 && n+size > rewriteBatchBytes {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		recs = append(recs, record.Record{Key: []byte(k), Value: v})
		n += size
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if err := s.log.Sync(context.Background(), s.log.LogEndOffset()); err != nil {
		return 0, fmt.Errorf("coordlog: compact: sync: %w", err)
	}
	return x, nil
}
