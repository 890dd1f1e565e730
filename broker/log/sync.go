package log

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-kafka/bulwark/internal/filecache"
)

// reopenRetryDelay is how long the flusher pauses after a segment could not be reopened.
const reopenRetryDelay = 10 * time.Millisecond

// The flusher is a goroutine that runs only while there is something to sync: kickFlusher starts
// it, and it exits once no kick came in during its last fsync. Each round runs one fsync that
// covers every append published before it started; waiters that arrive during an fsync kick
// again and share the next one. This is the group commit that lets many acks=all producers share
// one fsync. A goroutine per log for the broker's lifetime cost 2 KiB of stack and a few
// channels for every idle partition (a fifth of the memory of 100,000 partitions, issue 17).

// kickFlusher asks for an fsync round, starting the flusher unless it is running; a running
// flusher does one more round for this caller.
func (l *Log) kickFlusher() {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if l.fstopped {
		return
	}
	l.flushPending = true
	if !l.flushing {
		l.flushing = true
		l.flushers.Add(1)
		go l.flushRounds()
	}
}

func (l *Log) flushRounds() {
	defer l.flushers.Done()
	for {
		l.fmu.Lock()
		if !l.flushPending || l.fstopped {
			l.flushing = false
			l.fmu.Unlock()
			return
		}
		l.flushPending = false
		l.fmu.Unlock()
		l.flushOnce()
	}
}

// stopFlusher stops new rounds and waits for the one in progress.
func (l *Log) stopFlusher() {
	l.fmu.Lock()
	l.fstopped = true
	l.fmu.Unlock()
	l.flushers.Wait()
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
	if reopen := (*filecache.ReopenError)(nil); errors.As(err, &reopen) {
		// The fsync never ran (the process is out of descriptors): nothing is known to be lost,
		// so the log is not failed. Waiters are woken to ask again, after a pause so that the
		// retries do not spin; a produce gives up when its timeout ends.
		l.unsynced.Add(appends)
		l.log().Warn("fsync postponed: could not reopen the segment", "err", err)
		time.Sleep(reopenRetryDelay)
		l.setFlushed(0, nil)
		return
	}
	l.fsyncs.Add(1)
	l.stats.Synced(time.Since(start), appends, err)
	if err != nil {
		err = fmt.Errorf("log: fsync %s: %w", s.path(0), err)
		l.log().Error("fsync failed; the log refuses further syncs", "err", err)
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
	l.wakeSyncersLocked()
}

// wakeSyncersLocked wakes the Sync callers waiting on flushCh; fmu is held. The channel is made
// by the first waiter and dropped here, so a log nobody waits on holds none.
func (l *Log) wakeSyncersLocked() {
	if l.flushCh != nil {
		close(l.flushCh)
		l.flushCh = nil
	}
}

// Sync blocks until every offset below end is durable, or ctx ends. An end beyond the log end
// offset is clamped to it: only appended data can be waited for.
func (l *Log) Sync(ctx context.Context, end int64) error {
	end = min(end, l.LogEndOffset())
	for {
		l.fmu.Lock()
		flushed, ferr, closed := l.flushed, l.flushErr, l.fclosed
		var ch chan struct{}
		if end > flushed && ferr == nil && !closed {
			if l.flushCh == nil {
				l.flushCh = make(chan struct{})
			}
			ch = l.flushCh
		}
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

// FlushedOffset returns the offset below which all data is durable.
func (l *Log) FlushedOffset() int64 {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	return l.flushed
}

// WriteMark notes the writes a log's active segment file had finished when it was taken.
type WriteMark struct {
	f *filecache.File
	n uint64
}

// WriteMark notes the writes made to the log's active segment file so far, for a caller about to
// sync the whole file system (see Create).
func (l *Log) WriteMark() WriteMark {
	l.smu.RLock()
	defer l.smu.RUnlock()
	f := l.segs[len(l.segs)-1].f
	return WriteMark{f: f, n: f.Written()}
}

// Synced tells the cache of open files that a sync of the whole file system, begun after the mark
// was taken through a descriptor opened before the log was created (fsutil.FSSync), has
// succeeded: the marked writes are durable, so the cache need not fsync the file before closing
// it. Without this, creating partitions while the cache is full cost an fsync each, to close the
// files the partitions before them had just written (issue 17).
func (m WriteMark) Synced() { m.f.SyncedTo(m.n) }
