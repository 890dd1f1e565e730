package broker

// The free-space guard. Kafka takes a log directory offline when a write to it fails, and a
// single-directory broker then stops. Bulwark instead stops taking produce into a directory
// whose file system falls under bulwark.log.dirs.min.free.bytes (by default the smaller of 1 GiB
// and 5 % of the file system), answering KAFKA_STORAGE_ERROR, which producers retry. Everything
// else goes on: fetches, consumer groups and transactions (their journals are small and keep the
// headroom the threshold leaves), and the admin operations that free space (DeleteRecords,
// DeleteTopics, retention changes). Producing resumes by itself once space is back. The guard
// checks every log directory once a second, and at once when an append fails with ENOSPC; a
// failed write is cut back off the segment by the log, so nothing acknowledged is lost.

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

const (
	spaceCheckInterval = time.Second
	defaultMinFreeCap  = 1 << 30 // the default threshold: at most 1 GiB...
	defaultMinFreePct  = 5       // ...and at most 5 % of the file system
	// refusalLogEvery bounds the "produce refused" log lines while a directory is low: the broker
	// log may live on the full disk itself.
	refusalLogEvery = 10 * time.Second
)

// spaceGuard tracks, per log directory, whether produce is refused for lack of space.
type spaceGuard struct {
	minFree int64 // configured threshold; -1: the default
	// space measures a directory's file system: diskSpace, or a test's stand-in.
	space atomic.Pointer[spaceFunc]
	dirs  map[string]*dirSpace
}

type spaceFunc func(dir string) (total, usable int64, err error)

// dirSpace is one log directory's state.
type dirSpace struct {
	dir       string
	known     atomic.Bool // a check has measured it: until then (or where it cannot be measured) produce is not refused
	low       atomic.Bool
	free      atomic.Int64 // usable bytes at the last check
	threshold atomic.Int64 // the threshold in force at the last check

	mu          sync.Mutex // guards the refusal log's rate limit
	lastLogged  time.Time
	unlogged    int
	lastCheckAt time.Time
}

func newSpaceGuard(logDirs []string, minFree int64) *spaceGuard {
	g := &spaceGuard{minFree: minFree, dirs: make(map[string]*dirSpace, len(logDirs))}
	g.setSpace(diskSpace)
	for _, d := range logDirs {
		d = filepath.Clean(d)
		g.dirs[d] = &dirSpace{dir: d}
	}
	return g
}

func (g *spaceGuard) setSpace(f spaceFunc) { g.space.Store(&f) }

// threshold resolves the configured minimum for a file system of total bytes.
func (g *spaceGuard) threshold(total int64) int64 {
	if g.minFree >= 0 {
		return g.minFree
	}
	return min(defaultMinFreeCap, total/100*defaultMinFreePct)
}

// forPartition returns the state of the log directory holding a partition directory.
func (g *spaceGuard) forPartition(partitionDir string) *dirSpace {
	return g.dirs[filepath.Dir(filepath.Clean(partitionDir))]
}

// lowDir returns a log directory refusing writes for lack of space, or nil.
func (g *spaceGuard) lowDir() *dirSpace {
	if g.minFree == 0 {
		return nil
	}
	for _, d := range g.dirs {
		if d.known.Load() && d.low.Load() {
			return d
		}
	}
	return nil
}

// check refreshes every directory and logs each change of state.
func (g *spaceGuard) check(c *cluster) {
	for _, d := range g.dirs {
		g.checkDir(c, d)
	}
}

func (g *spaceGuard) checkDir(c *cluster, d *dirSpace) {
	if g.minFree == 0 {
		return // the guard is off
	}
	total, usable, err := (*g.space.Load())(d.dir)
	if err != nil {
		c.logger.Error("free-space check failed", "dir", d.dir, "err", err)
		return
	}
	limit := g.threshold(total)
	d.free.Store(usable)
	d.threshold.Store(limit)
	d.known.Store(true)
	low := usable < limit
	if d.low.Swap(low) == low {
		return
	}
	if low {
		c.logger.Error("log dir is low on space: produce to its partitions is refused with KAFKA_STORAGE_ERROR until space is freed",
			"dir", d.dir, "free_bytes", usable, "min_free_bytes", limit)
		return
	}
	c.logger.Info("log dir has space again: produce resumes", "dir", d.dir, "free_bytes", usable, "min_free_bytes", limit)
}

// spaceLoop runs the guard until the broker stops.
func (c *cluster) spaceLoop(ctx context.Context, wg *sync.WaitGroup) {
	c.space.check(c)
	c.runEvery(ctx, wg, spaceCheckInterval, func(time.Time) { c.space.check(c) })
}

// admitProduce refuses produce into a partition whose log directory is low on space. Between
// checks, each admitted batch is taken off the free space last seen, so a fast producer cannot
// run a directory from above the minimum to ENOSPC within one check interval. The refusal is
// logged at most once per refusalLogEvery per directory, with the count since.
func (c *cluster) admitProduce(p *partition, n int, requestID string) error {
	d := c.space.forPartition(p.dir)
	if d == nil || c.space.minFree == 0 || !d.known.Load() {
		return nil
	}
	if !d.low.Load() {
		est, limit := d.free.Add(-int64(n)), d.threshold.Load()
		if est >= limit {
			return nil
		}
		// The next check confirms it from the file system, or lifts it.
		if d.low.CompareAndSwap(false, true) {
			c.logger.Error("log dir is low on space: produce to its partitions is refused with KAFKA_STORAGE_ERROR until space is freed",
				"dir", d.dir, "free_bytes_estimated", est, "min_free_bytes", limit)
		}
	}
	free, limit := max(d.free.Load(), 0), d.threshold.Load()
	d.mu.Lock()
	d.unlogged++
	if now := time.Now(); now.Sub(d.lastLogged) >= refusalLogEvery {
		c.logger.Warn("produce refused: log dir low on space", "request_id", requestID, "topic", p.topicName,
			"partition", p.index, "dir", d.dir, "free_bytes", free, "min_free_bytes", limit, "refused_since_last_line", d.unlogged)
		d.lastLogged, d.unlogged = now, 0
	}
	d.mu.Unlock()
	return newAPIError(kerr.KafkaStorageError, "the broker's log directory has %d bytes free, under its minimum of %d (bulwark.log.dirs.min.free.bytes)", free, limit)
}

// noteWriteError re-checks a partition's log directory at once when an append failed for lack
// of space, so that the next produce is refused up front instead of failing in the write.
func (c *cluster) noteWriteError(p *partition, err error) {
	if c.space.minFree == 0 || (!errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT)) {
		return
	}
	if d := c.space.forPartition(p.dir); d != nil {
		d.mu.Lock()
		recent := time.Since(d.lastCheckAt) < 100*time.Millisecond
		if !recent {
			d.lastCheckAt = time.Now()
		}
		d.mu.Unlock()
		if !recent {
			c.space.checkDir(c, d)
			if !d.low.Load() {
				// The file system says there is room (reserved blocks, a quota): refuse anyway
				// until the next regular check, rather than fail every write in between.
				d.low.Store(true)
			}
		}
	}
}
