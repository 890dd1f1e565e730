package log

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

const (
	epochCheckpointName = "leader-epoch-checkpoint"
	epochCheckpointVer  = 0
	maxEpochEntries     = 1 << 20 // bound on a checkpoint read from disk
)

// epochEntry says that leader epoch `epoch` wrote its first batch at offset `start`.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is Kafka's LeaderEpochFileCache: entries sorted by epoch and by start offset. Its
// mutex is the innermost lock of the package.
type epochCache struct {
	mu      sync.RWMutex
	entries []epochEntry
}

// assign records a new epoch starting at offset start; epochs that do not increase are ignored,
// as Kafka ignores them.
func (c *epochCache) assign(epoch int32, start int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch < 0 {
		return false
	}
	if n := len(c.entries); n > 0 && c.entries[n-1].epoch >= epoch {
		return false
	}
	c.entries = append(c.entries, epochEntry{epoch: epoch, start: start})
	return true
}

// truncateFromEnd drops entries starting at or after end (the log was cut back to end).
func (c *epochCache) truncateFromEnd(end int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].start >= end })
	changed := i < len(c.entries)
	c.entries = c.entries[:i:i]
	return changed
}

// truncateFromStart drops entries wholly below a new log start offset: the last entry starting
// before it is kept, moved up to start.
func (c *epochCache) truncateFromStart(start int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].start > start })
	if i == 0 || (i == 1 && c.entries[0].start == start) {
		return false
	}
	kept := c.entries[i-1]
	kept.start = start
	c.entries = append([]epochEntry{kept}, c.entries[i:]...)
	return true
}

// endOffsetFor implements LeaderEpochFileCache.endOffsetFor: the largest epoch <= requested and
// the offset where the next higher epoch began (the log end for the latest epoch).
func (c *epochCache) endOffsetFor(requested int32, logEnd int64) (int32, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	if requested < 0 || n == 0 {
		return -1, -1
	}
	if c.entries[n-1].epoch == requested {
		return requested, logEnd
	}
	hi := sort.Search(n, func(i int) bool { return c.entries[i].epoch > requested })
	if hi == n {
		return -1, -1 // above every known epoch
	}
	if hi == 0 {
		return requested, c.entries[0].start // older than every known epoch
	}
	return c.entries[hi-1].epoch, c.entries[hi].start
}

// epochFor returns the epoch of the entry covering offset, or -1.
func (c *epochCache) epochFor(offset int64) int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i := sort.Search(len(c.entries), func(i int) bool { return c.entries[i].start > offset })
	if i == 0 {
		return -1
	}
	return c.entries[i-1].epoch
}

func (c *epochCache) snapshot() []epochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return append([]epochEntry(nil), c.entries...)
}

// encodeEpochCheckpoint renders Kafka's text checkpoint format: the version, the entry count,
// then one "epoch startOffset" line per entry.
func encodeEpochCheckpoint(entries []epochEntry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", epochCheckpointVer, len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.epoch, e.start)
	}
	return b.Bytes()
}

// decodeEpochCheckpoint parses a checkpoint, rejecting anything malformed, out of order, or
// with more entries than it claims.
func decodeEpochCheckpoint(data []byte) ([]epochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	bad := func(what string) error { return fmt.Errorf("%w: leader epoch checkpoint: %s", ErrCorrupt, what) }
	if v, ok := line(); !ok || v != strconv.Itoa(epochCheckpointVer) {
		return nil, bad("version")
	}
	c, ok := line()
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 0 || n > maxEpochEntries {
		return nil, bad("count")
	}
	entries := make([]epochEntry, 0, min(n, 1024))
	for range n {
		l, ok := line()
		fields := strings.Fields(l)
		if !ok || len(fields) != 2 {
			return nil, bad("entry")
		}
		epoch, err1 := strconv.ParseInt(fields[0], 10, 32)
		start, err2 := strconv.ParseInt(fields[1], 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || start < 0 {
			return nil, bad("entry")
		}
		if k := len(entries); k > 0 && (int32(epoch) <= entries[k-1].epoch || start < entries[k-1].start) {
			return nil, bad("order")
		}
		entries = append(entries, epochEntry{epoch: int32(epoch), start: start})
	}
	if l, ok := line(); ok && l != "" {
		return nil, bad("trailing data")
	}
	return entries, nil
}
