package log

import (
	"context"
	"fmt"
	"time"
)

// flushLoop is the log's flusher goroutine. Each wake-up runs one fsync that covers every
// append published before it started; waiters that arrive during an fsync set the kick again
// and share the next one. This is the group commit that lets many acks=all producers share
// one fsync.
func (l *Log) flushLoop() {
	defer close(l.flushEnd)
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
			l.flushOnce()
		}
	}
}

// flushOnce fsyncs the active segment and publishes the offset it made durable. Earlier
// segments were fsynced when they were rolled, so they need nothing.
func (l *Log) flushOnce() {
	l.smu.RLock()
	target := l.end
	s := l.segs[len(l.segs)-1]
	s.acquire()
	l.smu.RUnlock()
	defer s.release()

	l.fmu.Lock()
	done := l.flushed >= target || l.flushErr != nil
	l.fmu.Unlock()
	if done {
		return
	}
	if l.beforeFsync != nil {
		l.beforeFsync()
	}
	appends := l.unsynced.Swap(0)
	start := time.Now()
	err := s.f.Sync()
	l.fsyncs.Add(1)
	l.stats.Synced(time.Since(start), appends, err)
	if err != nil {
		err = fmt.Errorf("log: fsync %s: %w", s.paths[0], err)
		l.logger.Error("fsync failed; the log refuses further syncs", "err", err)
	}
	l.setFlushed(target, err)
}

// setFlushed advances the durable offset (or records a sticky fsync error: after a failed
// fsync the kernel may have dropped the dirty pages, so nothing later can be trusted) and wakes
// every Sync waiter to re-check.
func (l *Log) setFlushed(off int64, err error) {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if err != nil && l.flushErr == nil {
		l.flushErr = err
	}
	if err == nil && off > l.flushed {
		l.flushed = off
	}
	if !l.fclosed {
		close(l.flushCh)
		l.flushCh = make(chan struct{})
	}
}

// Sync blocks until every offset below end is durable, or ctx ends. An end beyond the log end
// offset is clamped to it: only appended data can be waited for.
func (l *Log) Sync(ctx context.Context, end int64) error {
	end = min(end, l.LogEndOffset())
	for {
		l.fmu.Lock()
		flushed, ferr, closed, ch := l.flushed, l.flushErr, l.fclosed, l.flushCh
		l.fmu.Unlock()
		switch {
		case end <= flushed:
			return nil
		case ferr != nil:
			return ferr
		case closed:
			return ErrClosed
		}
		l.kickFlusher()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// StartSync asks the flusher to make every offset below end durable without waiting for it. A
// caller about to wait on several logs starts them all first, so their fsyncs overlap instead of
// running one after another.
func (l *Log) StartSync(end int64) {
	if end > l.FlushedOffset() {
		l.kickFlusher()
	}
}

// kickFlusher wakes the flusher goroutine unless a wake-up is already pending; the pending one
// will cover this caller too.
func (l *Log) kickFlusher() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// FlushedOffset returns the offset below which all data is durable.
func (l *Log) FlushedOffset() int64 {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	return l.flushed
}
