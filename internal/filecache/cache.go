package filecache

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-kafka/bulwark/internal/fsutil"
)

// Cache keeps at most its budget of Files open. It is safe for concurrent use.
type Cache struct {
	budget int

	mu      sync.Mutex // guards ring, hand, opening and freed; taken after a File's mu, never before one (see evictOne)
	ring    []*File    // the open files; a File's slot is its index here
	hand    int
	opening int           // slots reserved by opens in progress
	freed   chan struct{} // closed (and replaced) when a file is unpinned or closed while an open waits for room

	opens     atomic.Uint64
	evictions atomic.Uint64
	waits     atomic.Uint64
	syncs     atomic.Uint64 // fsyncs run to evict a file with unsynced writes
	waiting   atomic.Int32  // opens waiting for room: only then does an unpin take c.mu to wake them

	// fsync runs every fsync of the cache's files; tests replace it to inject failures and delays.
	fsync func(*os.File) error
}

// New returns a cache that keeps at most budget files open (at least one).
func New(budget int) *Cache {
	return &Cache{budget: max(budget, 1), freed: make(chan struct{}), fsync: (*os.File).Sync}
}

// Stats is a snapshot of a cache's counters.
type Stats struct {
	Budget    int    // files the cache keeps open at most
	Open      int    // files open now
	Opens     uint64 // opens since the cache was made, first ones included
	Evictions uint64 // files closed to stay within the budget
	Waits     uint64 // opens that waited because every open file was in use
	Syncs     uint64 // fsyncs run before evicting a file with unsynced writes
}

// Stats returns the cache's counters. A nil cache reports zeros.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.Lock()
	open := len(c.ring)
	c.mu.Unlock()
	return Stats{Budget: c.budget, Open: open, Opens: c.opens.Load(), Evictions: c.evictions.Load(), Waits: c.waits.Load(),
		Syncs: c.syncs.Load()}
}

// File is a file that is opened on use and may be closed by its cache between uses. Its methods
// are safe for concurrent use.
type File struct {
	c *Cache

	mu     sync.Mutex
	path   string
	flag   int      // how to reopen it
	f      *os.File // nil while closed by the cache
	pins   int      // calls using f right now; the cache closes only an unpinned file
	used   bool     // the clock's reference bit
	slot   int      // index in c.ring while open (guarded by c.mu)
	closed bool     // Close was called
	// gone: the path no longer names this file (Unlinked), so it must not be reopened by name;
	// a file created under the same name since (a deleted topic recreated) is another file.
	gone bool
	// writes counts WriteAt and Truncate calls finished, synced the writes the last successful
	// fsync covered: the file is dirty while they differ, and the cache fsyncs a dirty file
	// before closing it.
	writes, synced uint64
	// syncErr is the first fsync failure, whether the caller's or the cache's own before closing
	// the file: every later Sync returns it, since the kernel reports a writeback error once.
	syncErr error
	// syncMu runs the file's fsyncs one at a time, so an error reported to one is recorded
	// before another can start and succeed.
	syncMu sync.Mutex
}

// Open opens path with flag now, so that creation and permission errors surface here. Later
// reopens use the same flag without O_CREATE, O_TRUNC and O_EXCL.
func (c *Cache) Open(path string, flag int, perm os.FileMode) (*File, error) {
	h := &File{c: c, path: path, flag: flag}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.open(perm); err != nil {
		return nil, err
	}
	h.flag &^= os.O_CREATE | os.O_TRUNC | os.O_EXCL
	return h, nil
}

// Name returns the file's current path.
func (h *File) Name() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.path
}

// ReadAt reads from the file at off, opening it if the cache closed it.
func (h *File) ReadAt(p []byte, off int64) (int, error) {
	f, err := h.pin()
	if err != nil {
		return 0, err
	}
	defer h.unpin()
	return f.ReadAt(p, off)
}

// WriteAt writes to the file at off.
func (h *File) WriteAt(p []byte, off int64) (int, error) {
	f, err := h.pin()
	if err != nil {
		return 0, err
	}
	defer h.unpinWrite()
	return f.WriteAt(p, off)
}

// Truncate changes the file's size.
func (h *File) Truncate(size int64) error {
	f, err := h.pin()
	if err != nil {
		return err
	}
	defer h.unpinWrite()
	return f.Truncate(size)
}

// Sync fsyncs the file. Writes made through a descriptor the cache has since closed are covered:
// fsync flushes the file, not the descriptor, and the cache fsynced it before closing it; if
// that fsync failed, Sync returns its error.
func (h *File) Sync() error {
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	h.mu.Lock()
	serr := h.syncErr
	h.mu.Unlock()
	if serr != nil {
		return serr // checked before pin: a failed reopen must not hide it
	}
	f, err := h.pin()
	if err != nil {
		return err
	}
	defer h.unpin()
	h.mu.Lock()
	gen, serr := h.writes, h.syncErr // again: an eviction may have fsynced and failed before the pin
	h.mu.Unlock()
	if serr != nil {
		return serr
	}
	err = h.fsync(f)
	h.mu.Lock()
	h.syncDoneLocked(gen, err)
	h.mu.Unlock()
	return err
}

