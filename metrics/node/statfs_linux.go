package node

import "syscall"

type fsStats struct{ size, free, avail, files, filesFree uint64 }

func statfs(path string) (fsStats, error) {
	var s syscall.Statfs_t
	if err := syscall.Statfs(path, &s); err != nil {
		return fsStats{}, err
	}
	bs := uint64(s.Bsize)
	return fsStats{size: s.Blocks * bs, free: s.Bfree * bs, avail: s.Bavail * bs, files: s.Files, filesFree: s.Ffree}, nil
}
