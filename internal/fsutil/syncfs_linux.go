package fsutil

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// FSSync makes everything written to the file system holding a directory durable with one
// syncfs(2): file contents, new files and directories, renames. Creating thousands of partitions
// at once costs one call instead of several fsyncs each.
//
// Open it before writing what it is to make durable: Linux (since 5.8) reports through syncfs the
// writeback errors the file system met since the descriptor was opened, so an error that struck
// between a write and a later open could be missed. Older kernels return success regardless.
type FSSync struct {
	d             *os.File
	reportsErrors bool
}

// OpenFSSync opens dir for a later Sync.
func OpenFSSync(dir string) (*FSSync, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	return &FSSync{d: d, reportsErrors: syncfsReportsErrors(d)}, nil
}

// ReportsErrors reports whether a successful Sync proves the writes made since OpenFSSync reached
// the disk: whether the kernel reports writeback errors through syncfs (Linux 5.8 and later) for
// this file system. Overlayfs is left out: its superblock need not see its upper layer's errors.
// Where it is false, a caller still fsyncs each file whose errors it must not miss.
func (s *FSSync) ReportsErrors() bool { return s.reportsErrors }

// overlayfsMagic is overlayfs's statfs f_type (OVERLAYFS_SUPER_MAGIC).
const overlayfsMagic = 0x794c7630

func syncfsReportsErrors(d *os.File) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(d.Fd()), &st); err != nil || st.Type == overlayfsMagic {
		return false
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8)
}

// kernelAtLeast reports whether a kernel release string ("6.1.0-18-amd64") is major.minor or
// later; one it cannot parse is not.
func kernelAtLeast(release string, major, minor int) bool {
	var gotMajor, gotMinor int
	if n, _ := fmt.Sscanf(release, "%d.%d", &gotMajor, &gotMinor); n != 2 {
		return false
	}
	return gotMajor > major || gotMajor == major && gotMinor >= minor
}

// Sync runs syncfs(2) on the file system holding the directory.
func (s *FSSync) Sync() error {
	if err := unix.Syncfs(int(s.d.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: s.d.Name(), Err: err}
	}
	return nil
}

// Close closes the directory.
func (s *FSSync) Close() error { return s.d.Close() }