// Written returns how many writes to the file have finished, for SyncedTo.
func (h *File) Written() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writes
}

// SyncedTo records that the first n writes (a count Written returned) are durable without an
// fsync of this file: a sync of its whole file system (fsutil.FSSync) that began after Written
// returned n, through a descriptor opened before those writes, has succeeded. The cache then
// closes the file without an fsync of its own.
func (h *File) SyncedTo(n uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.syncDoneLocked(n, nil)
}

// fsync runs the cache's fsync (a plain one for a File of a nil cache).
func (h *File) fsync(f *os.File) error {
	if h.c == nil {
		return f.Sync()
	}
	return h.c.fsync(f)
}

// syncDoneLocked records the outcome of an fsync that began when writes was gen; h.mu is held.
func (h *File) syncDoneLocked(gen uint64, err error) {
	switch {
	case err != nil && h.syncErr == nil:
		h.syncErr = err
	case err == nil && gen > h.synced:
		h.synced = gen
	}
}

// Stat returns the file's metadata.
func (h *File) Stat() (os.FileInfo, error) {
	f, err := h.pin()
	if err != nil {
		return nil, err
	}
	defer h.unpin()
	return f.Stat()
}

// Rename moves the file to path; later reopens use the new name.
func (h *File) Rename(path string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := os.Rename(h.path, path); err != nil {
		return err
	}
	h.path = path
	return nil
}

// Unlinked records that the file's path is about to be removed while calls may still use the
// file: a descriptor still open keeps serving them, but a closed one is not reopened by name,
// since whatever is created under that name later is another file.
func (h *File) Unlinked() {
	h.mu.Lock()
	h.gone = true
	h.mu.Unlock()
}

// Close closes the file for good. A call still using it finishes first; the descriptor closes
// when it does.
func (h *File) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return os.ErrClosed
	}
	h.closed = true
	if h.pins > 0 || h.f == nil {
		return nil
	}
	return h.release()
}

// pin returns the open descriptor, reopening it if needed, and keeps the cache from closing it
// until unpin.
func (h *File) pin() (*os.File, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pinLocked()
}

func (h *File) pinLocked() (*os.File, error) {
	if h.closed {
		return nil, os.ErrClosed
	}
	if h.f == nil {
		if h.gone {
			return nil, &ReopenError{Err: fmt.Errorf("%s was removed: %w", h.path, os.ErrNotExist)}
		}
		if err := h.open(0); err != nil {
			return nil, &ReopenError{Err: err}
		}
	}
	h.pins++
	h.used = true
	return h.f, nil
}

func (h *File) unpin() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.unpinLocked() {
		h.c.signalFreed()
	}
}

// unpinWrite is unpin for a call that changed the file. The write is counted once it has
// happened, so an fsync that began before it cannot mark it synced: the file stays dirty until
// an fsync that starts after it succeeds.
func (h *File) unpinWrite() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes++
	if h.unpinLocked() {
		h.c.signalFreed()
	}
}

// unpinLocked drops a pin, closing the file if Close came while it was pinned; it reports
// whether the file is now unpinned and open, so waiters may want it. h.mu is held.
func (h *File) unpinLocked() bool {
	h.pins--
	if h.pins > 0 {
		return false
	}
	if h.closed && h.f != nil {
		_ = h.release()
		return false
	}
	return true
}

// release closes the descriptor and takes the file off the ring; h.mu is held.
func (h *File) release() error {
	err := h.f.Close()
	h.f = nil
	if h.c != nil {
		h.c.mu.Lock()
		h.c.removeLocked(h)
		h.c.signalFreedLocked()
		h.c.mu.Unlock()
	}
	return err
}

// maxOpenAttempts bounds how often an open that failed for lack of descriptors (the process ran
// out, though the cache was within its budget: connections took the rest) is retried after
// closing one of the cache's own files.
const maxOpenAttempts = 64

// open opens h's descriptor in a slot of the budget; h.mu is held and h.f is nil. With the ring
// full it closes an idle file, or waits until a call in progress finishes with one.
func (h *File) open(perm os.FileMode) error {
	c := h.c
	if c == nil {
		f, err := fsutil.Open(h.path, h.flag, perm)
		h.f = f
		return err
	}
	for attempt := 1; ; attempt++ {
		c.reserveSlot(h)
		f, err := fsutil.Open(h.path, h.flag, perm)
		c.mu.Lock()
		c.opening--
		if err == nil {
			h.f, h.used = f, true
			h.slot = len(c.ring)
			c.ring = append(c.ring, h)
			c.mu.Unlock()
			c.opens.Add(1)
			return nil
		}
		if !tooManyFiles(err) || attempt == maxOpenAttempts || (len(c.ring) == 0 && c.opening == 0) {
			c.signalFreedLocked() // the reserved slot is free again
			c.mu.Unlock()
			return err
		}
		// Give one of ours back to the process, or wait for a call to finish with one.
		evicted := c.evictOne(h, true)
		wait := c.freed
		if !evicted {
			c.waiting.Add(1)
		}
		c.mu.Unlock()
		if !evicted {
			c.waitFreed(wait)
			c.waiting.Add(-1)
		}
	}
}

