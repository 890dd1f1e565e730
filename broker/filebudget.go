package broker

// The open-file budget. Every segment of every partition holds one descriptor (its .log file;
// the indexes are read and written whole, not kept open) for as long as the broker runs, so the
// process's open-file limit caps how many partitions it can hold. A creation that would cross that cap used to fail part-way with "too
// many open files". Admission now refuses it up front with POLICY_VIOLATION, keeping a reserve
// for connections and the broker's own files, and the limit and reserve are logged at start-up.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// filesPerPartition is what a new, empty partition holds open: its first segment's log.
const filesPerPartition = 1

// fileReserve is how many descriptors admission keeps free for everything but partitions:
// connections, the metadata and coordinator logs, the audit trail and log shipping. A quarter of
// the limit, at most 4096 and at least 64.
func fileReserve(limit uint64) uint64 {
	return max(64, min(limit/4, 4096))
}

// fileBudget reports the open-file limit and how many descriptors are in use, as far as the
// platform tells (ok false: it does not, and admission is skipped).
type fileBudget interface {
	limitAndUse() (limit, inUse uint64, ok bool)
}

// admitPartitions refuses to create n partitions when their files would eat into the reserve.
func admitPartitions(b fileBudget, n int32) error {
	limit, inUse, ok := b.limitAndUse()
	if !ok || n <= 0 {
		return nil
	}
	need := uint64(n) * filesPerPartition
	reserve := fileReserve(limit)
	if inUse+need+reserve <= limit {
		return nil
	}
	free := uint64(0)
	if limit > inUse+reserve {
		free = limit - inUse - reserve
	}
	return newAPIError(kerr.PolicyViolation,
		"%d new partitions need %d open files but only %d are free: the process open-file limit is %d, %d are in use and %d are kept for connections (raise the limit, ulimit -n)",
		n, need, free, limit, inUse, reserve)
}

// describeFileBudget is the start-up log line's summary.
func describeFileBudget(b fileBudget) string {
	limit, inUse, ok := b.limitAndUse()
	if !ok {
		return "unknown on this platform"
	}
	return fmt.Sprintf("limit %d, %d in use, %d reserved for connections, room for about %d more partitions",
		limit, inUse, fileReserve(limit), (limit-min(limit, inUse+fileReserve(limit)))/filesPerPartition)
}
