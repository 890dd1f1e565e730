//go:build linux || darwin || freebsd || netbsd || openbsd

package broker

import (
	"math"
	"syscall"
)

// diskSpace returns the total and usable (available to unprivileged users) bytes of the file
// system holding path. Sizes beyond int64 are reported as MaxInt64, as Kafka does.
func diskSpace(path string) (total, usable int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1, -1, err
	}
	bsize := uint64(st.Bsize)
	return clampBytes(uint64(st.Blocks), bsize), clampBytes(uint64(st.Bavail), bsize), nil
}

func clampBytes(blocks, bsize uint64) int64 {
	if bsize != 0 && blocks > math.MaxInt64/bsize {
		return math.MaxInt64
	}
	return int64(blocks * bsize)
}