// reserveSlot takes one of the budget's slots for an open about to run, closing an idle file
// when none is free and waiting when every open file is in use.
func (c *Cache) reserveSlot(h *File) {
	c.mu.Lock()
	for len(c.ring)+c.opening >= c.budget {
		if c.evictOne(h, false) {
			continue
		}
		wait := c.freed
		c.waiting.Add(1)
		c.mu.Unlock()
		c.waits.Add(1)
		c.waitFreed(wait)
		c.waiting.Add(-1)
		c.mu.Lock()
	}
	c.opening++
	c.mu.Unlock()
}

// waitFreed waits until a file is unpinned or closed. The timeout covers the rare case where the
// only candidates were briefly locked rather than pinned: no unpin would then wake the waiter.
func (c *Cache) waitFreed(ch <-chan struct{}) {
	t := time.NewTimer(time.Millisecond)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

func (c *Cache) signalFreed() {
	if c == nil || c.waiting.Load() == 0 {
		return // the common case: nobody waits, and the hot path takes no global lock
	}
	c.mu.Lock()
	c.signalFreedLocked()
	c.mu.Unlock()
}

func (c *Cache) signalFreedLocked() {
	close(c.freed)
	c.freed = make(chan struct{})
}

// evictOne moves the clock hand until it closes one file, and reports whether it did: a file in
// use is passed over, and one used since the hand last passed gets a second chance unless force
// is set. A file with unsynced writes is closed only when no clean one can be, and fsynced first
// (see closeDirty). keep (whose lock the caller holds) is never chosen; other files' locks are
// only tried, since an open in progress elsewhere holds its own file's lock and may be waiting
// for c.mu. c.mu is held, but is released during an fsync.
func (c *Cache) evictOne(keep *File, force bool) bool {
	var dirty *File
	for steps := 2 * len(c.ring); steps > 0 && len(c.ring) > 0; steps-- {
		if c.hand >= len(c.ring) {
			c.hand = 0
		}
		v := c.ring[c.hand]
		if v == keep || !v.mu.TryLock() {
			c.hand++
			continue
		}
		if v.pins > 0 || (v.used && !force) {
			v.used = false
			v.mu.Unlock()
			c.hand++
			continue
		}
		if v.dirty() {
			dirty = cmp.Or(dirty, v)
			v.mu.Unlock()
			c.hand++
			continue
		}
		c.closeLocked(v)
		v.mu.Unlock()
		return true
	}
	// Only dirty files can go. The candidate may have changed since the sweep passed it.
	if dirty == nil || !dirty.mu.TryLock() {
		return false
	}
	if dirty.pins > 0 || dirty.f == nil {
		dirty.mu.Unlock()
		return false
	}
	c.closeDirty(dirty)
	return true
}

// dirty reports whether the file has writes no successful fsync covered (a failed fsync's error
// is kept, so there is nothing more to lose by closing it); h.mu is held.
func (h *File) dirty() bool { return h.writes != h.synced && h.syncErr == nil }

// closeDirty fsyncs v and closes it. Without the fsync, a writeback error could vanish: once no
// descriptor is open the kernel may drop the file's inode, and its error with it, and a later
// fsync through a new descriptor would succeed (the PostgreSQL "fsyncgate" case). A failure is
// kept for v's next Sync. v's lock is held throughout, so nothing can use, write or sync v
// meanwhile; c.mu, held on entry and return, is released during the fsync (the lock order is a
// file's lock before c.mu, so taking it back is safe). v.mu is released on return.
func (c *Cache) closeDirty(v *File) {
	f, gen := v.f, v.writes
	c.mu.Unlock()
	err := c.fsync(f)
	c.syncs.Add(1)
	v.syncDoneLocked(gen, err)
	c.mu.Lock()
	c.closeLocked(v)
	v.mu.Unlock()
}

// closeLocked closes v's descriptor and takes it off the ring; v.mu and c.mu are held.
func (c *Cache) closeLocked(v *File) {
	_ = v.f.Close()
	v.f = nil
	c.removeLocked(v) // the last file moves into this slot, and the hand stays to look at it
	c.evictions.Add(1)
}

func (c *Cache) removeLocked(h *File) {
	last := len(c.ring) - 1
	moved := c.ring[last]
	c.ring[h.slot] = moved
	moved.slot = h.slot
	c.ring[last] = nil
	c.ring = c.ring[:last]
}

// ReopenError is a failure to reopen a file the cache had closed: the operation asked for did
// not run, so it says nothing about the file's data (an fsync that could not start is not an
// fsync that failed).
type ReopenError struct{ Err error }

func (e *ReopenError) Error() string { return "reopen: " + e.Err.Error() }
func (e *ReopenError) Unwrap() error { return e.Err }

// Check that File can stand in for the *os.File methods the log uses.
var (
	_ io.ReaderAt = (*File)(nil)
	_ io.WriterAt = (*File)(nil)
)
