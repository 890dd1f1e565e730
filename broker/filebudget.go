package broker

// The open-file budget. Partition logs open their segment files through one cache
// (internal/filecache) that keeps at most a budget of them open and closes idle ones, so the
// process's open-file limit no longer caps how many partitions the broker holds (issue 17). The
// budget is the limit less a reserve for connections and the broker's own files, less what is
// already open when the cluster opens; it is logged at start-up and exported as metrics.

import (
	"fmt"

	"github.com/bulwark-kafka/bulwark/internal/filecache"
)

// fileReserve is how many descriptors the cache leaves for everything but partition logs:
// connections, the metadata and coordinator logs, the audit trail, log shipping and the files a
// creation or a snapshot opens for a moment. A quarter of the limit, at most 4096 and at least 64.
func fileReserve(limit uint64) uint64 {
	return max(64, min(limit/4, 4096))
}

// unknownLimitBudget is the cache's budget where the platform does not report the limit.
const unknownLimitBudget = 4096

// fileBudget reports the open-file limit and how many descriptors are in use, as far as the
// platform tells (ok false: it does not).
type fileBudget interface {
	limitAndUse() (limit, inUse uint64, ok bool)
}

// newFileCache sizes the partition files' cache from the process limit, and describes the
// figures for the start-up log line.
func newFileCache(b fileBudget) (*filecache.Cache, string) {
	limit, inUse, ok := b.limitAndUse()
	if !ok {
		return filecache.New(unknownLimitBudget), fmt.Sprintf("limit unknown on this platform; partition files kept open at most %d", unknownLimitBudget)
	}
	reserve := fileReserve(limit)
	budget := 1
	if limit > inUse+reserve {
		budget = int(limit - inUse - reserve)
	}
	return filecache.New(budget), fmt.Sprintf("limit %d, %d in use, %d reserved for connections and the broker's own files, partition files kept open at most %d (idle ones are closed)",
		limit, inUse, reserve, budget)
}
