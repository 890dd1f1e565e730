//go:build !linux

package node

import "errors"

type fsStats struct{ size, free, avail, files, filesFree uint64 }

func statfs(string) (fsStats, error) {
	return fsStats{}, errors.New("node: statfs is implemented for Linux only")
}
