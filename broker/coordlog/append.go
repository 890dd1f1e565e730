package coordlog

import (
	"context"
	"errors"
	"fmt"

	plog "github.com/bulwark-kafka/bulwark/broker/log"
)

// Append is Write split in two: it appends the entries as one batch and applies them to the
// map under the store lock, and returns a function that waits until the batch is durable. A
// caller that must order its own in-memory state with the journal (the coordinators, under
// their own locks) appends under its lock and waits after releasing it, so many callers share
// one fsync.
func (s *Store) Append(entries ...Entry) (wait func(context.Context) error, err error) {
	if len(entries) == 0 {
		return func(context.Context) error { return nil }, nil
	}
	if err := checkEntries(entries); err != nil {
		return nil, err
	}
	batch := buildBatch(entries)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	res, err := s.log.Append(batch, plog.AppendOptions{})
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("coordlog: append: %w", err)
	}
	for _, e := range entries {
		s.applyLocked(e.Key, e.Value)
		if s.changed != nil {
			s.changed(e.Key)
		}
	}
	if s.shouldCompactLocked() {
		if err := s.compactLocked(); err != nil {
			s.logger.Error("coordlog: compaction failed", "err", err)
		}
	}
	s.mu.Unlock()
	end := res.LastOffset + 1
	return func(ctx context.Context) error {
		if err := s.log.Sync(ctx, end); err != nil {
			if errors.Is(err, plog.ErrClosed) {
				return ErrClosed
			}
			return fmt.Errorf("coordlog: sync: %w", err)
		}
		return nil
	}, nil
}
