package broker

import (
	"os"
	"syscall"
)

// procFiles reads the limit from getrlimit and the use from /proc/self/fd.
type procFiles struct{}

func (procFiles) limitAndUse() (limit, inUse uint64, ok bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, false
	}
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return 0, 0, false
	}
	return rl.Cur, uint64(len(names)), true
}

var processFiles fileBudget = procFiles{}
